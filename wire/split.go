package wire

import (
	"encoding/binary"
	"fmt"
)

// Split cuts the packet pkt at message boundaries into packets of at most
// limit bytes and hands them to emit in order (DESIGN.md, "Packet header": a
// relay may split a packet to fit a smaller limit and never merges packets).
//
// Each part keeps pkt's header (flags, channel, session, send time) with its
// own message count; in a sequenced packet ([Header.Sequenced]) a part's Seq
// is the sequence of its first message, in any other packet (heartbeat,
// snapshot, end of session, control) it keeps pkt's Seq. Parts are filled
// greedily, so every part but the last could not take one more message.
//
// pkt is validated with [Parse] first; a malformed packet returns Parse's
// error. A packet already within limit is passed to emit unchanged, without a
// copy. Otherwise the parts are written into buf, scratch space the caller
// owns: it is reused for every part (emit must copy a part it keeps) and
// Split does not allocate when cap(buf) >= limit. A message that does not fit
// a packet of limit bytes on its own returns an error wrapping [ErrTooLarge],
// and nothing is emitted. An error from emit stops the split and is returned
// as is.
func Split(pkt []byte, limit int, buf []byte, emit func(part []byte) error) error {
	p, err := Parse(pkt)
	if err != nil {
		return err
	}
	if len(pkt) <= limit {
		return emit(pkt)
	}
	room := limit - HeaderLen
	if room < MsgHeaderLen {
		return fmt.Errorf("wire: split into %d-byte packets: a %d-byte header leaves no room for a message: %w",
			limit, HeaderLen, ErrTooLarge)
	}
	// Every message must fit a part on its own: check before emitting anything.
	for off, i := HeaderLen, 0; off < len(pkt); i++ {
		l := int(binary.LittleEndian.Uint16(pkt[off:]))
		if l > room {
			return fmt.Errorf("wire: split into %d-byte packets: message %d (%v) is %d bytes, over the %d left after the header: %w",
				limit, i, Type(pkt[off+2]), l, room, ErrTooLarge)
		}
		off += l
	}

	if cap(buf) < limit {
		buf = make([]byte, 0, limit)
	}
	sequenced := p.Sequenced()
	// Each part is the header and the run of messages pkt[off:end], n of
	// them, the first with index first.
	for off, first := HeaderLen, 0; off < len(pkt); {
		end, n := off, 0
		for end < len(pkt) {
			l := int(binary.LittleEndian.Uint16(pkt[end:]))
			if end+l-off > room {
				break
			}
			end += l
			n++
		}
		// The header is copied afresh for every part: emit may have
		// patched the last one's.
		part := append(append(buf[:0], pkt[:HeaderLen]...), pkt[off:end]...)
		SetCount(part, uint16(n))
		if sequenced {
			SetSeq(part, p.Seq+uint64(first))
		}
		if err := emit(part); err != nil {
			return err
		}
		off, first = end, first+n
	}
	return nil
}
