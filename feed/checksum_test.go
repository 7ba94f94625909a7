package feed_test

import (
	"testing"

	"github.com/tickcast/tickcast/book"
	"github.com/tickcast/tickcast/feed"
	"github.com/tickcast/tickcast/wire"
)

func TestChecksumAndVerify(t *testing.T) {
	s := build(randomFeed(2, 2000))
	for _, in := range s.All() {
		c := in.Checksum()
		bids := in.Book.Top(wire.Bid, nil, in.Book.Depth(wire.Bid))
		asks := in.Book.Top(wire.Ask, nil, in.Book.Depth(wire.Ask))
		if c.Instrument != in.Def.Instrument || c.CRC != book.Checksum(bids, asks) ||
			int(c.Bids) != len(bids) || int(c.Asks) != len(asks) || c.ExchTime != in.ExchTime {
			t.Fatalf("instrument %d: checksum %+v", in.Def.Instrument, c)
		}
		if !in.Verify(c) {
			t.Fatalf("instrument %d: its own checksum does not verify", in.Def.Instrument)
		}
		for _, bad := range []wire.BookChecksum{
			{Instrument: c.Instrument, CRC: c.CRC ^ 1, Bids: c.Bids, Asks: c.Asks},
			{Instrument: c.Instrument, CRC: c.CRC, Bids: c.Bids + 1, Asks: c.Asks},
			{Instrument: c.Instrument, CRC: c.CRC, Bids: c.Bids, Asks: c.Asks + 1},
		} {
			if in.Verify(bad) {
				t.Fatalf("instrument %d: %+v verifies", in.Def.Instrument, bad)
			}
		}
	}
	sums := s.Sums()
	for _, in := range s.All() {
		if sum, ok := sums[in.Def.Instrument]; ok != in.HasDef || ok && sum != in.Book.Checksum() {
			t.Fatalf("Sums[%d] = %08x, %v", in.Def.Instrument, sum, ok)
		}
	}
}

// DueChecksums follows the publisher's schedule: every changed book, or only
// the cleared ones, each once, and never an undefined instrument.
func TestDueChecksums(t *testing.T) {
	var s feed.State
	for _, id := range []uint32{1, 2, 3} {
		s.Apply(msg(t, wire.NewInstrumentDef(id, "S", "V", 0, 0)))
	}
	apply := func(ms ...wire.Encoder) {
		for _, m := range ms {
			s.Apply(msg(t, m))
		}
	}
	ids := func(cs []wire.BookChecksum) []uint32 {
		var out []uint32
		for _, c := range cs {
			if in := s.Lookup(c.Instrument); in == nil || c != in.Checksum() {
				t.Fatalf("due checksum %+v is not the book's", c)
			}
			out = append(out, c.Instrument)
		}
		return out
	}
	if got := s.DueChecksums(nil, false); len(got) != 0 {
		t.Fatalf("untouched books owe %v", got)
	}
	apply(wire.LevelUpdate{Instrument: 1, Price: 5, Qty: 1},
		wire.BookClear{Instrument: 2},
		wire.LevelUpdate{Instrument: 2, Price: 6, Qty: 1, Side: wire.Ask},
		wire.Trade{Instrument: 3, ExchTime: 4},
		wire.BookClear{Instrument: 4}) // never defined
	if s.Cleared() != 2 {
		t.Fatalf("Cleared %d, want 2", s.Cleared())
	}
	if got := ids(s.DueChecksums(nil, true)); len(got) != 1 || got[0] != 2 {
		t.Fatalf("cleared only: %v, want [2]", got)
	}
	if s.Cleared() != 0 { // instrument 4 too is marked, without a checksum
		t.Fatalf("Cleared %d after the cleared checksums, want 0", s.Cleared())
	}
	if got := ids(s.DueChecksums(nil, false)); len(got) != 1 || got[0] != 1 {
		t.Fatalf("changed: %v, want [1]", got)
	}
	if len(s.DueChecksums(nil, false)) != 0 {
		t.Fatal("checksums owed after all were taken")
	}
	dst := make([]wire.BookChecksum, 0, 4)
	apply(wire.LevelUpdate{Instrument: 3, Price: 5, Qty: 1}, wire.LevelUpdate{Instrument: 1, Price: 5, Qty: 0})
	if allocs := testing.AllocsPerRun(1, func() { dst = s.DueChecksums(dst[:0], false) }); allocs != 0 {
		t.Fatalf("DueChecksums allocated %v", allocs)
	}
}
