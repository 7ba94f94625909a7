package latency

import (
	"math/bits"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

// DefaultMax is the maximum a recorder tracks when [NewRecorder] is given
// max <= 0.
const DefaultMax = time.Minute

// sigFigs is the precision of every recorder: 3 significant digits, so a
// recorded value is within 0.1% of the value reported for it.
const sigFigs = 3

// subBucketBits is log2 of the histogram's sub-bucket count at sigFigs and a
// lowest value of 1 ns: values below 1<<subBucketBits are exact, and above
// that each power of two is split into 1<<(subBucketBits-1) ranges.
const subBucketBits = 11

// Recorder records latencies in an HDR histogram with nanosecond resolution
// and 3 significant digits. It is not safe for concurrent use: one goroutine
// owns it.
type Recorder struct {
	h     *hdrhistogram.Histogram
	limit int64 // the largest value recorded, in ns; larger values are clamped to it

	st stats // exact statistics of what h holds

	// spare is the other half of Interval's double buffer: the recorder
	// Interval returned last, reused by the next call. nil until then.
	spare *Recorder
}

// NewRecorder returns a recorder for latencies from 0 to max, with nanosecond
// resolution and 3 significant digits. Larger latencies are recorded as max
// and counted in [Summary.Clamped]. max <= 0 means [DefaultMax]; a max below
// 2 ns is raised to 2 ns. The histogram's memory grows with the logarithm of
// max: about 220 KB for a minute.
func NewRecorder(max time.Duration) *Recorder {
	limit := int64(max)
	switch {
	case limit <= 0:
		limit = int64(DefaultMax)
	case limit < 2:
		limit = 2
	}
	return &Recorder{
		h:     hdrhistogram.New(1, limit, sigFigs),
		limit: limit,
		st:    noStats,
	}
}

// Max returns the largest latency the recorder holds; larger ones are
// clamped to it.
func (r *Recorder) Max() time.Duration { return time.Duration(r.limit) }

// Count returns the number of values recorded, including those added by
// coordinated-omission correction.
func (r *Recorder) Count() int64 { return r.h.TotalCount() }

// Record records one latency. See [Recorder.RecordNanos].
func (r *Recorder) Record(d time.Duration) { r.RecordNanos(int64(d)) }

// RecordNanos records one latency of ns nanoseconds. A negative latency
// (clock skew) is recorded as 0 and counted in [Summary.Negative]; one above
// [Recorder.Max] is recorded as the maximum and counted in [Summary.Clamped].
// It does not allocate.
func (r *Recorder) RecordNanos(ns int64) {
	ns = r.clamp(ns)
	r.h.RecordValue(ns) // cannot fail: 0 <= ns <= limit
	r.st.addOne(ns)
}

// RecordCorrected records a latency of ns nanoseconds, like
// [Recorder.RecordNanos], from a process that takes one sample every
// expectedIntervalNs. When ns exceeds the interval, the samples the stall
// kept from being taken are added as well: ns−interval, ns−2×interval, … down
// to the interval, correcting for coordinated omission. It records the same
// histogram as hdrhistogram's RecordCorrectedValue, but in time proportional
// to the number of histogram buckets the added samples span rather than to
// their number. expectedIntervalNs <= 0 disables the correction. It does not
// allocate.
func (r *Recorder) RecordCorrected(ns, expectedIntervalNs int64) {
	ns = r.clamp(ns)
	r.h.RecordValue(ns) // cannot fail: 0 <= ns <= limit
	r.st.addOne(ns)
	step := expectedIntervalNs
	if step <= 0 || ns-step < step {
		return // nothing missing
	}
	// The missing samples are first, first−step, … down to step. The values
	// in one equivalent range [lo, v] of the histogram all land in the same
	// count, so each range takes one RecordValues; a range narrower than step
	// holds just one sample.
	first := ns - step
	for v := first; v >= step; {
		n := int64(1)
		if size := equivalentRange(v); size > step {
			lo := max(v&^(size-1), step)
			n = (v-lo)/step + 1
		}
		r.h.RecordValues(v, n) // cannot fail: step <= v <= limit, n small
		v -= n * step
	}
	r.st.add(first, first/step, step)
}

// equivalentRange returns the width of the histogram's equivalent range
// holding v >= 0: 1 below 2^subBucketBits, doubling with each power of two
// above it.
func equivalentRange(v int64) int64 {
	return 1 << max(bits.Len64(uint64(v))-subBucketBits, 0)
}

// clamp brings ns into [0, limit], counting what it changes.
func (r *Recorder) clamp(ns int64) int64 {
	if ns < 0 {
		r.st.negative++
		return 0
	}
	if ns > r.limit {
		r.st.clamped++
		return r.limit
	}
	return ns
}

// Merge adds everything recorded in o to r, counters included. Values above
// r's maximum (when o's is larger) are clamped to it and counted in
// [Summary.Clamped]; the mean and standard deviation are then within the
// histogram's precision rather than exact.
func (r *Recorder) Merge(o *Recorder) {
	if o == r {
		o = &Recorder{h: r.h.Clone(), limit: r.limit, st: r.st}
	}
	if o.limit <= r.limit || o.st.max <= r.limit {
		r.h.Merge(o.h) // drops nothing: every value in o.h is within r's range
		r.st.merge(o.st)
		return
	}
	lo, hi := min(r.st.min, o.st.min), max(r.st.max, r.limit) // exact: o holds values above r.limit
	for _, bar := range o.h.Distribution() {
		if bar.Count == 0 {
			continue
		}
		v := bar.From // every value of the bar's range lands in the same count
		if v > r.limit {
			v = r.limit
			r.st.clamped += bar.Count
		}
		r.h.RecordValues(v, bar.Count)
		r.st.add(v, bar.Count, 0)
	}
	r.st.min, r.st.max = lo, hi
	r.st.clamped += o.st.clamped
	r.st.negative += o.st.negative
}

// Reset forgets everything recorded, counters included, keeping the memory.
func (r *Recorder) Reset() {
	r.h.Reset()
	r.st = noStats
}

// Interval returns a recorder holding what r recorded since the previous
// call to Interval (or since r was created or reset), and empties r for the
// next interval. It is meant for periodic reports; merge the intervals into
// another recorder for a running total.
//
// The returned recorder belongs to r: the next call to Interval reuses it, so
// read or merge it before then. The two recorders swap histograms instead of
// allocating, so Interval allocates only the first time.
func (r *Recorder) Interval() *Recorder {
	if r.spare == nil {
		r.spare = NewRecorder(time.Duration(r.limit))
	}
	iv := r.spare
	iv.h.Reset()
	r.h, iv.h = iv.h, r.h
	r.st, iv.st = noStats, r.st
	return iv
}
