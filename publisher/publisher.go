package publisher

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/tickcast/tickcast/egress"
	"github.com/tickcast/tickcast/gap"
	"github.com/tickcast/tickcast/internal/link"
	"github.com/tickcast/tickcast/publisher/source"
	"github.com/tickcast/tickcast/recovery"
	"github.com/tickcast/tickcast/wire"
)

// ErrClosed is returned by Publish after the publisher stopped.
var ErrClosed = errors.New("publisher: closed")

// Line names for [Publisher.KillLine] and [Stats].
const (
	LineA = 0
	LineB = 1
)

// Publisher is the sequenced A/B feed of one channel. Create it with [New],
// run it with [Publisher.Run]; sources hand it data through Publish (it is a
// [source.Sink]).
type Publisher struct {
	cfg   Config
	log   *slog.Logger
	out   *egress.Egress // the lines, the cache and the link server, in that order
	cache *gap.Cache
	rtx   *gap.Server
	link  *link.Server   // the QUIC link server, or nil
	loop  *recovery.Loop // the recovery loop, or nil

	seqMu sync.Mutex  // held by whichever goroutine runs the sequencer
	in    chan *batch // batches handed over while the sequencer was busy
	free  chan *batch
	kick  chan struct{} // wakes run: a batch was queued, or a packet lingers
	snaps chan snapRequest
	done  chan struct{} // closed when the sequencer stopped
	once  sync.Once

	closeOnce sync.Once
	closeErr  error

	seq   sequencer // owned by the sequencer goroutine
	stats counters
}

// New validates cfg, opens the lines and the retransmit server, and returns
// a publisher ready to Run.
func New(cfg Config) (*Publisher, error) {
	if err := cfg.normalize(); err != nil {
		return nil, err
	}
	p := &Publisher{
		cfg:   cfg,
		log:   cfg.Logger.With("channel", cfg.Channel, "session", cfg.Session),
		in:    make(chan *batch, cfg.QueueBatches),
		free:  make(chan *batch, cfg.QueueBatches),
		kick:  make(chan struct{}, 1),
		snaps: make(chan snapRequest),
		done:  make(chan struct{}),
	}
	for i := 0; i < cfg.QueueBatches; i++ {
		p.free <- &batch{b: make([]byte, 0, 64<<10)}
	}
	var err error
	if p.cache, err = gap.NewCache(cfg.Cache); err != nil {
		return nil, fmt.Errorf("publisher: %w", err)
	}
	if cfg.RetransmitAddr != "" {
		p.rtx, err = gap.NewServer(gap.ServerConfig{
			Addr:   cfg.RetransmitAddr,
			Policy: gap.PolicyConfig{Allowed: cfg.RetransmitAllowed},
			Caches: map[uint16]*gap.Cache{cfg.Channel: p.cache},
			Logger: p.log,
		})
		if err != nil {
			return nil, fmt.Errorf("publisher: retransmit server: %w", err)
		}
	}
	if cfg.LinkAddr != "" {
		p.link, err = link.NewServer(link.ServerConfig{Addr: cfg.LinkAddr, TLS: cfg.LinkTLS, Feed: p, AllowNames: cfg.AllowDownstream, Logger: p.log})
		if err != nil {
			p.closeServers()
			return nil, fmt.Errorf("publisher: link server: %w", err)
		}
	}
	ecfg := egress.Config{Channel: cfg.Channel, Lines: cfg.Lines, MaxPacket: cfg.MaxPacket, Cache: p.cache, Logger: p.log}
	if p.link != nil {
		ecfg.Sink = p.link
	}
	if p.out, err = egress.New(ecfg); err != nil {
		p.closeServers()
		return nil, fmt.Errorf("publisher: %w", err)
	}
	if len(cfg.Recovery.Lines) > 0 {
		p.loop, err = recovery.NewLoop(recovery.LoopConfig{
			Channel: cfg.Channel, Lines: cfg.Recovery.Lines, Rate: cfg.Recovery.Rate,
			MaxPacket: cfg.MaxPacket, Capture: p.capture, Logger: p.log,
		})
		if err != nil {
			p.closeServers()
			return nil, fmt.Errorf("publisher: %w", err)
		}
	}
	p.seq.init(p)
	return p, nil
}

func (p *Publisher) closeLines() {
	if p.out != nil {
		p.out.Close()
	}
}

// closeServers closes everything New opened, for a failed New.
func (p *Publisher) closeServers() {
	p.closeLines()
	if p.rtx != nil {
		p.rtx.Close()
	}
	if p.link != nil {
		p.link.Close()
	}
	if p.loop != nil {
		p.loop.Close()
	}
}

// SetAllowDownstream replaces Config.AllowDownstream (empty = every
// certificate from the CA) and disconnects, with a reason naming it, every
// link client no longer allowed; safe at any time, a no-op without a link
// server.
func (p *Publisher) SetAllowDownstream(names []string) {
	if p.link != nil {
		p.link.SetAllowNames(names)
	}
}

// LinkAddr returns the bound address of the QUIC link server, or "" without one.
func (p *Publisher) LinkAddr() string {
	if p.link == nil {
		return ""
	}
	return p.link.Addr().String()
}

// Session returns the session id of this run.
func (p *Publisher) Session() uint64 { return p.cfg.Session }

// Channel returns the channel published.
func (p *Publisher) Channel() uint16 { return p.cfg.Channel }

// Cache returns the retransmit cache (for a link server or a test).
func (p *Publisher) Cache() *gap.Cache { return p.cache }

// RetransmitAddr returns the bound address of the retransmit server, or ""
// without one.
func (p *Publisher) RetransmitAddr() string {
	if p.rtx == nil {
		return ""
	}
	return p.rtx.LocalAddr().String()
}

// Publish hands a batch of whole wire-format market messages to the
// sequencer (see [source.Sink]). When the sequencer is idle the batch is
// sequenced and sent right here, on the caller's goroutine, with no copy and
// no hand-off (waking another goroutine costs tens of µs on a VM); when it
// is busy the batch is copied into the bounded input queue, and Publish
// blocks while that is full. It returns ErrClosed once the session ended.
func (p *Publisher) Publish(msgs []byte) error {
	if len(msgs) == 0 {
		return nil
	}
	if p.seqMu.TryLock() {
		if p.seq.stopped {
			p.seqMu.Unlock()
			return ErrClosed
		}
		p.seq.drainQueued() // batches queued before this one go first
		p.seq.takeBytes(msgs)
		linger := p.seq.afterInput()
		p.seqMu.Unlock()
		if linger {
			p.wake() // run arms the linger timer
		}
		return nil
	}
	var b *batch
	select {
	case b = <-p.free:
	case <-p.done:
		return ErrClosed
	}
	b.b = append(b.b[:0], msgs...)
	select {
	case p.in <- b:
	case <-p.done:
		return ErrClosed
	}
	p.wake()
	return nil
}

// wake tells run there is work: queued batches or a lingering packet.
func (p *Publisher) wake() {
	select {
	case p.kick <- struct{}{}:
	default:
	}
}

var _ source.Sink = (*Publisher)(nil)

// Run runs the sequencer, the retransmit server and, if src is not nil, the
// source, until ctx ends or the source fails. On the way out it sends what is
// queued and an end of session on both lines, then closes its sockets (as
// [Publisher.Close]). A failure of the retransmit or link server ends the
// run too and is returned, wrapped, with the source's. Run may be called once.
func (p *Publisher) Run(ctx context.Context, src source.Source) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	var srcErr atomic.Value
	var errMu sync.Mutex
	var srvErrs []error
	// serve runs one server; its failure ends the run and is returned.
	serve := func(what string, run func(context.Context) error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := run(ctx); err != nil {
				p.log.Error(what+" stopped", "err", err)
				errMu.Lock()
				srvErrs = append(srvErrs, fmt.Errorf("publisher: %s: %w", what, err))
				errMu.Unlock()
				cancel()
			}
		}()
	}
	if p.rtx != nil {
		serve("retransmit server", p.rtx.Serve)
	}
	if p.link != nil {
		serve("link server", p.link.Serve)
	}
	if p.loop != nil {
		serve("recovery loop", p.loop.Run)
	}
	if src != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := src.Run(ctx, p); err != nil && !errors.Is(err, ErrClosed) && ctx.Err() == nil {
				srcErr.Store(err)
				p.log.Error("source failed", "err", err)
				cancel()
			}
		}()
	}
	p.log.Info("publishing", "lines", p.out.Lines(), "max_packet", p.cfg.MaxPacket,
		"retransmit", p.RetransmitAddr(), "link", p.LinkAddr())
	p.seq.run(ctx)
	p.once.Do(func() { close(p.done) })
	cancel()
	wg.Wait()
	p.Close()
	errs := srvErrs
	if err, ok := srcErr.Load().(error); ok {
		errs = append([]error{fmt.Errorf("publisher: source: %w", err)}, errs...)
	}
	return errors.Join(errs...)
}

// Close closes what New opened: the lines, the retransmit server, the link
// server and the recovery loop's lines. Run closes them on its way out, so Close is needed only for
// a publisher that never runs; it is idempotent and safe after Run.
func (p *Publisher) Close() error {
	p.closeOnce.Do(func() {
		var errs []error
		if err := p.out.Close(); err != nil {
			errs = append(errs, err)
		}
		if p.rtx != nil {
			if err := p.rtx.Close(); err != nil {
				errs = append(errs, fmt.Errorf("publisher: close retransmit server: %w", err))
			}
		}
		if p.link != nil {
			if err := p.link.Close(); err != nil {
				errs = append(errs, fmt.Errorf("publisher: close link server: %w", err))
			}
		}
		if p.loop != nil {
			if err := p.loop.Close(); err != nil {
				errs = append(errs, fmt.Errorf("publisher: close recovery loop: %w", err))
			}
		}
		p.closeErr = errors.Join(errs...)
	})
	return p.closeErr
}

// KillLine stops (kill=true) or resumes sending on line LineA or LineB: the
// failover drill's dead line. Safe from any goroutine.
func (p *Publisher) KillLine(i int, kill bool) {
	p.out.KillLine(i, kill)
}

// wireHeader returns the header every live packet of this publisher starts from.
func (p *Publisher) wireHeader(f wire.Flags, seq uint64) wire.Header {
	return wire.Header{Flags: f, Channel: p.cfg.Channel, Session: p.cfg.Session, Seq: seq}
}
