package subscriber

import (
	"context"
	"time"

	"github.com/tickcast/tickcast/feed"
	"github.com/tickcast/tickcast/gap"
	"github.com/tickcast/tickcast/wire"
)

// dispatcher owns the books: it applies the in-order stream, checks
// checksums, runs the snapshot recovery and calls the handler. It runs on
// whichever goroutine holds Subscriber.dmu: usually the line reader that
// just offered the packets (no goroutine hand-off between the socket and the
// handler: that hop alone cost ~150µs at the median on this VM), otherwise
// the background loop in run.
type dispatcher struct {
	s     *Subscriber
	state feed.State // the books; only Synced ones are checked against checksums (feed.Instrument)
	ev    Event

	session uint64
	expect  uint64 // next sequence to apply; 0 = nothing joined yet

	recovering bool // a snapshot is awaited (mirrored in stats for other goroutines)
	reason     ResetReason
	held       []*item   // deliveries kept while a snapshot is awaited
	heldMax    int       // beyond this the backlog is dropped and a newer snapshot asked
	snapDue    time.Time // when to (re)send the snapshot request; zero = not pending
	snapSeen   bool      // snapshot packets of the current request arrived
	exch       []uint64  // exchange times of the packet being applied
}

// readerDrain bounds what a line reader dispatches per call: past it, the
// background loop takes over, so a reader stuck dispatching for the other
// line never lets its own socket overflow.
const readerDrain = 256

// tryDispatch drains the queue on the calling goroutine unless another
// goroutine is already dispatching. Callers offer packets to the stream
// first, then call it (never with the stream locked). The re-check after
// Unlock closes the window in which another goroutine queued an item and
// found the lock taken; when the bounded drain stops early, the background
// loop is woken to finish.
func (s *Subscriber) tryDispatch() {
	for s.pending() {
		if !s.dmu.TryLock() {
			return
		}
		more := s.disp.drain(readerDrain)
		s.dmu.Unlock()
		if more {
			select {
			case s.drainKick <- struct{}{}:
			default:
			}
			return
		}
	}
}

// pending reports whether anything waits for the dispatcher.
func (s *Subscriber) pending() bool {
	return len(s.q.ready) > 0 || s.q.dropped.Load() || len(s.snaps) > 0
}

// drain processes what is waiting, snapshot packets first, then deliveries
// in order, at most limit items (0 = all); it reports whether it stopped
// at the limit with more waiting. dmu held.
func (d *dispatcher) drain(limit int) bool {
	q := d.s.q
	for n := 0; ; n++ {
		if limit > 0 && n == limit {
			return d.s.pending()
		}
		select {
		case it := <-d.s.snaps:
			d.snapshotPacket(it)
			continue
		default:
		}
		select {
		case it := <-q.ready:
			d.handle(it)
			continue
		default:
		}
		// After a drop, nothing may follow to carry the overrun mark:
		// look at the flag once the queue is drained.
		if q.dropped.Swap(false) {
			d.startRecovery(ResetOverrun)
			continue
		}
		return false
	}
}

// run is the background loop: it handles what does not arrive with a
// packet (snapshot packets, line state, the snapshot retry timer, requests
// from other goroutines) and stops when ctx ends.
func (d *dispatcher) run(ctx context.Context) {
	s := d.s
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		s.dmu.Lock()
		if !d.snapDue.IsZero() {
			timer.Reset(max(time.Until(d.snapDue), 0))
		}
		s.dmu.Unlock()
		select {
		case <-ctx.Done():
			return
		case <-s.snapKick:
			// Snapshot packets stay in their channel until the goroutine
			// holding dmu takes them: taking one here and then waiting for
			// the lock would let a later packet overtake it.
			s.dmu.Lock()
			d.drain(0)
			s.dmu.Unlock()
		case <-s.drainKick:
			s.dmu.Lock()
			d.drain(0)
			s.dmu.Unlock()
		case f := <-s.onDisp:
			s.dmu.Lock()
			f(d)
			s.dmu.Unlock()
		case r := <-s.sumReq:
			s.dmu.Lock()
			r <- d.checksums()
			s.dmu.Unlock()
		case le := <-s.lineEvt:
			s.dmu.Lock()
			d.ev = Event{Kind: EventLine, Session: d.session, Line: le.line, Up: le.up}
			d.emit()
			s.dmu.Unlock()
		case <-timer.C:
			s.dmu.Lock()
			if !d.snapDue.IsZero() && !time.Now().Before(d.snapDue) {
				d.requestSnapshot()
			}
			s.dmu.Unlock()
		}
		s.tryDispatch()
	}
}

// handle processes one item and releases it unless it is kept.
func (d *dispatcher) handle(it *item) {
	if it.overrun {
		d.startRecovery(ResetOverrun)
	}
	switch it.kind {
	case itemEvent:
		d.arbiterEvent(it.ev)
	case itemPacket:
		if d.recovering || !d.apply(it) {
			d.hold(it)
			return
		}
	}
	d.s.q.release(it)
}

// arbiterEvent follows the arbiter's joins, losses and ends of session.
func (d *dispatcher) arbiterEvent(e gap.Event) {
	switch e.Kind {
	case gap.EventJoin:
		prev := d.session
		d.session = e.Session
		d.expect = e.Seq
		switch {
		case e.Seq <= 1 && prev == 0 && e.Prev == 0:
			// A fresh start: the session's first messages define everything.
			d.setWhole()
		case e.Seq <= 1:
			// A new session from its start: drop the old books, the new
			// session rebuilds them from sequence 1.
			d.reset(ResetSession)
			d.setWhole()
			d.emitRecovered(0)
		case prev != 0 || e.Prev != 0:
			d.startRecovery(ResetSession)
		default:
			d.startRecovery(ResetLateJoin)
		}
	case gap.EventLost:
		d.s.stats.lostMessages.Add(e.Count)
		d.startRecovery(ResetGap)
	case gap.EventEndOfSession:
		d.ev = Event{Kind: EventEndOfSession, Session: e.Session, Seq: e.Seq}
		d.emit()
	}
}

// apply applies the messages of a delivered packet that are due. It
// returns false, having started a recovery, if the packet does not follow
// what was applied; the caller then holds it for after the snapshot.
func (d *dispatcher) apply(it *item) bool {
	p := it.pkt
	now := time.Now().UnixNano()
	d.exch = d.exch[:0]
	applied := uint64(0)
	defer func() {
		// One lock and one atomic add per packet, not per message.
		d.s.lat.record(now, p.SendTime, it.rxTime, d.exch)
		d.s.stats.messages.Add(applied)
	}()
	msgs := p.Messages()
	for i := 0; msgs.Next(); i++ {
		if i < it.skip {
			continue
		}
		seq := msgs.Seq()
		if seq < d.expect {
			continue // already reflected by a snapshot
		}
		if seq > d.expect && d.expect != 0 {
			// Cannot happen with the arbiter in front, short of a bug:
			// never let a hole pass silently.
			d.startRecovery(ResetGap)
			return false
		}
		d.expect = seq + 1
		applied++
		d.message(msgs.Message(), seq, p.SendTime, it.rxTime)
	}
	d.s.stats.applied.Store(d.expect - 1)
	return true
}

// message applies one market message and tells the handler.
func (d *dispatcher) message(m wire.Message, seq uint64, sendTime, rxTime int64) {
	h := d.s.cfg.Handler
	switch m.Type() {
	case wire.TypeLevelUpdate:
		u := m.LevelUpdate()
		in := d.state.ApplyLevelUpdate(&u)
		d.exch = append(d.exch, u.ExchTime)
		if h != nil {
			d.ev = Event{Kind: EventLevel, Seq: seq, Session: d.session, Instrument: u.Instrument,
				Level: u, Book: &in.Book, SendTime: sendTime, RecvTime: rxTime}
			d.defOf(in)
			h.HandleEvent(&d.ev)
			if u.EndOfEvent {
				d.ev.Kind = EventConsistent
				h.HandleEvent(&d.ev)
			}
		}
	case wire.TypeTrade:
		t := m.Trade()
		in := d.state.ApplyTrade(t)
		d.exch = append(d.exch, t.ExchTime)
		if h != nil {
			d.ev = Event{Kind: EventTrade, Seq: seq, Session: d.session, Instrument: t.Instrument,
				Trade: t, Book: &in.Book, SendTime: sendTime, RecvTime: rxTime}
			d.defOf(in)
			h.HandleEvent(&d.ev)
		}
	case wire.TypeInstrumentDef:
		in := d.state.Apply(m)
		if h != nil {
			d.ev = Event{Kind: EventDefinition, Seq: seq, Session: d.session, Instrument: in.Def.Instrument,
				Def: &in.Def, Book: &in.Book, SendTime: sendTime, RecvTime: rxTime}
			h.HandleEvent(&d.ev)
		}
	case wire.TypeInstrumentStatus:
		in := d.state.Apply(m)
		if h != nil {
			d.ev = Event{Kind: EventStatus, Seq: seq, Session: d.session, Instrument: in.Def.Instrument,
				Status: in.Status, Book: &in.Book, SendTime: sendTime, RecvTime: rxTime}
			d.defOf(in)
			h.HandleEvent(&d.ev)
		}
	case wire.TypeBookChecksum:
		d.checksum(m.BookChecksum())
	default:
		d.state.Apply(m) // BookClear; anything else is ignored
	}
}

// setWhole marks every book complete: the stream is followed from a state
// that defines all of them (a session's start, a snapshot).
func (d *dispatcher) setWhole() { d.state.SetWhole(true) }

func (d *dispatcher) defOf(in *feed.Instrument) {
	if in.HasDef {
		d.ev.Def = &in.Def
	}
}

// checksum compares a book with the publisher's checksum (DESIGN.md,
// BookChecksum): a disagreement means the book is wrong, so recover.
func (d *dispatcher) checksum(c wire.BookChecksum) {
	in := d.state.Get(c.Instrument)
	if !in.Synced {
		d.s.stats.checksumsSkipped.Add(1)
		return
	}
	d.s.stats.checksums.Add(1)
	if in.Verify(c) {
		return
	}
	d.s.stats.mismatches.Add(1)
	got := in.Checksum()
	d.s.log.Warn("book checksum mismatch: recovering by snapshot", "instrument", c.Instrument,
		"want_crc", c.CRC, "got_crc", got.CRC, "want_levels", [2]uint16{c.Bids, c.Asks},
		"got_levels", [2]uint16{got.Bids, got.Asks})
	d.startRecovery(ResetChecksum)
}

func (d *dispatcher) emit() {
	if h := d.s.cfg.Handler; h != nil {
		h.HandleEvent(&d.ev)
	}
}

// reset tells the application its books can no longer be trusted and
// empties them.
func (d *dispatcher) reset(r ResetReason) {
	d.s.stats.resets[r].Add(1)
	d.s.log.Info("books reset", "reason", r.String(), "session", d.session, "next_seq", d.expect)
	d.state.ClearBooks()
	d.ev = Event{Kind: EventReset, Session: d.session, Reset: r, Seq: d.expect}
	d.emit()
}

func (d *dispatcher) emitRecovered(seq uint64) {
	d.ev = Event{Kind: EventRecovered, Session: d.session, Seq: seq}
	d.emit()
}

// BookSums are the checksums of every book and the last sequence they reflect.
type BookSums struct {
	Seq  uint64            // last sequence applied
	Sums map[uint32]uint32 // CRC-32C of each instrument's book (package book)
	// Recovering is true while a snapshot is awaited: the books are then
	// incomplete.
	Recovering bool
}

func (d *dispatcher) checksums() BookSums {
	out := BookSums{Seq: d.expect - 1, Sums: d.state.Sums(), Recovering: d.recovering}
	if d.expect == 0 {
		out.Seq = 0
	}
	return out
}
