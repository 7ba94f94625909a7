package wire

import "encoding/binary"

// Encoder is implemented by every message type: Append writes exactly Len bytes.
type Encoder interface {
	Append(b []byte) []byte
	Len() int
}

// Builder assembles one packet in a caller-owned buffer without allocating:
//
//	var pb wire.Builder
//	pb.Reset(buf[:0], wire.DefaultMaxPacket, wire.Header{Channel: 1, Session: s, Seq: next})
//	for … { if !wire.Add(&pb, u) { flush; pb.Reset(…) } }
//	pkt := pb.Finish(time.Now().UnixNano())
//
// The count and send time are written by Finish, so a sender takes one clock
// reading per packet, not per message.
type Builder struct {
	b     []byte
	n     int
	limit int
}

// Reset starts a new packet with header h in buf (its length is ignored; its
// capacity should be at least limit) that may grow to limit bytes.
func (p *Builder) Reset(buf []byte, limit int, h Header) {
	h.Count = 0
	p.b = h.Append(buf[:0])
	p.n = 0
	p.limit = limit
}

// Len returns the packet's current length in bytes.
func (p *Builder) Len() int { return len(p.b) }

// Count returns the number of messages added so far.
func (p *Builder) Count() int { return p.n }

// Room returns how many more bytes fit.
func (p *Builder) Room() int { return p.limit - len(p.b) }

// Header returns the packet's current header (the count as added so far).
func (p *Builder) Header() Header {
	h, _ := ParseHeader(p.b)
	h.Count = uint16(p.n)
	return h
}

// AddRaw appends one already-encoded message and reports false, adding
// nothing, when it would exceed the limit or the message count.
func (p *Builder) AddRaw(msg []byte) bool {
	if len(msg) > p.Room() || p.n == MaxMessages {
		return false
	}
	p.b = append(p.b, msg...)
	p.n++
	return true
}

// Add encodes m into the packet and reports false, adding nothing, when it
// would exceed the limit or the message count.
func Add[M Encoder](p *Builder, m M) bool {
	if m.Len() > p.Room() || p.n == MaxMessages {
		return false
	}
	p.b = m.Append(p.b)
	p.n++
	return true
}

// FinishPacket is Finish returning a [Packet] view, without parsing the
// packet again (the builder made it valid).
func (p *Builder) FinishPacket(sendTime int64) Packet {
	b := p.Finish(sendTime)
	h, _ := ParseHeader(b)
	return Packet{Header: h, b: b}
}

// Finish writes the message count and send time and returns the packet. The
// result aliases the buffer given to Reset.
func (p *Builder) Finish(sendTime int64) []byte {
	binary.LittleEndian.PutUint16(p.b[6:], uint16(p.n))
	binary.LittleEndian.PutUint64(p.b[24:], uint64(sendTime))
	return p.b
}
