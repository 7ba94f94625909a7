package synth

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/tickcast/tickcast/publisher/source"
	"github.com/tickcast/tickcast/wire"
)

const (
	// batchLimit bounds one Publish call; batches hold whole events.
	batchLimit = 64 << 10
	// minWait is the shortest sleep between ticks: at high rates a tick gathers
	// the messages due in at least this long (this VM's timers wake after about
	// 1 ms anyway).
	minWait = 100 * time.Microsecond
	// lateAfter makes a tick late: its oldest due message waited longer. It is
	// well above timer granularity (about 1 ms here, a few ms under load), so
	// late ticks mean the sink or the machine cannot keep up.
	lateAfter = 5 * time.Millisecond
)

// Stats counts what a [Source] published, definitions and books included.
type Stats struct {
	Messages uint64        // messages published
	Events   uint64        // events published (LevelUpdates with the end-of-event flag): data events and books
	Trades   uint64        // Trade messages published
	Batches  uint64        // Publish calls
	Late     uint64        // ticks that found a message due for more than 5 ms
	MaxLag   time.Duration // the longest a due message waited for its tick
}

// Source is the paced synthetic source ([source.Source]). It owns a
// [Generator]; its Run must not be called concurrently.
type Source struct {
	cfg     Config
	gen     *Generator
	sched   schedule
	log     *slog.Logger
	running atomic.Bool
	batch   []byte
	carry   []byte

	messages, events, trades, batches, late atomic.Uint64
	maxLag                                  atomic.Int64
}

var _ source.Source = (*Source)(nil)

// New validates cfg and returns a source ready to Run.
func New(cfg Config) (*Source, error) {
	cfg, err := cfg.normalize()
	if err != nil {
		return nil, err
	}
	return &Source{
		cfg:   cfg,
		gen:   newGenerator(cfg),
		sched: newSchedule(cfg),
		log:   cfg.Logger,
		batch: make([]byte, 0, batchLimit+MaxEventBytes),
		carry: make([]byte, 0, MaxEventBytes),
	}, nil
}

// Stats returns the counters so far; it is safe to call while Run runs.
func (s *Source) Stats() Stats {
	return Stats{
		Messages: s.messages.Load(),
		Events:   s.events.Load(),
		Trades:   s.trades.Load(),
		Batches:  s.batches.Load(),
		Late:     s.late.Load(),
		MaxLag:   time.Duration(s.maxLag.Load()),
	}
}

// Run publishes the definitions and books of every instrument, then data on
// schedule until ctx ends (it then returns nil) or sink fails. Data message i
// of the run (counting from 0 after the definitions) is scheduled at
// start + i/Rate, with bursts if configured, and carries that time as its
// exchange time, in ns since the Unix epoch; definitions carry the start time.
// On each tick Run publishes every event whose messages are all due, in
// batches of at most 64 KiB of whole events. When the sink falls behind Run
// keeps the schedule (it catches up without sleeping) and counts late ticks.
func (s *Source) Run(ctx context.Context, sink source.Sink) error {
	if !s.running.CompareAndSwap(false, true) {
		return errors.New("synth: Run called while already running")
	}
	defer s.running.Store(false)
	g := s.gen
	start := time.Now()
	base := uint64(start.UnixNano())
	s.log.Info("synth: running", "instruments", len(g.inst), "levels", g.levels,
		"rate", s.cfg.Rate, "burst", s.cfg.Burst, "seed", s.cfg.Seed)
	defer func() {
		st := s.Stats()
		s.log.Info("synth: stopped", "messages", st.Messages, "batches", st.Batches,
			"late", st.Late, "max_lag", st.MaxLag)
	}()

	g.sched, g.now = nil, base
	if err := s.publishDefinitions(sink); err != nil {
		return err
	}
	g.sched, g.base, g.idx = &s.sched, base, 0
	defer func() { g.sched = nil }()

	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	var (
		carry                 = s.carry[:0] // an event not yet wholly due
		carryFirst, carryLast int64         // its first and last message index
		warned                bool
		wait                  time.Duration
	)
	for {
		if wait > 0 {
			timer.Reset(wait)
			select {
			case <-ctx.Done():
				return nil
			case <-timer.C:
			}
		} else if ctx.Err() != nil {
			return nil
		}

		now := time.Since(start).Nanoseconds()
		due := s.sched.due(now)
		first := g.idx
		if len(carry) > 0 {
			first = carryFirst
		}
		if first < due {
			lag := now - s.sched.at(first)
			if lag > s.maxLag.Load() {
				s.maxLag.Store(lag) // Run is the only writer
			}
			if lag > int64(lateAfter) {
				s.late.Add(1)
				if !warned {
					warned = true
					s.log.Warn("synth: behind schedule: the sink or this machine is slower than the rate",
						"rate", s.cfg.Rate, "behind", time.Duration(lag))
				}
			}
		}

		b := s.batch[:0]
		if len(carry) > 0 && carryLast < due {
			b = append(b, carry...)
			carry = carry[:0]
		}
		for len(carry) == 0 && g.idx < due {
			if len(b)+MaxEventBytes > batchLimit {
				if err := s.publish(sink, b); err != nil {
					return err
				}
				b = b[:0]
				if ctx.Err() != nil {
					return nil
				}
			}
			off, idx := len(b), g.idx
			b = g.event(b)
			if g.idx > due { // its last message is not due yet: keep it for later
				carry = append(carry, b[off:]...)
				carryFirst, carryLast = idx, g.idx-1
				b = b[:off]
			}
		}
		if len(b) > 0 {
			if err := s.publish(sink, b); err != nil {
				return err
			}
		}

		wake := g.idx
		if len(carry) > 0 {
			wake = carryLast
		}
		wait = time.Duration(s.sched.at(wake) - time.Since(start).Nanoseconds())
		if wait > 0 {
			wait = max(wait, minWait)
		}
	}
}

// publishDefinitions publishes every InstrumentDef, then each instrument's
// book, in batches of whole events.
func (s *Source) publishDefinitions(sink source.Sink) error {
	g := s.gen
	b := s.batch[:0]
	// room publishes the batch so far unless need more bytes fit after it.
	room := func(need int) error {
		if len(b) == 0 || len(b)+need <= batchLimit {
			return nil
		}
		err := s.publish(sink, b)
		b = b[:0]
		return err
	}
	for i := range g.inst {
		if err := room(wire.InstrumentDefLen); err != nil {
			return err
		}
		b = g.inst[i].def.Append(b)
		g.msgs++
	}
	for i := range g.inst {
		in := &g.inst[i]
		if err := room(bookLen(in)); err != nil {
			return err
		}
		b = g.appendBook(b, in)
	}
	return s.publish(sink, b)
}

// bookLen returns the size of in's book as appendBook encodes it.
func bookLen(in *instrument) int {
	return wire.BookClearLen + (in.bids.n+in.asks.n)*wire.LevelUpdateLen + wire.InstrumentStatusLen
}

// publish hands b to sink and counts it.
func (s *Source) publish(sink source.Sink, b []byte) error {
	var msgs, events, trades uint64
	for off := 0; off+wire.MsgHeaderLen <= len(b); off += int(binary.LittleEndian.Uint16(b[off:])) {
		msgs++
		switch wire.Type(b[off+2]) {
		case wire.TypeTrade:
			trades++
		case wire.TypeLevelUpdate:
			if b[off+3]&wire.LevelFlagEndOfEvent != 0 {
				events++
			}
		}
	}
	if err := sink.Publish(b); err != nil {
		return fmt.Errorf("synth: publish: %w", err)
	}
	s.messages.Add(msgs)
	s.events.Add(events)
	s.trades.Add(trades)
	s.batches.Add(1)
	return nil
}
