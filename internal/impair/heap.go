package impair

// pending is a packet waiting in a direction's timer heap.
type pending struct {
	due int64  // when it goes out: ns on the proxy's monotonic clock
	seq uint64 // intake order: among equal due times, first in goes first
	buf []byte // a copy in one of the direction's buffers
	s   *session
}

// timerHeap is a binary min-heap of pending packets by (due, seq), typed so
// that pushing and popping do not box (container/heap would allocate).
type timerHeap struct{ items []pending }

func (h *timerHeap) len() int { return len(h.items) }

func (h *timerHeap) less(i, j int) bool {
	a, b := &h.items[i], &h.items[j]
	return a.due < b.due || (a.due == b.due && a.seq < b.seq)
}

// top returns the earliest packet; the heap must not be empty.
func (h *timerHeap) top() *pending { return &h.items[0] }

// push adds p.
func (h *timerHeap) push(p pending) {
	h.items = append(h.items, p)
	for i := len(h.items) - 1; i > 0; {
		parent := (i - 1) / 2
		if !h.less(i, parent) {
			break
		}
		h.items[i], h.items[parent] = h.items[parent], h.items[i]
		i = parent
	}
}

// pop removes and returns the earliest packet; the heap must not be empty.
func (h *timerHeap) pop() pending {
	n := len(h.items) - 1
	p := h.items[0]
	h.items[0] = h.items[n]
	h.items[n] = pending{}
	h.items = h.items[:n]
	for i := 0; ; {
		l, r, m := 2*i+1, 2*i+2, i
		if l < n && h.less(l, m) {
			m = l
		}
		if r < n && h.less(r, m) {
			m = r
		}
		if m == i {
			break
		}
		h.items[i], h.items[m] = h.items[m], h.items[i]
		i = m
	}
	return p
}
