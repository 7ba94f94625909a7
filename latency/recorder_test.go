package latency

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

// near reports whether got is within 0.1% (the histogram's precision) of want.
func near(got, want time.Duration) bool {
	return math.Abs(float64(got-want)) <= 0.001*float64(want)+1
}

// uniform returns a recorder holding 1..10000 µs, once each.
func uniform() *Recorder {
	r := NewRecorder(time.Second)
	for us := 1; us <= 10_000; us++ {
		r.Record(time.Duration(us) * time.Microsecond)
	}
	return r
}

func TestUniformPercentiles(t *testing.T) {
	s := uniform().Summary()
	if s.Count != 10_000 {
		t.Fatalf("Count = %d, want 10000", s.Count)
	}
	if s.Min != time.Microsecond || s.Max != 10*time.Millisecond {
		t.Errorf("Min, Max = %v, %v; want exactly 1µs, 10ms", s.Min, s.Max)
	}
	for _, c := range []struct {
		name      string
		got, want time.Duration
	}{
		{"mean", s.Mean, 5000500 * time.Nanosecond},
		{"p50", s.P50, 5 * time.Millisecond},
		{"p75", s.P75, 7500 * time.Microsecond},
		{"p90", s.P90, 9 * time.Millisecond},
		{"p95", s.P95, 9500 * time.Microsecond},
		{"p99", s.P99, 9900 * time.Microsecond},
		{"p99.9", s.P999, 9990 * time.Microsecond},
		{"p99.99", s.P9999, 9999 * time.Microsecond},
		// The standard deviation of a discrete uniform distribution of n
		// values a step apart is step·sqrt((n²−1)/12).
		{"stddev", s.StdDev, time.Duration(1000 * math.Sqrt((10_000*10_000-1)/12.0))},
	} {
		if !near(c.got, c.want) {
			t.Errorf("%s = %v, want %v within 0.1%%", c.name, c.got, c.want)
		}
	}
	if s.Clamped != 0 || s.Negative != 0 {
		t.Errorf("Clamped, Negative = %d, %d; want 0, 0", s.Clamped, s.Negative)
	}
}

func TestEmpty(t *testing.T) {
	r := NewRecorder(0)
	if r.Max() != DefaultMax {
		t.Errorf("NewRecorder(0).Max() = %v, want %v", r.Max(), DefaultMax)
	}
	if s := r.Summary(); s != (Summary{}) {
		t.Errorf("empty Summary = %+v", s)
	}
}

func TestClampAboveMax(t *testing.T) {
	r := NewRecorder(time.Second)
	r.Record(5 * time.Second)
	r.Record(time.Second) // exactly the maximum: not clamped
	r.Record(time.Millisecond)
	s := r.Summary()
	if s.Count != 3 || s.Clamped != 1 {
		t.Fatalf("Count, Clamped = %d, %d; want 3, 1", s.Count, s.Clamped)
	}
	if s.Max != time.Second || s.P99 != time.Second {
		t.Errorf("Max, P99 = %v, %v; want the maximum, 1s", s.Max, s.P99)
	}
	if tiny := NewRecorder(1); tiny.Max() != 2 {
		t.Errorf("NewRecorder(1ns).Max() = %v, want 2ns", tiny.Max())
	}
}

func TestNegativeRecordedAsZero(t *testing.T) {
	r := NewRecorder(time.Second)
	r.RecordNanos(-5)
	r.Record(-time.Hour)
	r.Record(time.Millisecond)
	s := r.Summary()
	if s.Count != 3 || s.Negative != 2 || s.Clamped != 0 {
		t.Fatalf("Count, Negative, Clamped = %d, %d, %d; want 3, 2, 0", s.Count, s.Negative, s.Clamped)
	}
	if s.Min != 0 || s.P50 != 0 || s.Max != time.Millisecond {
		t.Errorf("Min, P50, Max = %v, %v, %v; want 0, 0, 1ms", s.Min, s.P50, s.Max)
	}
}

func TestRecordCorrectedBackfills(t *testing.T) {
	r := NewRecorder(time.Minute)
	const ms = int64(time.Millisecond)
	r.RecordCorrected(ms/2, ms) // on time: nothing missing
	if r.Count() != 1 {
		t.Fatalf("Count after an on-time sample = %d, want 1", r.Count())
	}
	r.RecordCorrected(10*ms+ms/4, ms) // stalled: 9.25, 8.25, …, 1.25 ms were missed
	if got := r.Count(); got != 1+10 {
		t.Fatalf("Count after a 10.25ms stall at 1ms intervals = %d, want 11", got)
	}
	s := r.Summary()
	if s.Min != time.Duration(ms/2) || s.Max != time.Duration(10*ms+ms/4) {
		t.Errorf("Min, Max = %v, %v", s.Min, s.Max)
	}
	r.Reset()
	r.RecordCorrected(10*ms+ms/4, ms)
	if s := r.Summary(); s.Min != time.Duration(ms+ms/4) {
		t.Errorf("Min of the corrected samples = %v, want 1.25ms", s.Min)
	}
	r.Reset()
	r.RecordCorrected(10*ms, 0) // correction disabled
	r.RecordCorrected(-ms, ms)  // negative: recorded as 0, nothing missing
	if s := r.Summary(); s.Count != 2 || s.Negative != 1 {
		t.Errorf("Count, Negative = %d, %d; want 2, 1", s.Count, s.Negative)
	}
}

// TestRecordCorrectedMatchesLibrary checks that RecordCorrected's bucketed
// back-fill leaves exactly the histogram hdrhistogram's RecordCorrectedValue
// does, one sample at a time.
func TestRecordCorrectedMatchesLibrary(t *testing.T) {
	const limit = int64(10 * time.Second)
	rng := rand.New(rand.NewPCG(3, 4))
	type sample struct{ ns, interval int64 }
	samples := []sample{
		{0, 1}, {1, 1}, {2, 1}, {3, 1}, {2047, 1}, {2048, 1}, {4097, 3}, {100_000, 7},
		{limit, int64(time.Millisecond)}, {limit, 1 << 20}, {limit, limit}, {limit, limit / 2},
		{5_000, 1_000}, {5_001, 1_000}, {1_999, 1_000}, {2_000, 1_000},
	}
	for range 300 {
		interval := 1 + rng.Int64N(1<<uint(1+rng.IntN(30)))
		ns := rng.Int64N(min(limit, interval*(1+rng.Int64N(100_000))))
		samples = append(samples, sample{ns, interval})
	}
	for _, s := range samples {
		r := NewRecorder(time.Duration(limit))
		r.RecordCorrected(s.ns, s.interval)
		want := hdrhistogram.New(1, limit, sigFigs)
		if err := want.RecordCorrectedValue(s.ns, s.interval); err != nil {
			t.Fatal(err)
		}
		if !r.h.Equals(want) {
			t.Fatalf("RecordCorrected(%d, %d): count %d, library %d; histograms differ",
				s.ns, s.interval, r.h.TotalCount(), want.TotalCount())
		}
	}
}

func TestMerge(t *testing.T) {
	a, b := NewRecorder(time.Second), NewRecorder(time.Second)
	for us := 1; us <= 5_000; us++ {
		a.Record(time.Duration(us) * time.Microsecond)
	}
	for us := 5_001; us <= 10_000; us++ {
		b.Record(time.Duration(us) * time.Microsecond)
	}
	a.Record(2 * time.Second)
	b.RecordNanos(-1)
	a.Merge(b)
	s := a.Summary()
	if s.Count != 10_002 || s.Clamped != 1 || s.Negative != 1 {
		t.Fatalf("merged Count, Clamped, Negative = %d, %d, %d; want 10002, 1, 1", s.Count, s.Clamped, s.Negative)
	}
	if s.Min != 0 || s.Max != time.Second || !near(s.P50, 5*time.Millisecond) {
		t.Errorf("merged Min, P50, Max = %v, %v, %v", s.Min, s.P50, s.Max)
	}
	if b.Count() != 5_001 {
		t.Errorf("Merge changed its source: Count %d", b.Count())
	}

	a.Merge(a) // doubles
	if got := a.Summary(); got.Count != 2*s.Count || got.P50 != s.P50 || got.Clamped != 2 {
		t.Errorf("self-merge: Count %d P50 %v Clamped %d; want %d %v 2", got.Count, got.P50, got.Clamped, 2*s.Count, s.P50)
	}

	a.Merge(NewRecorder(time.Second)) // empty: nothing changes
	if a.Count() != 2*s.Count {
		t.Errorf("merging an empty recorder changed Count to %d", a.Count())
	}
}

func TestMergeFromLargerMaxClamps(t *testing.T) {
	small, big := NewRecorder(time.Millisecond), NewRecorder(time.Minute)
	big.Record(500 * time.Microsecond)
	big.Record(30 * time.Second)
	big.Record(40 * time.Second)
	small.Merge(big)
	s := small.Summary()
	if s.Count != 3 || s.Clamped != 2 || s.Max != time.Millisecond {
		t.Fatalf("Count, Clamped, Max = %d, %d, %v; want 3, 2, 1ms", s.Count, s.Clamped, s.Max)
	}
	if s.Min != 500*time.Microsecond || !near(s.P99, time.Millisecond) {
		t.Errorf("Min, P99 = %v, %v; want 500µs, 1ms", s.Min, s.P99)
	}
}

func TestInterval(t *testing.T) {
	r := NewRecorder(time.Second)
	for range 10 {
		r.Record(time.Millisecond)
	}
	r.RecordNanos(-1)
	iv := r.Interval()
	if s := iv.Summary(); s.Count != 11 || s.Negative != 1 || s.Max != time.Millisecond {
		t.Fatalf("first interval: %+v", s)
	}
	if s := r.Summary(); s != (Summary{}) {
		t.Fatalf("recorder after Interval not empty: %+v", s)
	}

	for range 3 {
		r.Record(2 * time.Millisecond)
	}
	total := NewRecorder(time.Second)
	total.Merge(iv)
	iv = r.Interval()
	if s := iv.Summary(); s.Count != 3 || s.Negative != 0 || s.Min != 2*time.Millisecond {
		t.Fatalf("second interval holds more than what was recorded since the first: %+v", s)
	}
	total.Merge(iv)
	if total.Count() != 14 {
		t.Errorf("running total = %d, want 14", total.Count())
	}

	if s := r.Interval().Summary(); s.Count != 0 {
		t.Errorf("interval with nothing recorded: %+v", s)
	}
	if allocs := testing.AllocsPerRun(10, func() { r.Interval() }); allocs != 0 {
		t.Errorf("Interval allocated %v times after the first call", allocs)
	}
}

func TestReset(t *testing.T) {
	r := uniform()
	r.Record(time.Hour)
	r.RecordNanos(-1)
	r.Reset()
	if s := r.Summary(); s != (Summary{}) {
		t.Fatalf("after Reset: %+v", s)
	}
	r.Record(time.Millisecond)
	if s := r.Summary(); s.Min != time.Millisecond || s.Max != time.Millisecond {
		t.Errorf("after Reset and one sample: Min %v Max %v", s.Min, s.Max)
	}
}

func TestRecordDoesNotAllocate(t *testing.T) {
	r := NewRecorder(time.Minute)
	ns := int64(0)
	if allocs := testing.AllocsPerRun(1000, func() {
		ns += 12345
		r.RecordNanos(ns)
		r.Record(time.Duration(-ns)) // negative
		r.Record(2 * time.Minute)    // clamped
	}); allocs != 0 {
		t.Errorf("Record allocated %v times", allocs)
	}
	if allocs := testing.AllocsPerRun(100, func() {
		r.RecordCorrected(int64(50*time.Millisecond), int64(time.Microsecond))
	}); allocs != 0 {
		t.Errorf("RecordCorrected allocated %v times", allocs)
	}
}

func BenchmarkRecord(b *testing.B) {
	r := NewRecorder(time.Minute)
	rng := rand.New(rand.NewPCG(1, 1))
	values := make([]int64, 1<<14)
	for i := range values {
		values[i] = int64(rng.ExpFloat64() * float64(50*time.Microsecond))
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		r.RecordNanos(values[i&(len(values)-1)])
		i++
	}
}

// BenchmarkRecordCorrected records one sample after a stall at a 1 µs
// interval (a 10 ms stall back-fills 10 000 missing samples), against
// hdrhistogram's RecordCorrectedValue, which records them one at a time.
func BenchmarkRecordCorrected(b *testing.B) {
	const interval = int64(time.Microsecond)
	for _, stall := range []time.Duration{10 * time.Millisecond, time.Second} {
		b.Run(fmt.Sprintf("stall=%v/Recorder", stall), func(b *testing.B) {
			r := NewRecorder(time.Minute)
			b.ReportAllocs()
			for b.Loop() {
				r.RecordCorrected(int64(stall), interval)
			}
		})
		b.Run(fmt.Sprintf("stall=%v/hdrhistogram", stall), func(b *testing.B) {
			h := hdrhistogram.New(1, int64(time.Minute), sigFigs)
			b.ReportAllocs()
			for b.Loop() {
				h.RecordCorrectedValue(int64(stall), interval)
			}
		})
	}
}

func BenchmarkSummary(b *testing.B) {
	r := uniform()
	b.ReportAllocs()
	for b.Loop() {
		r.Summary()
	}
}

func BenchmarkInterval(b *testing.B) {
	r := NewRecorder(time.Minute)
	r.Interval()
	b.ReportAllocs()
	for b.Loop() {
		r.Record(time.Millisecond)
		r.Interval()
	}
}
