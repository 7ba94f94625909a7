package relay

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"

	"github.com/tickcast/tickcast/egress"
	"github.com/tickcast/tickcast/gap"
	"github.com/tickcast/tickcast/intake"
	"github.com/tickcast/tickcast/internal/link"
	"github.com/tickcast/tickcast/latency"
	"github.com/tickcast/tickcast/recovery"
	"github.com/tickcast/tickcast/wire"
)

// Relay carries channels from upstream lines to downstream lines and links.
// Create it with [New] (sockets open there, so a bad group, interface or
// address fails there), run it with [Relay.Run].
type Relay struct {
	cfg   Config
	log   *slog.Logger
	rtx   *gap.Server  // nil without RetransmitAddr
	link  *link.Server // nil without LinkAddr
	chans map[uint16]*channel
	order []*channel

	runOnce   sync.Once
	closeOnce sync.Once
}

// New validates cfg, opens the servers and every channel's lines and links
// (so a bad group, interface or address fails here).
func New(cfg Config) (_ *Relay, err error) {
	if err := cfg.normalize(); err != nil {
		return nil, err
	}
	r := &Relay{cfg: cfg, log: cfg.Logger, chans: map[uint16]*channel{}}
	defer func() {
		if err != nil {
			r.Close()
		}
	}()
	if cfg.LinkAddr != "" {
		// Link peers are authenticated by certificate: every address may
		// NACK, under the same caps and per-requester rate.
		lp := cfg.Retransmit
		lp.Allowed = []netip.Prefix{netip.MustParsePrefix("0.0.0.0/0"), netip.MustParsePrefix("::/0")}
		policy, err := gap.NewPolicy(lp)
		if err != nil {
			return nil, fmt.Errorf("relay: retransmit policy: %w", err)
		}
		r.link, err = link.NewServer(link.ServerConfig{
			Addr:       cfg.LinkAddr,
			TLS:        cfg.LinkTLS,
			Feed:       r,
			QueueLen:   cfg.LinkQueue,
			SlowCutoff: cfg.SlowCutoff,
			SlowLoss:   cfg.SlowLoss,
			AllowNames: cfg.AllowDownstream,
			Policy:     policy,
			Logger:     r.log,
		})
		if err != nil {
			return nil, fmt.Errorf("relay: link server: %w", err)
		}
	}
	for _, cc := range cfg.Channels {
		c, err := r.openChannel(cc)
		if err != nil {
			return nil, fmt.Errorf("relay: channel %d: %w", cc.ID, err)
		}
		r.chans[cc.ID] = c
		r.order = append(r.order, c)
	}
	if cfg.RetransmitAddr != "" {
		caches := map[uint16]*gap.Cache{}
		for _, c := range r.order {
			caches[c.id] = c.cache
		}
		r.rtx, err = gap.NewServer(gap.ServerConfig{Addr: cfg.RetransmitAddr, Policy: cfg.Retransmit, Caches: caches, Logger: r.log})
		if err != nil {
			return nil, fmt.Errorf("relay: retransmit server: %w", err)
		}
	}
	return r, nil
}

// openChannel opens one channel's cache, egress and intake.
func (r *Relay) openChannel(cc Channel) (*channel, error) {
	c := newChannel(cc, r.log)
	var err error
	if c.cache, err = gap.NewCache(cc.Cache); err != nil {
		return nil, fmt.Errorf("cache: %w", err)
	}
	var sink egress.Sink
	if r.link != nil {
		sink = r.link
	}
	c.out, err = egress.New(egress.Config{
		Channel:   cc.ID,
		Lines:     cc.Out,
		MaxPacket: cc.MaxPacket,
		Cache:     c.cache,
		Sink:      sink,
		Logger:    c.log,
	})
	if err != nil {
		return nil, err
	}
	c.in, err = intake.New(intake.Config{
		Channel:        cc.ID,
		Lines:          cc.Lines,
		Links:          cc.Upstreams,
		RetransmitAddr: cc.UpstreamRetransmit,
		Window:         cc.Window,
		LineTimeout:    cc.LineTimeout,
		Consumer:       c,
		Stale:          c.upstreamStale,
		Logger:         r.log, // the intake names the channel itself
	})
	if err != nil {
		c.out.Close()
		return nil, err
	}
	if len(cc.Recovery) > 0 {
		c.loop, err = recovery.NewLoop(recovery.LoopConfig{
			Channel: cc.ID, Lines: cc.Recovery, Rate: cc.RecoveryRate,
			MaxPacket: cc.MaxPacket, Capture: c.capture, Logger: r.log,
		})
		if err != nil {
			c.in.Close()
			c.out.Close()
			return nil, err
		}
	}
	return c, nil
}

// LinkAddr returns the bound address of the link server, or "".
func (r *Relay) LinkAddr() string {
	if r.link == nil {
		return ""
	}
	return r.link.Addr().String()
}

// SetAllowDownstream replaces Config.AllowDownstream while the relay runs
// (or before): empty allows every certificate from the operator's CA again.
// A connected downstream whose certificate name is no longer listed is
// disconnected at once, with a reason its Run returns and it logs ("not
// allowed: certificate … is not on this server's allow list"); its
// reconnections are refused the same way and counted (Stats.NotAllowed),
// until a later call lists it again. It is safe at any time, from any
// goroutine; without a link server (no Config.LinkAddr) it does nothing.
// The caller validates names (an empty one allows no real certificate).
func (r *Relay) SetAllowDownstream(names []string) {
	if r.link == nil {
		return
	}
	r.link.SetAllowNames(names)
}

// RetransmitAddr returns the bound address of the UDP retransmit server, or "".
func (r *Relay) RetransmitAddr() string {
	if r.rtx == nil {
		return ""
	}
	return r.rtx.LocalAddr().String()
}

// Run relays until ctx ends (it then returns nil) or a part fails for good
// (its error). Everything it started has stopped when it returns, and the
// relay's sockets are closed. Run may be called once.
func (r *Relay) Run(ctx context.Context) error {
	err := errors.New("relay: Run called twice")
	r.runOnce.Do(func() { err = r.run(ctx) })
	return err
}

func (r *Relay) run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
	)
	start := func(what string, f func(context.Context) error) {
		wg.Go(func() {
			if err := f(ctx); err != nil && ctx.Err() == nil {
				mu.Lock()
				if first == nil {
					first = fmt.Errorf("relay: %s: %w", what, err)
				}
				mu.Unlock()
				cancel()
			}
		})
	}
	if r.rtx != nil {
		start("retransmit server", r.rtx.Serve)
	}
	if r.link != nil {
		start("link server", r.link.Serve)
	}
	for _, c := range r.order {
		start(fmt.Sprintf("channel %d", c.id), c.in.Run)
		wg.Go(func() { c.run(ctx) })
		if c.loop != nil {
			start(fmt.Sprintf("channel %d recovery loop", c.id), c.loop.Run)
		}
	}
	r.log.Info("relaying", "channels", len(r.order), "link", r.LinkAddr(), "retransmit", r.RetransmitAddr())
	<-ctx.Done()
	wg.Wait()
	r.Close()
	return first
}

// Close closes what New opened; a running Run stops on its context, not on
// Close. Close is idempotent.
func (r *Relay) Close() error {
	r.closeOnce.Do(func() {
		for _, c := range r.order {
			c.in.Close()
			c.out.Close()
			if c.loop != nil {
				c.loop.Close()
			}
		}
		if r.rtx != nil {
			r.rtx.Close()
		}
		if r.link != nil {
			r.link.Close()
		}
	})
	return nil
}

// Retransmit implements link.Feed: a downstream's NACK, answered by the
// nearest copy (see the package doc).
func (r *Relay) Retransmit(channel uint16, session, first uint64, count uint32, maxMsgs, maxBytes int, emit func(pkt []byte) error) (uint32, wire.RejectReason, error) {
	c := r.chans[channel]
	if c == nil {
		return 0, wire.RejectUnknownSession, nil
	}
	return c.retransmit(session, first, count, maxMsgs, maxBytes, emit)
}

// Snapshot implements link.Feed: the channel's books, from this relay,
// waiting while they are being recovered from upstream.
func (r *Relay) Snapshot(ctx context.Context, channel uint16, instrument uint32, emit func(pkt []byte) error) error {
	c := r.chans[channel]
	if c == nil {
		return fmt.Errorf("relay: snapshot of channel %d: not relayed here", channel)
	}
	sn, session, err := c.snapshot(ctx, instrument)
	if err != nil {
		return err
	}
	h := wire.Header{Flags: wire.FlagSnapshot, Channel: channel, Session: session, Seq: sn.LastSeq}
	return sn.Encode(h, c.cfg.MaxPacket, emit)
}

// BookSums returns the checksum of every book of channel, the last
// sequence they reflect and whether they are complete (not recovering):
// what drills and tests compare with the publisher's.
func (r *Relay) BookSums(channel uint16) (sums map[uint32]uint32, lastSeq uint64, whole bool, err error) {
	c := r.chans[channel]
	if c == nil {
		return nil, 0, false, fmt.Errorf("relay: channel %d is not relayed here", channel)
	}
	sums, lastSeq, whole = c.sums()
	return sums, lastSeq, whole, nil
}

// TakeLatency returns the latency from the publisher's send time to the
// moment this relay sent each packet of channel on (its hop's share of the
// end-to-end latency, cumulated), recorded since the previous call, and
// starts a new interval.
func (r *Relay) TakeLatency(channel uint16) (*latency.Recorder, error) {
	c := r.chans[channel]
	if c == nil {
		return nil, fmt.Errorf("relay: channel %d is not relayed here", channel)
	}
	out := latency.NewRecorder(maxLatency)
	out.Merge(c.forwardT.Take(c.swapForward))
	return out, nil
}

// HopLatency returns the latency from the publisher's send time to the
// moment this relay sent each packet of channel on, since the start, over
// latency.DefaultBounds: what package metrics exports. It takes nothing
// from TakeLatency; call it per scrape, not per packet.
func (r *Relay) HopLatency(channel uint16) (*latency.Buckets, error) {
	c := r.chans[channel]
	if c == nil {
		return nil, fmt.Errorf("relay: channel %d is not relayed here", channel)
	}
	return c.forwardT.Buckets(c.swapForward), nil
}
