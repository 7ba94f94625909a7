package publisher

import (
	"context"
	"fmt"

	"github.com/tickcast/tickcast/book"
	"github.com/tickcast/tickcast/wire"
)

// snapRequest asks the sequencer for a copy of its books.
type snapRequest struct {
	instrument uint32 // 0 = all
	reply      chan *snapState
}

// snapState is a consistent copy of the books: everything sequenced up to
// and including lastSeq, nothing after.
type snapState struct {
	lastSeq uint64
	insts   []snapInstrument
}

type snapInstrument struct {
	def        wire.InstrumentDef
	status     wire.Status
	exch       uint64
	bids, asks []book.Level
}

// snapshot copies the books for r. It first sends what is queued, so every
// sequence the snapshot reflects is on the wire. Sequencer goroutine.
func (s *sequencer) snapshot(r snapRequest) {
	s.flush()
	st := &snapState{lastSeq: s.next - 1}
	for _, in := range s.books.All() {
		if !in.hasDef || (r.instrument != 0 && in.def.Instrument != r.instrument) {
			continue
		}
		st.insts = append(st.insts, snapInstrument{
			def:    in.def,
			status: in.status,
			exch:   in.exch,
			bids:   in.book.Top(wire.Bid, nil, in.book.Depth(wire.Bid)),
			asks:   in.book.Top(wire.Ask, nil, in.book.Depth(wire.Ask)),
		})
	}
	s.p.stats.snapshots.Add(1)
	r.reply <- st
}

// Snapshot emits a snapshot of channel's books (instrument 0 = all) as
// packets flagged snapshot, whose Seq is the last sequence the snapshot
// reflects: per instrument its InstrumentDef, a BookClear, its levels (bids
// then asks, best first, the last flagged end of event) and its
// InstrumentStatus, then a packet holding SnapshotEnd (DESIGN.md, "Control
// messages"). emit gets a buffer valid only during the call. It implements
// the snapshot side of the QUIC link's Feed.
func (p *Publisher) Snapshot(ctx context.Context, channel uint16, instrument uint32, emit func(pkt []byte) error) error {
	if channel != p.cfg.Channel {
		return fmt.Errorf("publisher: snapshot of channel %d: this publisher serves channel %d", channel, p.cfg.Channel)
	}
	r := snapRequest{instrument: instrument, reply: make(chan *snapState, 1)}
	select {
	case p.snaps <- r:
	case <-p.done:
		return ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
	var st *snapState
	select {
	case st = <-r.reply:
	case <-ctx.Done():
		return ctx.Err()
	}
	return encodeSnapshot(st, p.wireHeader(wire.FlagSnapshot, st.lastSeq), p.cfg.MaxPacket, emit)
}

// encodeSnapshot packs st into snapshot packets of at most limit bytes.
func encodeSnapshot(st *snapState, h wire.Header, limit int, emit func([]byte) error) error {
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
	for i := range st.insts {
		in := &st.insts[i]
		add(in.def)
		add(wire.BookClear{Instrument: in.def.Instrument, ExchTime: in.exch})
		n := len(in.bids) + len(in.asks)
		k := 0
		for side, levels := range [2][]book.Level{in.bids, in.asks} {
			for _, l := range levels {
				k++
				add(wire.LevelUpdate{Instrument: in.def.Instrument, Price: l.Price, Qty: l.Qty, ExchTime: in.exch, Side: wire.Side(side), EndOfEvent: k == n})
			}
		}
		add(wire.InstrumentStatus{Instrument: in.def.Instrument, Status: in.status})
	}
	add(wire.SnapshotEnd{Channel: h.Channel, Instruments: uint32(len(st.insts)), LastSeq: st.lastSeq})
	if err != nil {
		return err
	}
	return emit(pb.Finish(h.SendTime))
}

// Retransmit emits the cached packets holding messages [first, first+count)
// of channel, flagged retransmission, or says why it cannot (DESIGN.md,
// RetransmitReject reasons). It implements the retransmit side of the QUIC
// link's Feed.
func (p *Publisher) Retransmit(channel uint16, session, first uint64, count uint32, emit func(pkt []byte) error) (wire.RejectReason, error) {
	if channel != p.cfg.Channel {
		return wire.RejectUnknownSession, nil
	}
	sent, reason, err := p.cache.Fetch(session, first, count, 2048, 256<<10, emit)
	if sent > 0 {
		return 0, err
	}
	return reason, err
}

// BookChecksums returns the CRC-32C of every instrument's book (package book)
// and the last sequence they reflect: what a drill compares subscribers with.
func (p *Publisher) BookChecksums(ctx context.Context) (map[uint32]uint32, uint64, error) {
	r := snapRequest{reply: make(chan *snapState, 1)}
	var st *snapState
	select {
	case p.snaps <- r:
		select {
		case st = <-r.reply:
		case <-ctx.Done():
			return nil, 0, ctx.Err()
		}
	case <-p.done:
		// The session ended: the books are final; read them here.
		p.seqMu.Lock()
		p.seq.snapshot(r)
		p.seqMu.Unlock()
		st = <-r.reply
	case <-ctx.Done():
		return nil, 0, ctx.Err()
	}
	out := make(map[uint32]uint32, len(st.insts))
	for _, in := range st.insts {
		out[in.def.Instrument] = book.Checksum(in.bids, in.asks)
	}
	return out, st.lastSeq, nil
}
