package wire

import "encoding/binary"

// Packet is a validated view over one encoded packet. The bytes are not copied:
// the view is valid as long as the caller keeps them unchanged.
type Packet struct {
	Header
	b []byte
}

// Parse validates a whole packet: the header, every message length and the
// message count. Messages of unknown types are accepted and skipped by length
// (forward compatibility); a known type shorter than its fixed length, a length
// below 4 or past the end, or a count that does not match the bytes makes the
// packet malformed. Parse does not allocate.
func Parse(b []byte) (Packet, error) {
	h, err := ParseHeader(b)
	if err != nil {
		return Packet{}, err
	}
	off, n := HeaderLen, 0
	for off < len(b) {
		m := b[off:]
		if len(m) < MsgHeaderLen {
			return Packet{}, ErrMsgLength
		}
		// minLen is the type's fixed length, or MsgHeaderLen when unknown.
		l := int(binary.LittleEndian.Uint16(m))
		if l < int(minLen[m[2]]) || l > len(m) {
			return Packet{}, ErrMsgLength
		}
		off += l
		n++
	}
	if n != int(h.Count) {
		return Packet{}, ErrCount
	}
	return Packet{Header: h, b: b}, nil
}

// Bytes returns the whole encoded packet.
func (p Packet) Bytes() []byte { return p.b }

// CopyTo copies the packet into buf (reusing its capacity) and returns a
// view over the copy. The copy is not validated again: it is the same
// bytes. This is how a packet outlives the buffer it was received in.
func (p Packet) CopyTo(buf []byte) Packet {
	return Packet{Header: p.Header, b: append(buf[:0], p.b...)}
}

// Body returns the encoded messages after the header (nil for the zero Packet).
func (p Packet) Body() []byte {
	if len(p.b) < HeaderLen {
		return nil
	}
	return p.b[HeaderLen:]
}

// Messages returns an iterator over the packet's messages.
func (p Packet) Messages() Iter {
	return Iter{b: p.b, off: HeaderLen, cur: HeaderLen, seq: p.Seq - 1}
}

// Iter walks the messages of a validated [Packet]. Declare it outside the for
// statement, as below: a variable declared in the for clause is copied on
// every iteration (Go 1.22 loop variables).
//
//	it := p.Messages()
//	for it.Next() {
//		m := it.Message()
//		…
//	}
type Iter struct {
	b   []byte
	off int    // offset of the next message
	cur int    // offset of the current message
	seq uint64 // sequence of the current message
}

// Next advances to the next message and reports whether there is one.
func (it *Iter) Next() bool {
	if it.off >= len(it.b) {
		return false
	}
	it.cur = it.off
	it.off += int(binary.LittleEndian.Uint16(it.b[it.off:]))
	it.seq++
	return true
}

// Message returns the current message.
func (it *Iter) Message() Message { return Message{b: it.b[it.cur:it.off:it.off]} }

// Seq returns the current message's sequence: the header's Seq plus the
// message's index. It is meaningful only for sequenced packets.
func (it *Iter) Seq() uint64 { return it.seq }

// Offset returns the current message's byte offset within the packet.
func (it *Iter) Offset() int { return it.cur }

// Message is a view over one message of a validated packet: its length is at
// least the fixed length of its type, so the typed accessors never fail. In a
// hot loop, decoding into a reused value (u.Decode(m.Bytes()) with u a
// [LevelUpdate]) saves copying the accessor's result.
type Message struct{ b []byte }

// Type returns the message type.
func (m Message) Type() Type { return Type(m.b[2]) }

// Flags returns the per-type flag byte.
func (m Message) Flags() uint8 { return m.b[3] }

// Len returns the message length, header included.
func (m Message) Len() int { return len(m.b) }

// Bytes returns the encoded message, header included.
func (m Message) Bytes() []byte { return m.b }

// InstrumentDef decodes an InstrumentDef message. Call it only when Type says so
// (another type yields a zero or meaningless value, never a panic).
func (m Message) InstrumentDef() (d InstrumentDef) {
	if len(m.b) >= InstrumentDefLen {
		d.read(m.b)
	}
	return d
}

// LevelUpdate decodes a LevelUpdate message. Call it only when Type says so
// (another type yields a zero or meaningless value, never a panic).
func (m Message) LevelUpdate() (u LevelUpdate) {
	if len(m.b) >= LevelUpdateLen {
		u.read(m.b)
	}
	return u
}

// Trade decodes a Trade message. Call it only when Type says so
// (another type yields a zero or meaningless value, never a panic).
func (m Message) Trade() (t Trade) {
	if len(m.b) >= TradeLen {
		t.read(m.b)
	}
	return t
}

// BookClear decodes a BookClear message. Call it only when Type says so
// (another type yields a zero or meaningless value, never a panic).
func (m Message) BookClear() (c BookClear) {
	if len(m.b) >= BookClearLen {
		c.read(m.b)
	}
	return c
}

// InstrumentStatus decodes an InstrumentStatus message. Call it only when Type says so
// (another type yields a zero or meaningless value, never a panic).
func (m Message) InstrumentStatus() (s InstrumentStatus) {
	if len(m.b) >= InstrumentStatusLen {
		s.read(m.b)
	}
	return s
}

// BookChecksum decodes a BookChecksum message. Call it only when Type says so
// (another type yields a zero or meaningless value, never a panic).
func (m Message) BookChecksum() (c BookChecksum) {
	if len(m.b) >= BookChecksumLen {
		c.read(m.b)
	}
	return c
}

// Instrument returns the instrument id of a market message (every market
// message carries it at offset 4) and false for control or unknown types.
func (m Message) Instrument() (uint32, bool) {
	switch m.Type() {
	case TypeInstrumentDef, TypeLevelUpdate, TypeTrade, TypeBookClear,
		TypeInstrumentStatus, TypeBookChecksum:
		return binary.LittleEndian.Uint32(m.b[4:]), true
	}
	return 0, false
}

// ReadMessage validates the message at the start of b (outside a packet: a
// source's batch, a capture record) and returns a view of it. The length
// rules are those of [Parse]: at least 4 bytes, within b, and at least the
// fixed length of a known type.
func ReadMessage(b []byte) (Message, error) {
	if len(b) < MsgHeaderLen {
		return Message{}, ErrTruncated
	}
	l := int(binary.LittleEndian.Uint16(b))
	if l < MsgHeaderLen || l > len(b) {
		return Message{}, ErrMsgLength
	}
	if min, known := Type(b[2]).MinLen(); known && l < min {
		return Message{}, ErrMsgLength
	}
	return Message{b: b[:l:l]}, nil
}
