package latency

import (
	"math"
	"slices"
	"sync"
	"testing"
	"time"
)

func TestBuckets(t *testing.T) {
	r := NewRecorder(time.Minute)
	for _, d := range []time.Duration{
		5 * time.Microsecond,  // ≤ 10µs
		10 * time.Microsecond, // exactly on a bound: ≤ 10µs
		15 * time.Microsecond, // ≤ 20µs
		999 * time.Microsecond,
		time.Millisecond, // ≤ 1ms, both
		3 * time.Second,  // ≤ 5s
		time.Hour,        // clamped to a minute: above every bound
	} {
		r.Record(d)
	}
	r.RecordNanos(-5) // clock skew: recorded as 0, ≤ 10µs
	b, err := NewBuckets(nil)
	if err != nil {
		t.Fatal(err)
	}
	b.Add(r)
	b.Add(NewRecorder(time.Minute)) // empty: nothing
	if b.Count() != 8 {
		t.Errorf("Count = %d, want 8", b.Count())
	}
	want := map[time.Duration]uint64{10 * time.Microsecond: 3, 20 * time.Microsecond: 4, time.Millisecond: 6, 5 * time.Second: 7}
	got := b.Cumulative(nil)
	if len(got) != len(DefaultBounds) {
		t.Fatalf("%d cumulative counts for %d bounds", len(got), len(DefaultBounds))
	}
	var prev uint64
	for i, bound := range b.Bounds() {
		if w, ok := want[bound]; ok && got[i] != w {
			t.Errorf("≤ %v: %d, want %d", bound, got[i], w)
		}
		if got[i] < prev {
			t.Errorf("≤ %v: %d, below the previous bucket's %d", bound, got[i], prev)
		}
		prev = got[i]
	}
	if got[len(got)-1] != 7 {
		t.Errorf("≤ 10s: %d, want 7 (the clamped hour above)", got[len(got)-1])
	}
	wantSum := (5 + 10 + 15 + 999 + 1000 + 3e6 + 60e6) * 1e-6
	if s := b.SumSeconds(); math.Abs(s-wantSum) > 1e-9 {
		t.Errorf("SumSeconds = %v, want %v", s, wantSum)
	}
	c := b.Clone()
	if err := c.Merge(b); err != nil {
		t.Fatal(err)
	}
	if c.Count() != 16 || b.Count() != 8 {
		t.Errorf("after merging a clone with the original: %d and %d, want 16 and 8", c.Count(), b.Count())
	}
	other, _ := NewBuckets([]time.Duration{time.Second})
	if err := c.Merge(other); err == nil {
		t.Error("merging buckets of other bounds: no error")
	}
	for _, bad := range [][]time.Duration{{0}, {time.Second, time.Second}, {2 * time.Second, time.Second}} {
		if _, err := NewBuckets(bad); err == nil {
			t.Errorf("NewBuckets(%v): no error", bad)
		}
	}
}

// owner is a live recorder guarded the way the subscriber guards its own.
type owner struct {
	mu   sync.Mutex
	live *Recorder
}

func (o *owner) record(d time.Duration) {
	o.mu.Lock()
	o.live.Record(d)
	o.mu.Unlock()
}

func (o *owner) swap(empty *Recorder) *Recorder {
	o.mu.Lock()
	defer o.mu.Unlock()
	full := o.live
	o.live = empty
	return full
}

func TestTallyTakeAndBuckets(t *testing.T) {
	o := &owner{live: NewRecorder(time.Minute)}
	tl, err := NewTally(time.Minute, nil)
	if err != nil {
		t.Fatal(err)
	}
	o.record(time.Millisecond)
	o.record(2 * time.Millisecond)
	if b := tl.Buckets(o.swap); b.Count() != 2 {
		t.Fatalf("Buckets after 2 values: %d", b.Count())
	}
	o.record(3 * time.Millisecond)
	// Take sees what the scrape drained as well as what came after.
	if iv := tl.Take(o.swap); iv.Count() != 3 || iv.Summary().Max != 3*time.Millisecond {
		t.Fatalf("Take: %v", iv.Summary())
	}
	if iv := tl.Take(o.swap); iv.Count() != 0 {
		t.Fatalf("second Take with nothing recorded: %v", iv.Summary())
	}
	o.record(4 * time.Millisecond)
	b := tl.Buckets(o.swap)
	if b.Count() != 4 {
		t.Fatalf("Buckets since the start: %d, want 4", b.Count())
	}
	if got := b.Cumulative(nil)[slices.Index(DefaultBounds, 2*time.Millisecond)]; got != 2 {
		t.Errorf("≤ 2ms: %d, want 2", got)
	}
	o.record(time.Millisecond)
	if b.Count() != 4 {
		t.Error("the copy Buckets returned changed afterwards")
	}
	if _, err := NewTally(time.Minute, []time.Duration{-1}); err == nil {
		t.Error("NewTally with a negative bound: no error")
	}
}

// TestTallyConcurrent records from one goroutine while two others take and
// scrape (run it with -race): nothing is lost or counted twice.
func TestTallyConcurrent(t *testing.T) {
	o := &owner{live: NewRecorder(time.Minute)}
	tl, _ := NewTally(time.Minute, nil)
	const n = 20000
	done := make(chan struct{})
	var taken int64
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-done:
				return
			default:
				taken += tl.Take(o.swap).Count()
			}
		}
	})
	wg.Go(func() {
		for {
			select {
			case <-done:
				return
			default:
				tl.Buckets(o.swap)
			}
		}
	})
	for i := range n {
		o.record(time.Duration(i) * time.Microsecond)
	}
	close(done)
	wg.Wait()
	taken += tl.Take(o.swap).Count()
	if taken != n {
		t.Errorf("Take saw %d values in all, want %d", taken, n)
	}
	if b := tl.Buckets(o.swap); b.Count() != n {
		t.Errorf("Buckets: %d values, want %d", b.Count(), n)
	}
}
