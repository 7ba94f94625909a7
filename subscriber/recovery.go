package subscriber

import (
	"context"
	"time"

	"github.com/tickcast/tickcast/intake"
	"github.com/tickcast/tickcast/wire"
)

// snapshotTimeout is how long a snapshot may take before it is asked again.
const snapshotTimeout = 5 * time.Second

// snapshotRetry is how soon a snapshot request that could not be sent (no
// link connected) is tried again.
const snapshotRetry = 250 * time.Millisecond

// startRecovery resets the books and asks for a snapshot (DESIGN.md,
// recovery ladder step 4), or, without a link, rebuilds them from the
// recovery loop (loopbooks.go). Deliveries are held until it is applied. A
// recovery already under way absorbs the new cause: its snapshot is newer
// than anything that went wrong before it was taken, and a hole after it
// shows when the held deliveries are replayed.
func (d *dispatcher) startRecovery(r ResetReason) {
	if d.recovering {
		return
	}
	d.setRecovering(true)
	d.reason = r
	d.reset(r)
	if len(d.s.cfg.Links) == 0 && len(d.s.cfg.Recovery) > 0 {
		d.startLoop()
		return
	}
	if len(d.s.cfg.Links) == 0 {
		// No snapshot source: go on from here with empty books, which the
		// source's next BookClear per instrument makes whole again; until
		// then their checksums are not checked.
		if d.s.stats.unrecovered.Add(1) == 1 {
			d.s.log.Warn("no link configured for snapshots: books restart empty and fill as the source clears them; configure a link to recover", "reason", r.String())
		}
		d.state.SetWhole(false)
		d.setRecovering(false)
		d.expect = 0
		d.emitRecovered(0)
		return
	}
	d.requestSnapshot()
}

// requestSnapshot asks the link for a snapshot of every instrument, and
// schedules a retry in case it does not come.
func (d *dispatcher) requestSnapshot() {
	d.snapSeen = false
	d.snapDue = time.Now().Add(snapshotTimeout)
	d.s.stats.snapshotRequests.Add(1)
	if err := d.s.in.RequestSnapshot(0); err != nil {
		d.s.log.Debug("snapshot request failed, retrying", "err", err)
		d.snapDue = time.Now().Add(snapshotRetry)
	}
	d.s.kickSnapTimer()
}

// kickSnapTimer tells retrySnapshots that snapDue changed.
func (s *Subscriber) kickSnapTimer() {
	select {
	case s.snapTimer <- struct{}{}:
	default:
	}
}

// retrySnapshots sends the snapshot request again when it is due (the
// answer did not come, or no link was connected) until ctx ends.
func (s *Subscriber) retrySnapshots(ctx context.Context) {
	t := time.NewTimer(time.Hour)
	defer t.Stop()
	for {
		var due time.Time
		s.in.Do(func() { due = s.disp.snapDue })
		if !due.IsZero() {
			t.Reset(max(time.Until(due), 0))
		}
		select {
		case <-ctx.Done():
			return
		case <-s.snapTimer:
		case <-t.C:
			s.in.Do(func() {
				d := &s.disp
				if !d.snapDue.IsZero() && !time.Now().Before(d.snapDue) {
					d.requestSnapshot()
				}
			})
		}
	}
}

// hold keeps a delivery for after the snapshot. The backlog is bounded:
// past heldMax the oldest half is dropped, so what is kept is always the
// newest stretch of the feed, which a snapshot taken meanwhile can meet.
func (d *dispatcher) hold(it *intake.Delivery) {
	if len(d.held) >= d.heldMax {
		half := len(d.held) / 2
		for _, old := range d.held[:half] {
			d.s.in.Release(old)
		}
		n := copy(d.held, d.held[half:])
		clear(d.held[n:])
		d.held = d.held[:n]
		d.s.stats.heldDropped.Add(uint64(half))
	}
	d.s.in.Hold(it)
	d.held = append(d.held, it)
}

func (d *dispatcher) releaseHeld() {
	for _, it := range d.held {
		d.s.in.Release(it)
	}
	clear(d.held)
	d.held = d.held[:0]
}

// snapshotPacket applies one packet of the snapshot being awaited. Snapshot
// messages are unsequenced; SnapshotEnd closes the snapshot with the last
// sequence it reflects.
func (d *dispatcher) snapshotPacket(p wire.Packet) {
	if !d.recovering || p.Session != d.session && d.session != 0 {
		d.s.stats.snapshotsIgnored.Add(1)
		return
	}
	d.snapSeen = true
	if end, ok := d.state.ApplySnapshot(p); ok {
		d.finishSnapshot(p.Session, end.LastSeq)
	}
}

// finishSnapshot ends a recovery: the books reflect the feed up to lastSeq,
// the arbiter stops chasing anything older, and the held deliveries after
// it are applied.
func (d *dispatcher) finishSnapshot(session, lastSeq uint64) {
	if len(d.held) > 0 && d.firstHeld() > lastSeq+1 {
		// The backlog was cut and starts after what the snapshot reflects:
		// the snapshot is already too old. Ask for a newer one and keep
		// holding; the application was told of the reset already.
		d.s.stats.snapshotsStale.Add(1)
		d.requestSnapshot()
		return
	}
	d.s.stats.snapshots.Add(1)
	d.setRecovering(false)
	d.setWhole()
	d.snapDue = time.Time{}
	if d.session == 0 {
		d.session = session
	}
	d.expect = lastSeq + 1
	d.s.in.Advance(lastSeq + 1)
	if h := d.s.cfg.Handler; h != nil {
		for _, in := range d.state.All() {
			if !in.Snapshot {
				continue
			}
			d.ev = Event{Kind: EventSnapshotBook, Session: d.session, Seq: lastSeq, Instrument: in.Def.Instrument, Book: &in.Book}
			d.defOf(in)
			h.HandleEvent(&d.ev)
		}
	}
	d.state.ClearSnapshotMarks()
	d.s.log.Info("recovered by snapshot", "reason", d.reason.String(), "last_seq", lastSeq, "held", len(d.held))
	d.emitRecovered(lastSeq)
	held := d.held
	d.held = nil
	for i, it := range held {
		if d.recovering || !d.apply(it) {
			// A hole after the snapshot: a new recovery holds the rest.
			for _, rest := range held[i:] {
				d.hold(rest)
			}
			return
		}
		d.s.in.Release(it)
	}
	d.held = held[:0]
}

func (d *dispatcher) setRecovering(v bool) {
	d.recovering = v
	d.s.stats.recovering.Store(v)
}

// firstHeld returns the sequence of the first message the held backlog
// brings.
func (d *dispatcher) firstHeld() uint64 {
	return d.held[0].First()
}
