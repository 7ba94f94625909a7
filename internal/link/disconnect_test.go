package link

import (
	"context"
	"errors"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/quic-go/quic-go"
	"github.com/tickcast/tickcast/wire"
)

// A client that closes its link is counted gone by its name, "closed"; the
// server stopping counts the others as "shutdown".
func TestDisconnectCounted(t *testing.T) {
	t.Parallel()
	p := newPKI(t)
	s, err := NewServer(ServerConfig{Addr: "127.0.0.1:0", TLS: p.ServerTLS(), Feed: &fakeFeed{}, Logger: quietLog()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx) }()
	defer func() {
		cancel()
		<-done
	}()
	tlsA, _ := p.NamedClientTLS("a")
	tlsB, _ := p.NamedClientTLS("b")
	a := dial(t, s.Addr().String(), ClientConfig{TLS: tlsA, Subscriptions: []wire.Subscribe{liveSub(1)}})
	b := dial(t, s.Addr().String(), ClientConfig{TLS: tlsB, Subscriptions: []wire.Subscribe{liveSub(1)}})
	defer b.Close()
	waitFor(t, "two clients", func() bool { return s.Stats().Clients == 2 })
	a.Close()
	waitFor(t, "a counted gone", func() bool { return s.Stats().Disconnects[Disconnect{"a", DisconnectClosed}] == 1 })
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	done <- nil
	if d := s.Stats().Disconnects; d[Disconnect{"b", DisconnectShutdown}] != 1 || len(d) != 2 {
		t.Errorf("disconnects %v, want a closed and b shutdown", d)
	}
}

func TestDisconnectReason(t *testing.T) {
	for _, c := range []struct {
		err            error
		stopping, slow bool
		want           string
	}{
		{nil, false, false, DisconnectClosed},
		{io.EOF, false, false, DisconnectClosed},
		{&quic.ApplicationError{Remote: true, ErrorCode: codeOK}, false, false, DisconnectClosed},
		{&quic.ApplicationError{Remote: false, ErrorCode: CodeSlowConsumer}, false, true, DisconnectSlow},
		{&quic.ApplicationError{Remote: false}, true, false, DisconnectShutdown},
		{fmt.Errorf("read: %w", &quic.IdleTimeoutError{}), false, false, DisconnectTimeout},
		{protocolError{errors.New("bad frame")}, false, false, DisconnectProtocol},
		{errNoControl, false, false, DisconnectProtocol},
		{&quic.StatelessResetError{}, false, false, DisconnectError},
		{errors.New("local failure"), false, false, DisconnectError},
	} {
		if got := disconnectReason(c.err, c.stopping, c.slow); got != c.want {
			t.Errorf("disconnectReason(%v, stopping %v, slow %v) = %s, want %s", c.err, c.stopping, c.slow, got, c.want)
		}
	}
}

// The lag of a client's queue is the age of its oldest packet: 0 when
// empty, growing while the oldest waits, back to 0 once drained.
func TestQueueLag(t *testing.T) {
	s, c := publishFixture(64)
	if l := c.lag(); l != 0 {
		t.Fatalf("empty queue: lag %v", l)
	}
	pkt := mkPacket(0, 1, 1, 1, 1)
	s.Publish(1, pkt)
	first := s.clock()
	s.Publish(1, pkt)
	waitFor(t, "the clock to move past the first packet", func() bool { return s.clock() > first })
	lag := c.lag()
	if lag <= 0 {
		t.Fatalf("lag %v with two packets queued", lag)
	}
	b, _ := c.q.pop()
	c.q.release(b)
	if l := c.lag(); l < 0 || l > time.Duration(s.clock()-first) {
		t.Errorf("lag %v after the first packet left", l)
	}
	b, _ = c.q.pop()
	c.q.release(b)
	if l := c.lag(); l != 0 {
		t.Errorf("drained queue: lag %v", l)
	}
	q := newStampedQueue(2)
	q.pushAt([]byte{1}, 10)
	q.pushAt([]byte{2}, 20)
	if at, ok := q.oldest(); !ok || at != 10 {
		t.Errorf("oldest %d %v, want 10", at, ok)
	}
	b, _ = q.pop()
	q.release(b)
	q.pushAt([]byte{3}, 30) // reuses the first slot
	if at, ok := q.oldest(); !ok || at != 20 {
		t.Errorf("oldest %d %v, want 20", at, ok)
	}
	if _, ok := newLiveQueue(2).oldest(); ok {
		t.Error("a queue without stamps has an oldest packet")
	}
}
