package link

import (
	"context"

	"github.com/tickcast/tickcast/wire"
)

// Feed is what a link server serves retransmissions and snapshots from: the
// publisher's or the relay's retransmit cache and books (DESIGN.md, "Recovery
// ladder"). Its methods are called from the server's per-request goroutines,
// several at a time.
type Feed interface {
	// Retransmit emits packets holding messages [first, first+count) of
	// channel in session, flagged wire.FlagRetransmission, at most maxMsgs
	// messages and maxBytes packet bytes (the server's gap.Policy caps: no
	// amplification), and returns how many messages it sent; or it returns a
	// reject reason (0 = served). An error from emit means the stream is
	// gone: return it.
	Retransmit(channel uint16, session, first uint64, count uint32, maxMsgs, maxBytes int, emit func(pkt []byte) error) (sent uint32, reason wire.RejectReason, err error)
	// Snapshot emits the snapshot packets (wire.FlagSnapshot) of channel for
	// instrument (0 = all), ending with the packet holding wire.SnapshotEnd.
	Snapshot(ctx context.Context, channel uint16, instrument uint32, emit func(pkt []byte) error) error
}
