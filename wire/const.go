package wire

// Packet-level constants (DESIGN.md, "Packet header").
const (
	// Magic is the first two bytes of every packet: 'T' 'C'.
	Magic0, Magic1 = 'T', 'C'
	// Version is the wire format version this package reads and writes.
	Version = 1
	// HeaderLen is the size of the packet header.
	HeaderLen = 32
	// MsgHeaderLen is the size of the header in front of every message.
	MsgHeaderLen = 4
	// DefaultMaxPacket is the default maximum packet size: the largest QUIC
	// DATAGRAM payload quic-go sends, so a packet crosses a relay link unchanged.
	DefaultMaxPacket = 1200
	// MaxJumboPacket is the largest configurable packet size (jumbo-frame LANs).
	MaxJumboPacket = 8192
	// MaxMessages is the most messages a packet header can count.
	MaxMessages = 1<<16 - 1
)

// Flags is the packet header's flag byte.
type Flags uint8

// Packet flags. Only add at the end.
const (
	FlagHeartbeat      Flags = 0x01 // no messages; Seq is the next sequence to be sent
	FlagRetransmission Flags = 0x02 // an answer to a RetransmitRequest
	FlagSnapshot       Flags = 0x04 // part of a snapshot; Seq is the last sequence it reflects
	FlagEndOfSession   Flags = 0x08 // the publisher stopped gracefully
)

// Type is a message type (DESIGN.md, "Market messages" and "Control messages").
type Type uint8

// Message types. Market messages are sequenced and travel on the lines; control
// messages travel only on unicast UDP or QUIC streams. Only add at the end.
const (
	TypeInstrumentDef     Type = 0x01
	TypeLevelUpdate       Type = 0x02
	TypeTrade             Type = 0x03
	TypeBookClear         Type = 0x04
	TypeInstrumentStatus  Type = 0x05
	TypeBookChecksum      Type = 0x06
	TypeRetransmitRequest Type = 0x40
	TypeRetransmitReject  Type = 0x41
	TypeSnapshotRequest   Type = 0x42
	TypeSnapshotEnd       Type = 0x43
	// TypeSubscribe is tickcast's extension for the QUIC link control stream:
	// the first message a link client sends (see [Subscribe]).
	TypeSubscribe Type = 0x44
	// TypeRetransmitToken is tickcast's extension for anti-amplification: a
	// retransmit server's answer to a request from a requester it has not
	// validated (see [RetransmitToken]).
	TypeRetransmitToken Type = 0x45
)

// Fixed message lengths, header included.
const (
	InstrumentDefLen     = 40
	LevelUpdateLen       = 40
	TradeLen             = 48
	BookClearLen         = 16
	InstrumentStatusLen  = 16
	BookChecksumLen      = 24
	RetransmitRequestLen = 32
	RetransmitRejectLen  = 32
	SnapshotRequestLen   = 16
	SnapshotEndLen       = 24
	SubscribeLen         = 32
	RetransmitTokenLen   = 16
)

// minLen maps every type byte to its fixed length, header included, or to
// MsgHeaderLen for a type this version does not know: a table lookup keeps
// [Parse] free of branches on the type.
var minLen = [256]uint8{
	TypeInstrumentDef:     InstrumentDefLen,
	TypeLevelUpdate:       LevelUpdateLen,
	TypeTrade:             TradeLen,
	TypeBookClear:         BookClearLen,
	TypeInstrumentStatus:  InstrumentStatusLen,
	TypeBookChecksum:      BookChecksumLen,
	TypeRetransmitRequest: RetransmitRequestLen,
	TypeRetransmitReject:  RetransmitRejectLen,
	TypeSnapshotRequest:   SnapshotRequestLen,
	TypeSnapshotEnd:       SnapshotEndLen,
	TypeSubscribe:         SubscribeLen,
	TypeRetransmitToken:   RetransmitTokenLen,
}

func init() {
	for t, l := range minLen {
		if l == 0 {
			minLen[t] = MsgHeaderLen
		}
	}
}

// MinLen returns the smallest valid length of a message of type t, header
// included, and false for a type this version does not know (such a message is
// skipped by its length).
func (t Type) MinLen() (int, bool) {
	l := int(minLen[t])
	return l, l > MsgHeaderLen
}

// String returns the message type's name.
func (t Type) String() string {
	switch t {
	case TypeInstrumentDef:
		return "InstrumentDef"
	case TypeLevelUpdate:
		return "LevelUpdate"
	case TypeTrade:
		return "Trade"
	case TypeBookClear:
		return "BookClear"
	case TypeInstrumentStatus:
		return "InstrumentStatus"
	case TypeBookChecksum:
		return "BookChecksum"
	case TypeRetransmitRequest:
		return "RetransmitRequest"
	case TypeRetransmitReject:
		return "RetransmitReject"
	case TypeSnapshotRequest:
		return "SnapshotRequest"
	case TypeSnapshotEnd:
		return "SnapshotEnd"
	case TypeSubscribe:
		return "Subscribe"
	case TypeRetransmitToken:
		return "RetransmitToken"
	}
	return "Unknown"
}

// Side is the side of a book level.
type Side uint8

// Book sides.
const (
	Bid Side = 0
	Ask Side = 1
)

// String returns "bid" or "ask".
func (s Side) String() string {
	if s == Bid {
		return "bid"
	}
	if s == Ask {
		return "ask"
	}
	return "side?"
}

// Aggressor says which side took liquidity in a trade.
type Aggressor uint8

// Trade aggressors.
const (
	AggressorUnknown Aggressor = 0
	AggressorBuy     Aggressor = 1
	AggressorSell    Aggressor = 2
)

// Status is an instrument's state (InstrumentStatus message).
type Status uint8

// Instrument statuses. Only add at the end.
const (
	StatusOK        Status = 1 // the source delivers data
	StatusStale     Status = 2 // no source data for a while
	StatusResyncing Status = 3 // the source is rebuilding the book
	StatusHalted    Status = 4 // trading halted
)

// String returns the status name.
func (s Status) String() string {
	switch s {
	case StatusOK:
		return "ok"
	case StatusStale:
		return "stale"
	case StatusResyncing:
		return "resyncing"
	case StatusHalted:
		return "halted"
	}
	return "unknown"
}

// RejectReason says why a retransmit server refused a request.
type RejectReason uint8

// Reject reasons (DESIGN.md, RetransmitReject). Only add at the end.
const (
	RejectTooOld         RejectReason = 1 // gone from the cache: use a snapshot
	RejectRateLimited    RejectReason = 2 // retry after the given delay
	RejectUnknownSession RejectReason = 3 // the server is in another session
	RejectNotAllowed     RejectReason = 4 // the requester's network is not configured
	RejectNotYetSent     RejectReason = 5 // the sequence was not sent yet
)

// String returns the reason in words.
func (r RejectReason) String() string {
	switch r {
	case RejectTooOld:
		return "too old"
	case RejectRateLimited:
		return "rate limited"
	case RejectUnknownSession:
		return "unknown session"
	case RejectNotAllowed:
		return "not allowed"
	case RejectNotYetSent:
		return "not yet sent"
	}
	return "unknown reason"
}
