package relay

import (
	"log/slog"
	"strings"
	"testing"

	"github.com/tickcast/tickcast/internal/testwait"
	"github.com/tickcast/tickcast/subscriber"
)

// downstream reports whether the relay serves a downstream named name now.
func downstream(r *running, name string) bool {
	for _, d := range r.Stats().Downstreams {
		if d.Name == name {
			return true
		}
	}
	return false
}

// TestAllowDownstream: over a real QUIC link, a hub allowing only "edge"
// serves it and refuses "other"; SetAllowDownstream without "edge"
// disconnects it with a reason it logs, refuses its redials (counted) and
// lets "other" in; allowing it again brings it back, its books whole.
func TestAllowDownstream(t *testing.T) {
	f := startPublisher(t, 5_000)
	hc := hubConfig(t, f)
	hc.AllowDownstream = []string{"edge"}
	hub := startRelay(t, hc)

	var edgeLog testwait.Log
	e := edgeConfig(t, "edge", hub.LinkAddr())
	e.cfg.Logger = slog.New(slog.NewTextHandler(&edgeLog, nil))
	edge := startRelay(t, e.cfg)
	sub := subscribe(t, e, edge, "")
	other := startRelay(t, edgeConfig(t, "other", hub.LinkAddr()).cfg)
	testwait.For(t, "the edge to forward", func() bool { return edge.Stats().Channels[0].Messages > 500 })
	testwait.For(t, "the other edge refused twice", func() bool { return hub.Stats().NotAllowedByName["other"] >= 2 })
	if downstream(hub, "other") || other.Stats().Channels[0].Messages != 0 {
		t.Fatalf("a downstream not allowed was served: %+v", hub.Stats().Downstreams)
	}
	booksMatch(t, f, []*running{hub, edge}, []*subscriber.Subscriber{sub})

	// Without "edge": it is cut off and cannot come back; "other" comes in.
	hub.SetAllowDownstream([]string{"other"})
	before := hub.Stats().NotAllowedByName["edge"]
	testwait.For(t, "the edge disconnected, and two redials refused", func() bool {
		return hub.Stats().NotAllowedByName["edge"] >= before+3 && !downstream(hub, "edge")
	})
	if ls := edge.Stats().Channels[0].Intake.Links[0]; ls.Connected || ls.Drops == 0 {
		t.Fatalf("the edge's link: %+v", ls)
	}
	if !strings.Contains(edgeLog.String(), `not allowed: certificate \"edge\" is not on this server's allow list`) {
		t.Fatalf("the edge did not log why it was cut off:\n%s", edgeLog.String())
	}
	testwait.For(t, "the other edge to forward", func() bool { return other.Stats().Channels[0].Messages > 500 })
	if st := hub.Stats(); st.NotAllowed < 5 {
		t.Fatalf("hub stats: %d not allowed", st.NotAllowed)
	}

	// Everyone again: the edge redials and catches up.
	hub.SetAllowDownstream(nil)
	testwait.For(t, "the edge back", func() bool { return downstream(hub, "edge") && downstream(hub, "other") })
	booksMatch(t, f, []*running{hub, edge}, []*subscriber.Subscriber{sub})
}
