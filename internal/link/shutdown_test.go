package link

import (
	"context"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/tickcast/tickcast/wire"
)

// blockingFeed's snapshots block until their context ends.
type blockingFeed struct {
	fakeFeed
	started chan struct{}
}

func (f *blockingFeed) Snapshot(ctx context.Context, channel uint16, instrument uint32, emit func([]byte) error) error {
	f.started <- struct{}{}
	<-ctx.Done()
	return ctx.Err()
}

// Not parallel: it counts the process's goroutines.
func TestServeReturnsAndLeavesNoGoroutines(t *testing.T) {
	before := runtime.NumGoroutine()
	func() {
		p := newPKI(t)
		feed := &blockingFeed{started: make(chan struct{}, 1)}
		s, err := NewServer(ServerConfig{Addr: "127.0.0.1:0", TLS: p.ServerTLS(), Feed: feed, Logger: quietLog()})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		served := make(chan error, 1)
		go func() { served <- s.Serve(ctx) }()

		var runs []chan error
		for range 2 {
			c := dial(t, s.Addr().String(), ClientConfig{TLS: p.ClientTLS(), Subscriptions: []wire.Subscribe{liveSub(1)}})
			done := make(chan error, 1)
			go func() { done <- c.Run(context.Background(), HandlerFunc(func(wire.Packet, int64) {})) }()
			runs = append(runs, done)
			defer c.Close()
			if len(runs) == 1 {
				// An answer in flight when the server stops.
				if err := c.RequestSnapshot(wire.SnapshotRequest{Channel: 1}); err != nil {
					t.Fatal(err)
				}
				<-feed.started
			}
		}
		for i := range 100 {
			s.Publish(1, mkPacket(0, 1, 1, uint64(i+1), 1))
		}
		cancel()
		if err := <-served; err != nil {
			t.Fatalf("Serve: %v", err)
		}
		if st := s.Stats(); st.Clients != 0 {
			t.Errorf("%d clients after Serve returned", st.Clients)
		}
		for _, done := range runs {
			err := <-done
			if err == nil || !strings.Contains(err.Error(), "server shutting down") {
				t.Errorf("client Run: %v, want the server's shutdown", err)
			}
		}
	}()
	waitFor(t, "goroutines to settle", func() bool { return runtime.NumGoroutine() <= before })
}

func TestClientCloseEndsRun(t *testing.T) {
	t.Parallel()
	p := newPKI(t)
	s := testServer(t, p, &fakeFeed{}, nil)
	c := dial(t, s.Addr().String(), ClientConfig{TLS: p.ClientTLS(), Subscriptions: []wire.Subscribe{liveSub(1)}})
	done := make(chan error, 1)
	go func() { done <- c.Run(context.Background(), &recorder{}) }()
	waitFor(t, "the server to see the client", func() bool { return s.Stats().Clients == 1 })
	c.Close()
	c.Close() // idempotent
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run after Close: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not return after Close")
	}
	waitFor(t, "the server to drop the client", func() bool { return s.Stats().Clients == 0 })
	if err := c.Request(wire.RetransmitRequest{Channel: 1, Count: 1, FirstSeq: 1}); err == nil {
		t.Error("Request on a closed client succeeded")
	}
	if err := c.Run(context.Background(), &recorder{}); err == nil {
		t.Error("second Run succeeded")
	}
}

func TestServerCloseEndsServe(t *testing.T) {
	t.Parallel()
	p := newPKI(t)
	s, err := NewServer(ServerConfig{Addr: "127.0.0.1:0", TLS: p.ServerTLS(), Feed: &fakeFeed{}, Logger: quietLog()})
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- s.Serve(context.Background()) }()
	c := dial(t, s.Addr().String(), ClientConfig{TLS: p.ClientTLS(), Subscriptions: []wire.Subscribe{liveSub(1)}})
	defer c.Close()
	ran := make(chan error, 1)
	go func() { ran <- c.Run(context.Background(), &recorder{}) }()
	s.Close()
	if err := <-served; err != nil {
		t.Errorf("Serve after Close: %v", err)
	}
	if err := <-ran; err == nil {
		t.Error("client Run returned nil after the server closed")
	}
	if err := s.Serve(context.Background()); err == nil {
		t.Error("second Serve succeeded")
	}
}
