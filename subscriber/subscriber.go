package subscriber

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/tickcast/tickcast/intake"
)

// Subscriber follows one channel. Create it with [New] (which opens the
// sockets, so a bad interface or group fails there) and run it with
// [Subscriber.Run].
type Subscriber struct {
	cfg   Config
	log   *slog.Logger
	in    *intake.Intake // lines, links, arbiter, hand-off; runs the dispatcher
	lat   *latencies
	disp  dispatcher // the intake's Consumer: touched only under the intake's dispatch lock
	stats counters

	runOnce   sync.Once
	snapTimer chan struct{} // the snapshot retry time changed
	member    loopMember    // joins and leaves the recovery groups
}

// New validates cfg and joins the lines.
func New(cfg Config) (*Subscriber, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	s := &Subscriber{
		cfg:       cfg,
		log:       cfg.Logger.With("channel", cfg.Channel),
		lat:       newLatencies(),
		snapTimer: make(chan struct{}, 1),
	}
	if err := cfg.checkRecovery(); err != nil {
		return nil, err
	}
	if cfg.InstrumentMetrics < 0 {
		return nil, fmt.Errorf("subscriber: InstrumentMetrics %d is negative", cfg.InstrumentMetrics)
	}
	s.disp = dispatcher{s: s, heldMax: cfg.queueLen() / 2}
	s.member = loopMember{s: s, kick: make(chan struct{}, 1)}
	in, err := intake.New(intake.Config{
		Channel:          cfg.Channel,
		Lines:            cfg.Lines,
		Links:            cfg.Links,
		RetransmitAddr:   cfg.RetransmitAddr,
		Window:           cfg.Window,
		LineTimeout:      cfg.LineTimeout,
		Queue:            cfg.Queue,
		KernelTimestamps: cfg.KernelTimestamps,
		BusyPoll:         cfg.BusyPoll,
		Gap:              cfg.Gap,
		Consumer:         &s.disp,
		Logger:           cfg.Logger,
	})
	if err != nil {
		return nil, fmt.Errorf("subscriber: %w", err)
	}
	s.in = in
	return s, nil
}

// Close releases the sockets New opened, for a Subscriber that is not run
// (Run releases them itself when it returns). It is idempotent.
func (s *Subscriber) Close() error { return s.in.Close() }

// Run receives until ctx ends (it then returns nil) or a line fails for
// good. Everything it started has stopped when it returns. Run may be called
// once.
func (s *Subscriber) Run(ctx context.Context) error {
	err := errors.New("subscriber: Run called twice")
	s.runOnce.Do(func() { err = s.run(ctx) })
	return err
}

func (s *Subscriber) run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		s.retrySnapshots(ctx)
	}()
	if len(s.cfg.Recovery) > 0 {
		wg.Go(func() { s.member.run(ctx) })
	}
	s.log.Info("subscribed", "lines", len(s.cfg.Lines), "links", len(s.cfg.Links), "retransmit", s.cfg.RetransmitAddr)
	err := s.in.Run(ctx)
	cancel()
	wg.Wait()
	s.in.Do(func() {
		s.disp.releaseHeld()
		s.disp.releaseRing()
	})
	if err != nil {
		return fmt.Errorf("subscriber: %w", err)
	}
	return nil
}

// BookSums returns the checksum of every instrument's book, taken under the
// lock of the goroutine that owns the books: what a drill compares with the
// publisher's.
func (s *Subscriber) BookSums(ctx context.Context) (BookSums, error) {
	if err := ctx.Err(); err != nil {
		return BookSums{}, err
	}
	var sums BookSums
	s.in.Do(func() { sums = s.disp.checksums() })
	return sums, nil
}
