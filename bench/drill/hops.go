package drill

import (
	"context"
	"errors"
	"fmt"
	"net/netip"

	"github.com/tickcast/tickcast/intake"
	"github.com/tickcast/tickcast/relay"
)

// hops runs a drill's relays and paths: each runs until the drill ends it,
// and close stops them all and waits.
type hops struct {
	stop   context.CancelFunc
	done   []chan error
	relays []*relay.Relay // closed by close, after they stopped
}

// begin returns the context the hops run under.
func (h *hops) begin(ctx context.Context) context.Context {
	ctx, h.stop = context.WithCancel(ctx)
	return ctx
}

// spawn runs fn until the drill ends.
func (h *hops) spawn(ctx context.Context, fn func(context.Context) error) {
	done := make(chan error, 1)
	h.done = append(h.done, done)
	go func() { done <- fn(ctx) }()
}

// close stops everything started, waits for it and closes the relays.
func (h *hops) close() error {
	if h.stop == nil {
		return nil
	}
	h.stop()
	var errs []error
	for _, d := range h.done {
		if err := <-d; err != nil && !errors.Is(err, context.Canceled) {
			errs = append(errs, err)
		}
	}
	for _, r := range h.relays {
		r.Close()
	}
	h.stop, h.done, h.relays = nil, nil, nil
	return errors.Join(errs...)
}

// newHub builds a hub relay on the rig's multicast lines, NACKing the
// publisher's retransmit server, with a link server for edges.
func newHub(r *rig, s *session) (*relay.Relay, error) {
	f := r.feed
	pubRtx, err := netip.ParseAddrPort(s.pub.RetransmitAddr())
	if err != nil {
		return nil, fmt.Errorf("drill: retransmit address: %w", err)
	}
	hub, err := relay.New(relay.Config{
		Channels: []relay.Channel{{
			ID: channel,
			Lines: []intake.Line{
				{Name: "A", Group: r.groupA, Interface: f.Interface},
				{Name: "B", Group: r.groupB, Interface: f.Interface},
			},
			Upstreams:          []intake.Link{{Name: "publisher", Addr: s.pub.LinkAddr(), TLS: r.tp.ClientTLS()}},
			UpstreamRetransmit: pubRtx,
			LineTimeout:        f.LineTimeout,
		}},
		LinkAddr: "127.0.0.1:0",
		LinkTLS:  r.tp.ServerTLS(),
		Logger:   f.Logger,
	})
	if err != nil {
		return nil, fmt.Errorf("drill: hub: %w", err)
	}
	return hub, nil
}
