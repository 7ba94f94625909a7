package feed

import "github.com/tickcast/tickcast/wire"

// Apply applies one market message (DESIGN.md, "Market messages") and
// returns the instrument it is about; a BookChecksum changes nothing and
// returns its instrument for [Instrument.Verify]. Any other message
// (control messages, unknown types) is ignored and yields nil. m comes from
// a validated packet (wire.Iter), so its body is complete.
func (s *State) Apply(m wire.Message) *Instrument {
	switch m.Type() {
	case wire.TypeLevelUpdate:
		u := m.LevelUpdate()
		return s.ApplyLevelUpdate(&u)
	case wire.TypeTrade:
		return s.ApplyTrade(m.Trade())
	case wire.TypeBookClear:
		return s.ApplyBookClear(m.BookClear())
	case wire.TypeInstrumentDef:
		return s.ApplyInstrumentDef(m.InstrumentDef())
	case wire.TypeInstrumentStatus:
		return s.ApplyInstrumentStatus(m.InstrumentStatus())
	case wire.TypeBookChecksum:
		return s.Get(m.BookChecksum().Instrument)
	}
	return nil
}

// ApplyLevelUpdate sets one level of the book (quantity 0 removes it).
func (s *State) ApplyLevelUpdate(u *wire.LevelUpdate) *Instrument {
	in := s.Get(u.Instrument)
	in.Book.Apply(u.Side, u.Price, u.Qty)
	s.tick(in, u.ExchTime)
	in.Dirty = true
	return in
}

// ApplyTrade moves the exchange clock; a trade does not change the book.
func (s *State) ApplyTrade(t wire.Trade) *Instrument {
	in := s.Get(t.Instrument)
	s.tick(in, t.ExchTime)
	return in
}

// ApplyBookClear empties the book: the source re-synced and its levels
// follow. The book is then complete (Synced), and owes a checksum after the
// event (Cleared).
func (s *State) ApplyBookClear(c wire.BookClear) *Instrument {
	in := s.Get(c.Instrument)
	in.Book.Clear()
	s.tick(in, c.ExchTime)
	in.Dirty, in.Synced = true, true
	if !in.Cleared {
		in.Cleared = true
		s.cleared++
	}
	return in
}

// ApplyInstrumentDef sets the definition.
func (s *State) ApplyInstrumentDef(d wire.InstrumentDef) *Instrument {
	in := s.Get(d.Instrument)
	in.Def, in.HasDef = d, true
	return in
}

// ApplyInstrumentStatus sets the status.
func (s *State) ApplyInstrumentStatus(st wire.InstrumentStatus) *Instrument {
	in := s.Get(st.Instrument)
	in.Status = st.Status
	return in
}

// tick advances the instrument's and the feed's exchange clocks.
func (s *State) tick(in *Instrument, exch uint64) {
	in.ExchTime = max(in.ExchTime, exch)
	s.exch = max(s.exch, exch)
}
