package relay

import (
	"net/netip"
	"testing"

	"github.com/tickcast/tickcast/internal/mcast"
	"github.com/tickcast/tickcast/internal/mcast/mcasttest"
	"github.com/tickcast/tickcast/internal/testwait"
	"github.com/tickcast/tickcast/subscriber"
	"github.com/tickcast/tickcast/wire"
)

// TestHubKeepsTheLiveSession: forged packets on the groups a hub joins (a
// heartbeat of a fresh session, one of the live session claiming far more
// than was sent) change nothing downstream: the hub follows the live
// session, cuts the phantom claim, and the edge's subscriber ends with the
// publisher's books.
func TestHubKeepsTheLiveSession(t *testing.T) {
	f := startPublisher(t, 20_000)
	hub := startRelay(t, hubConfig(t, f))
	e := edgeConfig(t, "edge", hub.LinkAddr())
	edge := startRelay(t, e.cfg)
	sub := subscribe(t, e, edge, "")
	testwait.For(t, "the edge to forward", func() bool { return edge.Stats().Channels[0].Messages > 1000 })
	live := f.pub.Session()
	next := hub.Stats().Channels[0].Intake.Gap.Next
	for _, g := range []netip.AddrPort{f.groupA, f.groupB} {
		s, err := mcast.Dial(mcast.SendConfig{Group: g, Interface: mcasttest.Interface, Loopback: true})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		for _, h := range []wire.Header{
			{Channel: testChannel, Flags: wire.FlagHeartbeat, Session: live + 77, Seq: 1},
			{Channel: testChannel, Flags: wire.FlagHeartbeat, Session: live, Seq: next + 1e9},
		} {
			if err := s.Write(h.Append(nil)); err != nil {
				t.Fatal(err)
			}
		}
	}
	testwait.For(t, "the hub to deal with the forged packets", func() bool {
		g := hub.Stats().Channels[0].Intake.Gap
		return g.Foreign >= 1 && g.PhantomCuts >= 1
	})
	booksMatch(t, f, []*running{hub, edge}, []*subscriber.Subscriber{sub})
	for name, r := range map[string]*running{"hub": hub, "edge": edge} {
		if g := r.Stats().Channels[0].Intake.Gap; g.Sessions != 1 || g.Lost != 0 {
			t.Errorf("%s: sessions %d, lost %d", name, g.Sessions, g.Lost)
		}
	}
	if st := sub.Stats(); st.Gap.Sessions != 1 || st.LostMessages != 0 {
		t.Errorf("subscriber: sessions %d, lost %d", st.Gap.Sessions, st.LostMessages)
	}
}
