// Package testwait gives tests waits on conditions instead of on time: a
// condition polled under a generous deadline (never a timing assertion, on a
// machine that stalls at random), and a goroutine-leak check.
package testwait

import (
	"runtime"
	"testing"
	"time"
)

// Deadline bounds every wait: long enough that only a real hang hits it.
const Deadline = 60 * time.Second

// For polls cond every 5ms until it holds, failing tb with what if it does
// not within Deadline.
func For(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(Deadline)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// NoLeak waits for the goroutine count to come back to base (taken before
// the test started what it stops), failing tb with every goroutine's stack
// if it does not within 20s.
func NoLeak(tb testing.TB, base int) {
	tb.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for runtime.NumGoroutine() > base {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			tb.Fatalf("%d goroutines left, %d before:\n%s", runtime.NumGoroutine(), base, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(20 * time.Millisecond)
	}
}
