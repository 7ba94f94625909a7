package latency

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"
)

// maxExportLimit bounds the maximum of an imported recorder (about 13 days):
// the histogram's memory grows with it, and nothing measured here needs more.
const maxExportLimit = 1 << 50

// exported is a recorder's JSON form: the histogram's non-empty buckets and
// the exact statistics beside them.
type exported struct {
	// LimitNs is the recorder's maximum (see [Recorder.Max]).
	LimitNs int64 `json:"limit_ns"`
	// Counts are the non-empty buckets, lowest value first: [value, count],
	// value being the lowest of the bucket's equivalent range, in ns.
	Counts [][2]int64 `json:"counts"`
	// The exact statistics; MinNs and MaxNs are 0 for an empty recorder.
	MinNs    int64   `json:"min_ns"`
	MaxNs    int64   `json:"max_ns"`
	SumNs    float64 `json:"sum_ns"`
	SumSqNs2 float64 `json:"sum_sq_ns2"`
	Clamped  int64   `json:"clamped,omitempty"`
	Negative int64   `json:"negative,omitempty"`
}

// MarshalJSON encodes everything r recorded, counters and exact statistics
// included, so that another process can rebuild it with
// [Recorder.UnmarshalJSON] (the benchmark's child processes send their
// histograms to the parent this way). The histogram travels as its non-empty
// buckets: a few hundred pairs for a typical latency distribution, whatever
// the number of samples.
func (r *Recorder) MarshalJSON() ([]byte, error) {
	e := exported{
		LimitNs:  r.limit,
		Counts:   [][2]int64{},
		SumNs:    r.st.sum,
		SumSqNs2: r.st.sumSq,
		Clamped:  r.st.clamped,
		Negative: r.st.negative,
	}
	if r.h.TotalCount() > 0 {
		e.MinNs, e.MaxNs = r.st.min, r.st.max
		for _, bar := range r.h.Distribution() {
			if bar.Count != 0 {
				e.Counts = append(e.Counts, [2]int64{bar.From, bar.Count})
			}
		}
	}
	return json.Marshal(e)
}

// UnmarshalJSON replaces r with the recorder that [Recorder.MarshalJSON]
// encoded in b; r may be the zero Recorder. The input is validated (a bucket
// outside the recorder's range, a negative count, inconsistent statistics are
// errors): it may come from another process.
func (r *Recorder) UnmarshalJSON(b []byte) error {
	var e exported
	if err := json.Unmarshal(b, &e); err != nil {
		return fmt.Errorf("latency: decode recorder: %w", err)
	}
	n, err := e.validate()
	if err != nil {
		return fmt.Errorf("latency: decode recorder: %w", err)
	}
	nr := NewRecorder(time.Duration(e.LimitNs))
	for _, c := range e.Counts {
		nr.h.RecordValues(c[0], c[1]) // cannot fail: validated in range
	}
	if n > 0 {
		nr.st = stats{min: e.MinNs, max: e.MaxNs, sum: e.SumNs, sumSq: e.SumSqNs2}
	}
	nr.st.clamped, nr.st.negative = e.Clamped, e.Negative
	*r = *nr
	return nil
}

// validate checks e and returns the number of values it holds.
func (e *exported) validate() (int64, error) {
	if e.LimitNs < 2 || e.LimitNs > maxExportLimit {
		return 0, fmt.Errorf("limit_ns %d out of range 2..%d", e.LimitNs, int64(maxExportLimit))
	}
	var n int64
	prev := int64(-1)
	for _, c := range e.Counts {
		v, k := c[0], c[1]
		switch {
		case v < 0 || v > e.LimitNs:
			return 0, fmt.Errorf("bucket value %d outside 0..%d", v, e.LimitNs)
		case v <= prev:
			return 0, fmt.Errorf("bucket value %d not above the previous %d", v, prev)
		case k <= 0:
			return 0, fmt.Errorf("bucket %d: count %d is not positive", v, k)
		case n > math.MaxInt64-k:
			return 0, errors.New("total count overflows")
		}
		prev = v
		n += k
	}
	if e.Clamped < 0 || e.Negative < 0 {
		return 0, fmt.Errorf("clamped %d, negative %d: counts must not be negative", e.Clamped, e.Negative)
	}
	if math.IsNaN(e.SumNs) || math.IsInf(e.SumNs, 0) || math.IsNaN(e.SumSqNs2) || math.IsInf(e.SumSqNs2, 0) {
		return 0, errors.New("sums are not finite")
	}
	if n > 0 && (e.MinNs < 0 || e.MinNs > e.MaxNs || e.MaxNs > e.LimitNs) {
		return 0, fmt.Errorf("min_ns %d, max_ns %d: want 0 <= min <= max <= %d", e.MinNs, e.MaxNs, e.LimitNs)
	}
	return n, nil
}

// Percentile is one point of a recorder's percentile distribution.
type Percentile struct {
	// Percentile is in [0, 100].
	Percentile float64
	// Value is the latency at that percentile: the top of its histogram
	// bucket, as in an .hgrm file.
	Value time.Duration
	// Count is how many values are at or below Value.
	Count int64
}

// InverseTail returns 1/(1−Percentile/100), the x coordinate of the
// percentile-distribution plot (1 at p0, 10 at p90, 10 000 at p99.99), and
// +Inf at 100.
func (p Percentile) InverseTail() float64 {
	if p.Percentile >= 100 {
		return math.Inf(1)
	}
	return 1 / (1 - p.Percentile/100)
}

// Percentiles returns r's percentile distribution: the rows of an .hgrm file
// ([Recorder.WriteHgrm]), ticksPerHalf points for every halving of the
// distance to 100% (5 if ticksPerHalf <= 0), ending with the 100th
// percentile. It is what a percentile-distribution plot draws; nil when r is
// empty.
func (r *Recorder) Percentiles(ticksPerHalf int) []Percentile {
	if r.h.TotalCount() == 0 {
		return nil
	}
	if ticksPerHalf <= 0 {
		ticksPerHalf = hgrmTicks
	}
	brackets := r.h.CumulativeDistributionWithTicks(int32(min(ticksPerHalf, 1<<20)))
	out := make([]Percentile, len(brackets))
	for i, b := range brackets {
		out[i] = Percentile{Percentile: b.Quantile, Value: time.Duration(b.ValueAt), Count: b.Count}
	}
	return out
}
