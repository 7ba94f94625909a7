package binance

import (
	"sync/atomic"

	"github.com/tickcast/tickcast/wire"
)

// Stats is a copy of a [Source]'s counters (DESIGN.md, "Promises users ask
// for": counters that show where loss happens).
type Stats struct {
	Conns   []ConnStats   // one per combined-stream connection slot
	Symbols []SymbolStats // by connection slot, in config order (symbols added live last in their slot)
}

// ConnStats counts one connection slot: the combined stream of a group of
// symbols, across all the WebSocket connections that carried it.
type ConnStats struct {
	Index      int      // slot index, 0-based
	Symbols    []string // the symbols it carries
	Connected  bool     // a connection is open now
	Messages   uint64   // frames received
	Dials      uint64   // connection attempts
	DialErrors uint64   // failed connection attempts
	Reconnects uint64   // connections opened after losing one
	Handovers  uint64   // proactive replacements before MaxConnAge's cut
	Pings      uint64   // pings received
	Pongs      uint64   // pongs sent (at most about 4 per second)
	Unrouted   uint64   // malformed frames that name no known stream
	// Requests counts the SUBSCRIBE/UNSUBSCRIBE requests sent (symbols
	// added or removed live); RequestErrors those Binance refused.
	Requests, RequestErrors uint64
	// Unsubscribed counts frames of streams unsubscribed live that were
	// already on their way: dropped, not malformed.
	Unsubscribed uint64

	// Sums of the symbols' counters (see SymbolStats); Malformed also
	// counts the Unrouted frames.
	Events, Trades, Resyncs, Gaps, Unbridged, Malformed, Stale, Snapshots, SnapErrors uint64
}

// SymbolStats counts one symbol.
type SymbolStats struct {
	Symbol       string
	Instrument   uint32
	Conn         int         // its connection slot
	Status       wire.Status // the status last published
	LastUpdateID uint64      // the final update id u of the last depth event applied (or of the snapshot)
	Events       uint64      // depth events received
	Trades       uint64      // trades published
	Resyncs      uint64      // times its book broke after it had been ok (gap, malformed, lost connection…)
	Gaps         uint64      // depth events with U != previous u + 1
	Unbridged    uint64      // snapshots that did not bridge with the stream
	Malformed    uint64      // malformed depth events and trades
	Stale        uint64      // transitions to stale
	Snapshots    uint64      // snapshot requests
	SnapErrors   uint64      // failed snapshot requests (HTTP errors, bad JSON)
}

// connCounters are the live counters behind ConnStats.
type connCounters struct {
	connected                              atomic.Bool
	messages, malformed, dials, dialErrors atomic.Uint64
	reconnects, handovers, pings, pongs    atomic.Uint64
	requests, requestErrors, unsubscribed  atomic.Uint64
}

// symCounters are the live counters behind SymbolStats.
type symCounters struct {
	status                                   atomic.Uint32
	lastUpdateID                             atomic.Uint64
	events, trades, resyncs, gaps, unbridged atomic.Uint64
	malformed, stale, snapshots, snapErrors  atomic.Uint64
}

func (c *symCounters) snapshot(s *SymbolStats) {
	s.Status = wire.Status(c.status.Load())
	s.LastUpdateID = c.lastUpdateID.Load()
	s.Events = c.events.Load()
	s.Trades = c.trades.Load()
	s.Resyncs = c.resyncs.Load()
	s.Gaps = c.gaps.Load()
	s.Unbridged = c.unbridged.Load()
	s.Malformed = c.malformed.Load()
	s.Stale = c.stale.Load()
	s.Snapshots = c.snapshots.Load()
	s.SnapErrors = c.snapErrors.Load()
}

func (c *connCounters) snapshot(s *ConnStats) {
	s.Connected = c.connected.Load()
	s.Messages = c.messages.Load()
	s.Unrouted = c.malformed.Load()
	s.Dials = c.dials.Load()
	s.DialErrors = c.dialErrors.Load()
	s.Reconnects = c.reconnects.Load()
	s.Handovers = c.handovers.Load()
	s.Pings = c.pings.Load()
	s.Pongs = c.pongs.Load()
	s.Requests = c.requests.Load()
	s.RequestErrors = c.requestErrors.Load()
	s.Unsubscribed = c.unsubscribed.Load()
}
