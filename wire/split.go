package wire

import "fmt"

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
	i := 0
	for it := p.Messages(); it.Next(); i++ {
		if m := it.Message(); m.Len() > room {
			return fmt.Errorf("wire: split into %d-byte packets: message %d (%v) is %d bytes, over the %d left after the header: %w",
				limit, i, m.Type(), m.Len(), room, ErrTooLarge)
		}
	}

	if cap(buf) < limit {
		buf = make([]byte, 0, limit)
	}
	sequenced := p.Sequenced()
	// start is the index of the current part's first message, n its count.
	start, n := 0, 0
	finish := func(part []byte) []byte {
		SetCount(part, uint16(n))
		if sequenced {
			SetSeq(part, p.Seq+uint64(start))
		}
		return part
	}
	part := append(buf[:0], pkt[:HeaderLen]...)
	for it := p.Messages(); it.Next(); {
		m := it.Message().Bytes()
		if len(part)+len(m) > limit {
			if err := emit(finish(part)); err != nil {
				return err
			}
			// Copy the header afresh: emit may have patched the last part's.
			part = append(buf[:0], pkt[:HeaderLen]...)
			start, n = start+n, 0
		}
		part = append(part, m...)
		n++
	}
	return emit(finish(part))
}
