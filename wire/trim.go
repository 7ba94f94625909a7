package wire

// Trim returns the packet without its first skip messages, copied into buf
// (reusing its capacity): the header is kept but for Seq, which moves to the
// first message kept (in a sequenced packet), and the message count. A relay forwards a packet that
// overlaps what it already forwarded this way, so a message is never sent
// downstream twice. Trim with skip 0 returns p itself, and with skip at or
// past the count, a packet with no messages. Trim does not allocate when
// cap(buf) >= len(p.Bytes()).
func (p Packet) Trim(skip int, buf []byte) Packet {
	if skip <= 0 {
		return p
	}
	skip = min(skip, int(p.Count))
	it := p.Messages()
	off := HeaderLen
	for i := 0; i < skip && it.Next(); i++ {
		off = it.off
	}
	buf = append(buf[:0], p.b[:HeaderLen]...)
	buf = append(buf, p.b[off:]...)
	q := Packet{Header: p.Header, b: buf}
	q.Count -= uint16(skip)
	if q.Sequenced() {
		q.Seq += uint64(skip)
	}
	SetSeq(buf, q.Seq)
	SetCount(buf, q.Count)
	return q
}
