package latency

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

// bruteStats is stats built one value at a time.
func bruteStats(vs []int64) stats {
	st := noStats
	for _, v := range vs {
		st.addOne(v)
	}
	return st
}

func closeTo(a, b float64) bool { return math.Abs(a-b) <= 1e-9*math.Max(math.Abs(a), math.Abs(b)) }

func TestStatsAddRun(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for range 200 {
		step := rng.Int64N(1_000_000)
		n := 1 + rng.Int64N(2_000)
		v := step*(n-1) + rng.Int64N(1<<30)
		var vs []int64
		for k := range n {
			vs = append(vs, v-k*step)
		}
		want := bruteStats(vs)
		got := noStats
		got.add(v, n, step)
		if got.min != want.min || got.max != want.max || !closeTo(got.sum, want.sum) || !closeTo(got.sumSq, want.sumSq) {
			t.Fatalf("add(%d, %d, %d) = %+v, want %+v", v, n, step, got, want)
		}
	}
}

func TestMeanStdDevExact(t *testing.T) {
	r := uniform() // 1..10000 µs
	s := r.Summary()
	if s.Mean != 5_000_500*time.Nanosecond {
		t.Errorf("Mean = %v, want exactly 5.0005ms", s.Mean)
	}
	if want := time.Duration(math.Round(1000 * math.Sqrt((10_000*10_000-1)/12.0))); s.StdDev != want {
		t.Errorf("StdDev = %v, want %v", s.StdDev, want)
	}
}

// TestCorrectedStatsExact checks Min, Max, Mean and StdDev after
// coordinated-omission correction against the back-filled samples written out.
func TestCorrectedStatsExact(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	r := NewRecorder(time.Minute)
	var all []int64
	for range 100 {
		step := 1 + rng.Int64N(100_000)
		ns := rng.Int64N(step * 50)
		r.RecordCorrected(ns, step)
		all = append(all, ns)
		for v := ns - step; v >= step; v -= step {
			all = append(all, v)
		}
	}
	if r.Count() != int64(len(all)) {
		t.Fatalf("Count = %d, want %d", r.Count(), len(all))
	}
	want := bruteStats(all)
	wantMean, wantSD := want.meanStdDev(int64(len(all)))
	s := r.Summary()
	if s.Min != time.Duration(want.min) || s.Max != time.Duration(want.max) {
		t.Errorf("Min, Max = %v, %v; want %v, %v", s.Min, s.Max, time.Duration(want.min), time.Duration(want.max))
	}
	if math.Abs(float64(s.Mean)-wantMean) > 1 || math.Abs(float64(s.StdDev)-wantSD) > 1 {
		t.Errorf("Mean, StdDev = %v, %v; want %.1fns, %.1fns", s.Mean, s.StdDev, wantMean, wantSD)
	}
}
