package intake

import "context"

// readerDrain bounds what a line reader dispatches per call: past it, the
// background loop takes over, so a reader stuck dispatching for the other
// line never lets its own socket overflow.
const readerDrain = 256

// tryDispatch drains the queue on the calling goroutine unless another
// goroutine is already dispatching: whoever holds the lock dispatches, so
// usually the line reader that just offered the packets calls the Consumer
// (no goroutine hand-off between the socket and the consumer). Callers offer
// to the stream first, then call it (never with the stream locked). The
// re-check after Unlock closes the window in which another goroutine queued
// an item and found the lock taken; when the bounded drain stops early, the
// background loop is woken to finish.
func (in *Intake) tryDispatch() {
	for in.pending() {
		if !in.dmu.TryLock() {
			return
		}
		more := in.drain(readerDrain)
		in.dmu.Unlock()
		if more {
			in.kick()
			return
		}
	}
}

// kick wakes the background loop to drain.
func (in *Intake) kick() {
	select {
	case in.drainKick <- struct{}{}:
	default:
	}
}

// pending reports whether anything waits for the dispatcher.
func (in *Intake) pending() bool {
	return len(in.q.ready) > 0 || in.q.dropped.Load() || len(in.snaps) > 0
}

// drain hands what is waiting to the Consumer, snapshot packets first,
// then deliveries in order, at most limit items (0 = all); it reports
// whether it stopped at the limit with more waiting. dmu held.
func (in *Intake) drain(limit int) bool {
	q := in.q
	for n := 0; ; n++ {
		if limit > 0 && n == limit {
			return in.pending()
		}
		select {
		case it := <-in.snaps:
			in.cfg.Consumer.Snapshot(it.d.Packet, it.d.RxTime)
			continue
		default:
		}
		select {
		case it := <-q.ready:
			in.handle(it)
			continue
		default:
		}
		// After a drop, nothing may follow to carry the overrun mark:
		// look at the flag once the queue is drained.
		if q.dropped.Swap(false) {
			in.overrun()
			continue
		}
		return false
	}
}

// handle gives one item to the Consumer and releases it unless it is held.
func (in *Intake) handle(it *item) {
	if it.overrun {
		in.overrun()
	}
	c := in.cfg.Consumer
	switch it.kind {
	case itemEvent:
		c.Event(fromGap(it.ev))
	case itemPacket:
		c.Packet(&it.d)
		if it.held || it.free {
			return // kept, or held and released by the consumer already
		}
	}
	in.q.release(it)
}

func (in *Intake) overrun() {
	if in.overruns.Add(1) == 1 {
		in.log.Warn("consumer behind by the whole queue: deliveries dropped, reset", "queue", in.cfg.Queue)
	}
	in.cfg.Consumer.Event(Event{Kind: EventReset, Reset: ResetOverrun})
}

// loop is the background dispatcher: it handles what does not arrive with
// a packet (snapshot packets, line state, work a reader left) and stops
// when ctx ends.
func (in *Intake) loop(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-in.snapKick:
			// Snapshot packets stay in their channel until the goroutine
			// holding dmu takes them: taking one here and then waiting for
			// the lock would let a later packet overtake it.
			in.dmu.Lock()
			in.drain(0)
			in.dmu.Unlock()
		case <-in.drainKick:
			in.dmu.Lock()
			in.drain(0)
			in.dmu.Unlock()
		case e := <-in.lineEvt:
			in.dmu.Lock()
			in.cfg.Consumer.Event(e)
			in.dmu.Unlock()
		}
		in.tryDispatch()
	}
}
