package feed

import (
	"github.com/tickcast/tickcast/book"
	"github.com/tickcast/tickcast/internal/instrument"
	"github.com/tickcast/tickcast/wire"
)

// Instrument is the state of one instrument, kept current by [State.Apply].
// Its address is stable for the life of the State.
type Instrument struct {
	Def    wire.InstrumentDef // the definition; Def.Instrument is always the id
	HasDef bool               // an InstrumentDef was applied
	Book   book.Book          // the price-level book
	Status wire.Status        // the trading status; StatusOK until an InstrumentStatus says otherwise
	// ExchTime is the latest exchange time of any message about the
	// instrument.
	ExchTime uint64

	// Dirty and Cleared are the publisher's checksum schedule: the book
	// changed, or was cleared, since its last checksum. Apply sets them;
	// [State.DueChecksums] resets them.
	Dirty, Cleared bool

	// Synced: the book is complete (rebuilt from a BookClear, a snapshot or
	// the session's start), so its checksums can be verified. Apply of a
	// BookClear sets it; [State.SetWhole] sets or resets every instrument's.
	Synced bool
	// Snapshot: the snapshot being applied touched the instrument (its
	// InstrumentDef or BookClear). [State.ApplySnapshot] sets it;
	// [State.ClearSnapshotMarks] resets it.
	Snapshot bool
}

// State is the state of every instrument of one channel (DESIGN.md, "feed
// state"). The zero value is an empty state. One goroutine owns it.
type State struct {
	tab     instrument.Table[Instrument]
	exch    uint64 // the latest exchange time of any message: the feed's clock
	cleared int    // instruments whose Cleared is set
	whole   bool   // instruments first seen now start Synced
}

// Get returns the instrument id, creating it on first use (no definition,
// an empty book, status OK).
func (s *State) Get(id uint32) *Instrument {
	return s.tab.Get(id, func(in *Instrument) {
		in.Def.Instrument = id
		in.Status = wire.StatusOK
		in.Synced = s.whole
	})
}

// Lookup returns the instrument id, or nil if it was never seen.
func (s *State) Lookup(id uint32) *Instrument { return s.tab.Lookup(id) }

// All returns every instrument in order of first appearance, the order
// snapshots list them. The slice is the State's own: do not modify it.
func (s *State) All() []*Instrument { return s.tab.All() }

// Len returns the number of instruments.
func (s *State) Len() int { return s.tab.Len() }

// ExchTime returns the latest exchange time of any message applied: the
// feed's own clock (0 until a message carried one).
func (s *State) ExchTime() uint64 { return s.exch }

// SetWhole marks every book complete (Synced), or none, and makes the
// instruments first seen from now on start so: the feed is followed from a
// state that defines all of them (a session's start, a snapshot), or no
// longer is (after a reset without a snapshot).
func (s *State) SetWhole(whole bool) {
	s.whole = whole
	for _, in := range s.tab.All() {
		in.Synced = whole
	}
}

// ClearBooks empties every book (a reset: the books can no longer be
// trusted), keeping definitions, statuses and the memory of the levels.
func (s *State) ClearBooks() {
	for _, in := range s.tab.All() {
		in.Book.Clear()
	}
}

// Sums returns the CRC-32C of every defined instrument's book (package
// book), by instrument id: what drills and tests compare.
func (s *State) Sums() map[uint32]uint32 {
	out := make(map[uint32]uint32, s.tab.Len())
	for _, in := range s.tab.All() {
		if in.HasDef {
			out[in.Def.Instrument] = in.Book.Checksum()
		}
	}
	return out
}
