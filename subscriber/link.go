package subscriber

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync/atomic"
	"time"

	"github.com/tickcast/tickcast/gap"
	"github.com/tickcast/tickcast/internal/link"
	"github.com/tickcast/tickcast/wire"
)

// errNoLink is returned while the link is (re)connecting.
var errNoLink = errors.New("subscriber: link not connected")

// linkLine keeps a QUIC link to a publisher or relay up (redialling with
// backoff) and routes what comes down it: live packets to the stream as one
// more line, retransmissions to the stream's repair line, rejects to the
// arbiter, snapshot packets to the dispatcher.
type linkLine struct {
	s      *Subscriber
	cfg    Link
	index  int // the line index of live link packets
	client atomic.Pointer[link.Client]

	dials, drops atomic.Uint64
}

// Request sends a NACK up the link (gap.Requester).
func (l *linkLine) Request(r wire.RetransmitRequest) error {
	c := l.client.Load()
	if c == nil {
		return errNoLink
	}
	return c.Request(r)
}

func (l *linkLine) requestSnapshot(r wire.SnapshotRequest) error {
	c := l.client.Load()
	if c == nil {
		return errNoLink
	}
	return c.RequestSnapshot(r)
}

// run keeps the link up until ctx ends.
func (l *linkLine) run(ctx context.Context) error {
	backoff := 100 * time.Millisecond
	mode := wire.SubscribeRecovery // NACK answers and snapshots only: live data comes by multicast
	if l.cfg.Live {
		mode = wire.SubscribeLive
	}
	for ctx.Err() == nil {
		l.dials.Add(1)
		c, err := link.Dial(ctx, link.ClientConfig{
			Addr:          l.cfg.Addr,
			TLS:           l.cfg.TLS,
			Subscriptions: []wire.Subscribe{{Channel: l.s.cfg.Channel, Mode: mode}},
			Logger:        l.s.log,
		})
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			l.s.log.Warn("link dial failed", "addr", l.cfg.Addr, "err", err, "retry_in", backoff)
			sleep(ctx, backoff+rand.N(backoff/2))
			backoff = min(backoff*2, 5*time.Second)
			continue
		}
		backoff = 100 * time.Millisecond
		l.client.Store(c)
		err = c.Run(ctx, link.HandlerFunc(l.packet))
		l.client.Store(nil)
		c.Close()
		if ctx.Err() != nil {
			return nil
		}
		l.drops.Add(1)
		l.s.log.Warn("link lost, redialling", "addr", l.cfg.Addr, "err", err)
	}
	return nil
}

// packet routes one packet from the link.
func (l *linkLine) packet(p wire.Packet, rx int64) {
	switch {
	case p.Has(wire.FlagSnapshot):
		l.s.snapshotPacket(p, rx)
	case p.Has(wire.FlagRetransmission):
		l.s.stream.Offer(gap.RepairLine, p, rx)
		l.s.tryDispatch()
	case p.Seq == 0 && p.Count == 1:
		it := p.Messages()
		if it.Next() && it.Message().Type() == wire.TypeRetransmitReject {
			if r, err := wire.DecodeRetransmitReject(it.Message().Bytes()); err == nil {
				l.s.stream.Reject(r, rx)
				l.s.tryDispatch()
			}
		}
	default:
		if l.cfg.Live {
			l.s.stream.Offer(l.index, p, rx)
			l.s.tryDispatch()
		}
	}
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
