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
	// stamps[i] is when the packet in live's slot i was queued, on the
	// producer's clock (ns), so anyone can read how long the oldest one
	// has waited; nil when not kept (the client's side).
	stamps []atomic.Int64
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

// newStampedQueue returns a live queue that keeps when each packet was
// queued (pushAt), for [liveQueue.oldest].
func newStampedQueue(n int) *liveQueue {
	q := newLiveQueue(n)
	q.stamps = make([]atomic.Int64, n)
	return q
}

// push copies pkt into the queue and reports false, copying nothing, when the
// queue is full. Producer side; never blocks.
func (q *liveQueue) push(pkt []byte) bool { return q.push2At(nil, pkt, 0) }

// pushAt is push, the packet queued at now (the producer's clock, ns).
func (q *liveQueue) pushAt(pkt []byte, now int64) bool { return q.push2At(nil, pkt, now) }

// push2 queues the concatenation of a and b, as push. Producer side.
func (q *liveQueue) push2(a, b []byte) bool { return q.push2At(a, b, 0) }

// push2At queues the concatenation of a and b, queued at now. Producer side.
func (q *liveQueue) push2At(a, b []byte, now int64) bool {
	if q.live.full() {
		return false
	}
	buf, ok := q.free.pop()
	if !ok {
		buf = make([]byte, 0, max(len(a)+len(b), minPacketBuf))
	}
	buf = append(append(buf[:0], a...), b...)
	if q.stamps != nil {
		// The slot push fills (the producer owns tail), stamped before
		// push publishes it.
		q.stamps[q.live.tail.Load()%uint64(len(q.stamps))].Store(now)
	}
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

// oldest returns when the oldest queued packet was queued (see pushAt), and
// false when the queue is empty or keeps no stamps. Any goroutine: while
// both sides run, the answer may be a packet just behind the oldest (a
// slightly younger one), never an older one.
func (q *liveQueue) oldest() (int64, bool) {
	if q.stamps == nil {
		return 0, false
	}
	h := q.live.head.Load()
	if h == q.live.tail.Load() {
		return 0, false
	}
	// The slot is refilled only once head has moved past h: then this
	// reads a younger packet's stamp.
	return q.stamps[h%uint64(len(q.stamps))].Load(), true
}

// pop returns the oldest queued packet; give it back with release once sent.
// Consumer side.
func (q *liveQueue) pop() ([]byte, bool) { return q.live.pop() }

// release returns a buffer obtained from pop. Consumer side.
func (q *liveQueue) release(b []byte) { q.free.push(b) }
