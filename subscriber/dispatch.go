package subscriber

import (
	"time"

	"github.com/tickcast/tickcast/feed"
	"github.com/tickcast/tickcast/intake"
	"github.com/tickcast/tickcast/internal/instrument"
	"github.com/tickcast/tickcast/wire"
)

// dispatcher owns the books: it is the intake's Consumer, applying the
// in-order stream, checking checksums, running the snapshot recovery and
// calling the handler. It runs on whichever goroutine holds the intake's
// dispatch lock: usually the line reader that just offered the packets (no
// goroutine hand-off between the socket and the handler: that hop alone cost
// ~150µs at the median on this VM), otherwise the intake's background loop
// or a caller of Intake.Do.
type dispatcher struct {
	s     *Subscriber
	state feed.State // the books; only Synced ones are checked against checksums (feed.Instrument)
	ev    Event

	session uint64
	expect  uint64 // next sequence to apply; 0 = nothing joined yet

	recovering bool // a snapshot is awaited (mirrored in stats for other goroutines)
	reason     ResetReason
	held       []*intake.Delivery // deliveries kept (Intake.Hold) while a snapshot is awaited
	heldMax    int                // beyond this the backlog is dropped and a newer snapshot asked
	snapDue    time.Time          // when to (re)send the snapshot request; zero = not pending
	snapSeen   bool               // snapshot packets of the current request arrived
	exch       []uint64           // exchange times of the packet being applied
	loop       loopState          // rebuilding books from the recovery loop

	now int64                      // dispatch time of the packet being applied, ns
	act instrument.Table[activity] // per instrument: updates and when the last one was applied
}

// Packet implements intake.Consumer: apply a delivery, or hold it for
// after the snapshot.
func (d *dispatcher) Packet(dl *intake.Delivery) {
	if d.recovering || !d.apply(dl) {
		d.hold(dl)
		return
	}
	if d.loop.on {
		// The copies this delivery caught up with first, replaying it
		// with the ring (installBook): it joins the ring only if the loop
		// goes on, since ending the loop releases the ring, and this
		// delivery is the intake's to release.
		if len(d.loop.pending) > 0 {
			d.loop.cur = dl
			d.installPending()
			d.loop.cur = nil
		}
		if d.loop.on {
			d.ringAdd(dl)
		}
	}
}

// Event implements intake.Consumer.
func (d *dispatcher) Event(e intake.Event) {
	switch e.Kind {
	case intake.EventLineUp, intake.EventLineDown:
		d.ev = Event{Kind: EventLine, Session: d.session, Line: e.Line, Up: e.Kind == intake.EventLineUp}
		d.emit()
	case intake.EventReset:
		d.startRecovery(ResetOverrun)
	default:
		d.arbiterEvent(e)
	}
}

// Snapshot implements intake.Consumer.
func (d *dispatcher) Snapshot(p wire.Packet, rxTime int64) { d.snapshotPacket(p) }

// arbiterEvent follows the arbiter's joins, losses and ends of session.
func (d *dispatcher) arbiterEvent(e intake.Event) {
	switch e.Kind {
	case intake.EventJoin:
		if d.loop.on {
			d.stopLoop() // what follows decides again
		}
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
	case intake.EventLost:
		d.s.stats.lostMessages.Add(e.Count)
		d.startRecovery(ResetGap)
		if d.loop.on {
			// The loop rebuilds every book; the stream goes on after the
			// messages lost.
			d.expect = max(d.expect, e.Seq+e.Count)
		}
	case intake.EventEndOfSession:
		d.ev = Event{Kind: EventEndOfSession, Session: e.Session, Seq: e.Seq}
		d.emit()
	}
}

// apply applies the messages of a delivered packet that are due. It
// returns false, having started a recovery, if the packet does not follow
// what was applied; the caller then holds it for after the snapshot.
func (d *dispatcher) apply(it *intake.Delivery) bool {
	p := it.Packet
	now := time.Now().UnixNano()
	d.now = now
	d.exch = d.exch[:0]
	applied := uint64(0)
	defer func() {
		// One lock and one atomic add per packet, not per message.
		d.s.lat.record(now, p.SendTime, it.RxTime, d.exch)
		d.s.stats.messages.Add(applied)
	}()
	msgs := p.Messages()
	for i := 0; msgs.Next(); i++ {
		if i < it.Skip {
			continue
		}
		seq := msgs.Seq()
		if seq < d.expect {
			continue // already reflected by a snapshot
		}
		if seq > d.expect && d.expect != 0 {
			// After deliveries were dropped (an overrun), or short of a
			// bug: never let a hole pass silently.
			d.startRecovery(ResetGap)
			if !d.loop.on {
				return false
			}
			d.expect = seq // the loop rebuilds every book from here
		}
		d.expect = seq + 1
		applied++
		d.message(msgs.Message(), seq, p.SendTime, it.RxTime)
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
		d.touch(u.Instrument)
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
		d.touch(t.Instrument)
		if h != nil {
			d.ev = Event{Kind: EventTrade, Seq: seq, Session: d.session, Instrument: t.Instrument,
				Trade: t, Book: &in.Book, SendTime: sendTime, RecvTime: rxTime}
			d.defOf(in)
			h.HandleEvent(&d.ev)
		}
	case wire.TypeInstrumentDef:
		in := d.state.Apply(m)
		d.appeared(in.Def.Instrument, d.now)
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
	out := BookSums{Seq: d.expect - 1, Sums: d.state.Sums(), Recovering: d.recovering || d.loop.on}
	if d.expect == 0 {
		out.Seq = 0
	}
	return out
}
