package subscriber

import (
	"github.com/tickcast/tickcast/internal/testwait"
	"net"
	"net/netip"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/tickcast/tickcast/internal/mcast"
	"github.com/tickcast/tickcast/internal/mcast/mcasttest"
	"github.com/tickcast/tickcast/publisher"
	"github.com/tickcast/tickcast/wire"
)

// The end-to-end cases of the subscriber: a real publisher on lo, real
// multicast, real UDP NACKs and a real QUIC link; faults injected in-process.
// Every case ends with every book equal to the publisher's.

func TestCleanABFromTheStart(t *testing.T) {
	base := runtime.NumGoroutine()
	f := startFeed(t, feedOpts{})
	rec := newRecorder()
	r := startSub(t, f.config(rec, "", ""))
	f.run()
	testwait.For(t, "data", func() bool { return r.sub.Stats().Messages > 5000 })
	booksMatch(t, f, r)
	st := r.sub.Stats()
	if st.Snapshots != 0 || len(rec.resetReasons()) != 0 || st.LostMessages != 0 {
		t.Fatalf("a clean start needed recovery: %+v resets %v", st, rec.resetReasons())
	}
	if rec.count(EventDefinition) != 8 || rec.count(EventConsistent) == 0 || rec.count(EventTrade) == 0 {
		t.Fatalf("events %v", rec.kinds)
	}
	if st.ChecksumChecks == 0 || st.ChecksumMismatches != 0 {
		t.Fatalf("checksums %d checked, %d mismatched", st.ChecksumChecks, st.ChecksumMismatches)
	}
	if st.Lines[0].Won == 0 && st.Lines[1].Won == 0 {
		t.Fatalf("no line won: %+v", st.Lines)
	}
	testwait.For(t, "the end of session", func() bool { return rec.count(EventEndOfSession) == 1 })
	if rec.seqs != 0 {
		t.Fatalf("%d events out of sequence", rec.seqs)
	}
	r.stop(t)
	f.stop()
	testwait.NoLeak(t, base)
}

func TestLossDuplicationReorderOnBothLines(t *testing.T) {
	f := startFeed(t, feedOpts{rate: 30_000})
	a := "drop=0.05,dup=0.02,reorder=0.02:3,seed=1"
	b := "drop=0.05,dup=0.02,reorder=0.02:3,seed=2"
	rec := newRecorder()
	r := startSub(t, f.config(rec, a, b))
	f.run()
	testwait.For(t, "data", func() bool { return r.sub.Stats().Messages > 20000 })
	booksMatch(t, f, r)
	st := r.sub.Stats()
	if st.Gap.Gaps == 0 || st.Gap.Nacks == 0 || st.Gap.Retransmitted == 0 {
		t.Fatalf("5%% loss on both lines but no gap repaired by NACK: %+v", st.Gap)
	}
	if st.Lines[0].Duplicates == 0 || st.Gap.Reordered == 0 {
		t.Fatalf("duplicates and reordering not seen: %+v", st)
	}
	if rec.seqs != 0 {
		t.Fatalf("%d events out of sequence", rec.seqs)
	}
	t.Logf("gaps %d filled %d nacks %d retransmitted %d lost %d snapshots %d",
		st.Gap.Gaps, st.Gap.GapsFilled, st.Gap.Nacks, st.Gap.Retransmitted, st.LostMessages, st.Snapshots)
}

// A remote subscriber: no multicast at all, the live feed, NACKs and
// snapshots all over the QUIC link.
func TestLinkOnlySubscriber(t *testing.T) {
	f := startFeed(t, feedOpts{rate: 10_000})
	rec := newRecorder()
	cfg := f.config(rec, "", "")
	cfg.Lines = nil
	cfg.RetransmitAddr = netip.AddrPort{}
	cfg.Links[0].Live = true
	r := startSub(t, cfg)
	testwait.For(t, "the link", func() bool { return r.sub.Stats().LinkDials > 0 })
	f.run()
	testwait.For(t, "data", func() bool { return r.sub.Stats().Messages > 3000 })
	booksMatch(t, f, r)
	st := r.sub.Stats()
	if len(st.Lines) != 1 || st.Lines[0].Won == 0 {
		t.Fatalf("the link did not carry the feed: %+v", st.Lines)
	}
	if st.LostMessages != 0 {
		t.Fatalf("%d messages lost", st.LostMessages)
	}
}

func TestBusyPoll(t *testing.T) {
	f := startFeed(t, feedOpts{})
	cfg := f.config(nil, "drop=0.02,seed=5", "")
	cfg.BusyPoll = true
	r := startSub(t, cfg)
	f.run()
	testwait.For(t, "data", func() bool { return r.sub.Stats().Messages > 5000 })
	booksMatch(t, f, r)
	if st := r.sub.Stats(); st.Lines[0].Datagrams == 0 || st.Lines[1].Datagrams == 0 {
		t.Fatalf("busy poll did not read both lines: %+v", st.Lines)
	}
}

func TestDeadLineA(t *testing.T) {
	f := startFeed(t, feedOpts{})
	rec := newRecorder()
	cfg := f.config(rec, "", "")
	cfg.LineTimeout = 100 * time.Millisecond
	r := startSub(t, cfg)
	f.run()
	testwait.For(t, "data", func() bool { return r.sub.Stats().Messages > 3000 })
	f.pub.KillLine(publisher.LineA, true)
	testwait.For(t, "line A to go down", func() bool { return r.sub.Stats().Lines[0].Downs > 0 })
	at := r.sub.Stats().Messages
	testwait.For(t, "more data from line B", func() bool { return r.sub.Stats().Messages > at+5000 })
	booksMatch(t, f, r)
	st := r.sub.Stats()
	if st.LostMessages != 0 || st.Snapshots != 0 {
		t.Fatalf("line A died and messages were lost: %+v", st)
	}
	if st.Lines[0].Up || !st.Lines[1].Up {
		t.Fatalf("line states %+v", st.Lines)
	}
	if rec.count(EventLine) == 0 {
		t.Fatal("the handler was not told of the line going down")
	}
}

func TestLateJoinRecoversBySnapshot(t *testing.T) {
	f := startFeed(t, feedOpts{})
	f.run()
	testwait.For(t, "the feed to be well under way", func() bool { return f.pub.Stats().NextSeq > 10000 })
	rec := newRecorder()
	r := startSub(t, f.config(rec, "", ""))
	testwait.For(t, "the snapshot", func() bool { return r.sub.Stats().Snapshots > 0 })
	booksMatch(t, f, r)
	if got := rec.resetReasons(); len(got) != 1 || got[0] != ResetLateJoin {
		t.Fatalf("resets %v, want one late join", got)
	}
	if rec.count(EventRecovered) != 1 || rec.count(EventSnapshotBook) != 8 {
		t.Fatalf("events %v", rec.kinds)
	}
}

func TestLateJoinWithoutLinkIsOneReset(t *testing.T) {
	f := startFeed(t, feedOpts{})
	f.run()
	testwait.For(t, "the feed to be well under way", func() bool { return f.pub.Stats().NextSeq > 10000 })
	rec := newRecorder()
	cfg := f.config(rec, "", "")
	cfg.Links = nil
	r := startSub(t, cfg)
	testwait.For(t, "checksums to pass by", func() bool { return r.sub.Stats().ChecksumsSkipped > 20 })
	st := r.sub.Stats()
	if got := rec.resetReasons(); len(got) != 1 || got[0] != ResetLateJoin {
		t.Fatalf("resets %v, want one late join", got)
	}
	if st.ChecksumMismatches != 0 || st.UnrecoveredResets != 1 || st.Snapshots != 0 {
		t.Fatalf("stats %+v", st)
	}
}

func TestPublisherRestartNewSession(t *testing.T) {
	rtx, lnk := freePort(t), freePort(t)
	f1 := startFeed(t, feedOpts{rtxAddr: rtx, linkAddr: lnk})
	rec := newRecorder()
	r := startSub(t, f1.config(rec, "", ""))
	f1.run()
	testwait.For(t, "data", func() bool { return r.sub.Stats().Messages > 3000 })
	f1.stop()
	testwait.For(t, "the end of session", func() bool { return rec.count(EventEndOfSession) == 1 })
	// The publisher comes back: a new session on the same groups and ports,
	// with another market (seed).
	f2 := startFeed(t, feedOpts{groupA: f1.groupA, groupB: f1.groupB, tp: f1.tp, seed: 9, rtxAddr: rtx, linkAddr: lnk})
	f2.run()
	testwait.For(t, "data of the new session", func() bool {
		seq, session := r.sub.in.Next()
		return session == f2.pub.Session() && seq > 3000
	})
	booksMatch(t, f2, r)
	if st := r.sub.Stats(); st.Gap.Sessions != 2 {
		t.Fatalf("sessions %d, want 2", st.Gap.Sessions)
	}
}

func TestChecksumMismatchForcesSnapshot(t *testing.T) {
	f := startFeed(t, feedOpts{})
	rec := newRecorder()
	r := startSub(t, f.config(rec, "", ""))
	f.run()
	testwait.For(t, "data", func() bool { return r.sub.Stats().Messages > 3000 })
	// Corrupt every book behind the feed's back, on the goroutine that owns them.
	r.sub.in.Do(func() {
		for _, in := range r.sub.disp.state.All() {
			if l, ok := in.Book.BestBid(); ok {
				in.Book.Apply(wire.Bid, l.Price, l.Qty+7)
			}
		}
	})
	testwait.For(t, "the mismatch to be caught", func() bool { return r.sub.Stats().ChecksumMismatches > 0 })
	testwait.For(t, "the snapshot", func() bool { return r.sub.Stats().Snapshots > 0 })
	booksMatch(t, f, r)
	if got := rec.resetReasons(); len(got) == 0 || got[0] != ResetChecksum {
		t.Fatalf("resets %v, want a checksum reset first", got)
	}
}

func TestSlowHandlerOverrunRecovers(t *testing.T) {
	f := startFeed(t, feedOpts{rate: 30_000})
	slow := make(chan struct{})
	rec := newRecorder()
	h := HandlerFunc(func(e *Event) {
		select {
		case <-slow:
		default:
			time.Sleep(50 * time.Microsecond) // far slower than the feed
		}
		rec.HandleEvent(e)
	})
	cfg := f.config(h, "", "")
	cfg.Queue = 256
	r := startSub(t, cfg)
	f.run()
	testwait.For(t, "the queue to overrun", func() bool { return r.sub.Stats().QueueDrops > 0 })
	close(slow)
	testwait.For(t, "the snapshot", func() bool { return r.sub.Stats().Snapshots > 0 })
	booksMatch(t, f, r)
	if !slices.Contains(rec.resetReasons(), ResetOverrun) {
		t.Fatalf("resets %v, want an overrun", rec.resetReasons())
	}
}

func TestGarbageOnTheMulticastPort(t *testing.T) {
	f := startFeed(t, feedOpts{})
	r := startSub(t, f.config(nil, "", ""))
	f.run()
	conn, err := mcast.Dial(mcast.SendConfig{Group: f.groupA, Interface: mcasttest.Interface, Loopback: true})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	garbage := [][]byte{
		{},
		[]byte("hello"),
		[]byte("TC\x01\x00garbage that is not a packet at all, no"),
		append(wire.Header{Channel: 3, Count: 5, Session: 1, Seq: 1}.Append(nil), 1, 2, 3), // count does not match
		wire.Header{Channel: 3, Session: 77, Seq: 10}.Append(nil)[:20],
	}
	testwait.For(t, "data", func() bool { return r.sub.Stats().Messages > 2000 })
	for i := 0; i < 200; i++ {
		conn.Write(garbage[i%len(garbage)]) // a lost one is fine: the count has slack
	}
	testwait.For(t, "the garbage to be counted", func() bool { return r.sub.Stats().Lines[0].Malformed >= 150 })
	booksMatch(t, f, r)
}

func TestConfigErrors(t *testing.T) {
	for name, cfg := range map[string]Config{
		"no lines":      {},
		"unicast group": {Lines: []Line{{Group: mustAP("10.0.0.1:5000"), Interface: "lo"}}},
		"no port":       {Lines: []Line{{Group: mustAP("239.1.1.1:0"), Interface: "lo"}}},
		"no interface":  {Lines: []Line{{Group: mustAP("239.1.1.1:5000")}}},
		"link no tls":   {Lines: []Line{{Group: mustAP("239.1.1.1:5000"), Interface: "lo"}}, Links: []Link{{Addr: "127.0.0.1:1"}}},
		"tiny queue":    {Lines: []Line{{Group: mustAP("239.1.1.1:5000"), Interface: "lo"}}, Queue: 3},
	} {
		if _, err := New(cfg); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	_, err := New(Config{Lines: []Line{{Group: mustAP("239.1.1.1:5000"), Interface: "nosuch0"}}})
	if err == nil {
		t.Fatal("an unknown interface was accepted")
	}
	t.Logf("unknown interface: %v", err)
}

func mustAP(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }

func freePort(t *testing.T) string {
	t.Helper()
	c, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.LocalAddr().String()
}
