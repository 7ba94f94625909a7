package link

import (
	"bytes"
	"sync"
	"testing"
	"time"
)

func TestLiveQueueBoundsAndOrder(t *testing.T) {
	t.Parallel()
	q := newLiveQueue(4)
	for i := range 4 {
		if !q.push([]byte{byte(i)}) {
			t.Fatalf("push %d failed", i)
		}
	}
	if q.push([]byte{9}) {
		t.Fatal("push into a full queue succeeded")
	}
	for i := range 4 {
		b, ok := q.pop()
		if !ok || !bytes.Equal(b, []byte{byte(i)}) {
			t.Fatalf("pop %d: %v %v", i, b, ok)
		}
		q.release(b)
	}
	if _, ok := q.pop(); ok {
		t.Fatal("pop from an empty queue succeeded")
	}
	// The buffers come back: a packet larger than the first buffers grows one.
	big := bytes.Repeat([]byte{1}, 3*minPacketBuf)
	if !q.push(big) {
		t.Fatal("push after drain failed")
	}
	if b, _ := q.pop(); !bytes.Equal(b, big) {
		t.Fatal("big packet garbled")
	}
}

func TestLiveQueueConcurrent(t *testing.T) {
	t.Parallel()
	q := newLiveQueue(16)
	const n = 20000
	var wg sync.WaitGroup
	got := 0
	wg.Go(func() {
		want := byte(0)
		for got < n {
			b, ok := q.pop()
			if !ok {
				q.wait(nil)
				continue
			}
			if b[0] != want {
				t.Errorf("packet %d: got %d, want %d", got, b[0], want)
				return
			}
			want++
			got++
			q.release(b)
		}
	})
	for i := 0; i < n; {
		if q.push([]byte{byte(i)}) {
			i++
		}
	}
	wg.Wait()
}

// A bare server and client connection, no network: Publish's own cost.
func publishFixture(queueLen int) (*Server, *serverConn) {
	s := &Server{log: quietLog(), queueLen: queueLen, conns: map[*serverConn]struct{}{}, epoch: time.Now()}
	s.channels.Store(&map[uint16]*channel{})
	c := &serverConn{s: s, q: newStampedQueue(queueLen), subs: map[uint16]bool{}}
	s.subscribe(c, 1)
	return s, c
}

func TestPublishDoesNotAllocate(t *testing.T) {
	s, c := publishFixture(64)
	pkt := mkPacket(0, 1, 1, 1, 20)
	other := mkPacket(0, 2, 1, 1, 20)
	if n := testing.AllocsPerRun(1000, func() {
		s.Publish(1, pkt)
		s.Publish(2, other) // nobody subscribed
		b, _ := c.q.pop()
		c.q.release(b)
	}); n != 0 {
		t.Errorf("Publish with a draining client: %v allocs, want 0", n)
	}
	for !c.q.live.full() {
		s.Publish(1, pkt)
	}
	if n := testing.AllocsPerRun(1000, func() { s.Publish(1, pkt) }); n != 0 {
		t.Errorf("Publish to a full queue: %v allocs, want 0", n)
	}
	if c.dropped.Load() == 0 {
		t.Error("no drop counted")
	}
}
