package feed_test

import (
	"math/rand/v2"
	"testing"

	"github.com/tickcast/tickcast/feed"
	"github.com/tickcast/tickcast/wire"
)

// msg encodes m and returns it as a validated message.
func msg(t testing.TB, m wire.Encoder) wire.Message {
	t.Helper()
	got, err := wire.ReadMessage(m.Append(nil))
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// packet builds a packet with header h holding msgs.
func packet(h wire.Header, msgs ...wire.Encoder) []byte {
	var pb wire.Builder
	pb.Reset(nil, wire.MaxJumboPacket, h)
	for _, m := range msgs {
		if !wire.Add(&pb, m) {
			panic("packet too big")
		}
	}
	return pb.Finish(1_700_000_000_000_000_000)
}

// randomFeed returns n random market messages about a few instruments
// (dense ids, one sparse id, one never defined): definitions, levels from a
// narrow price range so that updates hit, change and remove levels, clears,
// trades, statuses and checksums.
func randomFeed(seed uint64, n int) []wire.Encoder {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	ids := []uint32{1, 2, 3, 70_000, 9}
	var out []wire.Encoder
	for _, id := range ids[:4] {
		out = append(out, wire.NewInstrumentDef(id, "SYM", "venue", -2, -8))
	}
	exch := uint64(1_000)
	for range n {
		id := ids[r.IntN(len(ids))]
		exch += uint64(r.IntN(3))
		switch k := r.IntN(100); {
		case k < 75:
			qty := int64(r.IntN(4)) // 0 removes
			out = append(out, wire.LevelUpdate{Instrument: id, Price: int64(100 + r.IntN(60)), Qty: qty,
				ExchTime: exch, Side: wire.Side(r.IntN(2)), EndOfEvent: r.IntN(3) == 0})
		case k < 85:
			out = append(out, wire.Trade{Instrument: id, Price: 120, Qty: 1, ExchTime: exch + 5, TradeID: uint64(k)})
		case k < 90:
			out = append(out, wire.BookClear{Instrument: id, ExchTime: exch})
		case k < 95:
			out = append(out, wire.InstrumentStatus{Instrument: id, Status: wire.Status(1 + r.IntN(4))})
		case k < 97:
			out = append(out, wire.NewInstrumentDef(id, "SYM2", "venue2", -3, -6))
		default:
			out = append(out, wire.BookChecksum{Instrument: id, CRC: r.Uint32()})
		}
	}
	return out
}

// build applies msgs, valid messages, to a fresh State.
func build(msgs []wire.Encoder) *feed.State {
	var s feed.State
	for _, m := range msgs {
		got, err := wire.ReadMessage(m.Append(nil))
		if err != nil {
			panic(err)
		}
		s.Apply(got)
	}
	return &s
}

// sameInstruments fails unless a and b hold the same defined instruments
// with the same definitions, statuses, exchange times and books.
func sameInstruments(t testing.TB, a, b *feed.State) {
	t.Helper()
	n := 0
	for _, in := range a.All() {
		if !in.HasDef {
			continue
		}
		n++
		o := b.Lookup(in.Def.Instrument)
		if o == nil || !o.HasDef {
			t.Fatalf("instrument %d missing", in.Def.Instrument)
		}
		if o.Def != in.Def || o.Status != in.Status || o.ExchTime != in.ExchTime || o.Checksum() != in.Checksum() {
			t.Fatalf("instrument %d: %+v %v %d %+v, want %+v %v %d %+v", in.Def.Instrument,
				o.Def, o.Status, o.ExchTime, o.Checksum(), in.Def, in.Status, in.ExchTime, in.Checksum())
		}
	}
	m := 0
	for _, in := range b.All() {
		if in.HasDef {
			m++
		}
	}
	if n != m {
		t.Fatalf("%d defined instruments, want %d", m, n)
	}
}
