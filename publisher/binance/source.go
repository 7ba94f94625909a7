package binance

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/tickcast/tickcast/publisher/source"
	"github.com/tickcast/tickcast/wire"
)

// Source is the Binance spot source: it implements [source.Source]. Create it
// with [New]; Run it once.
type Source struct {
	cfg      Config
	slots    []*slot
	attempts *attemptLimiter
	snaps    *fetcher
	running  atomic.Bool

	pubMu sync.Mutex // serializes sink.Publish across the slots' goroutines
	sink  source.Sink
}

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
	}
	per := cfg.MaxStreamsPerConn / 2
	for i := 0; i < len(cfg.Symbols); i += per {
		s.slots = append(s.slots, newSlot(s, len(s.slots), cfg.Symbols[i:min(i+per, len(cfg.Symbols))]))
	}
	return s, nil
}

// Run publishes, for every symbol, an InstrumentDef and InstrumentStatus
// resyncing, then keeps the books and trades flowing to sink until ctx ends
// (it then returns nil) or sink fails (Run returns its error). Publish is
// called from one goroutine at a time. Run may be called once.
func (s *Source) Run(ctx context.Context, sink source.Sink) error {
	if !s.running.CompareAndSwap(false, true) {
		return errors.New("binance: Source.Run called twice")
	}
	s.sink = sink
	var b []byte
	for _, sl := range s.slots {
		for _, st := range sl.syms {
			b = wire.NewInstrumentDef(st.info.inst, st.name, s.cfg.Venue, st.info.priceExp, st.info.qtyExp).Append(b)
			b = wire.InstrumentStatus{Instrument: st.info.inst, Status: wire.StatusResyncing}.Append(b)
			st.c.status.Store(uint32(wire.StatusResyncing))
		}
	}
	if err := s.publish(b); err != nil {
		return err
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errc := make(chan error, len(s.slots))
	for _, sl := range s.slots {
		go func() { errc <- sl.run(ctx) }()
	}
	var first error
	for range s.slots {
		if err := <-errc; err != nil && first == nil {
			first = err
			cancel()
		}
	}
	return first
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

// Stats returns a copy of the counters, per connection slot and per symbol.
// It is safe to call at any time, from any goroutine.
func (s *Source) Stats() Stats {
	var st Stats
	for _, sl := range s.slots {
		cs := ConnStats{Index: sl.idx}
		sl.c.snapshot(&cs)
		cs.Malformed = cs.Unrouted
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
		st.Conns = append(st.Conns, cs)
	}
	return st
}

// StreamURL returns the combined-stream URL of connection slot i (see
// [Stats]), or "" when there is no such slot.
func (s *Source) StreamURL(i int) string {
	if i < 0 || i >= len(s.slots) {
		return ""
	}
	return s.slots[i].url
}

// streamNames returns the depth and trade stream names of a symbol.
func (s *Source) streamNames(name string) (depth, trade string) {
	lower := strings.ToLower(name)
	return s.cfg.depthStream(lower), lower + "@trade"
}
