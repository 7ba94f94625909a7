package feed_test

import (
	"errors"
	"maps"
	"testing"

	"github.com/tickcast/tickcast/feed"
	"github.com/tickcast/tickcast/wire"
)

// encode encodes sn with header h and returns the packets, checked against
// limit and the snapshot header.
func encode(t testing.TB, sn *feed.Snapshot, h wire.Header, limit int) []wire.Packet {
	t.Helper()
	var pkts []wire.Packet
	err := sn.Encode(h, limit, func(b []byte) error {
		if len(b) > limit {
			t.Fatalf("packet of %d bytes, limit %d", len(b), limit)
		}
		p, err := wire.Parse(append([]byte(nil), b...))
		if err != nil {
			t.Fatalf("encoded packet: %v", err)
		}
		if !p.Has(wire.FlagSnapshot) || p.Seq != sn.LastSeq || p.Channel != h.Channel || p.Session != h.Session || p.SendTime != h.SendTime {
			t.Fatalf("packet header %+v", p.Header)
		}
		if p.Count == 0 {
			t.Fatal("empty snapshot packet")
		}
		pkts = append(pkts, p)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return pkts
}

// A State built from a random feed, captured, encoded and applied to a
// fresh State gives the same books, definitions and statuses, at every
// packet limit.
func TestSnapshotRoundTrip(t *testing.T) {
	for _, limit := range []int{feed.MinSnapshotPacket, 128, wire.DefaultMaxPacket, wire.MaxJumboPacket} {
		for seed := range uint64(5) {
			src := build(randomFeed(seed, 3000))
			sn := src.Capture(0, 4242)
			pkts := encode(t, sn, wire.Header{Channel: 3, Session: 77, SendTime: 5}, limit)
			var dst feed.State
			for i, p := range pkts {
				end, ok := dst.ApplySnapshot(p)
				if ok != (i == len(pkts)-1) {
					t.Fatalf("limit %d: packet %d of %d: SnapshotEnd %v", limit, i, len(pkts), ok)
				}
				if ok && (end != wire.SnapshotEnd{Channel: 3, Instruments: uint32(len(sn.Instruments)), LastSeq: 4242}) {
					t.Fatalf("SnapshotEnd %+v", end)
				}
			}
			if !maps.Equal(dst.Sums(), src.Sums()) || !maps.Equal(sn.Sums(), src.Sums()) {
				t.Fatalf("limit %d seed %d: sums %v, snapshot's %v, want %v", limit, seed, dst.Sums(), sn.Sums(), src.Sums())
			}
			sameInstruments(t, src, &dst)
			for _, in := range dst.All() {
				if !in.Snapshot || !in.Synced {
					t.Fatalf("instrument %d: snapshot mark %v, synced %v", in.Def.Instrument, in.Snapshot, in.Synced)
				}
			}
			dst.ClearSnapshotMarks()
			for _, in := range dst.All() {
				if in.Snapshot {
					t.Fatal("ClearSnapshotMarks left a mark")
				}
			}
		}
	}
}

// The snapshot is a copy: what is applied after Capture does not reach it.
func TestCaptureIsACopy(t *testing.T) {
	s := build(randomFeed(7, 1000))
	sn := s.Capture(0, 1)
	want := sn.Sums()
	for _, m := range randomFeed(8, 1000) {
		s.Apply(msg(t, m))
	}
	if got := sn.Sums(); !maps.Equal(got, want) {
		t.Fatal("the snapshot changed with the State")
	}
}

// Encode lays out each instrument as DESIGN.md says: InstrumentDef,
// BookClear, bids then asks best first with the last flagged end of event,
// InstrumentStatus; then SnapshotEnd. Capture of one instrument holds only it.
func TestSnapshotLayout(t *testing.T) {
	var s feed.State
	for _, m := range []wire.Encoder{
		wire.NewInstrumentDef(1, "A", "X", -2, 0),
		wire.NewInstrumentDef(2, "B", "X", -2, 0),
		wire.LevelUpdate{Instrument: 2, Price: 99, Qty: 1, ExchTime: 3, Side: wire.Bid},
		wire.LevelUpdate{Instrument: 2, Price: 100, Qty: 2, ExchTime: 4, Side: wire.Bid},
		wire.LevelUpdate{Instrument: 2, Price: 102, Qty: 4, ExchTime: 5, Side: wire.Ask},
		wire.LevelUpdate{Instrument: 2, Price: 101, Qty: 3, ExchTime: 6, Side: wire.Ask},
		wire.InstrumentStatus{Instrument: 2, Status: wire.StatusStale},
		wire.LevelUpdate{Instrument: 3, Price: 1, Qty: 1}, // never defined: not in a snapshot
	} {
		s.Apply(msg(t, m))
	}
	def2 := s.Lookup(2).Def
	want := [][]byte{
		def2.Append(nil),
		wire.BookClear{Instrument: 2, ExchTime: 6}.Append(nil),
		wire.LevelUpdate{Instrument: 2, Price: 100, Qty: 2, ExchTime: 6, Side: wire.Bid}.Append(nil),
		wire.LevelUpdate{Instrument: 2, Price: 99, Qty: 1, ExchTime: 6, Side: wire.Bid}.Append(nil),
		wire.LevelUpdate{Instrument: 2, Price: 101, Qty: 3, ExchTime: 6, Side: wire.Ask}.Append(nil),
		wire.LevelUpdate{Instrument: 2, Price: 102, Qty: 4, ExchTime: 6, Side: wire.Ask, EndOfEvent: true}.Append(nil),
		wire.InstrumentStatus{Instrument: 2, Status: wire.StatusStale}.Append(nil),
		wire.SnapshotEnd{Channel: 9, Instruments: 1, LastSeq: 50}.Append(nil),
	}
	pkts := encode(t, s.Capture(2, 50), wire.Header{Channel: 9, Session: 1}, wire.DefaultMaxPacket)
	if len(pkts) != 1 {
		t.Fatalf("%d packets, want 1", len(pkts))
	}
	var got [][]byte
	for it := pkts[0].Messages(); it.Next(); {
		got = append(got, it.Message().Bytes())
	}
	if len(got) != len(want) {
		t.Fatalf("%d messages, want %d", len(got), len(want))
	}
	for i := range want {
		if string(got[i]) != string(want[i]) {
			t.Fatalf("message %d: %x, want %x", i, got[i], want[i])
		}
	}
	if n := len(s.Capture(0, 50).Instruments); n != 2 {
		t.Fatalf("Capture(0) holds %d instruments, want the 2 defined", n)
	}
	if n := len(s.Capture(3, 50).Instruments); n != 0 {
		t.Fatalf("Capture of an undefined instrument holds %d", n)
	}
	// An empty snapshot is one packet holding SnapshotEnd.
	var empty feed.State
	pkts = encode(t, empty.Capture(0, 7), wire.Header{Channel: 9}, wire.DefaultMaxPacket)
	if len(pkts) != 1 || pkts[0].Count != 1 {
		t.Fatalf("empty snapshot: %d packets", len(pkts))
	}
}

func TestEncodeErrors(t *testing.T) {
	s := build(randomFeed(3, 2000))
	sn := s.Capture(0, 1)
	if err := sn.Encode(wire.Header{}, feed.MinSnapshotPacket-1, func([]byte) error { return nil }); err == nil {
		t.Fatal("a limit below MinSnapshotPacket was accepted")
	}
	stop := errors.New("stop")
	calls := 0
	err := sn.Encode(wire.Header{}, 128, func([]byte) error { calls++; return stop })
	if !errors.Is(err, stop) || calls != 1 {
		t.Fatalf("emit error: %v after %d calls", err, calls)
	}
}

// ApplySnapshot stops at SnapshotEnd and reports it; a packet without one
// reports nothing.
func TestApplySnapshotEnd(t *testing.T) {
	var s feed.State
	p, _ := wire.Parse(packet(wire.Header{Flags: wire.FlagSnapshot, Channel: 1, Seq: 10},
		wire.NewInstrumentDef(4, "A", "X", 0, 0),
		wire.SnapshotEnd{Channel: 1, Instruments: 1, LastSeq: 10},
		wire.NewInstrumentDef(5, "B", "X", 0, 0)))
	end, ok := s.ApplySnapshot(p)
	if !ok || end.LastSeq != 10 || end.Instruments != 1 {
		t.Fatalf("SnapshotEnd %+v, %v", end, ok)
	}
	if s.Lookup(5) != nil || s.Lookup(4) == nil || !s.Lookup(4).Snapshot {
		t.Fatal("messages after SnapshotEnd applied, or the one before not")
	}
	p, _ = wire.Parse(packet(wire.Header{Flags: wire.FlagSnapshot, Channel: 1, Seq: 10},
		wire.LevelUpdate{Instrument: 6, Price: 1, Qty: 1}))
	if _, ok := s.ApplySnapshot(p); ok {
		t.Fatal("SnapshotEnd reported for a packet without one")
	}
	if in := s.Lookup(6); in == nil || in.Snapshot || in.Book.Depth(wire.Bid) != 1 {
		t.Fatalf("level of a snapshot: %+v", in)
	}
}
