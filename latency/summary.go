package latency

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Summary is a recorder's distribution at a glance. Min, Max, Mean and StdDev
// are exact (of the values as recorded, after clamping); the percentiles come
// from the histogram, within 0.1%, kept within [Min, Max].
type Summary struct {
	Count int64 // values recorded, including coordinated-omission corrections

	Min, Mean, StdDev time.Duration

	P50, P75, P90, P95, P99 time.Duration
	P999                    time.Duration // 99.9th percentile
	P9999                   time.Duration // 99.99th percentile
	Max                     time.Duration

	Clamped  int64 // values above the recorder's maximum, recorded as the maximum
	Negative int64 // negative values (clock skew), recorded as 0
}

// summaryPercentiles are the percentiles Summary reports, in field order.
var summaryPercentiles = [...]float64{50, 75, 90, 95, 99, 99.9, 99.99}

// Summary returns the distribution of what r has recorded. It walks the
// histogram once and allocates a little: call it for reports, not per sample.
func (r *Recorder) Summary() Summary {
	st := &r.st
	s := Summary{Count: r.h.TotalCount(), Clamped: st.clamped, Negative: st.negative}
	if s.Count == 0 {
		return s
	}
	within := func(v float64) time.Duration {
		return time.Duration(min(max(int64(math.Round(v)), st.min), st.max))
	}
	s.Min, s.Max = time.Duration(st.min), time.Duration(st.max)
	mean, stddev := st.meanStdDev(s.Count)
	s.Mean, s.StdDev = within(mean), time.Duration(math.Round(stddev))
	ps := r.h.ValueAtPercentilesSlice(summaryPercentiles[:])
	for i, p := range []*time.Duration{&s.P50, &s.P75, &s.P90, &s.P95, &s.P99, &s.P999, &s.P9999} {
		*p = within(float64(ps[i]))
	}
	return s
}

// String returns the summary on one line, with 3 significant digits:
//
//	n=10000 p50=5ms p90=9ms p99=9.9ms p99.9=9.99ms p99.99=10ms max=10ms
//
// followed by clamped=… and negative=… when those are not zero.
func (s Summary) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "n=%d", s.Count)
	if s.Count > 0 {
		fmt.Fprintf(&b, " p50=%s p90=%s p99=%s p99.9=%s p99.99=%s max=%s",
			formatDuration(s.P50), formatDuration(s.P90), formatDuration(s.P99),
			formatDuration(s.P999), formatDuration(s.P9999), formatDuration(s.Max))
	}
	if s.Clamped > 0 {
		fmt.Fprintf(&b, " clamped=%d", s.Clamped)
	}
	if s.Negative > 0 {
		fmt.Fprintf(&b, " negative=%d", s.Negative)
	}
	return b.String()
}

// durationUnits are the units formatDuration chooses from, smallest first.
var durationUnits = [...]struct {
	size time.Duration
	name string
}{
	{time.Nanosecond, "ns"},
	{time.Microsecond, "µs"},
	{time.Millisecond, "ms"},
	{time.Second, "s"},
}

// formatDuration formats d with 3 significant digits in the largest unit
// that keeps the number at or above 1: "850ns", "12.3µs", "1.5ms", "2s".
// Durations of 1000 s and more are whole seconds.
func formatDuration(d time.Duration) string {
	if d < 0 {
		return "-" + formatDuration(-d)
	}
	for i, u := range durationUnits {
		v := float64(d) / float64(u.size)
		if v < 999.5 { // rounds to at most 3 digits
			return strconv.FormatFloat(v, 'g', 3, 64) + u.name
		}
		if i == len(durationUnits)-1 {
			return strconv.FormatFloat(v, 'f', 0, 64) + u.name
		}
	}
	panic("unreachable")
}
