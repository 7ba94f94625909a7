package intake

import (
	"sync"
	"sync/atomic"

	"github.com/tickcast/tickcast/gap"
	"github.com/tickcast/tickcast/wire"
)

// item is one hand-off from the arbiter to the dispatcher: a delivered
// packet (copied), an arbiter event, or a snapshot packet from a link.
type item struct {
	kind    itemKind
	buf     []byte
	d       Delivery // itemPacket; itemSnapshot uses d.Packet and d.RxTime
	ev      gap.Event
	overrun bool // the first item after the queue overflowed
	held    bool // the consumer keeps it (Intake.Hold)
	free    bool // on the free list (a consumer may Hold and Release it within its Packet call)
}

type itemKind uint8

const (
	itemPacket itemKind = iota + 1
	itemEvent
	itemSnapshot
)

// queue is the bounded hand-off between the arbiter (its Sink, called under
// the stream's lock) and the dispatcher (whoever holds Intake.dmu). Items
// cycle between free and ready, so steady state does not allocate; when free
// is empty the consumer is behind by Queue items and the intake drops and
// reports a reset instead of growing.
type queue struct {
	ready   chan *item
	dropped atomic.Bool   // items were dropped since the last successful push
	drops   atomic.Uint64 // items dropped in all

	// free is a stack, not a FIFO: the item released last is reused first,
	// so in steady state a handful of items (and their buffers) stay hot in
	// the CPU cache instead of cycling through all Queue of them.
	mu   sync.Mutex
	free []*item
}

func newQueue(n int) *queue {
	q := &queue{ready: make(chan *item, n), free: make([]*item, n)}
	for i := range q.free {
		it := &item{free: true}
		it.d.it = it
		q.free[i] = it
	}
	return q
}

// get returns a free item, or nil when the queue is full (counted).
func (q *queue) get() *item {
	q.mu.Lock()
	n := len(q.free)
	if n == 0 {
		q.mu.Unlock()
		q.dropped.Store(true)
		q.drops.Add(1)
		return nil
	}
	it := q.free[n-1]
	q.free = q.free[:n-1]
	q.mu.Unlock()
	it.free = false
	it.overrun = q.dropped.Swap(false)
	return it
}

// put hands a filled item to the dispatcher; it never blocks (ready has room
// for every item).
func (q *queue) put(it *item) { q.ready <- it }

// release returns an item to the free list.
func (q *queue) release(it *item) {
	if it.free {
		return // released already: never twice on the free list
	}
	it.held, it.free = false, true
	q.mu.Lock()
	q.free = append(q.free, it)
	q.mu.Unlock()
}

// Deliver implements gap.Sink: it copies the delivered packet.
func (q *queue) Deliver(d gap.Delivery) {
	it := q.get()
	if it == nil {
		return
	}
	it.kind = itemPacket
	it.d.Packet = d.Packet.CopyTo(it.buf)
	it.buf = it.d.Packet.Bytes()
	it.d.Skip, it.d.Line, it.d.RxTime = d.Skip, d.Line, d.RxTime
	q.put(it)
}

// Event implements gap.Sink.
func (q *queue) Event(e gap.Event) {
	it := q.get()
	if it == nil {
		return
	}
	it.kind = itemEvent
	it.ev = e
	q.put(it)
}

// snapshotItem is a snapshot packet from a link: a fresh copy outside the
// queue (snapshots are rare and are never dropped).
func snapshotItem(p wire.Packet, rx int64) *item {
	it := &item{kind: itemSnapshot}
	it.d.Packet, it.d.RxTime = p.CopyTo(nil), rx
	return it
}
