package source

import (
	"context"
	"sync"
)

// Gate wraps a source so that its output can be held back and let go again
// while the publisher keeps running (heartbeats, NACK answers, snapshots):
// how a drill or a test brings the feed to a quiet point to compare books.
type Gate struct {
	src Source

	mu     sync.Mutex
	open   chan struct{} // closed while the gate is open
	closed bool
}

// NewGate returns an open gate around src.
func NewGate(src Source) *Gate {
	g := &Gate{src: src, open: make(chan struct{})}
	close(g.open)
	return g
}

// Pause holds back every batch the source publishes from now on: Publish
// blocks until Resume (or the run's context ends).
func (g *Gate) Pause() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.closed {
		g.closed = true
		g.open = make(chan struct{})
	}
}

// Resume lets batches through again.
func (g *Gate) Resume() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		g.closed = false
		close(g.open)
	}
}

func (g *Gate) wait(ctx context.Context) error {
	g.mu.Lock()
	open := g.open
	g.mu.Unlock()
	select {
	case <-open:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Run runs the wrapped source through the gate.
func (g *Gate) Run(ctx context.Context, sink Sink) error {
	return g.src.Run(ctx, SinkFunc(func(msgs []byte) error {
		if err := g.wait(ctx); err != nil {
			return err
		}
		return sink.Publish(msgs)
	}))
}
