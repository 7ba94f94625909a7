package intake

import (
	"context"
	"errors"
	"github.com/tickcast/tickcast/internal/testwait"
	"net/netip"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/tickcast/tickcast/gap"
	"github.com/tickcast/tickcast/internal/mcast/mcasttest"
	"github.com/tickcast/tickcast/wire"
)

func TestTwoLinesArbitrated(t *testing.T) {
	f := newFeed(t, 2)
	rtx := f.udpServer(t)
	base := runtime.NumGoroutine() // the test's own server runs until cleanup
	rec := newRecorder()
	r := start(t, Config{Channel: testChannel, Lines: f.lines(), RetransmitAddr: rtx, Consumer: rec})
	// Every packet on both lines, except that some go only to A and some
	// only to B: the arbiter takes the first copy of each.
	i := 0
	pump(t, "5000 messages", func() bool { return rec.delivered() > 5000 }, func() {
		pkt := f.packet(10)
		switch i++; i % 7 {
		case 3:
			f.send(pkt, 0)
		case 5:
			f.send(pkt, 1)
		default:
			f.send(pkt, 0, 1)
		}
	})
	f.heartbeat()
	testwait.For(t, "everything", func() bool { return rec.delivered() == f.next })
	rec.check(t)
	st := r.in.Stats()
	if st.Lines[0].Won == 0 || st.Lines[1].Won == 0 || st.Lines[0].Name != "A" || st.Lines[1].Name != "B" {
		t.Fatalf("lines %+v", st.Lines)
	}
	if rec.count(EventJoin) != 1 {
		t.Fatalf("events %+v", rec.events)
	}
	if !r.in.LineUp(0) || !r.in.LineUp(1) {
		t.Fatal("a line is down")
	}
	if seq, session := r.in.Next(); seq != f.next || session != f.session {
		t.Fatalf("Next = %d, %d; want %d, %d", seq, session, f.next, f.session)
	}
	r.stop(t)
	if err := r.in.Close(); err != nil {
		t.Fatalf("Close after Run: %v", err)
	}
	testwait.NoLeak(t, base)
}

// gapTest sends packets on one line, leaving out every 50th, and checks
// that NACKs fill every hole.
func gapTest(t *testing.T, f *testFeed, r *running, rec *recorder) {
	t.Helper()
	i := 0
	pump(t, "3000 messages", func() bool { return rec.delivered() > 3000 }, func() {
		pkt := f.packet(5)
		if i++; i%50 != 0 {
			f.send(pkt, 0)
		}
	})
	f.heartbeat()
	testwait.For(t, "everything", func() bool { return rec.delivered() == f.next })
	rec.check(t)
	st := r.in.Stats()
	if st.Gap.Gaps == 0 || st.Gap.Nacks == 0 || st.Gap.Retransmitted == 0 {
		t.Fatalf("no hole repaired by NACK: %+v", st.Gap)
	}
	if rec.lines[gap.RepairLine] == 0 {
		t.Fatalf("no delivery from the repair line: %v", rec.lines)
	}
}

func TestGapFilledByUDPServer(t *testing.T) {
	f := newFeed(t, 1)
	rec := newRecorder()
	r := start(t, Config{Channel: testChannel, Lines: f.lines(), RetransmitAddr: f.udpServer(t), Consumer: rec})
	gapTest(t, f, r, rec)
	if st := r.in.Stats(); st.Retransmit.Requests == 0 || st.Retransmit.Packets == 0 {
		t.Fatalf("retransmit client %+v", st.Retransmit)
	}
}

func TestGapFilledByLink(t *testing.T) {
	base := runtime.NumGoroutine()
	tp := newPKI(t)
	f := newFeed(t, 1)
	ls := startLinkServer(t, tp, f, "127.0.0.1:0")
	rec := newRecorder()
	r := start(t, Config{Channel: testChannel, Lines: f.lines(), Links: []Link{{Name: "hub", Addr: ls.addr, TLS: tp.ClientTLS()}}, Consumer: rec})
	testwait.For(t, "the link", func() bool { return r.in.Stats().Links[0].Connected })
	gapTest(t, f, r, rec)
	st := r.in.Stats()
	if st.Links[0].Name != "hub" || st.Links[0].Line != -1 || st.Links[0].Client.Datagrams == 0 {
		t.Fatalf("link %+v", st.Links[0])
	}
	if len(st.Lines) != 1 {
		t.Fatalf("a recovery-only link became a line: %+v", st.Lines)
	}
	r.stop(t)
	ls.stop()
	testwait.NoLeak(t, base)
}

// An edge relay's A path and B path: two live links, no multicast. One
// dies mid-run: its line goes down and nothing is lost.
func TestTwoLiveLinksOneClosed(t *testing.T) {
	base := runtime.NumGoroutine()
	tp := newPKI(t)
	f := newFeed(t, 0)
	la, lb := startLinkServer(t, tp, f, "127.0.0.1:0"), startLinkServer(t, tp, f, "127.0.0.1:0")
	rec := newRecorder()
	r := start(t, Config{
		Channel:     testChannel,
		Links:       []Link{{Name: "A", Addr: la.addr, TLS: tp.ClientTLS(), Live: true}, {Name: "B", Addr: lb.addr, TLS: tp.ClientTLS(), Live: true}},
		LineTimeout: 100 * time.Millisecond,
		Consumer:    rec,
	})
	testwait.For(t, "both links", func() bool {
		st := r.in.Stats()
		return st.Links[0].Connected && st.Links[1].Connected
	})
	aUp := true
	pump(t, "2000 messages", func() bool { return rec.delivered() > 2000 }, func() {
		pkt := f.packet(5)
		la.publish(pkt)
		lb.publish(pkt)
	})
	la.stop()
	aUp = false
	at := rec.delivered()
	pump(t, "line A down and 2000 more messages", func() bool {
		return rec.count(EventLineDown) > 0 && rec.delivered() > at+2000
	}, func() {
		pkt := f.packet(5)
		if aUp {
			la.publish(pkt)
		}
		lb.publish(pkt)
	})
	hb := wire.Header{Flags: wire.FlagHeartbeat, Channel: testChannel, Session: f.session, Seq: f.next}.Append(nil)
	lb.publish(hb)
	testwait.For(t, "everything", func() bool { return rec.delivered() == f.next })
	// The server's close reaches link A's client in its own time (on a busy
	// machine, after B has carried everything; if the close is lost, after
	// QUIC's idle timeout): B's heartbeats keep line B up meanwhile.
	pump(t, "link A to see its server gone", func() bool { return !r.in.Stats().Links[0].Connected }, func() {
		lb.publish(hb)
	})
	rec.check(t)
	st := r.in.Stats()
	if st.Lines[0].Up || !st.Lines[1].Up || st.Lines[0].Name != "A" || st.Lines[1].Won == 0 {
		t.Fatalf("lines %+v", st.Lines)
	}
	if st.Links[0].Connected || !st.Links[1].Connected || st.Links[0].Line != 0 || st.Links[1].Line != 1 {
		t.Fatalf("links %+v", st.Links)
	}
	// Line A went down. (Line B may have too, for a moment, if this shared
	// machine stalled the pump for longer than the line timeout: that is the
	// timeout working, not a failure; it is up at the end, checked above.)
	aDown := false
	for _, e := range rec.events {
		aDown = aDown || e.Kind == EventLineDown && e.Line == 0
	}
	if !aDown {
		t.Fatal("line A never went down")
	}
	r.stop(t)
	lb.stop()
	testwait.NoLeak(t, base)
}

func TestLinkReconnectsAfterServerRestart(t *testing.T) {
	tp := newPKI(t)
	f := newFeed(t, 0)
	addr := freeAddr(t)
	ls := startLinkServer(t, tp, f, addr)
	rec := newRecorder()
	r := start(t, Config{Channel: testChannel, Links: []Link{{Addr: addr, TLS: tp.ClientTLS(), Live: true}}, Consumer: rec})
	testwait.For(t, "the link", func() bool { return r.in.Stats().Links[0].Connected })
	pump(t, "data", func() bool { return rec.delivered() > 100 }, func() { ls.publish(f.packet(5)) })
	ls.stop()
	testwait.For(t, "the link to drop", func() bool { return !r.in.Stats().Links[0].Connected })
	ls = startLinkServer(t, tp, f, addr)
	testwait.For(t, "the link to come back", func() bool { return r.in.Stats().Links[0].Connected })
	at := rec.delivered()
	pump(t, "data after the restart", func() bool { return rec.delivered() > at+100 }, func() { ls.publish(f.packet(5)) })
	st := r.in.Stats().Links[0]
	if st.Drops == 0 || st.Dials < 2 || st.Name != addr {
		t.Fatalf("link %+v", st)
	}
	rec.check(t)
}

func TestRequestSnapshotFailsOver(t *testing.T) {
	tp := newPKI(t)
	f := newFeed(t, 1)
	l1, l2 := startLinkServer(t, tp, f, "127.0.0.1:0"), startLinkServer(t, tp, f, "127.0.0.1:0")
	rec := newRecorder()
	in, err := New(Config{Channel: testChannel, Lines: f.lines(), Links: []Link{{Addr: l1.addr, TLS: tp.ClientTLS()}, {Addr: l2.addr, TLS: tp.ClientTLS()}}, Consumer: rec})
	if err != nil {
		t.Fatal(err)
	}
	if err := in.RequestSnapshot(0); !errors.Is(err, ErrNoLink) {
		t.Fatalf("RequestSnapshot before Run: %v, want ErrNoLink", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- in.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	testwait.For(t, "both links", func() bool {
		st := in.Stats()
		return st.Links[0].Connected && st.Links[1].Connected
	})
	if err := in.RequestSnapshot(0); err != nil {
		t.Fatal(err)
	}
	testwait.For(t, "the snapshot from link 1", func() bool { return rec.snapshotCount() == 1 })
	if l1.feed.count() != 1 || l2.feed.count() != 0 {
		t.Fatalf("snapshots served: %d by link 1, %d by link 2", l1.feed.count(), l2.feed.count())
	}
	l1.stop()
	testwait.For(t, "link 1 to drop", func() bool { return !in.Stats().Links[0].Connected })
	if err := in.RequestSnapshot(0); err != nil {
		t.Fatal(err)
	}
	testwait.For(t, "the snapshot from link 2", func() bool { return rec.snapshotCount() == 2 })
	if l2.feed.count() != 1 {
		t.Fatalf("link 2 served %d snapshots", l2.feed.count())
	}
	rec.mu.Lock()
	p := rec.snapshots[1]
	rec.mu.Unlock()
	it := p.Messages()
	if !p.Has(wire.FlagSnapshot) || !it.Next() || it.Message().Type() != wire.TypeSnapshotEnd {
		t.Fatalf("snapshot packet %+v", p.Header)
	}
}

func TestStaleRetransmission(t *testing.T) {
	f := newFeed(t, 1)
	rec := newRecorder()
	stale := make(chan wire.Packet, 16)
	r := start(t, Config{Channel: testChannel, Lines: f.lines(), RetransmitAddr: f.udpServer(t), Consumer: rec,
		Stale: func(p wire.Packet) {
			select {
			case stale <- p.CopyTo(nil):
			default:
			}
		}})
	pump(t, "data", func() bool { return rec.delivered() > 100 }, func() { f.send(f.packet(5), 0) })
	// A downstream NACK forwarded upstream for messages already delivered.
	if err := r.in.Request(wire.RetransmitRequest{Channel: testChannel, Session: f.session, FirstSeq: 1, Count: 20}); err != nil {
		t.Fatal(err)
	}
	var p wire.Packet
	select {
	case p = <-stale:
	case <-time.After(60 * time.Second):
		t.Fatal("Stale was not called")
	}
	if !p.Has(wire.FlagRetransmission) || p.Seq < 1 || p.Seq > 20 {
		t.Fatalf("stale packet %+v", p.Header)
	}
	testwait.For(t, "the stale count", func() bool { return r.in.Stats().Stale > 0 })
	rec.check(t)
}

func TestRequestWithoutUpstream(t *testing.T) {
	f := newFeed(t, 1)
	in, err := New(Config{Channel: testChannel, Lines: f.lines(), Consumer: newRecorder()})
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	if err := in.Request(wire.RetransmitRequest{Channel: testChannel, Session: 1, FirstSeq: 1, Count: 1}); !errors.Is(err, ErrNoLink) {
		t.Fatalf("Request: %v, want ErrNoLink", err)
	}
}

// A consumer stuck on one line's reader while the other line keeps
// delivering: the bounded queue overflows and the consumer is told.
func TestOverrunResets(t *testing.T) {
	f := newFeed(t, 2)
	rec := newRecorder()
	rec.block = make(chan struct{})
	rec.entered = make(chan struct{})
	in, err := New(Config{Channel: testChannel, Lines: f.lines(), Queue: 16, Consumer: rec})
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	pkts := make([][]byte, 200)
	for i := range pkts {
		pkts[i] = f.packet(1)
	}
	first := make(chan struct{})
	go func() {
		defer close(first)
		in.Inject(0, pkts[:1], 1) // the consumer blocks in it, holding the dispatch lock
	}()
	<-rec.entered
	for _, p := range pkts[1:] {
		in.Inject(1, [][]byte{p}, 1) // TryLock fails: queued, then dropped
	}
	if in.Stats().QueueDrops == 0 {
		t.Fatal("nothing dropped")
	}
	close(rec.block)
	<-first
	testwait.For(t, "the reset", func() bool { return rec.count(EventReset) > 0 })
	st := in.Stats()
	if st.QueueDrops == 0 || st.Overruns == 0 {
		t.Fatalf("stats %+v", st)
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	for _, e := range rec.events {
		if e.Kind == EventReset && e.Reset != ResetOverrun {
			t.Fatalf("reset %+v", e)
		}
	}
}

func TestDoAndClose(t *testing.T) {
	f := newFeed(t, 1)
	in, err := New(Config{Channel: testChannel, Lines: f.lines(), Consumer: newRecorder()})
	if err != nil {
		t.Fatal(err)
	}
	ran := false
	in.Do(func() { ran = true })
	if !ran {
		t.Fatal("Do before Run did not run")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := in.Run(ctx); err != nil {
		t.Fatal(err)
	}
	if err := in.Run(ctx); err == nil {
		t.Fatal("a second Run was accepted")
	}
	ran = false
	in.Do(func() { ran = true })
	if !ran {
		t.Fatal("Do after Run did not run")
	}
	for range 3 {
		if err := in.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

func TestHoldKeepsDelivery(t *testing.T) {
	f := newFeed(t, 1)
	var in *Intake
	var held []*Delivery
	c := consumerFunc(func(d *Delivery) {
		in.Hold(d)
		held = append(held, d)
	})
	in, err := New(Config{Channel: testChannel, Lines: f.lines(), Queue: 64, Consumer: c})
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	for range 10 {
		in.Inject(0, [][]byte{f.packet(2)}, 1)
	}
	in.Do(func() {
		if len(held) != 10 {
			t.Fatalf("%d held", len(held))
		}
		for i, d := range held {
			if d.First() != uint64(1+2*i) || d.Packet.Count != 2 {
				t.Fatalf("held %d: first %d count %d", i, d.First(), d.Packet.Count)
			}
			in.Release(d)
		}
	})
	if free := len(in.q.free); free != 64 {
		t.Fatalf("%d items free after Release, want 64", free)
	}
}

// consumerFunc is a Consumer that only takes packets.
type consumerFunc func(d *Delivery)

func (f consumerFunc) Packet(d *Delivery)        { f(d) }
func (consumerFunc) Event(Event)                 {}
func (consumerFunc) Snapshot(wire.Packet, int64) {}

func TestConfigErrors(t *testing.T) {
	tp := newPKI(t)
	g := mcasttest.FreeGroup(t)
	c := newRecorder()
	for want, cfg := range map[string]Config{
		"Consumer":           {Lines: []Line{{Group: g, Interface: "lo"}}},
		"no line":            {Consumer: c},
		"Lines[0].Group":     {Lines: []Line{{Group: mustAP("10.0.0.1:5000"), Interface: "lo"}}, Consumer: c},
		"Lines[1].Group":     {Lines: []Line{{Group: g, Interface: "lo"}, {Group: mustAP("239.1.1.1:0"), Interface: "lo"}}, Consumer: c},
		"Lines[0].Interface": {Lines: []Line{{Group: g}}, Consumer: c},
		"Lines[0].Faults":    {Lines: []Line{{Group: g, Interface: "lo", Faults: "drop=2"}}, Consumer: c},
		"Links[0].Addr":      {Links: []Link{{TLS: tp.ClientTLS(), Live: true}}, Consumer: c},
		"Links[0].TLS":       {Links: []Link{{Addr: "127.0.0.1:1", Live: true}}, Consumer: c},
		"Queue":              {Lines: []Line{{Group: g, Interface: "lo"}}, Queue: 3, Consumer: c},
		"lines (Lines and L": {Lines: make9(g), Consumer: c},
		"Gap":                {Lines: []Line{{Group: g, Interface: "lo"}}, Gap: Tuning{MinRTO: time.Second, MaxRTO: time.Millisecond}, Consumer: c},
		"Lines[0] (":         {Lines: []Line{{Group: g, Interface: "nosuch0"}}, Consumer: c},
	} {
		in, err := New(cfg)
		if err == nil {
			in.Close()
			t.Errorf("%s: accepted", want)
			continue
		}
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %s", err, want)
		}
	}
}

func make9(g netip.AddrPort) []Line {
	ls := make([]Line, gap.MaxLines+1)
	for i := range ls {
		ls[i] = Line{Group: g, Interface: "lo"}
	}
	return ls
}

func mustAP(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }
