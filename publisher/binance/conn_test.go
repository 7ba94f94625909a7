package binance

import (
	"testing"
	"time"
)

// TestPongBudget checks the pong limiter: a burst of pings gets one pong, and
// no second ever sees more than 4 (Binance counts pongs among its 5 incoming
// messages per second).
func TestPongBudget(t *testing.T) {
	pongs := newSendLimiter()
	t0 := time.Unix(1000, 0)
	n := 0
	for range 100 {
		if pongs.AllowN(t0, 1) {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("a burst got %d pongs, want 1", n)
	}
	var sent []time.Time
	for i := range 10_000 { // a ping every millisecond for 10 s
		now := t0.Add(time.Duration(i) * time.Millisecond)
		if pongs.AllowN(now, 1) {
			sent = append(sent, now)
		}
	}
	for i := sendsPerSecond; i < len(sent); i++ {
		if sent[i].Sub(sent[i-sendsPerSecond]) < time.Second {
			t.Fatalf("pongs %d and %d within a second", i-sendsPerSecond, i)
		}
	}
	if len(sent) < 35 {
		t.Fatalf("%d pongs in 10 s, want about 40", len(sent))
	}
}
