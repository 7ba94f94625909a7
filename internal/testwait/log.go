package testwait

import (
	"bytes"
	"strings"
	"sync"
	"testing"
	"time"
)

// Log is a writer a component logs to while the test reads it: safe for
// concurrent writers and readers. The zero value is ready.
type Log struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *Log) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// String is everything written so far.
func (l *Log) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// Await waits until the log contains want, failing tb with the whole log if
// it does not within Deadline.
func (l *Log) Await(tb testing.TB, want string) {
	tb.Helper()
	deadline := time.Now().Add(Deadline)
	for !strings.Contains(l.String(), want) {
		if time.Now().After(deadline) {
			tb.Fatalf("the log never said %q:\n%s", want, l.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
}
