package latency

import (
	"fmt"
	"slices"
	"time"
)

// DefaultBounds are the upper bounds of an exported latency histogram: 10 µs
// to 10 s in a 1-2-5 series (19 buckets, and one above them all).
var DefaultBounds = []time.Duration{
	10 * time.Microsecond, 20 * time.Microsecond, 50 * time.Microsecond,
	100 * time.Microsecond, 200 * time.Microsecond, 500 * time.Microsecond,
	time.Millisecond, 2 * time.Millisecond, 5 * time.Millisecond,
	10 * time.Millisecond, 20 * time.Millisecond, 50 * time.Millisecond,
	100 * time.Millisecond, 200 * time.Millisecond, 500 * time.Millisecond,
	time.Second, 2 * time.Second, 5 * time.Second, 10 * time.Second,
}

// Buckets count latencies over fixed upper bounds: what a Prometheus
// histogram exports (cumulative bucket counts, a count and a sum). [Buckets.Add]
// folds recorders into them, so a process records into its HDR histograms as
// usual and exports the running total when it is scraped. A value goes to
// the first bucket whose bound is at or above it, within the histogram's
// precision (0.1%: a value just above a bound may count below it). Buckets
// are not safe for concurrent use.
type Buckets struct {
	bounds []time.Duration // ascending
	counts []uint64        // len(bounds)+1, per bucket; the last is above every bound
	sum    float64         // ns
}

// NewBuckets returns empty buckets with the given upper bounds, which must be
// positive and strictly ascending; nil or empty means [DefaultBounds].
func NewBuckets(bounds []time.Duration) (*Buckets, error) {
	if len(bounds) == 0 {
		bounds = DefaultBounds
	}
	for i, b := range bounds {
		if b <= 0 || i > 0 && b <= bounds[i-1] {
			return nil, fmt.Errorf("latency: bucket bounds %v: want positive, strictly ascending durations", bounds)
		}
	}
	return &Buckets{bounds: slices.Clone(bounds), counts: make([]uint64, len(bounds)+1)}, nil
}

// Add counts everything r holds, and its sum (exact, as recorded). It walks
// r's histogram and allocates: call it at scrape time, never per sample.
func (b *Buckets) Add(r *Recorder) {
	if r.h.TotalCount() == 0 {
		return
	}
	i := 0
	for _, bar := range r.h.Distribution() {
		if bar.Count == 0 {
			continue
		}
		for i < len(b.bounds) && int64(b.bounds[i]) < bar.From {
			i++
		}
		b.counts[i] += uint64(bar.Count)
	}
	b.sum += r.st.sum
}

// Merge adds o's counts to b; both must have the same bounds.
func (b *Buckets) Merge(o *Buckets) error {
	if !slices.Equal(b.bounds, o.bounds) {
		return fmt.Errorf("latency: merge buckets: bounds %v and %v differ", b.bounds, o.bounds)
	}
	for i, n := range o.counts {
		b.counts[i] += n
	}
	b.sum += o.sum
	return nil
}

// Clone returns a copy of b.
func (b *Buckets) Clone() *Buckets {
	return &Buckets{bounds: b.bounds, counts: slices.Clone(b.counts), sum: b.sum}
}

// Bounds returns the upper bounds. The slice is b's own: do not modify it.
func (b *Buckets) Bounds() []time.Duration { return b.bounds }

// Cumulative appends to dst, for each bound, how many values are at or
// below it, and returns the result (Prometheus's bucket counts).
func (b *Buckets) Cumulative(dst []uint64) []uint64 {
	var n uint64
	for _, c := range b.counts[:len(b.bounds)] {
		n += c
		dst = append(dst, n)
	}
	return dst
}

// Count returns the number of values counted, those above every bound
// included.
func (b *Buckets) Count() uint64 {
	var n uint64
	for _, c := range b.counts {
		n += c
	}
	return n
}

// SumSeconds returns the sum of the values counted, in seconds.
func (b *Buckets) SumSeconds() float64 { return b.sum / 1e9 }
