package binance

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/tickcast/tickcast/publisher/source"
	"github.com/tickcast/tickcast/wire"
)

// Source is the Binance spot source: it implements [source.Source]. Create it
// with [New]; Run it once; change its symbols at any time with
// [Source.SetSymbols].
type Source struct {
	cfg      Config
	attempts *attemptLimiter
	snaps    *fetcher
	running  atomic.Bool

	pubMu sync.Mutex // serializes sink.Publish across the slots' goroutines
	sink  source.Sink

	setMu sync.Mutex // serializes SetSymbols

	mu      sync.Mutex // guards what follows
	slots   []*slot
	table   map[string]tableEntry // the symbols served, by upper-case name
	maxInst uint32                // the highest instrument id used so far
	state   runState
	runCtx  context.Context // set once the slots run
	stopRun context.CancelFunc
	runErr  error // the first slot failure
	slotWG  sync.WaitGroup
	done    chan struct{} // closed when Run returns
}

// tableEntry is one symbol served and its connection slot.
type tableEntry struct {
	sym  Symbol
	slot int
}

// runState is where a Source is in its life.
type runState uint8

const (
	stateNew     runState = iota // Run not called yet
	stateRunning                 // Run runs
	stateDone                    // Run returned
)

var _ source.Source = (*Source)(nil)

// New validates cfg (errors name the field and the bad value), applies its
// defaults and splits the symbols across connections: MaxStreamsPerConn/2
// symbols per connection in config order, each with its depth and trade
// streams on the same connection.
func New(cfg Config) (*Source, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	s := &Source{
		cfg:      cfg,
		attempts: newAttemptLimiter(maxConnAttempts, attemptWindow),
		snaps:    newFetcher(&cfg),
		table:    make(map[string]tableEntry, len(cfg.Symbols)),
		done:     make(chan struct{}),
	}
	per := s.perSlot()
	for i := 0; i < len(cfg.Symbols); i += per {
		s.slots = append(s.slots, newSlot(s, len(s.slots), cfg.Symbols[i:min(i+per, len(cfg.Symbols))]))
	}
	for i, sym := range cfg.Symbols {
		s.table[sym.Name] = tableEntry{sym: sym, slot: i / per}
		s.maxInst = max(s.maxInst, sym.Instrument)
	}
	return s, nil
}

// perSlot returns how many symbols one connection carries at most.
func (s *Source) perSlot() int { return s.cfg.MaxStreamsPerConn / 2 }

// Run publishes, for every symbol, an InstrumentDef and InstrumentStatus
// resyncing, then keeps the books and trades flowing to sink until ctx ends
// (it then returns nil) or sink fails (Run returns its error). Publish is
// called from one goroutine at a time. Run may be called once.
func (s *Source) Run(ctx context.Context, sink source.Sink) error {
	if !s.running.CompareAndSwap(false, true) {
		return errors.New("binance: Source.Run called twice")
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	s.mu.Lock()
	s.sink = sink
	s.state = stateRunning
	var b []byte
	for _, sl := range s.slots {
		for _, st := range sl.syms {
			b = s.appendIntro(b, st)
		}
	}
	s.mu.Unlock()
	err := s.publish(b)

	s.mu.Lock()
	if err == nil {
		s.runCtx, s.stopRun = ctx, cancel
		for _, sl := range s.slots {
			s.startSlotLocked(sl)
		}
	}
	s.mu.Unlock()
	if err == nil {
		<-ctx.Done()
	}
	s.mu.Lock()
	s.state = stateDone // no slot starts from here on
	s.mu.Unlock()
	s.slotWG.Wait()
	close(s.done)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.runErr
}

// startSlotLocked runs sl under Run's context unless it runs already; a slot
// that fails (its sink failed) stops every other. s.mu is held.
func (s *Source) startSlotLocked(sl *slot) {
	if sl.started {
		return
	}
	sl.started = true
	s.slotWG.Add(1)
	go func() {
		defer s.slotWG.Done()
		if err := sl.run(s.runCtx); err != nil {
			s.mu.Lock()
			if s.runErr == nil {
				s.runErr = err
			}
			s.mu.Unlock()
			s.stopRun()
		}
	}()
}

// appendIntro appends what introduces st on the feed: its InstrumentDef and
// InstrumentStatus resyncing.
func (s *Source) appendIntro(b []byte, st *symState) []byte {
	b = wire.NewInstrumentDef(st.info.inst, st.name, s.cfg.Venue, st.info.priceExp, st.info.qtyExp).Append(b)
	b = wire.InstrumentStatus{Instrument: st.info.inst, Status: wire.StatusResyncing}.Append(b)
	st.c.status.Store(uint32(wire.StatusResyncing))
	return b
}

// publish hands one batch to the sink.
func (s *Source) publish(b []byte) error {
	if len(b) == 0 {
		return nil
	}
	s.pubMu.Lock()
	defer s.pubMu.Unlock()
	return s.sink.Publish(b)
}

// Stats returns a copy of the counters, per connection slot and per symbol
// served now (a symbol removed by SetSymbols is no longer listed). It is
// safe to call at any time, from any goroutine.
func (s *Source) Stats() Stats {
	var st Stats
	s.mu.Lock()
	slots := slices.Clone(s.slots)
	s.mu.Unlock()
	for _, sl := range slots {
		cs := ConnStats{Index: sl.idx}
		sl.c.snapshot(&cs)
		cs.Malformed = cs.Unrouted
		sl.mu.RLock()
		for _, sym := range sl.syms {
			ss := SymbolStats{Symbol: sym.name, Instrument: sym.info.inst, Conn: sl.idx}
			sym.c.snapshot(&ss)
			cs.Symbols = append(cs.Symbols, sym.name)
			cs.Events += ss.Events
			cs.Trades += ss.Trades
			cs.Resyncs += ss.Resyncs
			cs.Gaps += ss.Gaps
			cs.Unbridged += ss.Unbridged
			cs.Malformed += ss.Malformed
			cs.Stale += ss.Stale
			cs.Snapshots += ss.Snapshots
			cs.SnapErrors += ss.SnapErrors
			st.Symbols = append(st.Symbols, ss)
		}
		sl.mu.RUnlock()
		st.Conns = append(st.Conns, cs)
	}
	return st
}

// StreamURL returns the combined-stream URL of connection slot i (see
// [Stats]), or "" when there is no such slot.
func (s *Source) StreamURL(i int) string {
	s.mu.Lock()
	if i < 0 || i >= len(s.slots) {
		s.mu.Unlock()
		return ""
	}
	sl := s.slots[i]
	s.mu.Unlock()
	sl.mu.RLock()
	defer sl.mu.RUnlock()
	return sl.url
}

// streamNames returns the depth and trade stream names of a symbol.
func (s *Source) streamNames(name string) (depth, trade string) {
	lower := strings.ToLower(name)
	return s.cfg.depthStream(lower), lower + "@trade"
}
