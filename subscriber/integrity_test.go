package subscriber

import (
	"net/netip"
	"testing"

	"github.com/tickcast/tickcast/internal/mcast"
	"github.com/tickcast/tickcast/internal/mcast/mcasttest"
	"github.com/tickcast/tickcast/internal/testwait"
	"github.com/tickcast/tickcast/wire"
)

// Feed integrity (DESIGN.md, "Liveness" and "Security and abuse"): what
// others send on the subscriber's groups never takes it off the live feed.

// foreignPackets sums the packets of sessions not followed, every sender.
func foreignPackets(st Stats) uint64 {
	n := st.ForeignOther
	for _, s := range st.ForeignSources {
		n += s.Packets
	}
	return n
}

func TestSecondPublisherOnTheSameGroups(t *testing.T) {
	f1 := startFeed(t, feedOpts{})
	rec := newRecorder()
	r := startSub(t, f1.config(rec, "", ""))
	f1.run()
	testwait.For(t, "data", func() bool { return r.sub.Stats().Messages > 3000 })
	// A second publisher (a stale test publisher, by mistake) starts a
	// session of its own on the same groups, with another market.
	f2 := startFeed(t, feedOpts{groupA: f1.groupA, groupB: f1.groupB, tp: f1.tp, seed: 9})
	f2.run()
	testwait.For(t, "the second publisher's packets to be counted", func() bool {
		return foreignPackets(r.sub.Stats()) > 2000
	})
	booksMatch(t, f1, r) // the first publisher's books, while the second one sends on
	st := r.sub.Stats()
	if st.Gap.Sessions != 1 || len(rec.resetReasons()) != 0 || st.LostMessages != 0 {
		t.Fatalf("sessions %d, resets %v, lost %d: the subscriber left the live session", st.Gap.Sessions, rec.resetReasons(), st.LostMessages)
	}
	if len(st.ForeignSources) == 0 || st.ForeignSources[0].Session != f2.pub.Session() || !st.ForeignSources[0].Source.IsValid() {
		t.Fatalf("foreign sources %+v, want the second publisher's sender (session %d)", st.ForeignSources, f2.pub.Session())
	}
}

func TestForgedHeartbeatsAndEnds(t *testing.T) {
	f := startFeed(t, feedOpts{})
	rec := newRecorder()
	r := startSub(t, f.config(rec, "", ""))
	f.run()
	testwait.For(t, "data", func() bool { return r.sub.Stats().Messages > 3000 })
	var lines []*mcast.Sender
	for _, g := range []netip.AddrPort{f.groupA, f.groupB} {
		s, err := mcast.Dial(mcast.SendConfig{Group: g, Interface: mcasttest.Interface, Loopback: true})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		lines = append(lines, s)
	}
	forge := func(h wire.Header) {
		for _, s := range lines {
			if err := s.Write(h.Append(nil)); err != nil {
				t.Fatal(err)
			}
		}
	}
	live := f.pub.Session()
	next, _ := r.sub.in.Next()
	// A heartbeat of a fresh session (the one packet that used to reset
	// every subscriber for good), a heartbeat of the live session claiming
	// a billion messages more than were sent, and an end of session of the
	// live session at the sequence it had just reached.
	forge(wire.Header{Channel: 3, Flags: wire.FlagHeartbeat, Session: live + 1000, Seq: 1})
	forge(wire.Header{Channel: 3, Flags: wire.FlagHeartbeat, Session: live, Seq: next + 1e9})
	forge(wire.Header{Channel: 3, Flags: wire.FlagEndOfSession, Session: live, Seq: next})
	testwait.For(t, "the forged packets to be dealt with", func() bool {
		st := r.sub.Stats()
		return st.Gap.Foreign >= 1 && st.Gap.PhantomCuts >= 1 && st.Gap.FalseEnds >= 1
	})
	booksMatch(t, f, r)
	st := r.sub.Stats()
	if st.Gap.Sessions != 1 || len(rec.resetReasons()) != 0 || st.LostMessages != 0 || st.Gap.Lost != 0 {
		t.Fatalf("sessions %d, resets %v, lost %d/%d", st.Gap.Sessions, rec.resetReasons(), st.LostMessages, st.Gap.Lost)
	}
	if st.Gap.Phantom < 1e9-1e6 {
		t.Fatalf("phantom %d, want the forged claim (~1e9) dropped", st.Gap.Phantom)
	}
}

func TestSourceSpecificLines(t *testing.T) {
	f := startFeed(t, feedOpts{})
	rec := newRecorder()
	cfg := f.config(rec, "", "")
	publisherAddr := netip.MustParseAddr("127.0.0.1") // what a sender on lo sends from
	for i := range cfg.Lines {
		cfg.Lines[i].Source = publisherAddr
	}
	r := startSub(t, cfg)
	// A receiver of any source, to see the forged datagrams on the wire.
	wire0, err := mcast.Listen(mcast.RecvConfig{Group: f.groupA, Interface: mcasttest.Interface})
	if err != nil {
		t.Fatal(err)
	}
	defer wire0.Close()
	f.run()
	testwait.For(t, "data", func() bool { return r.sub.Stats().Messages > 3000 })
	forger, err := mcast.Dial(mcast.SendConfig{Group: f.groupA, Interface: mcasttest.Interface, Loopback: true,
		Source: netip.MustParseAddr("127.0.0.2")})
	if err != nil {
		t.Fatal(err)
	}
	defer forger.Close()
	forged := wire.Header{Channel: 3, Flags: wire.FlagHeartbeat, Session: f.pub.Session() + 1, Seq: 1}.Append(nil)
	const n = 200
	for range n {
		if err := forger.Write(forged); err != nil {
			t.Fatal(err)
		}
	}
	seen := 0
	for seen < n {
		dgs, err := wire0.ReadBatch()
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range dgs {
			if d.Src.Addr() == forger.LocalAddr().Addr() {
				seen++
			}
		}
	}
	booksMatch(t, f, r)
	st := r.sub.Stats()
	if st.Gap.Foreign != 0 || len(st.ForeignSources) != 0 || st.Lines[0].Malformed != 0 || len(rec.resetReasons()) != 0 {
		t.Fatalf("the SSM line let the forger through: foreign %d %+v, malformed %d, resets %v",
			st.Gap.Foreign, st.ForeignSources, st.Lines[0].Malformed, rec.resetReasons())
	}
}
