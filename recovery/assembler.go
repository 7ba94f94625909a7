package recovery

import (
	"github.com/tickcast/tickcast/book"
	"github.com/tickcast/tickcast/feed"
	"github.com/tickcast/tickcast/wire"
)

// Book is one instrument as the recovery loop sent it, whole and verified by
// its BookChecksum.
type Book struct {
	Session uint64 // the session whose feed the book reflects
	LastSeq uint64 // the last live sequence the book reflects
	Total   uint32 // how many instruments the channel has (SnapshotEnd)
	// Sum is the BookChecksum the book was verified against.
	Sum wire.BookChecksum
	// Instrument holds Def (HasDef), Status, ExchTime and Book.
	Instrument feed.Instrument
}

// Clone returns a deep copy of b (the assembler reuses b's book).
func (b *Book) Clone() *Book {
	c := *b
	c.Instrument.Book = book.Book{}
	c.Instrument.Book.CopyFrom(&b.Instrument.Book)
	return &c
}

// AssemblerStats are an [Assembler]'s counters.
type AssemblerStats struct {
	Packets   uint64 // loop packets read
	Books     uint64 // books completed and verified
	Broken    uint64 // books abandoned: a packet of another instrument or sequence came in the middle (a loss)
	Mismatch  uint64 // books whose levels did not match their checksum (a lost packet of levels)
	Malformed uint64 // packets that are not loop packets of the channel: dropped
}

// Assembler rebuilds books from one recovery line's packets. Lines are
// assembled apart (A and B each by its own Assembler), so a loss on one
// never mixes two copies. It is owned by one goroutine (the line's reader).
type Assembler struct {
	channel uint16
	cur     Book
	busy    bool // assembling cur
	want    wire.BookChecksum
	hasSum  bool
	stats   AssemblerStats
}

// NewAssembler returns an assembler for channel's loop.
func NewAssembler(channel uint16) *Assembler { return &Assembler{channel: channel} }

// Packet takes one packet from the line and calls done for every book it
// completes; the Book is valid only during the call. Anything that does not
// fit is counted and dropped, never a panic.
func (a *Assembler) Packet(p wire.Packet, done func(b *Book)) {
	if p.Channel != a.channel || !p.Has(wire.FlagSnapshot) || p.Session == 0 {
		a.stats.Malformed++
		return
	}
	a.stats.Packets++
	msgs := p.Messages()
	for msgs.Next() {
		m := msgs.Message()
		if m.Type() == wire.TypeInstrumentDef {
			if a.busy {
				a.stats.Broken++
			}
			d := m.InstrumentDef()
			a.start(p, d)
			continue
		}
		if !a.busy {
			continue // the rest of a book whose start was lost
		}
		if p.Session != a.cur.Session || p.Seq != a.cur.LastSeq {
			a.abandon()
			continue
		}
		in := &a.cur.Instrument
		if id, ok := m.Instrument(); ok && id != in.Def.Instrument {
			a.abandon()
			continue
		}
		switch m.Type() {
		case wire.TypeBookClear:
			in.Book.Clear()
		case wire.TypeLevelUpdate:
			u := m.LevelUpdate()
			in.Book.Apply(u.Side, u.Price, u.Qty)
			in.ExchTime = max(in.ExchTime, u.ExchTime)
		case wire.TypeInstrumentStatus:
			in.Status = m.InstrumentStatus().Status
		case wire.TypeBookChecksum:
			a.want, a.hasSum = m.BookChecksum(), true
		case wire.TypeSnapshotEnd:
			end, err := wire.DecodeSnapshotEnd(m.Bytes())
			a.busy = false
			switch {
			case err != nil || end.Channel != a.channel || end.LastSeq != a.cur.LastSeq:
				a.stats.Malformed++
			case !a.hasSum || !in.Verify(a.want):
				a.stats.Mismatch++
			default:
				a.cur.Total, a.cur.Sum = end.Instruments, a.want
				a.stats.Books++
				done(&a.cur)
			}
		}
	}
}

// start begins the book of d, reflecting p.Seq of p.Session.
func (a *Assembler) start(p wire.Packet, d wire.InstrumentDef) {
	a.busy, a.hasSum = true, false
	in := &a.cur.Instrument
	in.Book.Clear()
	in.Def, in.HasDef, in.Status, in.ExchTime = d, true, wire.StatusOK, 0
	a.cur.Session, a.cur.LastSeq, a.cur.Total = p.Session, p.Seq, 0
}

func (a *Assembler) abandon() {
	a.busy = false
	a.stats.Broken++
}

// Stats returns the counters.
func (a *Assembler) Stats() AssemblerStats { return a.stats }
