package feed_test

import (
	"testing"

	"github.com/tickcast/tickcast/feed"
	"github.com/tickcast/tickcast/wire"
)

func TestGetDefaults(t *testing.T) {
	var s feed.State
	if s.Lookup(7) != nil {
		t.Fatal("Lookup of an unseen instrument")
	}
	in := s.Get(7)
	if in.Def.Instrument != 7 || in.HasDef || in.Status != wire.StatusOK || !in.Book.Empty() || in.Synced {
		t.Fatalf("new instrument %+v", in)
	}
	if s.Get(7) != in || s.Lookup(7) != in || s.Len() != 1 {
		t.Fatal("Get does not return the same instrument")
	}
	s.SetWhole(true)
	if !in.Synced || !s.Get(8).Synced {
		t.Fatal("SetWhole(true): instruments not synced")
	}
	s.SetWhole(false)
	if in.Synced || s.Get(9).Synced {
		t.Fatal("SetWhole(false): instruments still synced")
	}
	ids := []uint32{}
	for _, in := range s.All() {
		ids = append(ids, in.Def.Instrument)
	}
	if len(ids) != 3 || ids[0] != 7 || ids[1] != 8 || ids[2] != 9 {
		t.Fatalf("All in order %v, want [7 8 9]", ids)
	}
}

func TestApplyEveryType(t *testing.T) {
	var s feed.State
	def := wire.NewInstrumentDef(5, "BTCUSDT", "binance", -2, -8)
	in := s.Apply(msg(t, def))
	if in == nil || !in.HasDef || in.Def != def {
		t.Fatalf("InstrumentDef: %+v", in)
	}
	s.Apply(msg(t, wire.LevelUpdate{Instrument: 5, Price: 100, Qty: 2, ExchTime: 10, Side: wire.Bid}))
	s.Apply(msg(t, wire.LevelUpdate{Instrument: 5, Price: 101, Qty: 3, ExchTime: 9, Side: wire.Ask, EndOfEvent: true}))
	if b, _ := in.Book.BestBid(); b.Price != 100 || b.Qty != 2 {
		t.Fatalf("best bid %+v", b)
	}
	if a, _ := in.Book.BestAsk(); a.Price != 101 || a.Qty != 3 {
		t.Fatalf("best ask %+v", a)
	}
	if in.ExchTime != 10 || s.ExchTime() != 10 || !in.Dirty || in.Cleared || in.Synced {
		t.Fatalf("after levels: exch %d/%d dirty %v cleared %v synced %v", in.ExchTime, s.ExchTime(), in.Dirty, in.Cleared, in.Synced)
	}
	in.Dirty = false
	before := in.Checksum()
	if got := s.Apply(msg(t, wire.Trade{Instrument: 5, Price: 101, Qty: 1, ExchTime: 20})); got != in {
		t.Fatal("Trade: another instrument")
	}
	if in.ExchTime != 20 || s.ExchTime() != 20 || in.Dirty || in.Checksum().CRC != before.CRC {
		t.Fatalf("Trade changed more than the clock: %+v", in)
	}
	if got := s.Apply(msg(t, wire.BookChecksum{Instrument: 5, CRC: 1})); got != in || in.Dirty || in.Checksum() != (wire.BookChecksum{Instrument: 5, CRC: before.CRC, Bids: 1, Asks: 1, ExchTime: 20}) {
		t.Fatalf("BookChecksum changed the instrument: %+v", in)
	}
	s.Apply(msg(t, wire.InstrumentStatus{Instrument: 5, Status: wire.StatusHalted}))
	if in.Status != wire.StatusHalted {
		t.Fatalf("status %v", in.Status)
	}
	s.Apply(msg(t, wire.BookClear{Instrument: 5, ExchTime: 30}))
	if !in.Book.Empty() || !in.Dirty || !in.Cleared || !in.Synced || s.Cleared() != 1 || in.ExchTime != 30 {
		t.Fatalf("after BookClear: %+v, cleared %d", in, s.Cleared())
	}
	s.Apply(msg(t, wire.BookClear{Instrument: 5, ExchTime: 31}))
	if s.Cleared() != 1 {
		t.Fatalf("a second BookClear counted again: %d", s.Cleared())
	}
	// Messages that are not about an instrument change nothing.
	for _, m := range []wire.Encoder{wire.SnapshotEnd{Channel: 1, LastSeq: 9}, wire.SnapshotRequest{Channel: 1, Instrument: 5}} {
		if got := s.Apply(msg(t, m)); got != nil || s.Len() != 1 {
			t.Fatalf("%T: %+v, %d instruments", m, got, s.Len())
		}
	}
	unknown := []byte{8, 0, 0x30, 0, 5, 0, 0, 0}
	m, err := wire.ReadMessage(unknown)
	if err != nil {
		t.Fatal(err)
	}
	if got := s.Apply(m); got != nil {
		t.Fatalf("unknown type: %+v", got)
	}
}

func TestClearBooks(t *testing.T) {
	s := build(randomFeed(1, 500))
	s.ClearBooks()
	for _, in := range s.All() {
		if !in.Book.Empty() {
			t.Fatalf("instrument %d: book not empty", in.Def.Instrument)
		}
	}
	if got := s.Lookup(1); got == nil || !got.HasDef {
		t.Fatal("ClearBooks dropped a definition")
	}
}

// Applying allocates nothing once the instruments and their books exist
// (DESIGN.md, "Performance principles").
func TestApplyAllocs(t *testing.T) {
	msgs := steadyFeed(t)
	var s feed.State
	for _, m := range msgs {
		s.Apply(m)
	}
	allocs := testing.AllocsPerRun(100, func() {
		for _, m := range msgs {
			s.Apply(m)
		}
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per run", allocs)
	}
}

// steadyFeed returns messages of every market type whose books never grow
// past the depth they reach on the first pass.
func steadyFeed(t testing.TB) []wire.Message {
	var out []wire.Message
	for id := uint32(1); id <= 4; id++ {
		out = append(out, msg(t, wire.NewInstrumentDef(id, "SYM", "venue", -2, -8)))
		for i := range int64(20) {
			out = append(out,
				msg(t, wire.LevelUpdate{Instrument: id, Price: 1000 - i, Qty: i + 1, ExchTime: uint64(i), Side: wire.Bid}),
				msg(t, wire.LevelUpdate{Instrument: id, Price: 1001 + i, Qty: i + 1, ExchTime: uint64(i), Side: wire.Ask}))
		}
		out = append(out,
			msg(t, wire.Trade{Instrument: id, Price: 1000, Qty: 1, ExchTime: 30}),
			msg(t, wire.LevelUpdate{Instrument: id, Price: 1000, Qty: 0, ExchTime: 31, Side: wire.Bid, EndOfEvent: true}),
			msg(t, wire.InstrumentStatus{Instrument: id, Status: wire.StatusOK}),
			msg(t, wire.BookChecksum{Instrument: id}),
			msg(t, wire.BookClear{Instrument: id, ExchTime: 32}))
	}
	return out
}

func BenchmarkApply(b *testing.B) {
	msgs := steadyFeed(b)
	var s feed.State
	for _, m := range msgs {
		s.Apply(m)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for _, m := range msgs {
			s.Apply(m)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(msgs)), "ns/msg")
}
