package latency

import (
	"sync"
	"time"
)

// Swap installs empty as its owner's live recorder and returns the one that
// was live, under whatever exclusion the owner records under. It is how a
// [Tally] drains a recorder without holding the owner's lock any longer than
// a pointer swap.
type Swap func(empty *Recorder) (full *Recorder)

// Tally keeps the totals of a live recorder that one goroutine records into
// while others read: what was recorded since the last [Tally.Take] (the
// interval reports the CLI and the benchmark print) and, since the start, as
// [Buckets] (a Prometheus histogram, [Tally.Buckets]). Both drain the live
// recorder first, by a [Swap], and fold what it held outside the owner's
// exclusion, so the recording goroutine never waits for more than the swap,
// and neither reader takes what the other needs.
//
// A Tally allocates its recorders on first use. It is safe for concurrent
// use.
type Tally struct {
	max    time.Duration
	bounds []time.Duration

	mu    sync.Mutex
	spare *Recorder // empty, swapped in at the next drain
	taken *Recorder // drained since the last Take
	total *Buckets  // drained since the start
}

// NewTally returns a tally for a live recorder created with NewRecorder(max),
// exporting over bounds (nil = [DefaultBounds]). Invalid bounds are an error.
func NewTally(max time.Duration, bounds []time.Duration) (*Tally, error) {
	b, err := NewBuckets(bounds)
	if err != nil {
		return nil, err
	}
	return &Tally{max: max, bounds: b.bounds, total: b}, nil
}

// drain swaps the live recorder out and folds it into the totals. t.mu is
// held.
func (t *Tally) drain(swap Swap) {
	if t.spare == nil {
		t.spare = NewRecorder(t.max)
		t.taken = NewRecorder(t.max)
	}
	full := swap(t.spare)
	t.taken.Merge(full)
	t.total.Add(full)
	full.Reset()
	t.spare = full
}

// Take drains the live recorder and returns what was recorded since the
// previous Take (or the start). The recorder returned belongs to t and is
// reused by the next Take: read or merge it before then.
func (t *Tally) Take(swap Swap) *Recorder {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.drain(swap)
	return t.taken.Interval()
}

// Buckets drains the live recorder and returns a copy of everything
// recorded since the start, over the tally's bounds.
func (t *Tally) Buckets(swap Swap) *Buckets {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.drain(swap)
	return t.total.Clone()
}
