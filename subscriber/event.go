package subscriber

import (
	"github.com/tickcast/tickcast/book"
	"github.com/tickcast/tickcast/wire"
)

// EventKind says what an [Event] carries.
type EventKind uint8

// Event kinds, in the order an application typically sees them.
const (
	// EventDefinition: an instrument definition (Def).
	EventDefinition EventKind = iota + 1
	// EventLevel: a price level changed (Level); Book is already updated.
	EventLevel
	// EventConsistent: the end of an exchange event: Book is consistent now.
	EventConsistent
	// EventTrade: a trade (Trade).
	EventTrade
	// EventStatus: an instrument's status changed (Status).
	EventStatus
	// EventReset: the books can no longer be trusted (Reset says why); a
	// snapshot is on its way if a link is configured. Until EventRecovered,
	// no Level or Trade events are delivered.
	EventReset
	// EventSnapshotBook: an instrument's book was replaced from a snapshot
	// (Book, Def).
	EventSnapshotBook
	// EventRecovered: every book reflects the feed up to Seq; live events
	// follow from Seq+1.
	EventRecovered
	// EventEndOfSession: the publisher ended its session gracefully.
	EventEndOfSession
	// EventLine: a line went down or came back up (Line, Up).
	EventLine
)

// String returns the kind's name.
func (k EventKind) String() string {
	switch k {
	case EventDefinition:
		return "definition"
	case EventLevel:
		return "level"
	case EventConsistent:
		return "consistent"
	case EventTrade:
		return "trade"
	case EventStatus:
		return "status"
	case EventReset:
		return "reset"
	case EventSnapshotBook:
		return "snapshot_book"
	case EventRecovered:
		return "recovered"
	case EventEndOfSession:
		return "end_of_session"
	case EventLine:
		return "line"
	}
	return "unknown"
}

// ResetReason says why the books were reset.
type ResetReason uint8

// Reset reasons.
const (
	ResetLateJoin       ResetReason = iota + 1 // joined a session already under way
	ResetSession                               // the publisher started a new session
	ResetGap                                   // messages could not be recovered by NACK
	ResetChecksum                              // a book disagreed with the publisher's checksum
	ResetOverrun                               // the application fell behind the bounded queue
	ResetSnapshotFailed                        // a snapshot could not be fetched; retrying
)

// String returns the reason in words.
func (r ResetReason) String() string {
	switch r {
	case ResetLateJoin:
		return "late join"
	case ResetSession:
		return "new session"
	case ResetGap:
		return "unrecoverable gap"
	case ResetChecksum:
		return "checksum mismatch"
	case ResetOverrun:
		return "queue overrun"
	case ResetSnapshotFailed:
		return "snapshot failed"
	}
	return "unknown"
}

// Event is one thing that happened on the feed. The subscriber reuses one
// Event: a handler must copy what it keeps. Book points to the instrument's
// live book, valid only during the call.
type Event struct {
	Kind       EventKind
	Seq        uint64 // sequence of the message (0 for events without one)
	Session    uint64
	Instrument uint32
	Def        *wire.InstrumentDef // EventDefinition, EventSnapshotBook, and set on book events once known
	Level      wire.LevelUpdate    // EventLevel
	Trade      wire.Trade          // EventTrade
	Status     wire.Status         // EventStatus
	Book       *book.Book          // EventLevel, EventConsistent, EventSnapshotBook
	Reset      ResetReason         // EventReset
	Line       int                 // EventLine: 0 = A, 1 = B, … (the link, if any, after the multicast lines)
	Up         bool                // EventLine
	SendTime   int64               // publisher send time of the packet, ns
	RecvTime   int64               // when the packet was received, ns
}

// Handler receives the feed's events in order, from one goroutine.
type Handler interface {
	HandleEvent(e *Event)
}

// HandlerFunc adapts a function to [Handler].
type HandlerFunc func(e *Event)

// HandleEvent calls f(e).
func (f HandlerFunc) HandleEvent(e *Event) { f(e) }
