package relay

import (
	"context"
	"maps"
	"net/netip"
	"testing"
	"time"

	"github.com/tickcast/tickcast/internal/testwait"

	"github.com/tickcast/tickcast/egress"
	"github.com/tickcast/tickcast/intake"
	"github.com/tickcast/tickcast/internal/mcast/mcasttest"
	"github.com/tickcast/tickcast/internal/pki"
	"github.com/tickcast/tickcast/publisher"
	"github.com/tickcast/tickcast/publisher/source"
	"github.com/tickcast/tickcast/publisher/synth"
	"github.com/tickcast/tickcast/subscriber"
)

const testChannel = 7

// testPKI is one operator CA for every test of the package.
var testPKI = func() *pki.TestPKI {
	tp, err := pki.NewTestPKI("127.0.0.1")
	if err != nil {
		panic(err)
	}
	return tp
}()

// clientTLS returns a client certificate named name from the test CA.
func clientTLS(t *testing.T, name string) *intake.Link {
	t.Helper()
	c, err := testPKI.NamedClientTLS(name)
	if err != nil {
		t.Fatal(err)
	}
	return &intake.Link{Name: name, TLS: c}
}

// pubFeed is a real publisher on lo: synthetic source behind a gate, A and
// B lines, a UDP retransmit server and a QUIC link server.
type pubFeed struct {
	t              *testing.T
	pub            *publisher.Publisher
	groupA, groupB netip.AddrPort
	gate           *source.Gate
	cancel         context.CancelFunc
	done           chan error
}

func startPublisher(t *testing.T, rate float64) *pubFeed {
	t.Helper()
	f := &pubFeed{t: t, groupA: mcasttest.FreeGroup(t), groupB: mcasttest.FreeGroup(t), done: make(chan error, 1)}
	src, err := synth.New(synth.Config{Instruments: 8, Levels: 40, Rate: rate, Seed: 11})
	if err != nil {
		t.Fatal(err)
	}
	f.pub, err = publisher.New(publisher.Config{
		Channel: testChannel,
		Lines: []egress.Line{
			{Name: "A", Group: f.groupA, Interface: mcasttest.Interface, Loopback: true},
			{Name: "B", Group: f.groupB, Interface: mcasttest.Interface, Loopback: true},
		},
		Heartbeat:      20 * time.Millisecond,
		ChecksumEvery:  50 * time.Millisecond,
		RetransmitAddr: "127.0.0.1:0",
		LinkAddr:       "127.0.0.1:0",
		LinkTLS:        testPKI.ServerTLS(),
	})
	if err != nil {
		t.Fatal(err)
	}
	f.gate = source.NewGate(src)
	ctx, cancel := context.WithCancel(context.Background())
	f.cancel = cancel
	go func() { f.done <- f.pub.Run(ctx, f.gate) }()
	t.Cleanup(f.stop)
	return f
}

// stop ends the session (idempotent).
func (f *pubFeed) stop() {
	if f.cancel == nil {
		return
	}
	f.cancel()
	if err := <-f.done; err != nil {
		f.t.Errorf("publisher: %v", err)
	}
	f.cancel = nil
}

// running is a relay under test.
type running struct {
	*Relay
	cancel context.CancelFunc
	done   chan error
}

func startRelay(t *testing.T, cfg Config) *running {
	t.Helper()
	r, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	rr := &running{Relay: r, cancel: cancel, done: make(chan error, 1)}
	go func() { rr.done <- r.Run(ctx) }()
	t.Cleanup(func() { rr.stop(t) })
	return rr
}

// stop stops the relay (idempotent).
func (r *running) stop(t *testing.T) {
	if r.cancel == nil {
		return
	}
	r.cancel()
	if err := <-r.done; err != nil {
		t.Errorf("relay: %v", err)
	}
	r.cancel = nil
}

// hubConfig relays the publisher's channel from its multicast lines,
// NACKing its UDP retransmit server and taking snapshots over its link,
// and serves a link.
func hubConfig(t *testing.T, f *pubFeed) Config {
	up := clientTLS(t, "hub")
	up.Addr = f.pub.LinkAddr()
	return Config{
		Channels: []Channel{{
			ID: testChannel,
			Lines: []intake.Line{
				{Name: "A", Group: f.groupA, Interface: mcasttest.Interface},
				{Name: "B", Group: f.groupB, Interface: mcasttest.Interface},
			},
			Upstreams:          []intake.Link{*up},
			UpstreamRetransmit: netip.MustParseAddrPort(f.pub.RetransmitAddr()),
			Heartbeat:          20 * time.Millisecond,
		}},
		LinkAddr: "127.0.0.1:0",
		LinkTLS:  testPKI.ServerTLS(),
	}
}

// edge is an edge relay's config and its re-multicast groups.
type edge struct {
	cfg            Config
	groupA, groupB netip.AddrPort
}

// edgeConfig relays from upstream links (live A path, and B path if two
// addresses), re-multicasts on fresh groups and serves NACKs over UDP and a
// link.
func edgeConfig(t *testing.T, name string, upstreams ...string) edge {
	e := edge{groupA: mcasttest.FreeGroup(t), groupB: mcasttest.FreeGroup(t)}
	ch := Channel{
		ID:        testChannel,
		Heartbeat: 20 * time.Millisecond,
		Out: []egress.Line{
			{Name: "A", Group: e.groupA, Interface: mcasttest.Interface, Loopback: true},
			{Name: "B", Group: e.groupB, Interface: mcasttest.Interface, Loopback: true},
		},
	}
	for i, addr := range upstreams {
		l := clientTLS(t, name)
		l.Name, l.Addr, l.Live = []string{"A", "B"}[i], addr, true
		ch.Upstreams = append(ch.Upstreams, *l)
	}
	e.cfg = Config{
		Channels:       []Channel{ch},
		RetransmitAddr: "127.0.0.1:0",
		LinkAddr:       "127.0.0.1:0",
		LinkTLS:        testPKI.ServerTLS(),
	}
	return e
}

// subscribe starts a subscriber on an edge's lines, NACKing its UDP server
// and taking snapshots from its link.
func subscribe(t *testing.T, e edge, r *running, faults string) *subscriber.Subscriber {
	t.Helper()
	l := clientTLS(t, "client")
	l.Addr = r.LinkAddr()
	return runSubscriber(t, subscriber.Config{
		Channel: testChannel,
		Lines: []subscriber.Line{
			{Name: "A", Group: e.groupA, Interface: mcasttest.Interface, Faults: faults},
			{Name: "B", Group: e.groupB, Interface: mcasttest.Interface, Faults: faults},
		},
		RetransmitAddr: netip.MustParseAddrPort(r.RetransmitAddr()),
		Links:          []subscriber.Link{*l},
	})
}

// runSubscriber starts a subscriber of cfg until the test ends.
func runSubscriber(t *testing.T, cfg subscriber.Config) *subscriber.Subscriber {
	t.Helper()
	sub, err := subscriber.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- sub.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("subscriber: %v", err)
		}
	})
	return sub
}

// booksMatch pauses the source, waits until every relay and subscriber
// reflects the publisher's last sequence, and compares every book with the
// publisher's by checksum.
func booksMatch(t *testing.T, f *pubFeed, relays []*running, subs []*subscriber.Subscriber) {
	t.Helper()
	f.gate.Pause()
	defer f.gate.Resume()
	var (
		pubSums map[uint32]uint32
		pubSeq  uint64
	)
	testwait.For(t, "every hop to reflect the publisher's last sequence", func() bool {
		var err error
		if pubSums, pubSeq, err = f.pub.BookChecksums(context.Background()); err != nil {
			t.Fatal(err)
		}
		for _, r := range relays {
			sums, seq, whole, err := r.BookSums(testChannel)
			if err != nil {
				t.Fatal(err)
			}
			if !whole || seq != pubSeq || !maps.Equal(sums, pubSums) {
				return false
			}
		}
		for _, s := range subs {
			sums, err := s.BookSums(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if sums.Recovering || sums.Seq != pubSeq || !maps.Equal(sums.Sums, pubSums) {
				return false
			}
		}
		return true
	})
	if len(pubSums) == 0 {
		t.Fatal("the publisher has no books: nothing was compared")
	}
}
