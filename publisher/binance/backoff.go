package binance

import (
	"context"
	"math/rand/v2"
	"sync"
	"time"
)

// backoff returns the delay before retry number attempt (0-based): "full
// jitter", uniform in [0, min(max, min·2^attempt)], so many clients cut off at
// once do not come back in lockstep.
func backoff(attempt int, min, max time.Duration) time.Duration {
	ceil := max
	if attempt < 32 && min<<attempt > 0 && min<<attempt < max {
		ceil = min << attempt
	}
	if ceil <= 0 {
		return 0
	}
	return rand.N(ceil + 1)
}

// attemptLimiter keeps connection attempts under a cap per sliding window
// (Binance: 300 connection attempts per 5 minutes per IP). It is shared by
// all the connections of a source.
type attemptLimiter struct {
	mu     sync.Mutex
	window time.Duration
	times  []time.Time // ring of the last len(times) attempts
	next   int         // the oldest entry once the ring is full
	n      int
}

func newAttemptLimiter(max int, window time.Duration) *attemptLimiter {
	return &attemptLimiter{window: window, times: make([]time.Time, max)}
}

// reserve records an attempt at now and returns 0, or returns how long to wait
// before an attempt is allowed (and records nothing).
func (l *attemptLimiter) reserve(now time.Time) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.n == len(l.times) {
		if wait := l.times[l.next].Add(l.window).Sub(now); wait > 0 {
			return wait
		}
	} else {
		l.n++
	}
	l.times[l.next] = now
	l.next = (l.next + 1) % len(l.times)
	return 0
}

// wait blocks until an attempt is allowed and records it.
func (l *attemptLimiter) wait(ctx context.Context) error {
	for {
		d := l.reserve(time.Now())
		if d == 0 {
			return nil
		}
		if err := sleep(ctx, d); err != nil {
			return err
		}
	}
}

// sleep waits for d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
