package subscriber

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/tickcast/tickcast/gap"
	"github.com/tickcast/tickcast/internal/fault"
	"github.com/tickcast/tickcast/internal/mcast"
	"github.com/tickcast/tickcast/wire"
)

// Subscriber follows one channel. Create it with [New] (which opens the
// sockets, so a bad interface or group fails there) and run it with
// [Subscriber.Run].
type Subscriber struct {
	cfg     Config
	log     *slog.Logger
	readers []*lineReader
	link    *linkLine // nil without a link
	rtx     *gap.Client
	stream  *gap.Stream
	q       *queue
	lat     *latencies
	disp    dispatcher
	dmu     sync.Mutex // held by whichever goroutine runs the dispatcher
	stats   counters

	runOnce   sync.Once
	lineEvt   chan lineEvent
	sumReq    chan chan BookSums
	onDisp    chan func(*dispatcher) // runs a function on the dispatcher goroutine (tests)
	snaps     chan *item             // snapshot packets from the link, never dropped
	snapKick  chan struct{}          // a snapshot packet is waiting
	drainKick chan struct{}          // a reader left work for the background loop
	quit      <-chan struct{}        // Run's context is done
	stopped   chan struct{}          // closed when Run has returned
}

type lineEvent struct {
	line int
	up   bool
}

// New validates cfg and joins the lines.
func New(cfg Config) (*Subscriber, error) {
	if err := cfg.normalize(); err != nil {
		return nil, err
	}
	s := &Subscriber{
		cfg:       cfg,
		log:       cfg.Logger.With("channel", cfg.Channel),
		q:         newQueue(cfg.Queue),
		lat:       newLatencies(),
		lineEvt:   make(chan lineEvent, 64),
		sumReq:    make(chan chan BookSums),
		onDisp:    make(chan func(*dispatcher)),
		snaps:     make(chan *item, 64),
		snapKick:  make(chan struct{}, 1),
		drainKick: make(chan struct{}, 1),
		stopped:   make(chan struct{}),
	}
	lines := len(cfg.Lines)
	if cfg.Link != nil {
		s.link = &linkLine{s: s, cfg: *cfg.Link, index: lines}
		if cfg.Link.Live {
			lines++
		}
	}
	gcfg := cfg.Gap
	gcfg.Channel, gcfg.Lines, gcfg.Window = cfg.Channel, lines, cfg.Window
	switch {
	case cfg.RetransmitAddr.IsValid():
		c, err := gap.NewClient(gap.ClientConfig{Server: cfg.RetransmitAddr, Logger: s.log})
		if err != nil {
			return nil, fmt.Errorf("subscriber: retransmit client for %s: %w", cfg.RetransmitAddr, err)
		}
		s.rtx = c
		gcfg.Requester = c
	case s.link != nil:
		gcfg.Requester = s.link
	}
	var err error
	s.stream, err = gap.NewStream(gap.StreamConfig{
		Config:      gcfg,
		LineTimeout: cfg.LineTimeout,
		OnLineState: s.lineState,
		AfterTick:   s.tryDispatch,
	}, s.q)
	if err != nil {
		s.close()
		return nil, fmt.Errorf("subscriber: %w", err)
	}
	for i, l := range cfg.Lines {
		r, err := mcast.Listen(mcast.RecvConfig{
			Group:      l.Group,
			Interface:  l.Interface,
			Timestamps: cfg.KernelTimestamps,
			Logger:     s.log,
		})
		if err != nil {
			s.close()
			return nil, fmt.Errorf("subscriber: line %d (%s on %s): %w", i, l.Group, l.Interface, err)
		}
		lr := &lineReader{index: i, recv: r, stream: s.stream, dispatch: s.tryDispatch}
		lr.init()
		s.readers = append(s.readers, lr)
		if l.Faults != nil {
			if lr.faults, err = fault.New(*l.Faults); err != nil {
				s.close()
				return nil, fmt.Errorf("subscriber: line %d faults: %w", i, err)
			}
		}
	}
	s.disp = dispatcher{s: s, heldMax: cfg.Queue / 2}
	return s, nil
}

// lineState is called by the stream, locked: hand the news to the dispatcher
// without blocking.
func (s *Subscriber) lineState(line int, up bool) {
	if !up {
		s.stats.lineDowns.Add(1)
	}
	select {
	case s.lineEvt <- lineEvent{line, up}:
	default:
	}
}

func (s *Subscriber) close() {
	for _, r := range s.readers {
		r.recv.Close()
	}
	if s.rtx != nil {
		s.rtx.Close()
	}
}

// Run receives until ctx ends (it then returns nil) or a line fails for
// good. Everything it started has stopped when it returns. Run may be called
// once.
func (s *Subscriber) Run(ctx context.Context) error {
	err := errors.New("subscriber: Run called twice")
	s.runOnce.Do(func() {
		err = s.run(ctx)
		close(s.stopped)
	})
	return err
}

// BookSums returns the checksum of every instrument's book, computed by the
// goroutine that owns the books (or directly once Run has returned): what a
// drill compares with the publisher's.
func (s *Subscriber) BookSums(ctx context.Context) (BookSums, error) {
	r := make(chan BookSums, 1)
	select {
	case s.sumReq <- r:
		select {
		case sums := <-r:
			return sums, nil
		case <-ctx.Done():
			return BookSums{}, ctx.Err()
		}
	case <-s.stopped:
		s.dmu.Lock()
		defer s.dmu.Unlock()
		return s.disp.checksums(), nil
	case <-ctx.Done():
		return BookSums{}, ctx.Err()
	}
}

func (s *Subscriber) run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	s.quit = ctx.Done()
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
	if s.cfg.BusyPoll && len(s.readers) > 0 {
		start(func() {
			if err := pollLines(ctx, s.readers); err != nil && ctx.Err() == nil {
				fail(fmt.Errorf("subscriber: busy poll: %w", err))
			}
		})
	} else {
		for _, r := range s.readers {
			start(func() {
				if err := r.run(); err != nil && ctx.Err() == nil {
					fail(fmt.Errorf("subscriber: line %d: %w", r.index, err))
				}
			})
		}
	}
	if s.rtx != nil {
		start(func() {
			if err := s.rtx.Run(ctx, rtxHandler{s}); err != nil && ctx.Err() == nil {
				fail(fmt.Errorf("subscriber: retransmit client: %w", err))
			}
		})
	}
	if s.link != nil {
		start(func() { s.link.run(ctx) })
	}
	start(func() { s.stream.Run(ctx) })
	start(func() { s.disp.run(ctx) })
	s.log.Info("subscribed", "lines", len(s.readers), "link", s.link != nil, "retransmit", s.cfg.RetransmitAddr)
	<-ctx.Done()
	s.close() // unblocks the readers
	wg.Wait()
	s.dmu.Lock()
	s.disp.releaseHeld()
	s.dmu.Unlock()
	return first
}

// snapshotPacket hands a snapshot packet from the link to the dispatcher.
// Unlike live deliveries it is never dropped: the link's goroutine waits
// (QUIC flow control holds the rest of the snapshot back), because a
// snapshot with a hole would have to be fetched again. Snapshots are rare,
// so each packet is a fresh copy.
func (s *Subscriber) snapshotPacket(p wire.Packet, rx int64) {
	it := &item{kind: itemSnapshot, pkt: p.CopyTo(nil), rxTime: rx}
	select {
	case s.snaps <- it:
	case <-s.quit:
		return
	}
	select {
	case s.snapKick <- struct{}{}:
	default:
	}
}

// rtxHandler routes the UDP retransmit client's answers.
type rtxHandler struct{ s *Subscriber }

func (h rtxHandler) Retransmission(p wire.Packet, rx int64) {
	h.s.stream.Offer(gap.RepairLine, p, rx)
	h.s.tryDispatch()
}

func (h rtxHandler) Reject(r wire.RetransmitReject) {
	h.s.stream.Reject(r, time.Now().UnixNano())
	h.s.tryDispatch()
}
