package synth

import (
	"testing"
	"time"
)

func TestScheduleSteady(t *testing.T) {
	s := newSchedule(Config{Rate: 2000})
	for i := range int64(10_000) {
		if got, want := s.at(i), i*500_000; got != want {
			t.Fatalf("at(%d) = %d, want %d", i, got, want)
		}
	}
	checkDue(t, &s)
}

func TestScheduleBursts(t *testing.T) {
	// 1000/s, and 10 000/s during the last 10 ms of every 100 ms:
	// 90 calm messages, then 100 in the burst, per period.
	s := newSchedule(Config{Rate: 1000, Burst: 10, BurstEvery: 100 * time.Millisecond, BurstLen: 10 * time.Millisecond})
	for _, c := range []struct {
		i    int64
		want time.Duration
	}{
		{0, 0},
		{89, 89 * time.Millisecond},
		{90, 90 * time.Millisecond},
		{91, 90*time.Millisecond + 100*time.Microsecond},
		{189, 99*time.Millisecond + 900*time.Microsecond},
		{190, 100 * time.Millisecond},
		{190*7 + 95, 790*time.Millisecond + 500*time.Microsecond},
	} {
		if got := time.Duration(s.at(c.i)); absDiff(got, c.want) > time.Nanosecond {
			t.Errorf("at(%d) = %v, want %v", c.i, got, c.want)
		}
	}
	if n := s.due(int64(time.Second) - 1); n < 1899 || n > 1900 {
		t.Errorf("due(1s) = %d, want 1900 (10 periods of 190)", n)
	}
	checkDue(t, &s)
}

func absDiff(a, b time.Duration) time.Duration {
	if a > b {
		return a - b
	}
	return b - a
}

// checkDue checks that at is monotonic and due is its exact inverse.
func checkDue(t *testing.T, s *schedule) {
	t.Helper()
	for i := int64(1); i < 20_000; i++ {
		a, prev := s.at(i), s.at(i-1)
		if a < prev {
			t.Fatalf("at(%d) = %d < at(%d) = %d", i, a, i-1, prev)
		}
		if d := s.due(a); d <= i || s.at(d) <= a || s.at(d-1) > a {
			t.Fatalf("due(at(%d) = %d) = %d", i, a, d)
		}
		if a > prev {
			if d := s.due(a - 1); d != i {
				t.Fatalf("due(at(%d)-1) = %d, want %d", i, d, i)
			}
		}
	}
	if s.due(-1) != 0 || s.due(0) != 1 {
		t.Fatalf("due(-1) = %d, due(0) = %d", s.due(-1), s.due(0))
	}
}
