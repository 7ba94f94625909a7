package publisher

import (
	"github.com/tickcast/tickcast/book"
	"github.com/tickcast/tickcast/internal/instrument"
	"github.com/tickcast/tickcast/wire"
)

// inst is the publisher's view of one instrument, kept current by the
// sequencer from the messages it sequences.
type inst struct {
	def    wire.InstrumentDef
	hasDef bool
	book   book.Book
	status wire.Status
	exch   uint64 // latest exchange time seen
	resync bool   // cleared since the last checksum: send one after the event
	dirty  bool   // changed since the last checksum
}

// books holds every instrument of the channel. Owned by the sequencer.
type books struct {
	instrument.Table[inst]
	resyncs int    // instruments cleared since the last resync checksums
	exch    uint64 // the latest exchange time of any message: the feed's clock
}

func (b *books) get(id uint32) *inst {
	return b.Get(id, func(in *inst) {
		in.def.Instrument = id
		in.status = wire.StatusOK
	})
}

// apply updates the books with one message about to be sequenced.
func (b *books) apply(m wire.Message) {
	switch m.Type() {
	case wire.TypeLevelUpdate:
		u := m.LevelUpdate()
		in := b.get(u.Instrument)
		in.book.Apply(u.Side, u.Price, u.Qty)
		in.exch = max(in.exch, u.ExchTime)
		b.exch = max(b.exch, u.ExchTime)
		in.dirty = true
	case wire.TypeTrade:
		t := m.Trade()
		in := b.get(t.Instrument)
		in.exch = max(in.exch, t.ExchTime)
		b.exch = max(b.exch, t.ExchTime)
	case wire.TypeBookClear:
		c := m.BookClear()
		in := b.get(c.Instrument)
		in.book.Clear()
		in.exch = max(in.exch, c.ExchTime)
		b.exch = max(b.exch, c.ExchTime)
		in.dirty = true
		if !in.resync {
			in.resync = true
			b.resyncs++
		}
	case wire.TypeInstrumentDef:
		d := m.InstrumentDef()
		in := b.get(d.Instrument)
		in.def, in.hasDef = d, true
	case wire.TypeInstrumentStatus:
		s := m.InstrumentStatus()
		b.get(s.Instrument).status = s.Status
	}
}

// checksum returns the BookChecksum message for in.
func (in *inst) checksum() wire.BookChecksum {
	return wire.BookChecksum{
		Instrument: in.def.Instrument,
		CRC:        in.book.Checksum(),
		Bids:       uint16(min(in.book.Depth(wire.Bid), 0xffff)),
		Asks:       uint16(min(in.book.Depth(wire.Ask), 0xffff)),
		ExchTime:   in.exch,
	}
}
