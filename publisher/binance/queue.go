package binance

// Bounds of one symbol's buffered depth events (while its snapshot is on the
// way, or while a replacement connection overlaps the old one). Past them the
// buffer starts again: the snapshot then fails to bridge and is fetched anew.
const (
	maxQueuedEvents = 1 << 16
	maxQueuedBytes  = 32 << 20
)

// queuedEvent is one buffered depth event: its update ids and the end of its
// LevelUpdates in eventQueue.msgs.
type queuedEvent struct {
	first, final uint64
	end          int
}

// eventQueue buffers a symbol's depth events, already normalized, as one
// contiguous run of update ids (BINANCE.md, "Keeping a local book correct",
// step 1): an event that leaves a gap after the buffered ones makes them
// useless, so the queue restarts from it.
type eventQueue struct {
	evs  []queuedEvent
	head int // first live event in evs
	msgs []byte
}

// len returns the number of buffered events.
func (q *eventQueue) len() int { return len(q.evs) - q.head }

// reset empties the queue, keeping its memory.
func (q *eventQueue) reset() {
	q.evs, q.head, q.msgs = q.evs[:0], 0, q.msgs[:0]
}

// first returns the first update id of the oldest buffered event.
func (q *eventQueue) first() (uint64, bool) {
	if q.len() == 0 {
		return 0, false
	}
	return q.evs[q.head].first, true
}

// push buffers the event first..final with its LevelUpdates msgs. An event
// already covered by the buffer is ignored; one that leaves a gap restarts it.
func (q *eventQueue) push(first, final uint64, msgs []byte) {
	if q.len() > 0 {
		last := q.evs[len(q.evs)-1].final
		if final <= last {
			return
		}
		if first > last+1 {
			q.reset()
		}
	}
	if q.len() >= maxQueuedEvents || len(q.msgs)+len(msgs) > maxQueuedBytes {
		q.reset()
	}
	if q.len() == 0 {
		q.reset() // reclaim the space of events dropped from the front
	}
	q.msgs = append(q.msgs, msgs...)
	q.evs = append(q.evs, queuedEvent{first, final, len(q.msgs)})
}

// dropThrough drops the events with final <= id (step 3: they are in the
// snapshot already).
func (q *eventQueue) dropThrough(id uint64) {
	for q.head < len(q.evs) && q.evs[q.head].final <= id {
		q.head++
	}
}

// each calls f for every buffered event, oldest first, until f returns false.
func (q *eventQueue) each(f func(first, final uint64, msgs []byte) bool) {
	start := 0
	if q.head > 0 {
		start = q.evs[q.head-1].end
	}
	for _, e := range q.evs[q.head:] {
		if !f(e.first, e.final, q.msgs[start:e.end]) {
			return
		}
		start = e.end
	}
}
