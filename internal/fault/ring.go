package fault

// held is a packet the injector holds: a copy in one of its own buffers.
type held struct {
	buf []byte
	at  int64 // when it is released: an input count (reorder) or a time in ns (delay)
	dup bool  // deliver twice when released
}

// queue is a growable FIFO ring of held packets. Growth is amortized: in
// steady state a queue does not allocate.
type queue struct {
	items []held
	head  int
	n     int
}

func (q *queue) len() int { return q.n }

// push appends h at the tail.
func (q *queue) push(h held) {
	if q.n == len(q.items) {
		grown := make([]held, max(16, 2*len(q.items)))
		for i := range q.n {
			grown[i] = q.items[(q.head+i)%len(q.items)]
		}
		q.items, q.head = grown, 0
	}
	q.items[(q.head+q.n)%len(q.items)] = h
	q.n++
}

// peek returns the head; the queue must not be empty.
func (q *queue) peek() *held { return &q.items[q.head] }

// pop removes and returns the head; the queue must not be empty.
func (q *queue) pop() held {
	h := q.items[q.head]
	q.items[q.head] = held{}
	q.head = (q.head + 1) % len(q.items)
	q.n--
	return h
}
