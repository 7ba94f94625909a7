package publisher

import (
	"context"
	"fmt"

	"github.com/tickcast/tickcast/feed"
	"github.com/tickcast/tickcast/wire"
)

// snapRequest asks the sequencer for a copy of its books, or (fn set) to
// run fn with them: the recovery loop's capture.
type snapRequest struct {
	instrument uint32 // 0 = all
	reply      chan *feed.Snapshot
	fn         func(st *feed.State, session, lastSeq uint64)
}

// snapshot copies the books for r. It first sends what is queued, so every
// sequence the snapshot reflects is on the wire. Sequencer goroutine.
func (s *sequencer) snapshot(r snapRequest) {
	s.flush()
	if r.fn != nil {
		r.fn(&s.books, s.p.cfg.Session, s.next-1)
		r.reply <- nil
		return
	}
	sn := s.books.Capture(r.instrument, s.next-1)
	s.p.stats.snapshots.Add(1)
	r.reply <- sn
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
	sn, err := p.ask(ctx, snapRequest{instrument: instrument})
	if err != nil {
		return err
	}
	return sn.Encode(p.wireHeader(wire.FlagSnapshot, sn.LastSeq), p.cfg.MaxPacket, emit)
}

// capture runs fn on the sequencer with its books: the recovery loop's
// [recovery.Capture].
func (p *Publisher) capture(ctx context.Context, fn func(st *feed.State, session, lastSeq uint64)) error {
	_, err := p.ask(ctx, snapRequest{fn: fn})
	return err
}

// ask hands r to the sequencer and waits for its answer.
func (p *Publisher) ask(ctx context.Context, r snapRequest) (*feed.Snapshot, error) {
	r.reply = make(chan *feed.Snapshot, 1)
	select {
	case p.snaps <- r:
	case <-p.done:
		return nil, ErrClosed
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	select {
	case sn := <-r.reply:
		return sn, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Retransmit emits the cached packets holding messages [first, first+count)
// of channel, flagged retransmission, or says why it cannot (DESIGN.md,
// RetransmitReject reasons); a range running past the newest sequence sent is
// served up to it and returns wire.RejectNotYetSent for the rest. It
// implements the retransmit side of the QUIC link's Feed; the link server's policy gives the caps.
func (p *Publisher) Retransmit(channel uint16, session, first uint64, count uint32, maxMsgs, maxBytes int, emit func(pkt []byte) error) (uint32, wire.RejectReason, error) {
	if channel != p.cfg.Channel {
		return 0, wire.RejectUnknownSession, nil
	}
	// A range served in part up to the newest sequence sent comes with
	// RejectNotYetSent for the rest (see [gap.Cache.Fetch]).
	return p.cache.Fetch(session, first, count, maxMsgs, maxBytes, emit)
}

// BookChecksums returns the CRC-32C of every instrument's book (package book)
// and the last sequence they reflect: what a drill compares subscribers with.
func (p *Publisher) BookChecksums(ctx context.Context) (map[uint32]uint32, uint64, error) {
	r := snapRequest{reply: make(chan *feed.Snapshot, 1)}
	var sn *feed.Snapshot
	select {
	case p.snaps <- r:
		select {
		case sn = <-r.reply:
		case <-ctx.Done():
			return nil, 0, ctx.Err()
		}
	case <-p.done:
		// The session ended: the books are final; read them here.
		p.seqMu.Lock()
		p.seq.snapshot(r)
		p.seqMu.Unlock()
		sn = <-r.reply
	case <-ctx.Done():
		return nil, 0, ctx.Err()
	}
	return sn.Sums(), sn.LastSeq, nil
}
