package publisher

import (
	"github.com/tickcast/tickcast/book"
	"github.com/tickcast/tickcast/wire"
)

// instrument is the publisher's view of one instrument, kept current by the
// sequencer from the messages it sequences.
type instrument struct {
	def    wire.InstrumentDef
	hasDef bool
	book   book.Book
	status wire.Status
	exch   uint64 // latest exchange time seen
	resync bool   // cleared since the last checksum: send one after the event
}

// books holds every instrument of the channel. Owned by the sequencer.
type books struct {
	dense  []*instrument // by id, for ids below denseMax
	sparse map[uint32]*instrument
	all    []*instrument // in order of first appearance
	resyncs int          // instruments cleared since the last resync checksums
}

const denseMax = 1 << 16

func (b *books) get(id uint32) *instrument {
	if id < denseMax {
		if int(id) < len(b.dense) && b.dense[id] != nil {
			return b.dense[id]
		}
	} else if in := b.sparse[id]; in != nil {
		return in
	}
	in := &instrument{status: wire.StatusOK}
	in.def.Instrument = id
	if id < denseMax {
		if int(id) >= len(b.dense) {
			b.dense = append(b.dense, make([]*instrument, int(id)+1-len(b.dense))...)
		}
		b.dense[id] = in
	} else {
		if b.sparse == nil {
			b.sparse = make(map[uint32]*instrument)
		}
		b.sparse[id] = in
	}
	b.all = append(b.all, in)
	return in
}

// apply updates the books with one message about to be sequenced.
func (b *books) apply(m wire.Message) {
	switch m.Type() {
	case wire.TypeLevelUpdate:
		u := m.LevelUpdate()
		in := b.get(u.Instrument)
		in.book.Apply(u.Side, u.Price, u.Qty)
		in.exch = max(in.exch, u.ExchTime)
	case wire.TypeTrade:
		t := m.Trade()
		in := b.get(t.Instrument)
		in.exch = max(in.exch, t.ExchTime)
	case wire.TypeBookClear:
		c := m.BookClear()
		in := b.get(c.Instrument)
		in.book.Clear()
		in.exch = max(in.exch, c.ExchTime)
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
func (in *instrument) checksum() wire.BookChecksum {
	return wire.BookChecksum{
		Instrument: in.def.Instrument,
		CRC:        in.book.Checksum(),
		Bids:       uint16(min(in.book.Depth(wire.Bid), 0xffff)),
		Asks:       uint16(min(in.book.Depth(wire.Ask), 0xffff)),
		ExchTime:   in.exch,
	}
}
