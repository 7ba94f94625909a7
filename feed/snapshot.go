package feed

import (
	"fmt"

	"github.com/tickcast/tickcast/wire"
)

// MinSnapshotPacket is the smallest packet limit [Snapshot.Encode] accepts:
// a header and the largest snapshot message.
const MinSnapshotPacket = wire.HeaderLen + wire.InstrumentDefLen

// Snapshot is a consistent deep copy of a State's defined instruments:
// everything up to and including LastSeq, nothing after. It shares no memory
// with the State, so it can be encoded on any goroutine.
type Snapshot struct {
	LastSeq uint64 // the last sequence the snapshot reflects
	// Instruments are copies (Def, HasDef, Book, Status, ExchTime; the
	// role flags are zero), in the State's order.
	Instruments []Instrument
	// Checksums adds each instrument's BookChecksum after its status, so a
	// receiver can verify the book it assembled (the recovery loop, whose
	// packets can be lost); false = none, as a link's snapshot.
	Checksums bool
	// Total is the SnapshotEnd's instrument count; 0 = len(Instruments).
	// The recovery loop sends one instrument at a time and announces the
	// channel's whole count, so a receiver knows when it is complete.
	Total uint32
}

// Capture copies the books of instrument id (0 = every instrument) for a
// snapshot reflecting lastSeq. Instruments without a definition are left
// out: a snapshot starts each instrument with its InstrumentDef. It runs on
// the goroutine that owns s.
func (s *State) Capture(id uint32, lastSeq uint64) *Snapshot {
	sn := &Snapshot{LastSeq: lastSeq}
	for _, in := range s.tab.All() {
		if !in.HasDef || id != 0 && in.Def.Instrument != id {
			continue
		}
		sn.Instruments = append(sn.Instruments, Instrument{
			Def: in.Def, HasDef: true, Status: in.Status, ExchTime: in.ExchTime,
		})
		sn.Instruments[len(sn.Instruments)-1].Book.CopyFrom(&in.Book)
	}
	return sn
}

// Sums returns the CRC-32C of every book in the snapshot by instrument id,
// as [State.Sums] does for a State.
func (sn *Snapshot) Sums() map[uint32]uint32 {
	out := make(map[uint32]uint32, len(sn.Instruments))
	for i := range sn.Instruments {
		in := &sn.Instruments[i]
		out[in.Def.Instrument] = in.Book.Checksum()
	}
	return out
}

// Encode packs the snapshot into packets of at most limit bytes (DESIGN.md,
// "Control messages"): per instrument its InstrumentDef, a BookClear, its
// levels (bids then asks, best first, the last flagged end of event), its
// InstrumentStatus and (with Checksums) its BookChecksum, then SnapshotEnd. Every packet has header h flagged
// snapshot, with Seq the last sequence reflected; SnapshotEnd names h's
// channel. emit gets a buffer valid only during the call; its first error
// stops the encoding and is returned. limit is at least [MinSnapshotPacket].
func (sn *Snapshot) Encode(h wire.Header, limit int, emit func(pkt []byte) error) error {
	if limit < MinSnapshotPacket {
		return fmt.Errorf("feed: snapshot packet limit %d below %d", limit, MinSnapshotPacket)
	}
	h.Flags |= wire.FlagSnapshot
	h.Seq = sn.LastSeq
	buf := make([]byte, 0, limit)
	var pb wire.Builder
	pb.Reset(buf, limit, h)
	var err error
	add := func(m wire.Encoder) {
		if err != nil || wire.Add(&pb, m) {
			return
		}
		if err = emit(pb.Finish(h.SendTime)); err != nil {
			return
		}
		pb.Reset(buf, limit, h)
		wire.Add(&pb, m)
	}
	for i := range sn.Instruments {
		in := &sn.Instruments[i]
		id := in.Def.Instrument
		add(in.Def)
		add(wire.BookClear{Instrument: id, ExchTime: in.ExchTime})
		n := in.Book.Depth(wire.Bid) + in.Book.Depth(wire.Ask)
		k := 0
		for _, side := range [2]wire.Side{wire.Bid, wire.Ask} {
			for l := range in.Book.Levels(side) {
				k++
				add(wire.LevelUpdate{Instrument: id, Price: l.Price, Qty: l.Qty, ExchTime: in.ExchTime, Side: side, EndOfEvent: k == n})
			}
		}
		add(wire.InstrumentStatus{Instrument: id, Status: in.Status})
		if sn.Checksums {
			add(in.Checksum())
		}
	}
	total := sn.Total
	if total == 0 {
		total = uint32(len(sn.Instruments))
	}
	add(wire.SnapshotEnd{Channel: h.Channel, Instruments: total, LastSeq: sn.LastSeq})
	if err != nil {
		return err
	}
	return emit(pb.Finish(h.SendTime))
}

// ApplySnapshot applies the messages of one snapshot packet to s, as
// [State.Apply] does, and marks the instruments it touches (their
// InstrumentDef or BookClear) with Snapshot. When the packet holds the
// SnapshotEnd that closes the snapshot it returns it and true, and ignores
// what follows it. Snapshot messages are unsequenced: p's flags, session and
// sequence are the caller's to check.
func (s *State) ApplySnapshot(p wire.Packet) (wire.SnapshotEnd, bool) {
	msgs := p.Messages()
	for msgs.Next() {
		m := msgs.Message()
		switch m.Type() {
		case wire.TypeInstrumentDef, wire.TypeBookClear:
			s.Apply(m).Snapshot = true
		case wire.TypeSnapshotEnd:
			end, err := wire.DecodeSnapshotEnd(m.Bytes())
			if err != nil {
				return wire.SnapshotEnd{}, false
			}
			return end, true
		default:
			s.Apply(m)
		}
	}
	return wire.SnapshotEnd{}, false
}

// ClearSnapshotMarks resets every instrument's Snapshot mark, once the
// snapshot that set them was handled.
func (s *State) ClearSnapshotMarks() {
	for _, in := range s.tab.All() {
		in.Snapshot = false
	}
}
