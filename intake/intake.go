package intake

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tickcast/tickcast/gap"
	"github.com/tickcast/tickcast/internal/fault"
	"github.com/tickcast/tickcast/internal/link"
	"github.com/tickcast/tickcast/internal/mcast"
	"github.com/tickcast/tickcast/wire"
)

// ErrNoLink is returned by [Intake.RequestSnapshot] and [Intake.Request]
// when no link is connected (and, for Request, no retransmit server is
// configured).
var ErrNoLink = errors.New("intake: no link connected")

// Intake follows one channel's lines and links and hands the in-order
// stream to its [Consumer]. Create it with [New] (which opens the sockets,
// so a bad interface or group fails there), run it with [Intake.Run].
type Intake struct {
	cfg     Config
	log     *slog.Logger
	readers []*lineReader
	links   []*linkLine
	rtx     *gap.Client
	stream  *gap.Stream
	// lineDown[i] is line i's last reported state (down), as the stream
	// reported it through lineState; read without the stream's lock.
	lineDown []atomic.Bool
	q        *queue
	dmu      sync.Mutex // the dispatch lock: held by whichever goroutine dispatches

	stale, overruns atomic.Uint64
	foreign         foreignSources

	runOnce   sync.Once
	closeOnce sync.Once
	lineEvt   chan Event
	snaps     chan *item    // snapshot packets from the links, never dropped
	snapKick  chan struct{} // a snapshot packet is waiting
	drainKick chan struct{} // work was left for the background loop
	quit      chan struct{} // closed when Run's context ends
}

// New validates cfg, opens the retransmit client and joins the lines.
func New(cfg Config) (*Intake, error) {
	faults, err := cfg.normalize()
	if err != nil {
		return nil, err
	}
	cfg.Lines = append([]Line(nil), cfg.Lines...)
	cfg.Links = append([]Link(nil), cfg.Links...)
	in := &Intake{
		cfg:       cfg,
		log:       cfg.Logger.With("channel", cfg.Channel),
		q:         newQueue(cfg.Queue),
		lineEvt:   make(chan Event, 64),
		lineDown:  make([]atomic.Bool, cfg.lines()),
		snaps:     make(chan *item, 64),
		snapKick:  make(chan struct{}, 1),
		drainKick: make(chan struct{}, 1),
		quit:      make(chan struct{}),
	}
	in.foreign.log = in.log
	next := len(cfg.Lines)
	for _, l := range cfg.Links {
		ll := &linkLine{in: in, cfg: l, index: -1}
		if l.Live {
			ll.index = next
			next++
		}
		in.links = append(in.links, ll)
	}
	var req gap.Requester
	switch {
	case cfg.RetransmitAddr.IsValid():
		c, err := gap.NewClient(gap.ClientConfig{Server: cfg.RetransmitAddr, Channel: cfg.Channel, Logger: in.log})
		if err != nil {
			return nil, fmt.Errorf("intake: RetransmitAddr %s: %w", cfg.RetransmitAddr, err)
		}
		in.rtx = c
		req = in
	case len(in.links) > 0:
		req = in
	}
	in.stream, err = gap.NewStream(gap.StreamConfig{
		Config:      cfg.gapConfig(req),
		LineTimeout: cfg.LineTimeout,
		OnLineState: in.lineState,
		AfterTick:   in.tryDispatch,
	}, in.q)
	if err != nil {
		in.Close()
		return nil, fmt.Errorf("intake: Gap: %w", err)
	}
	for i, l := range cfg.Lines {
		r, err := mcast.Listen(mcast.RecvConfig{
			Group:      l.Group,
			Interface:  l.Interface,
			Source:     l.Source,
			Timestamps: cfg.KernelTimestamps,
			Logger:     in.log,
		})
		if err != nil {
			in.Close()
			return nil, fmt.Errorf("intake: Lines[%d] (%s on %s): %w", i, l.Group, l.Interface, err)
		}
		lr := &lineReader{index: i, name: l.Name, recv: r, stream: in.stream, dispatch: in.tryDispatch, foreign: &in.foreign}
		lr.init()
		in.readers = append(in.readers, lr)
		if faults[i] != nil {
			if lr.faults, err = fault.New(*faults[i]); err != nil {
				in.Close()
				return nil, fmt.Errorf("intake: Lines[%d].Faults: %w", i, err)
			}
		}
	}
	return in, nil
}

// lineState is called by the stream, locked: hand the news to the
// dispatcher without blocking (a burst beyond 64 is dropped; the stats
// keep the truth).
func (in *Intake) lineState(line int, up bool) {
	if line >= 0 && line < len(in.lineDown) {
		in.lineDown[line].Store(!up)
	}
	e := Event{Kind: EventLineDown, Line: line}
	if up {
		e.Kind = EventLineUp
	}
	select {
	case in.lineEvt <- e:
	default:
	}
}

// Close releases what New opened: the line sockets and the retransmit
// client. It is idempotent; Run closes them too when it returns.
func (in *Intake) Close() error {
	var errs []error
	in.closeOnce.Do(func() {
		for _, r := range in.readers {
			if err := r.recv.Close(); err != nil {
				errs = append(errs, fmt.Errorf("intake: close line %s: %w", r.name, err))
			}
		}
		if in.rtx != nil {
			if err := in.rtx.Close(); err != nil {
				errs = append(errs, fmt.Errorf("intake: close retransmit client: %w", err))
			}
		}
	})
	return errors.Join(errs...)
}

// Run runs the line readers, the links, the retransmit client, the
// arbiter's timers and the background dispatcher until ctx ends (it then
// returns nil) or a line fails for good. Everything it started has stopped
// when it returns, and the sockets are closed. Run may be called once.
func (in *Intake) Run(ctx context.Context) error {
	err := errors.New("intake: Run called twice")
	in.runOnce.Do(func() { err = in.run(ctx) })
	return err
}

func (in *Intake) run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg    sync.WaitGroup
		errMu sync.Mutex
		first error
	)
	fail := func(err error) {
		errMu.Lock()
		if first == nil {
			first = err
		}
		errMu.Unlock()
		cancel()
	}
	start := func(f func()) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f()
		}()
	}
	if in.cfg.BusyPoll && len(in.readers) > 0 {
		start(func() {
			if err := pollLines(ctx, in.readers); err != nil && ctx.Err() == nil {
				fail(fmt.Errorf("intake: busy poll: %w", err))
			}
		})
	} else {
		for _, r := range in.readers {
			start(func() {
				if err := r.run(); err != nil && ctx.Err() == nil {
					fail(fmt.Errorf("intake: line %s: %w", r.name, err))
				}
			})
		}
	}
	if in.rtx != nil {
		start(func() {
			if err := in.rtx.Run(ctx, rtxHandler{in}); err != nil && ctx.Err() == nil {
				fail(fmt.Errorf("intake: retransmit client: %w", err))
			}
		})
	}
	for _, l := range in.links {
		start(func() { l.run(ctx) })
	}
	start(func() { in.stream.Run(ctx) })
	start(func() { in.loop(ctx) })
	in.log.Info("intake running", "lines", len(in.readers), "links", len(in.links), "retransmit", in.cfg.RetransmitAddr)
	<-ctx.Done()
	close(in.quit) // unblocks links waiting to hand over a snapshot packet
	in.Close()     // unblocks the readers
	wg.Wait()
	return first
}

// Do runs fn under the dispatch lock, between two Consumer calls: the
// owner's way to read or change what its Consumer keeps. It works before,
// during and after Run. It must not be called from the Consumer (the lock is
// not reentrant).
func (in *Intake) Do(fn func()) {
	in.dmu.Lock()
	fn()
	in.dmu.Unlock()
	if in.pending() {
		// A reader may have found the lock taken and left its work.
		in.kick()
	}
}

// Hold keeps d, and its packet's bytes, valid after the Consumer.Packet
// call it was given to returns, until [Intake.Release]: the subscriber holds
// deliveries while a snapshot is awaited. Held deliveries count against
// Config.Queue. Call it from the Consumer or under Do.
func (in *Intake) Hold(d *Delivery) { d.it.held = true }

// Release returns a delivery kept with [Intake.Hold]; d must not be used
// afterwards. Call it from the Consumer or under Do.
func (in *Intake) Release(d *Delivery) { in.q.release(d.it) }

// RequestSnapshot asks the first connected link (preferring those whose
// live line is up, see toLink) for a snapshot of instrument (0 = every
// instrument), failing over to the next link if the request cannot be sent; it returns ErrNoLink if no link is connected. The
// answer comes to Consumer.Snapshot.
func (in *Intake) RequestSnapshot(instrument uint32) error {
	r := wire.SnapshotRequest{Channel: in.cfg.Channel, Instrument: instrument}
	return in.toLink("snapshot request", false, func(c *link.Client) error { return c.RequestSnapshot(r) })
}

// toLink sends with the first link that takes it: first the connected links
// whose live line is up (or that carry no live line), in order, then any
// other connected one. A link into a blackhole stays "connected" until QUIC's
// idle timeout; its line goes down within LineTimeout, so requests fail over
// to a path that works long before. With all, it sends with every healthy
// link that takes it (and only if none does, with another). ErrNoLink if
// none is connected. The arbiter calls it with its stream locked: it reads
// the line states the stream reported (lineDown), never the stream.
func (in *Intake) toLink(what string, all bool, send func(c *link.Client) error) error {
	var errs []error
	tried, sent := false, false
	for pass := range 2 {
		for _, l := range in.links {
			c := l.client.Load()
			if c == nil {
				continue
			}
			healthy := l.index < 0 || l.index >= len(in.lineDown) || !in.lineDown[l.index].Load()
			if healthy != (pass == 0) {
				continue
			}
			tried = true
			err := send(c)
			if err == nil {
				if !all {
					return nil
				}
				sent = true
				continue
			}
			errs = append(errs, fmt.Errorf("link %s: %w", l.cfg.Name, err))
		}
		if sent {
			return nil
		}
	}
	if !tried {
		return ErrNoLink
	}
	return fmt.Errorf("intake: %s: %w", what, errors.Join(errs...))
}

// Request sends a NACK upstream the way the arbiter does: to the UDP
// retransmit server if RetransmitAddr is set, else over every connected
// link whose live line is up (or, if none is, the first other one that
// takes it; see toLink). Two paths' answers make a failed repair as rare as
// both paths losing it (0.25 % at 5 % loss each, against 10 % on one),
// which on a long round trip is what keeps a hole from costing two; the
// second answer is dropped as a duplicate. The answer is offered to the
// arbiter; what it no longer needs goes to Config.Stale. A relay forwards
// its downstream NACKs with it. It implements [gap.Requester].
func (in *Intake) Request(r wire.RetransmitRequest) error {
	if in.rtx != nil {
		return in.rtx.Request(r)
	}
	return in.toLink("retransmit request", true, func(c *link.Client) error { return c.Request(r) })
}

// Advance tells the arbiter that the owner applied a snapshot reflecting
// the feed up to seq-1: it delivers from seq on and stops chasing anything
// older (see [gap.Arbiter.Advance]). Call it from the Consumer or under Do.
func (in *Intake) Advance(seq uint64) { in.stream.Advance(seq) }

// Next returns the next sequence the arbiter will deliver and its session
// (0, 0 before the first packet).
func (in *Intake) Next() (seq, session uint64) { return in.stream.Next() }

// LineUp reports whether line (Lines, then live links) delivered within
// LineTimeout.
func (in *Intake) LineUp(line int) bool {
	up, _ := in.stream.LineUp(line)
	return up
}

// Inject hands datagrams to line as if its socket had received them at
// rxTime (validation, fault injection, arbitration, dispatch): for tests,
// benchmarks and replays. It must not be called while Run reads the same
// line.
func (in *Intake) Inject(line int, datagrams [][]byte, rxTime int64) {
	if line < 0 || line >= len(in.readers) {
		return
	}
	r := in.readers[line]
	r.dgs = r.dgs[:0]
	for _, b := range datagrams {
		r.dgs = append(r.dgs, mcast.Datagram{Data: b, KernelTime: rxTime})
	}
	r.process(r.dgs)
}

// repair offers a retransmitted packet, telling Config.Stale if the
// arbiter had delivered all of it already.
func (in *Intake) repair(p wire.Packet, rx int64) {
	stale := false
	if in.cfg.Stale != nil {
		next, session := in.stream.Next()
		stale = p.Session == session && p.Seq != 0 && p.End() <= next
	}
	in.stream.Offer(gap.RepairLine, p, rx)
	if stale {
		in.stale.Add(1)
		in.cfg.Stale(p)
	}
	in.tryDispatch()
}

// snapshotPacket hands a snapshot packet from a link to the dispatcher.
// Unlike live deliveries it is never dropped: the link's goroutine waits
// (QUIC flow control holds the rest of the snapshot back), because a
// snapshot with a hole would have to be fetched again.
func (in *Intake) snapshotPacket(p wire.Packet, rx int64) {
	select {
	case in.snaps <- snapshotItem(p, rx):
	case <-in.quit:
		return
	}
	select {
	case in.snapKick <- struct{}{}:
	default:
	}
}

// rtxHandler routes the UDP retransmit client's answers.
type rtxHandler struct{ in *Intake }

func (h rtxHandler) Retransmission(p wire.Packet, rx int64) { h.in.repair(p, rx) }

func (h rtxHandler) Reject(r wire.RetransmitReject) {
	h.in.stream.Reject(r, time.Now().UnixNano())
	h.in.tryDispatch()
}
