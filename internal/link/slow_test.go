package link

import (
	"bytes"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tickcast/tickcast/wire"
)

// stallProxy forwards UDP between one client and a server on 127.0.0.1 and
// can stall the path: while stalled, nothing from the server reaches the
// client (a congested or dead WAN path, as the server sees it: no ACKs).
type stallProxy struct {
	front   *net.UDPConn // the client talks to this
	back    *net.UDPConn // connected to the server
	client  atomic.Pointer[net.UDPAddr]
	stalled atomic.Bool
	wg      sync.WaitGroup

	// While holding, packets from the server are kept (not dropped) and
	// delivered, in order, by release.
	mu      sync.Mutex
	holding bool
	held    [][]byte
}

// hold starts keeping the server's packets instead of forwarding them.
func (p *stallProxy) hold() {
	p.mu.Lock()
	p.holding = true
	p.mu.Unlock()
}

// release forwards what was held and stops holding.
func (p *stallProxy) release() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.holding = false
	if to := p.client.Load(); to != nil {
		for _, b := range p.held {
			p.front.WriteToUDP(b, to)
		}
	}
	p.held = nil
}

// forward sends one packet from the server to the client, or holds it.
func (p *stallProxy) forward(b []byte) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.holding {
		if len(p.held) < maxHeld {
			p.held = append(p.held, bytes.Clone(b))
		}
		return
	}
	if to := p.client.Load(); to != nil {
		p.front.WriteToUDP(b, to)
	}
}

// maxHeld bounds what a holding proxy keeps.
const maxHeld = 1 << 16

func newStallProxy(t *testing.T, server net.Addr) *stallProxy {
	t.Helper()
	front, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	back, err := net.DialUDP("udp", nil, server.(*net.UDPAddr))
	if err != nil {
		t.Fatal(err)
	}
	p := &stallProxy{front: front, back: back}
	p.wg.Go(func() {
		buf := make([]byte, 65536)
		for {
			n, from, err := front.ReadFromUDP(buf)
			if err != nil {
				return
			}
			p.client.Store(from)
			back.Write(buf[:n])
		}
	})
	p.wg.Go(func() {
		buf := make([]byte, 65536)
		for {
			n, err := back.Read(buf)
			if errors.Is(err, net.ErrClosed) {
				return
			}
			if err != nil || p.stalled.Load() {
				continue
			}
			p.forward(buf[:n])
		}
	})
	t.Cleanup(func() {
		front.Close()
		back.Close()
		p.wg.Wait()
	})
	return p
}

// publishInWindows publishes n one-message packets on channel 1, a window at
// a time, waiting after each window until the fast client has everything, so
// the fast client's queue never holds more than one window.
func publishInWindows(t *testing.T, s *Server, fast *recorder, n, window int) {
	t.Helper()
	for i := 0; i < n; i += window {
		for j := range window {
			s.Publish(1, mkPacket(0, 1, 1, uint64(1+i+j), 1))
		}
		waitFor(t, "the fast client to keep up", func() bool { return fast.count(live) == i+window })
	}
}

func peerNamed(t *testing.T, s *Server, name string) PeerStats {
	t.Helper()
	for _, p := range s.Stats().Peers {
		if p.Name == name {
			return p
		}
	}
	t.Fatalf("no peer named %q in %+v", name, s.Stats())
	return PeerStats{}
}

// A client whose path stalls loses live packets, measured from its receiver
// reports and shown against it by name, while a second client gets every
// packet.
func TestStalledClientDoesNotSlowOthers(t *testing.T) {
	t.Parallel()
	p := newPKI(t)
	s := testServer(t, p, &fakeFeed{}, func(c *ServerConfig) { c.QueueLen = 64; c.SlowCutoff = -1 })
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
	runUntilCleanup(t, slowClient, &slow)
	proxy.stalled.Store(true)

	const n = 3000
	publishInWindows(t, s, &fast, n, 50)

	if got := fast.count(live); got != n {
		t.Errorf("fast client got %d of %d", got, n)
	}
	f, sl := peerNamed(t, s, "fast"), peerNamed(t, s, "slow")
	if f.Dropped != 0 || f.Datagrams != n {
		t.Errorf("fast peer: %+v", f)
	}
	if sl.Datagrams+sl.Dropped+uint64(sl.Queued) > n+1 {
		t.Errorf("slow peer counters exceed what was published: %+v", sl)
	}
	// Keep the feed going until a full window of the slow client's reports
	// shows what it lost.
	deadline := time.Now().Add(30 * time.Second)
	for seq := n; peerNamed(t, s, "slow").Loss < 0.99; {
		if time.Now().After(deadline) {
			t.Fatalf("the slow peer's loss never showed: %+v", peerNamed(t, s, "slow"))
		}
		for range 50 {
			seq++
			s.Publish(1, mkPacket(0, 1, 1, uint64(seq), 1))
		}
		waitFor(t, "the fast client to keep up", func() bool { return fast.count(live) == seq })
	}
	// Datagrams in flight when a report is counted may show as a moment's
	// loss; never as much as a slow client's.
	if f := peerNamed(t, s, "fast"); f.Loss >= DefaultSlowLoss {
		t.Errorf("fast peer shows the loss of a slow one: %+v", f)
	}
	t.Logf("slow peer: %+v", peerNamed(t, s, "slow"))
}

// A client whose Handler blocks loses datagrams at its own end (QUIC's
// receive queue), costs the server nothing and slows nobody.
func TestBlockedHandlerDoesNotSlowOthers(t *testing.T) {
	t.Parallel()
	p := newPKI(t)
	s := testServer(t, p, &fakeFeed{}, func(c *ServerConfig) { c.QueueLen = 64; c.SlowCutoff = -1 })
	fastTLS, err := p.NamedClientTLS("fast")
	if err != nil {
		t.Fatal(err)
	}
	slowTLS, err := p.NamedClientTLS("slow")
	if err != nil {
		t.Fatal(err)
	}
	var fast recorder
	testClient(t, s, ClientConfig{TLS: fastTLS, Subscriptions: []wire.Subscribe{liveSub(1)}}, &fast)
	release := make(chan struct{})
	var slowGot atomic.Int64
	testClient(t, s, ClientConfig{TLS: slowTLS, Subscriptions: []wire.Subscribe{liveSub(1)}}, HandlerFunc(func(wire.Packet, int64) {
		slowGot.Add(1)
		<-release
	}))
	t.Cleanup(func() { close(release) }) // runs before the client's cleanup

	const n = 2000
	publishInWindows(t, s, &fast, n, 50)
	if got := fast.count(live); got != n {
		t.Errorf("fast client got %d of %d", got, n)
	}
	if f := peerNamed(t, s, "fast"); f.Dropped != 0 || f.Datagrams != n {
		t.Errorf("fast peer: %+v", f)
	}
	if slowGot.Load() != 1 {
		t.Errorf("blocked handler called %d times", slowGot.Load())
	}
	t.Logf("slow peer: %+v", peerNamed(t, s, "slow"))
}
