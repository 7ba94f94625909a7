package relay

import (
	"context"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tickcast/tickcast/internal/testwait"

	"github.com/tickcast/tickcast/egress"
	"github.com/tickcast/tickcast/intake"
	"github.com/tickcast/tickcast/internal/impair"
	"github.com/tickcast/tickcast/internal/link"
	"github.com/tickcast/tickcast/subscriber"
	"github.com/tickcast/tickcast/wire"
)

// TestHubEdgeSubscriber runs publisher → hub (multicast) → edge (QUIC) →
// subscriber (the edge's re-multicast): every hop's books equal the
// publisher's, and the publisher's send time survives both hops.
func TestHubEdgeSubscriber(t *testing.T) {
	base := runtime.NumGoroutine()
	t.Run("run", func(t *testing.T) {
		f := startPublisher(t, 20_000)
		hub := startRelay(t, hubConfig(t, f))
		e := edgeConfig(t, "edge", hub.LinkAddr())
		edge := startRelay(t, e.cfg)
		sub := subscribe(t, e, edge, "")
		testwait.For(t, "the edge to forward", func() bool { return edge.Stats().Channels[0].Messages > 1000 })
		booksMatch(t, f, []*running{hub, edge}, []*subscriber.Subscriber{sub})

		// The publisher's send time survives both hops: a lost send time
		// (0, or the hub's clock at forwarding) would show as decades, or
		// as nothing at all, in the edge's forward latency.
		lat, err := edge.TakeLatency(testChannel)
		if err != nil {
			t.Fatal(err)
		}
		if s := lat.Summary(); s.Count == 0 || s.Max >= maxLatency || s.Max <= 0 {
			t.Fatalf("the edge's forward latency from the publisher's send time: %v", s)
		}
		hs, es := hub.Stats().Channels[0], edge.Stats().Channels[0]
		if hs.Messages == 0 || es.Messages == 0 {
			t.Fatalf("nothing forwarded: hub %+v edge %+v", hs, es)
		}
		names := map[string]bool{}
		for _, d := range hub.Stats().Downstreams {
			names[d.Name] = true
		}
		if !names["edge"] {
			t.Fatalf("the hub's downstreams are not named by certificate: %+v", hub.Stats().Downstreams)
		}
	})
	testwait.NoLeak(t, base)
}

// TestEdgeAnswersNACKs: a subscriber losing 20 % on each line has its
// holes filled by the edge's cache, over UDP (it knows no other server).
func TestEdgeAnswersNACKs(t *testing.T) {
	f := startPublisher(t, 20_000)
	hub := startRelay(t, hubConfig(t, f))
	e := edgeConfig(t, "edge", hub.LinkAddr())
	edge := startRelay(t, e.cfg)
	sub := subscribe(t, e, edge, "drop=0.2")
	testwait.For(t, "the edge's retransmit server to answer NACKs", func() bool { return edge.Stats().Retransmit.Answered > 100 })
	booksMatch(t, f, []*running{hub, edge}, []*subscriber.Subscriber{sub})
	if st := sub.Stats(); st.Gap.Lost != 0 {
		t.Fatalf("the subscriber lost messages the edge had: %+v", st.Gap)
	}

}

// TestSnapshotFromEdge: a subscriber joining mid-session recovers its
// books by snapshot from the edge, not from the publisher.
func TestSnapshotFromEdge(t *testing.T) {
	f := startPublisher(t, 20_000)
	hub := startRelay(t, hubConfig(t, f))
	e := edgeConfig(t, "edge", hub.LinkAddr())
	edge := startRelay(t, e.cfg)
	testwait.For(t, "the edge to forward past the join backfill", func() bool { return edge.Stats().Channels[0].Messages > 10_000 })
	sub := subscribe(t, e, edge, "")
	booksMatch(t, f, []*running{hub, edge}, []*subscriber.Subscriber{sub})
	if n := edge.Stats().Channels[0].SnapshotsServed; n == 0 {
		t.Fatal("the late subscriber's snapshot did not come from the edge")
	}
}

// TestEdgeRestart: an edge started mid-session recovers its books by
// snapshot from the hub, then serves its own late subscriber.
func TestEdgeRestart(t *testing.T) {
	f := startPublisher(t, 20_000)
	hub := startRelay(t, hubConfig(t, f))
	testwait.For(t, "the hub to forward past the join backfill", func() bool { return hub.Stats().Channels[0].Messages > 10_000 })
	e := edgeConfig(t, "edge", hub.LinkAddr())
	edge := startRelay(t, e.cfg)
	sub := subscribe(t, e, edge, "")
	booksMatch(t, f, []*running{hub, edge}, []*subscriber.Subscriber{sub})
	edge.stop(t)

	// The restarted edge: same groups, new process state.
	edge2 := startRelay(t, e.cfg)
	sub2 := subscribe(t, e, edge2, "")
	booksMatch(t, f, []*running{hub, edge2}, []*subscriber.Subscriber{sub2})
	if n := hub.Stats().Channels[0].SnapshotsServed; n < 2 {
		t.Fatalf("the hub served %d snapshots, want one per edge start (2)", n)
	}
	if hs := edge2.Stats().Channels[0]; hs.Recoveries == 0 || hs.SnapshotsIn == 0 {
		t.Fatalf("the restarted edge did not recover by snapshot: %+v", hs)
	}
}

// TestTwoPaths: an edge with an A path and a B path to two hubs loses
// nothing when one hub stops, and sees that path go down.
func TestTwoPaths(t *testing.T) {
	f := startPublisher(t, 20_000)
	hubA := startRelay(t, hubConfig(t, f))
	hubB := startRelay(t, hubConfig(t, f))
	e := edgeConfig(t, "edge", hubA.LinkAddr(), hubB.LinkAddr())
	edge := startRelay(t, e.cfg)
	sub := subscribe(t, e, edge, "")
	testwait.For(t, "the edge to forward", func() bool { return edge.Stats().Channels[0].Messages > 2000 })
	hubA.stop(t)
	testwait.For(t, "the edge to see path A down", func() bool {
		return !edge.Stats().Channels[0].Intake.Lines[0].Up
	})
	booksMatch(t, f, []*running{hubB, edge}, []*subscriber.Subscriber{sub})
	st := sub.Stats()
	delete(st.Resets, subscriber.ResetLateJoin.String()) // it may join after the edge's first packets
	if st.Gap.Lost != 0 || len(st.Resets) != 0 {
		t.Fatalf("the subscriber lost data when path A died: %+v", st)
	}
}

// TestNACKForwardedOnce: two downstreams asking, at once, for a range
// older than the edge's cache get it, and the edge asks its hub once.
func TestNACKForwardedOnce(t *testing.T) {
	f := startPublisher(t, 20_000)
	hub := startRelay(t, hubConfig(t, f))
	e := edgeConfig(t, "edge", hub.LinkAddr())
	e.cfg.Channels[0].Cache.MaxMessages = 1024 // the hub keeps far more
	edge := startRelay(t, e.cfg)
	testwait.For(t, "the edge to forward past its cache", func() bool { return edge.Stats().Channels[0].Messages > 20_000 })
	f.gate.Pause()

	ch := edge.chans[testChannel]
	session := ch.sess.Load()
	const count = 50
	// A range the edge holds nowhere: its own late-join repair may have left
	// upstream answers in its store, which it would serve without asking.
	held := func(first uint64) bool {
		for s := first; s < first+count; s++ {
			if ch.stale.covers(session, s, s+1) {
				return true
			}
		}
		return false
	}
	first := uint64(100)
	for held(first) {
		first += 1000
	}
	if first+count+2048 > ch.next.Load() {
		t.Fatalf("no range older than the edge's cache is free of held answers (next %d)", ch.next.Load())
	}
	before := edge.Stats().Channels[0].NacksUpstream
	var wg sync.WaitGroup
	got := make([]int, 2)
	for i := range got {
		wg.Go(func() {
			got[i] = askRange(t, edge.LinkAddr(), session, first, count)
		})
	}
	wg.Wait()
	for i, n := range got {
		if n < count {
			t.Fatalf("downstream %d got %d of %d messages", i, n, count)
		}
	}
	if n := edge.Stats().Channels[0].NacksUpstream - before; n != 1 {
		t.Fatalf("the edge forwarded %d NACKs upstream for one range asked twice, want 1", n)
	}
}

// askRange NACKs [first, first+count) over a link to addr and returns the
// messages of that range it received.
func askRange(t *testing.T, addr string, session, first uint64, count uint32) int {
	t.Helper()
	l := clientTLS(t, "asker")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := link.Dial(ctx, link.ClientConfig{Addr: addr, TLS: l.TLS,
		Subscriptions: []wire.Subscribe{{Channel: testChannel, Mode: wire.SubscribeLive}}})
	if err != nil {
		t.Error(err)
		return 0
	}
	defer c.Close()
	var (
		mu   sync.Mutex
		seen = map[uint64]bool{}
		done = make(chan struct{})
	)
	go c.Run(ctx, link.HandlerFunc(func(p wire.Packet, _ int64) {
		if !p.Has(wire.FlagRetransmission) {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		for s := p.Seq; s < p.End(); s++ {
			if s >= first && s < first+uint64(count) {
				seen[s] = true
			}
		}
		if len(seen) == int(count) {
			select {
			case <-done:
			default:
				close(done)
			}
		}
	}))
	if err := c.Request(wire.RetransmitRequest{Channel: testChannel, Session: session, FirstSeq: first, Count: count}); err != nil {
		t.Error(err)
		return 0
	}
	select {
	case <-done:
	case <-ctx.Done():
	}
	mu.Lock()
	defer mu.Unlock()
	return len(seen)
}

// TestRefusedCertificates: a downstream without a certificate from the
// operator's CA is refused by a relay, and a relay refuses an upstream
// whose certificate is not from it.
func TestRefusedCertificates(t *testing.T) {
	f := startPublisher(t, 5_000)
	hub := startRelay(t, hubConfig(t, f))

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := link.Dial(ctx, link.ClientConfig{Addr: hub.LinkAddr(), TLS: testPKI.ForeignClientTLS(),
		Subscriptions: []wire.Subscribe{{Channel: testChannel, Mode: wire.SubscribeLive}}})
	if err == nil {
		t.Fatal("a downstream with a foreign certificate was accepted")
	}
	testwait.For(t, "the hub to count the refusal", func() bool { return hub.link.Stats().Refused > 0 })

	// A rogue upstream: a link server with a certificate from another CA.
	rogue := hubConfig(t, f)
	rogue.LinkTLS = testPKI.ForeignServerTLS()
	rogueHub := startRelay(t, rogue)
	e := edgeConfig(t, "edge", rogueHub.LinkAddr())
	edge := startRelay(t, e.cfg)
	time.Sleep(500 * time.Millisecond) // give it every chance to (wrongly) connect
	if st := edge.Stats().Channels[0]; st.Messages != 0 {
		t.Fatalf("the edge took %d messages from an upstream with a foreign certificate", st.Messages)
	}
	if ls := edge.Stats().Channels[0].Intake.Links[0]; ls.Connected || ls.Dials == 0 {
		t.Fatalf("the edge connected to an upstream with a foreign certificate: %+v", ls)
	}
}

// TestConfigErrors: bad configurations fail in New with a message naming
// the problem.
func TestConfigErrors(t *testing.T) {
	up := []intake.Link{{Addr: "127.0.0.1:1", TLS: testPKI.ClientTLS(), Live: true}}
	for _, tc := range []struct {
		name string
		cfg  Config
		want string
	}{
		{"none", Config{}, "no channel"},
		{"no upstream", Config{Channels: []Channel{{ID: 1}}, LinkAddr: "127.0.0.1:0", LinkTLS: testPKI.ServerTLS()}, "no upstream"},
		{"slow loss", Config{Channels: []Channel{{ID: 1, Upstreams: up}}, SlowLoss: 1.5}, "SlowLoss"},
		{"twice", Config{Channels: []Channel{{ID: 1, Upstreams: up}, {ID: 1, Upstreams: up}}, LinkAddr: "127.0.0.1:0", LinkTLS: testPKI.ServerTLS()}, "twice"},
		{"link without tls", Config{Channels: []Channel{{ID: 1, Upstreams: []intake.Link{{Addr: "x", Live: true}}}}, LinkAddr: "127.0.0.1:0"}, "LinkTLS"},
		{"nowhere", Config{Channels: []Channel{{ID: 1, Upstreams: []intake.Link{{Addr: "x", Live: true}}}}}, "nowhere to send"},
		{"allow without link", Config{Channels: []Channel{{ID: 1, Upstreams: up, Out: []egress.Line{{Name: "A"}}}}, AllowDownstream: []string{"edge"}}, "AllowDownstream"},
		{"allow empty name", Config{Channels: []Channel{{ID: 1, Upstreams: up}}, LinkAddr: "127.0.0.1:0", LinkTLS: testPKI.ServerTLS(), AllowDownstream: []string{"edge", ""}}, "AllowDownstream[1] is empty"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("New: %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

// TestSlowDownstream: an edge whose link from the hub is capped at a tenth
// of the feed is named in the hub's stats while it loses live packets, and
// cut off; a healthy edge beside it keeps every message and its books.
func TestSlowDownstream(t *testing.T) {
	f := startPublisher(t, 20_000)
	hc := hubConfig(t, f)
	hc.SlowCutoff = time.Second
	hub := startRelay(t, hc)

	e := edgeConfig(t, "edge", hub.LinkAddr())
	edge := startRelay(t, e.cfg)
	sub := subscribe(t, e, edge, "")

	spec, err := impair.ParseSpec("rate=640kbit,queue=16KiB")
	if err != nil {
		t.Fatal(err)
	}
	proxy, err := impair.New(impair.Config{Listen: "127.0.0.1:0", Upstream: hub.LinkAddr(), Down: &spec})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- proxy.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-done
		proxy.Close()
	})
	slow := startRelay(t, edgeConfig(t, "slow", proxy.Addr().String()).cfg)

	named := false
	testwait.For(t, "the hub to cut the slow edge off", func() bool {
		st := hub.Stats()
		for _, d := range st.Downstreams {
			if d.Name == "slow" && d.Loss > 0.5 {
				named = true
			}
			if d.Name == "edge" && d.Dropped > 0 {
				t.Fatalf("the hub dropped live packets for the healthy edge: %+v", d)
			}
		}
		return st.CutOff > 0
	})
	if !named {
		t.Fatalf("the slow edge was never named with its loss in the hub's stats: %+v", hub.Stats().Downstreams)
	}
	booksMatch(t, f, []*running{hub, edge}, []*subscriber.Subscriber{sub})
	testwait.For(t, "the slow edge to see its link cut", func() bool { return slow.Stats().Channels[0].Intake.Links[0].Drops > 0 })
	if st := sub.Stats(); st.Gap.Lost != 0 {
		t.Fatalf("the healthy edge's subscriber lost messages: %+v", st.Gap)
	}
}
