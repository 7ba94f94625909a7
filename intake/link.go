package intake

import (
	"context"
	"math/rand/v2"
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/tickcast/tickcast/internal/link"
	"github.com/tickcast/tickcast/wire"
)

// Link redial backoff: doubling from linkBackoffMin to linkBackoffMax, plus
// up to half again of jitter so that many clients of one restarted server
// do not redial in step.
const (
	linkBackoffMin = 100 * time.Millisecond
	linkBackoffMax = 5 * time.Second
)

// linkLine keeps one QUIC link up (redialling with backoff) and routes what
// comes down it: live packets to the stream as one more line (if Live),
// retransmissions to the stream's repair line, rejects to the arbiter,
// snapshot packets to the dispatcher.
type linkLine struct {
	in     *Intake
	cfg    Link
	index  int // the line index of live packets; -1 if not Live
	client atomic.Pointer[link.Client]

	dials, drops atomic.Uint64
	connected    atomic.Bool
}

// run keeps the link up until ctx ends.
func (l *linkLine) run(ctx context.Context) {
	log := l.in.log.With("link", l.cfg.Name)
	backoff := linkBackoffMin
	mode := wire.SubscribeRecovery // NACK answers and snapshots only
	if l.cfg.Live {
		mode = wire.SubscribeLive
	}
	for ctx.Err() == nil {
		l.dials.Add(1)
		c, err := link.Dial(ctx, link.ClientConfig{
			Addr:          l.cfg.Addr,
			TLS:           l.cfg.TLS,
			Subscriptions: []wire.Subscribe{{Channel: l.in.cfg.Channel, Mode: mode}},
			Logger:        log,
		})
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			wait := backoff + rand.N(backoff/2)
			log.Warn("link dial failed", "addr", l.cfg.Addr, "err", err, "retry_in", wait)
			sleep(ctx, wait)
			backoff = min(backoff*2, linkBackoffMax)
			continue
		}
		backoff = linkBackoffMin
		l.client.Store(c)
		l.connected.Store(true)
		err = c.Run(ctx, link.HandlerFunc(l.packet))
		l.connected.Store(false)
		l.client.Store(nil)
		c.Close()
		if ctx.Err() != nil {
			return
		}
		l.drops.Add(1)
		wait := rand.N(linkBackoffMin)
		log.Warn("link lost, redialling", "addr", l.cfg.Addr, "err", err, "retry_in", wait)
		sleep(ctx, wait)
	}
}

// packet routes one packet from the link.
func (l *linkLine) packet(p wire.Packet, rx int64) {
	in := l.in
	switch {
	case p.Has(wire.FlagSnapshot):
		in.snapshotPacket(p, rx)
	case p.Has(wire.FlagRetransmission):
		in.repair(p, rx)
	case p.Seq == 0 && p.Count == 1:
		it := p.Messages()
		if it.Next() && it.Message().Type() == wire.TypeRetransmitReject {
			if r, err := wire.DecodeRetransmitReject(it.Message().Bytes()); err == nil {
				in.stream.Reject(r, rx)
				in.tryDispatch()
			}
		}
	default:
		if l.index >= 0 {
			if !in.stream.Offer(l.index, p, rx) {
				in.foreign.add(netip.AddrPort{}, l.cfg.Name, p.Session)
			}
			in.tryDispatch()
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
