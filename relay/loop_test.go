package relay

import (
	"net/netip"
	"testing"

	"github.com/tickcast/tickcast/egress"
	"github.com/tickcast/tickcast/internal/mcast/mcasttest"
	"github.com/tickcast/tickcast/internal/testwait"
	"github.com/tickcast/tickcast/subscriber"
)

// TestEdgeRecoveryLoop: an edge sends its own recovery loop from its books,
// and a subscriber joining the edge's LAN late, with no link, rebuilds every
// book from it and leaves the groups.
func TestEdgeRecoveryLoop(t *testing.T) {
	f := startPublisher(t, 20_000)
	hub := startRelay(t, hubConfig(t, f))
	e := edgeConfig(t, "edge", hub.LinkAddr())
	loop := []netip.AddrPort{mcasttest.FreeGroup(t), mcasttest.FreeGroup(t)}
	for _, g := range loop {
		e.cfg.Channels[0].Recovery = append(e.cfg.Channels[0].Recovery, egress.Line{Group: g, Interface: mcasttest.Interface, Loopback: true})
	}
	edge := startRelay(t, e.cfg)
	testwait.For(t, "the edge to be whole and forwarding", func() bool {
		c := edge.Stats().Channels[0]
		return c.Whole && c.Messages > 5000
	})
	cfg := subscriber.Config{
		Channel: testChannel,
		Lines: []subscriber.Line{
			{Name: "A", Group: e.groupA, Interface: mcasttest.Interface},
			{Name: "B", Group: e.groupB, Interface: mcasttest.Interface},
		},
		RetransmitAddr: netip.MustParseAddrPort(edge.RetransmitAddr()),
	}
	for _, g := range loop {
		cfg.Recovery = append(cfg.Recovery, subscriber.Line{Group: g, Interface: mcasttest.Interface})
	}
	sub := runSubscriber(t, cfg)
	testwait.For(t, "every book from the edge's loop", func() bool {
		st := sub.Stats()
		return !st.Recovering && st.Loop.Books > 0 && !st.Loop.Joined
	})
	booksMatch(t, f, []*running{hub, edge}, []*subscriber.Subscriber{sub})
	if st := sub.Stats(); st.Loop.Joins != 1 || st.ChecksumMismatches != 0 {
		t.Fatalf("subscriber: %+v", st.Loop)
	}
}
