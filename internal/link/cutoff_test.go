package link

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/quic-go/quic-go"
	"github.com/tickcast/tickcast/internal/testwait"
	"github.com/tickcast/tickcast/wire"
)

// A client whose path stalls is cut off once its receiver reports have
// shown it losing its datagrams for longer than SlowCutoff; it reads the
// reason from Run's error, the server logs and counts it by name, and a
// healthy client gets every packet.
func TestSlowConsumerCutOff(t *testing.T) {
	t.Parallel()
	p := newPKI(t)
	var logs testwait.Log
	s := testServer(t, p, &fakeFeed{}, func(c *ServerConfig) {
		c.QueueLen = 16
		c.SlowCutoff = 20 * time.Millisecond
		c.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	})
	fastTLS, err := p.NamedClientTLS("fast")
	if err != nil {
		t.Fatal(err)
	}
	slowTLS, err := p.NamedClientTLS("slow")
	if err != nil {
		t.Fatal(err)
	}
	var fast, slow recorder
	testClient(t, s, ClientConfig{TLS: fastTLS, Subscriptions: []wire.Subscribe{liveSub(1)}}, &fast)
	proxy := newStallProxy(t, s.Addr())
	slowClient := dial(t, proxy.front.LocalAddr().String(), ClientConfig{TLS: slowTLS, Subscriptions: []wire.Subscribe{liveSub(1)}})
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	runErr := make(chan error, 1)
	go func() { runErr <- slowClient.Run(ctx, &slow) }()
	proxy.hold()

	// Publish, a window at a time, until the slow client is cut off, then
	// a little more: the fast client must have it all.
	const window = 8 // below QueueLen: the fast client never drops
	published := 0
	deadline := time.Now().Add(30 * time.Second)
	for s.Stats().CutOff == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("slow client never cut off: %+v", s.Stats())
		}
		publishWindow(t, s, &fast, &published, window)
	}
	for range 4 {
		publishWindow(t, s, &fast, &published, window)
	}
	if f := peerNamed(t, s, "fast"); f.Dropped != 0 || f.CutOff || f.Datagrams != uint64(published) {
		t.Errorf("fast peer: %+v (published %d)", f, published)
	}

	proxy.release() // the client now hears the server's close
	var err2 error
	select {
	case err2 = <-runErr:
	case <-time.After(30 * time.Second):
		t.Fatal("slow client's Run did not return")
	}
	var appErr *quic.ApplicationError
	if !errors.As(err2, &appErr) || appErr.ErrorCode != CodeSlowConsumer || !appErr.Remote {
		t.Fatalf("Run returned %v, want a remote CodeSlowConsumer", err2)
	}
	if !strings.Contains(err2.Error(), "tickcast: slow consumer: lost 100% of its datagrams for") {
		t.Errorf("reason not readable: %q", err2)
	}
	waitFor(t, "the slow client gone", func() bool { return s.Stats().Clients == 1 })
	if d := s.Stats().Disconnects; d[Disconnect{"slow", DisconnectSlow}] != 1 || len(d) != 1 {
		t.Errorf("disconnects %v, want one of slow for being slow", d)
	}
	if l := logs.String(); !strings.Contains(l, "slow consumer cut off") || !strings.Contains(l, "name=slow") {
		t.Errorf("cutoff not logged by name:\n%s", l)
	}
}

// publishWindow publishes window one-message packets on channel 1 and waits
// until the fast client has them all.
func publishWindow(t *testing.T, s *Server, fast *recorder, published *int, window int) {
	t.Helper()
	for range window {
		*published++
		s.Publish(1, mkPacket(0, 1, 1, uint64(*published), 1))
	}
	waitFor(t, "the fast client to keep up", func() bool { return fast.count(live) == *published })
}

// A client whose live queue on the server refuses every packet for longer
// than SlowCutoff is cut off, with a reason saying so.
func TestFullQueueCutOff(t *testing.T) {
	t.Parallel()
	p := newPKI(t)
	s := testServer(t, p, &fakeFeed{}, func(c *ServerConfig) { c.QueueLen = 4; c.SlowCutoff = time.Nanosecond })
	c := &serverConn{s: s, slow: make(chan struct{}), q: newLiveQueue(4)}
	for range 4 {
		c.enqueue(mkPacket(0, 1, 1, 1, 1), 0)
	}
	c.enqueue(mkPacket(0, 1, 1, 1, 1), 0) // the first refusal starts the episode
	time.Sleep(time.Millisecond)          // longer than the cutoff, however slow the machine
	c.enqueue(mkPacket(0, 1, 1, 1, 1), 0)
	select {
	case <-c.slow:
	default:
		t.Fatal("not cut off")
	}
	if !strings.Contains(c.slowReason, "live queue full for") || !strings.Contains(c.slowReason, "2 datagrams dropped") {
		t.Errorf("reason %q", c.slowReason)
	}
}

// SlowCutoff < 0 never cuts a client off.
func TestSlowCutoffNever(t *testing.T) {
	t.Parallel()
	p := newPKI(t)
	s := testServer(t, p, &fakeFeed{}, func(c *ServerConfig) { c.QueueLen = 4; c.SlowCutoff = -1 })
	c := &serverConn{s: s, slow: make(chan struct{}), q: newLiveQueue(4)}
	for range 100 {
		c.enqueue(mkPacket(0, 1, 1, 1, 1), 0)
	}
	select {
	case <-c.slow:
		t.Fatal("cut off with SlowCutoff < 0")
	default:
	}
	if c.dropped.Load() != 96 {
		t.Errorf("dropped %d, want 96", c.dropped.Load())
	}
}
