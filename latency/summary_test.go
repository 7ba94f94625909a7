package latency

import (
	"testing"
	"time"
)

func TestFormatDuration(t *testing.T) {
	for _, c := range []struct {
		d    time.Duration
		want string
	}{
		{0, "0ns"},
		{5, "5ns"},
		{999, "999ns"},
		{1000, "1µs"},
		{1234, "1.23µs"},
		{12_345, "12.3µs"},
		{123_456, "123µs"},
		{999_499, "999µs"},
		{999_500, "1ms"},
		{1_500_000, "1.5ms"},
		{9_996_000, "10ms"},
		{2 * time.Second, "2s"},
		{90 * time.Second, "90s"},
		{999_400 * time.Millisecond, "999s"},
		{time.Hour, "3600s"},
		{-1500, "-1.5µs"},
	} {
		if got := formatDuration(c.d); got != c.want {
			t.Errorf("formatDuration(%d) = %q, want %q", int64(c.d), got, c.want)
		}
	}
}

func TestSummaryString(t *testing.T) {
	if got, want := uniform().Summary().String(),
		"n=10000 p50=5ms p90=9ms p99=9.9ms p99.9=9.99ms p99.99=10ms max=10ms"; got != want {
		t.Errorf("uniform summary:\n got %q\nwant %q", got, want)
	}
	s := Summary{Count: 3, P50: 12_345, P90: 20_000, P99: 1_500_000, P999: 1_500_000,
		P9999: 1_500_000, Max: 2 * time.Second, Clamped: 1, Negative: 2}
	if got, want := s.String(),
		"n=3 p50=12.3µs p90=20µs p99=1.5ms p99.9=1.5ms p99.99=1.5ms max=2s clamped=1 negative=2"; got != want {
		t.Errorf("String:\n got %q\nwant %q", got, want)
	}
	if got := (Summary{Negative: 1}).String(); got != "n=0 negative=1" {
		t.Errorf("empty summary = %q", got)
	}
}

// TestPercentilesWithinMinMax checks that a single sample reports itself at
// every percentile, not its histogram bucket's upper edge.
func TestPercentilesWithinMinMax(t *testing.T) {
	r := NewRecorder(time.Minute)
	r.RecordNanos(1_234_567)
	s := r.Summary()
	for _, p := range []time.Duration{s.Min, s.Mean, s.P50, s.P99, s.P9999, s.Max} {
		if p != 1_234_567 {
			t.Fatalf("single-sample summary not exact: %+v", s)
		}
	}
}
