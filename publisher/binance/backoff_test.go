package binance

import (
	"testing"
	"time"
)

func TestBackoffBounds(t *testing.T) {
	min, max := 500*time.Millisecond, 30*time.Second
	for attempt := range 80 {
		ceil := max
		if attempt < 6 {
			ceil = min << attempt
		}
		for range 50 {
			if d := backoff(attempt, min, max); d < 0 || d > ceil {
				t.Fatalf("backoff(%d) = %v, want within [0, %v]", attempt, d, ceil)
			}
		}
	}
}

func TestAttemptLimiter(t *testing.T) {
	l := newAttemptLimiter(300, 5*time.Minute)
	t0 := time.Unix(1000, 0)
	for i := range 300 {
		if w := l.reserve(t0.Add(time.Duration(i) * time.Millisecond)); w != 0 {
			t.Fatalf("attempt %d refused for %v", i, w)
		}
	}
	now := t0.Add(time.Second)
	if w := l.reserve(now); w != 5*time.Minute-time.Second {
		t.Fatalf("attempt 301 may go in %v, want %v", w, 5*time.Minute-time.Second)
	}
	// As each attempt leaves the window, exactly one more is allowed.
	now = t0.Add(5 * time.Minute)
	if w := l.reserve(now); w != 0 {
		t.Fatalf("refused once the first attempt left the window: %v", w)
	}
	if w := l.reserve(now); w != time.Millisecond {
		t.Fatalf("second attempt may go in %v, want 1ms", w)
	}
	// Never more than 300 in any window of 5 minutes.
	l = newAttemptLimiter(300, 5*time.Minute)
	var granted []time.Time
	for i := range 3000 {
		now := t0.Add(time.Duration(i) * 500 * time.Millisecond)
		if l.reserve(now) == 0 {
			granted = append(granted, now)
		}
	}
	for i := 300; i < len(granted); i++ {
		if granted[i].Sub(granted[i-300]) < 5*time.Minute {
			t.Fatalf("attempts %d and %d within %v", i-300, i, granted[i].Sub(granted[i-300]))
		}
	}
}
