// Package wire is tickcast's byte format, version 1 (DESIGN.md, "Wire format v1").
//
// The format is a contract: other tools craft packets from it byte for byte, so
// every offset here is the one DESIGN.md gives. All integers are little-endian;
// prices and quantities are fixed-point int64 mantissas whose exponents come from
// the instrument definition. There are no floats on the wire.
//
// Encoding is append-style: every message type has Append(b []byte) []byte and
// Len() int, and a [Builder] assembles a packet in a caller-owned buffer.
// Decoding is zero-allocation: [Parse] validates a packet header and every message
// length once, then an [Iter] walks the messages as [Message] views whose typed
// accessors (for example [Message.LevelUpdate]) read straight from the bytes.
// Every message type also has a Decode method on its pointer (for example
// [LevelUpdate.Decode]) that fills a value the caller reuses: Go returns a
// struct of more than four fields through memory, and on the hot path copying
// the result costs more than decoding it (see BenchmarkDecodeLevelUpdate).
//
// A relay cuts a packet for a link with a smaller size limit with [Split]
// (DESIGN.md: relays split at message boundaries and never merge).
//
// Malformed input returns one of the exported sentinel errors ([ErrTruncated],
// [ErrBadMagic], [ErrBadVersion], [ErrMsgLength], [ErrCount], and [ErrType]
// from the typed decoders), matched with errors.Is; no input makes a decoder
// panic (see the fuzz targets).
package wire
