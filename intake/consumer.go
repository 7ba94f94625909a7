package intake

import (
	"github.com/tickcast/tickcast/gap"
	"github.com/tickcast/tickcast/wire"
)

// Consumer is the owner's end of an [Intake]. Its methods are called by
// whichever goroutine holds the intake's dispatch lock (usually the line
// reader that just received the packet, otherwise the intake's background
// loop): one call at a time, in stream order. They must not call
// [Intake.Do] (the lock is already held); they may call [Intake.Hold],
// [Intake.Release], [Intake.Advance], [Intake.RequestSnapshot] and
// [Intake.Request].
type Consumer interface {
	// Packet gets the next run of in-order messages. d and its packet's
	// bytes are valid only during the call, unless the consumer keeps them
	// with [Intake.Hold].
	Packet(d *Delivery)
	// Event gets a change in the stream: a join, a loss, an end of
	// session, a line up or down, a reset.
	Event(e Event)
	// Snapshot gets one packet of a snapshot answer (see
	// [Intake.RequestSnapshot]), the last one holding wire.SnapshotEnd, in
	// the order the link delivered them; p is valid only during the call.
	// rxTime is the receive time, ns since the Unix epoch.
	Snapshot(p wire.Packet, rxTime int64)
}

// Delivery is the next run of in-order messages (see [gap.Delivery]): the
// messages of Packet from index Skip on, with sequences Packet.Seq+Skip, …
type Delivery struct {
	Packet wire.Packet
	Skip   int   // messages at the front already delivered from another copy
	Line   int   // the line whose copy won (Lines, then live links), or gap.RepairLine
	RxTime int64 // when that copy was received (the kernel's time with KernelTimestamps), ns

	it *item // the queue item carrying this delivery
}

// First returns the sequence of the first message delivered.
func (d *Delivery) First() uint64 { return d.Packet.Seq + uint64(d.Skip) }

// EventKind says what an [Event] reports.
type EventKind uint8

// Event kinds.
const (
	// EventJoin: the arbiter follows Session from sequence Seq (Prev is
	// the previous session, 0 at the start). Seq > 1 means earlier
	// messages of the session were never seen: recover by snapshot.
	EventJoin EventKind = iota + 1
	// EventLost: messages [Seq, Seq+Count) will never be delivered
	// (Reason says why): recover by snapshot.
	EventLost
	// EventEndOfSession: the publisher ended Session gracefully after
	// everything before Seq.
	EventEndOfSession
	// EventLineUp: Line delivered again.
	EventLineUp
	// EventLineDown: Line was silent for LineTimeout.
	EventLineDown
	// EventReset: deliveries were dropped because the consumer fell
	// behind by Config.Queue (Reset = ResetOverrun): what follows is not
	// contiguous with what came before: recover by snapshot.
	EventReset
)

// String returns the kind's name.
func (k EventKind) String() string {
	switch k {
	case EventJoin:
		return "join"
	case EventLost:
		return "lost"
	case EventEndOfSession:
		return "end_of_session"
	case EventLineUp:
		return "line_up"
	case EventLineDown:
		return "line_down"
	case EventReset:
		return "reset"
	}
	return "unknown"
}

// ResetReason says why an [EventReset] happened.
type ResetReason uint8

// Reset reasons.
const (
	// ResetOverrun: the bounded hand-off overflowed.
	ResetOverrun ResetReason = iota + 1
)

// String returns the reason in words.
func (r ResetReason) String() string {
	if r == ResetOverrun {
		return "queue overrun"
	}
	return "unknown"
}

// Event is a change in the stream, mapping [gap.Event] plus line state and
// overrun resets.
type Event struct {
	Kind    EventKind
	Session uint64         // Join, Lost, EndOfSession
	Seq     uint64         // Join: the first sequence followed; Lost: the first lost; EndOfSession: the end
	Count   uint64         // Lost: how many messages
	Reason  gap.LostReason // Lost
	Prev    uint64         // Join: the previous session, 0 at the start
	Line    int            // LineUp, LineDown: 0.. (Lines, then live links)
	Reset   ResetReason    // Reset
}

// fromGap maps an arbiter event.
func fromGap(e gap.Event) Event {
	ev := Event{Session: e.Session, Seq: e.Seq, Count: e.Count, Reason: e.Reason, Prev: e.Prev}
	switch e.Kind {
	case gap.EventJoin:
		ev.Kind = EventJoin
	case gap.EventLost:
		ev.Kind = EventLost
	case gap.EventEndOfSession:
		ev.Kind = EventEndOfSession
	}
	return ev
}
