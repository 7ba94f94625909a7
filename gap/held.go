package gap

import "github.com/tickcast/tickcast/wire"

// held is the arbiter's bounded buffer of packets that arrived ahead of a
// hole: a deque of slots sorted by first sequence. Packets mostly arrive in
// order behind a hole, so inserting is an append at the back; delivering pops
// the front. Slot buffers are reused, so steady state does not allocate.
type held struct {
	slots    []slot
	free     []int32
	order    []int32 // ring of slot indices sorted by seq
	head, n  int
	bytes    int
	maxBytes int
}

type slot struct {
	buf    []byte
	pkt    wire.Packet
	line   int
	rxTime int64
}

func newHeld(maxPackets, maxBytes int) *held {
	h := &held{
		slots:    make([]slot, maxPackets),
		free:     make([]int32, maxPackets),
		order:    make([]int32, maxPackets),
		maxBytes: maxBytes,
	}
	for i := range h.free {
		h.free[i] = int32(maxPackets - 1 - i)
	}
	return h
}

func (h *held) len() int { return h.n }

// full reports whether a packet of n more bytes would exceed a bound.
func (h *held) full(n int) bool { return h.n == len(h.slots) || h.bytes+n > h.maxBytes }

// at returns the i-th held packet in sequence order.
func (h *held) at(i int) *slot {
	return &h.slots[h.order[(h.head+i)%len(h.order)]]
}

func (h *held) front() *slot { return h.at(0) }

// popFront drops the first packet and frees its slot.
func (h *held) popFront() {
	idx := h.order[h.head]
	h.bytes -= len(h.slots[idx].pkt.Bytes())
	h.free = append(h.free, idx)
	h.head = (h.head + 1) % len(h.order)
	h.n--
}

// insert copies p into a free slot at its place in sequence order. It reports
// false, holding nothing, when a held packet already covers p (a duplicate).
// The caller checks full first.
func (h *held) insert(p wire.Packet, line int, rxTime int64) bool {
	// Find the position: the first held packet with a greater seq, scanning
	// from the back because arrivals are mostly in order.
	pos := h.n
	for pos > 0 {
		s := h.at(pos - 1)
		if s.pkt.Seq < p.Seq {
			break
		}
		if s.pkt.Seq == p.Seq && s.pkt.End() >= p.End() {
			return false
		}
		pos--
	}
	if pos > 0 {
		if s := h.at(pos - 1); s.pkt.End() >= p.End() {
			return false // inside a held packet that starts earlier
		}
	}
	idx := h.free[len(h.free)-1]
	h.free = h.free[:len(h.free)-1]
	s := &h.slots[idx]
	s.pkt = p.CopyTo(s.buf)
	s.buf = s.pkt.Bytes()
	s.line = line
	s.rxTime = rxTime
	h.bytes += len(s.buf)
	// Shift the ring tail right by one from pos.
	ln := len(h.order)
	for i := h.n; i > pos; i-- {
		h.order[(h.head+i)%ln] = h.order[(h.head+i-1)%ln]
	}
	h.order[(h.head+pos)%ln] = idx
	h.n++
	return true
}

// clear drops every held packet.
func (h *held) clear() {
	for h.n > 0 {
		h.popFront()
	}
}
