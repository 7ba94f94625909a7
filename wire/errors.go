package wire

import "errors"

// Errors returned for malformed input. A packet with any of them is dropped
// whole and counted by its receiver.
var (
	// ErrTruncated: fewer bytes than a header or fixed-size message needs.
	ErrTruncated = errors.New("wire: truncated")
	// ErrBadMagic: the packet does not start with 'T' 'C'.
	ErrBadMagic = errors.New("wire: bad magic")
	// ErrBadVersion: the packet's version is not 1.
	ErrBadVersion = errors.New("wire: unsupported version")
	// ErrMsgLength: a message length below its minimum or past the end of the packet.
	ErrMsgLength = errors.New("wire: message length out of range")
	// ErrCount: the header's message count does not match the bytes.
	ErrCount = errors.New("wire: message count does not match the packet")
	// ErrType: a typed decoder was given a message of another type.
	ErrType = errors.New("wire: wrong message type")
	// ErrTooLarge: a message that cannot fit a packet of the size limit, even
	// alone (see [Split]).
	ErrTooLarge = errors.New("wire: message too large for the packet limit")
)
