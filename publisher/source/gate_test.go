package source

import (
	"context"
	"sync/atomic"
	"testing"
	"time"
)

// ticker publishes one byte batch every millisecond until its context ends.
type ticker struct{}

func (ticker) Run(ctx context.Context, sink Sink) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(time.Millisecond):
			if err := sink.Publish([]byte{1}); err != nil {
				return nil
			}
		}
	}
}

func TestGate(t *testing.T) {
	g := NewGate(ticker{})
	var n atomic.Int64
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() {
		done <- g.Run(ctx, SinkFunc(func([]byte) error { n.Add(1); return nil }))
	}()
	waitN := func(min int64) {
		t.Helper()
		for deadline := time.Now().Add(30 * time.Second); n.Load() < min; {
			if time.Now().After(deadline) {
				t.Fatalf("only %d batches", n.Load())
			}
			time.Sleep(time.Millisecond)
		}
	}
	waitN(3)
	g.Pause()
	time.Sleep(5 * time.Millisecond) // a batch in flight may still land
	held := n.Load()
	time.Sleep(20 * time.Millisecond)
	if n.Load() != held {
		t.Fatalf("%d batches passed a closed gate", n.Load()-held)
	}
	g.Resume()
	waitN(held + 3)
	g.Pause()
	cancel() // a paused gate still stops with its context
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
