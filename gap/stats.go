package gap

import (
	"time"

	"github.com/tickcast/tickcast/wire"
)

// LineStats counts what one line brought (DESIGN.md, "Per-channel, per-line
// counters").
type LineStats struct {
	Packets    uint64 // packets offered
	Won        uint64 // packets that brought at least one new message (this line was first)
	Duplicates uint64 // packets with nothing new
	Messages   uint64 // messages delivered from this line's copies
	Stale      uint64 // packets of a session already left
	Foreign    uint64 // packets of another session while the followed one was live: not adopted
	LastRx     int64  // time of the last packet, ns
}

// Stats are an arbiter's counters.
type Stats struct {
	Lines  []LineStats // per line, in Offer's line order
	Repair LineStats   // retransmissions (RepairLine)

	Delivered      uint64 // messages delivered, in order, exactly once
	Heartbeats     uint64 // heartbeat and end-of-session packets
	Reordered      uint64 // packets held because they arrived ahead of a hole
	HeldMax        uint64 // most packets held at once
	Gaps           uint64 // holes detected
	GapsFilled     uint64 // holes filled (by another line or a retransmission)
	Lost           uint64 // messages given up (EventLost)
	LostEvents     uint64 // EventLost reports
	Overflows      uint64 // hold buffer overflows
	Nacks          uint64 // RetransmitRequests sent
	NackedMessages uint64 // messages asked for
	NackErrors     uint64 // requests the Requester failed to send
	Rejects        uint64 // RetransmitRejects received
	// RejectReasons counts them by reason: index a wire.RejectReason (1
	// too old … 5 not yet sent); index 0 counts codes this version does
	// not know.
	RejectReasons [wire.RejectNotYetSent + 1]uint64
	Retransmitted uint64 // retransmitted packets that brought something new
	Sessions      uint64 // sessions joined
	Foreign       uint64 // packets of a session not adopted (see Config.SessionTimeout), all lines
	Phantom       uint64 // messages a heartbeat claimed that the retransmit server had not sent: dropped, not lost
	PhantomCuts   uint64 // times such a claim was cut back
	FalseEnds     uint64 // end-of-session marks the session contradicted by sending on: ignored
	Ignored       uint64 // packets of another channel, snapshots, control

	// State at the time of the copy.
	Session   uint64
	Next      uint64
	Held      uint64
	OpenHoles uint64
	SRTT      time.Duration // smoothed NACK round trip
}
