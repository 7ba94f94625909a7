package link

import "sync/atomic"

// ring is a bounded single-producer single-consumer queue of byte slices: one
// goroutine pushes, one pops, no locks. head and tail sit on their own cache
// lines so producer and consumer do not false-share.
type ring struct {
	head atomic.Uint64 // next index to pop; written by the consumer
	_    [56]byte
	tail atomic.Uint64 // next index to push; written by the producer
	_    [56]byte
	buf  [][]byte
}

func newRing(n int) *ring { return &ring{buf: make([][]byte, n)} }

// full reports whether a push would fail. Producer side.
func (r *ring) full() bool { return r.tail.Load()-r.head.Load() == uint64(len(r.buf)) }

// push appends b and reports false when the ring is full. Producer side.
func (r *ring) push(b []byte) bool {
	t := r.tail.Load()
	if t-r.head.Load() == uint64(len(r.buf)) {
		return false
	}
	r.buf[t%uint64(len(r.buf))] = b
	r.tail.Store(t + 1)
	return true
}

// pop removes the oldest slice and reports false when the ring is empty.
// Consumer side.
func (r *ring) pop() ([]byte, bool) {
	h := r.head.Load()
	if h == r.tail.Load() {
		return nil, false
	}
	b := r.buf[h%uint64(len(r.buf))]
	r.head.Store(h + 1)
	return b, true
}

// len returns the number of queued slices (approximate while both sides run).
func (r *ring) len() int { return int(r.tail.Load() - r.head.Load()) }

// liveQueue is one client's bounded queue of live packets (DESIGN.md,
// "Promises": each QUIC downstream has its own bounded queue). Publish copies
// a packet into a buffer taken from the free ring and pushes it on the live
// ring; the client's sender pops it, sends it and returns the buffer. Buffers
// are allocated only when the queue grows deeper than ever before, so memory
// follows the deepest backlog and the steady state allocates nothing.
type liveQueue struct {
	live, free *ring
	// The sender parks on wake only when the queue is empty; push signals
	// only a parked sender, so a busy sender costs the publisher no channel
	// operation.
	sleeping atomic.Bool
	wake     chan struct{}
}

// minPacketBuf is the initial capacity of a queue buffer: a default packet.
const minPacketBuf = 1500

func newLiveQueue(n int) *liveQueue {
	// At most n buffers wait in live and one is being sent, so a free ring
	// of n+1 never rejects a returned buffer.
	return &liveQueue{live: newRing(n), free: newRing(n + 1), wake: make(chan struct{}, 1)}
}

// push copies pkt into the queue and reports false, copying nothing, when the
// queue is full. Producer side; never blocks.
func (q *liveQueue) push(pkt []byte) bool { return q.push2(nil, pkt) }

// push2 queues the concatenation of a and b, as push. Producer side.
func (q *liveQueue) push2(a, b []byte) bool {
	if q.live.full() {
		return false
	}
	buf, ok := q.free.pop()
	if !ok {
		buf = make([]byte, 0, max(len(a)+len(b), minPacketBuf))
	}
	buf = append(append(buf[:0], a...), b...)
	q.live.push(buf)
	// The push (tail store) comes before this load, and wait's sleeping
	// store before its emptiness check: one of the two sees the other.
	if q.sleeping.Load() {
		select {
		case q.wake <- struct{}{}:
		default:
		}
	}
	return true
}

// wait parks the consumer until the queue may hold a packet or done closes,
// and reports false when done closed. Wake-ups can be spurious. Consumer side.
func (q *liveQueue) wait(done <-chan struct{}) bool {
	q.sleeping.Store(true)
	defer q.sleeping.Store(false)
	if q.live.len() > 0 {
		return true
	}
	select {
	case <-q.wake:
		return true
	case <-done:
		return false
	}
}

// pop returns the oldest queued packet; give it back with release once sent.
// Consumer side.
func (q *liveQueue) pop() ([]byte, bool) { return q.live.pop() }

// release returns a buffer obtained from pop. Consumer side.
func (q *liveQueue) release(b []byte) { q.free.push(b) }
