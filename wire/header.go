package wire

import "encoding/binary"

// Header is the 32-byte packet header (DESIGN.md, "Packet header").
type Header struct {
	Flags   Flags
	Channel uint16 // each channel is its own sequence space and its own A/B groups
	Count   uint16 // number of messages in the packet
	Session uint64 // chosen at publisher start; a new session restarts sequence at 1
	// Seq is the sequence of the first message. In a heartbeat or end of
	// session it is the next sequence to be sent; in a snapshot, the last
	// sequence the snapshot reflects.
	Seq      uint64
	SendTime int64 // ns since the Unix epoch, publisher clock; relays keep it
}

// Has reports whether all flags in f are set.
func (h *Header) Has(f Flags) bool { return h.Flags&f == f }

// Sequenced reports whether the packet's messages carry sequences Seq, Seq+1, …
// (live and retransmitted market data; not heartbeats, snapshots or control).
func (h *Header) Sequenced() bool {
	return h.Flags&(FlagHeartbeat|FlagSnapshot|FlagEndOfSession) == 0 && h.Seq != 0
}

// End returns the sequence after the packet's last message (Seq+Count).
func (h *Header) End() uint64 { return h.Seq + uint64(h.Count) }

// Append appends the encoded header to b and returns the extended buffer.
func (h Header) Append(b []byte) []byte {
	b = append(b, Magic0, Magic1, Version, byte(h.Flags))
	b = binary.LittleEndian.AppendUint16(b, h.Channel)
	b = binary.LittleEndian.AppendUint16(b, h.Count)
	b = binary.LittleEndian.AppendUint64(b, h.Session)
	b = binary.LittleEndian.AppendUint64(b, h.Seq)
	return binary.LittleEndian.AppendUint64(b, uint64(h.SendTime))
}

// ParseHeader decodes and validates the header at the start of b (magic and
// version). It does not look at the messages; [Parse] does.
func ParseHeader(b []byte) (Header, error) {
	if len(b) < HeaderLen {
		return Header{}, ErrTruncated
	}
	if b[0] != Magic0 || b[1] != Magic1 {
		return Header{}, ErrBadMagic
	}
	if b[2] != Version {
		return Header{}, ErrBadVersion
	}
	return Header{
		Flags:    Flags(b[3]),
		Channel:  binary.LittleEndian.Uint16(b[4:]),
		Count:    binary.LittleEndian.Uint16(b[6:]),
		Session:  binary.LittleEndian.Uint64(b[8:]),
		Seq:      binary.LittleEndian.Uint64(b[16:]),
		SendTime: int64(binary.LittleEndian.Uint64(b[24:])),
	}, nil
}

// SetFlags overwrites the flag byte of the encoded packet pkt (for example to
// mark a cached packet as a retransmission). pkt must hold at least a header.
func SetFlags(pkt []byte, f Flags) { pkt[3] = byte(f) }

// SetCount overwrites the message count of the encoded packet pkt.
func SetCount(pkt []byte, n uint16) { binary.LittleEndian.PutUint16(pkt[6:], n) }

// SetSeq overwrites the sequence of the encoded packet pkt.
func SetSeq(pkt []byte, seq uint64) { binary.LittleEndian.PutUint64(pkt[16:], seq) }

// SetSendTime overwrites the send time of the encoded packet pkt.
func SetSendTime(pkt []byte, ns int64) { binary.LittleEndian.PutUint64(pkt[24:], uint64(ns)) }
