package synth

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"sync"
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
	// Instruments is the number of live instruments: Config.Instruments until
	// Run applies a [Source.SetInstruments].
	Instruments int
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

	// SetInstruments hands Run the new count: target under mu, changed set
	// with it, and a token on wake to cut Run's sleep short.
	mu          sync.Mutex
	target      int
	changed     atomic.Bool
	wake        chan struct{}
	announced   bool // Run has published definitions (Run's own)
	instruments atomic.Int64

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
	s := &Source{
		cfg:   cfg,
		gen:   newGenerator(cfg),
		sched: newSchedule(cfg),
		log:   cfg.Logger,
		batch: make([]byte, 0, batchLimit+MaxEventBytes),
		carry: make([]byte, 0, MaxEventBytes),
		wake:  make(chan struct{}, 1),
	}
	s.instruments.Store(int64(cfg.Instruments))
	return s, nil
}

// SetInstruments changes the number of instruments to n while the feed runs
// (issue 14: live reconfiguration); it is safe from any goroutine, before or
// while Run runs, and returns once the change is queued: Run applies it
// between two ticks, the latest call winning. n is valid as
// Config.Instruments is, except that 0 is an error here (1..MaxInstruments,
// ids within u32 from Config.FirstInstrument); on an error nothing changes.
//
// Growing introduces instruments FirstInstrument+old .. FirstInstrument+n-1
// exactly as the first ones were: an InstrumentDef each, then each book
// (BookClear, the levels, InstrumentStatus ok); events then pick them too.
// Shrinking retires the highest ids: a BookClear and an InstrumentStatus
// halted each, and no event is about them again (an event of theirs
// generated but not yet due is dropped, its schedule slots go to the next
// events). A retired id that comes back gets a fresh definition and book. The
// feed stays one session, and the data schedule is not disturbed: these
// messages are stamped with the time they are published and take no slot of
// it. Their books are drawn from the seeded random stream, so a run is
// reproducible when the calls land at the same points of the stream (the
// generator's [Generator.SetInstruments] makes that exact). Before Run, the
// count only decides which instruments Run's definitions introduce.
func (s *Source) SetInstruments(n int) error {
	if err := checkInstruments("SetInstruments", n, s.cfg.FirstInstrument); err != nil {
		return err
	}
	s.mu.Lock()
	s.target = n
	s.changed.Store(true)
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
	return nil
}

// takeTarget returns the count last asked for by SetInstruments, if it was
// not taken yet.
func (s *Source) takeTarget() (int, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.changed.Load() {
		return 0, false
	}
	s.changed.Store(false)
	return s.target, true
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

		Instruments: int(s.instruments.Load()),
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
// Between ticks it applies [Source.SetInstruments].
func (s *Source) Run(ctx context.Context, sink source.Sink) error {
	if !s.running.CompareAndSwap(false, true) {
		return errors.New("synth: Run called while already running")
	}
	defer s.running.Store(false)
	g := s.gen
	start := time.Now()
	base := uint64(start.UnixNano())
	s.log.Info("synth: running", "instruments", s.instruments.Load(), "levels", g.levels,
		"rate", s.cfg.Rate, "burst", s.cfg.Burst, "seed", s.cfg.Seed)
	defer func() {
		st := s.Stats()
		s.log.Info("synth: stopped", "messages", st.Messages, "batches", st.Batches,
			"late", st.Late, "max_lag", st.MaxLag)
	}()

	g.sched, g.now = nil, base
	if n, ok := s.takeTarget(); ok {
		switch {
		case n < len(g.inst) && s.announced:
			// A second Run: the instruments retired meanwhile are told so.
			if err := s.setInstruments(sink, n); err != nil {
				return err
			}
		case n < len(g.inst):
			g.inst = g.inst[:n] // nothing published yet
		default:
			g.grow(n) // the definitions below introduce them
		}
		s.instruments.Store(int64(n))
	}
	s.announced = true
	if err := s.publishIntro(sink, 0, len(g.inst)); err != nil {
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
			case <-s.wake:
				timer.Stop()
			}
		} else if ctx.Err() != nil {
			return nil
		}
		if n, ok := s.takeTarget(); ok {
			if len(carry) > 0 && binary.LittleEndian.Uint32(carry[4:]) >= g.first+uint32(n) {
				// Its instrument is about to go: drop the event and give
				// its schedule slots to the next ones.
				carry = carry[:0]
				g.idx = carryFirst
			}
			sched := g.sched
			g.sched, g.now = nil, uint64(time.Now().UnixNano())
			err := s.setInstruments(sink, n)
			g.sched = sched
			if err != nil {
				return err
			}
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

// setInstruments applies a count taken from SetInstruments: it publishes
// the new instruments' definitions and books, or the retired ones'
// BookClear and InstrumentStatus halted, in batches of whole events.
func (s *Source) setInstruments(sink source.Sink, n int) error {
	g := s.gen
	old := len(g.inst)
	if n == old {
		return nil
	}
	s.log.Info("synth: instruments changed", "from", old, "to", n)
	s.instruments.Store(int64(n))
	if n > old {
		g.grow(n)
		return s.publishIntro(sink, old, n)
	}
	b := s.batch[:0]
	for i := n; i < old; i++ {
		if len(b)+wire.BookClearLen+wire.InstrumentStatusLen > batchLimit {
			if err := s.publish(sink, b); err != nil {
				return err
			}
			b = b[:0]
		}
		b = g.appendRetire(b, g.inst[i].id)
	}
	g.inst = g.inst[:n]
	return s.publish(sink, b)
}

// publishIntro publishes the InstrumentDef of instruments [from, to), then
// each one's book, in batches of whole events.
func (s *Source) publishIntro(sink source.Sink, from, to int) error {
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
	for i := from; i < to; i++ {
		if err := room(wire.InstrumentDefLen); err != nil {
			return err
		}
		b = g.inst[i].def.Append(b)
		g.msgs++
	}
	for i := from; i < to; i++ {
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
