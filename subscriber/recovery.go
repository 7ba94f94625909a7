package subscriber

import (
	"time"

	"github.com/tickcast/tickcast/wire"
)

// snapshotTimeout is how long a snapshot may take before it is asked again.
const snapshotTimeout = 5 * time.Second

// startRecovery resets the books and asks for a snapshot (DESIGN.md,
// recovery ladder step 4). Deliveries are held until it is applied. A
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
	if d.s.link == nil {
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
	if err := d.s.link.requestSnapshot(wire.SnapshotRequest{Channel: d.s.cfg.Channel}); err != nil {
		d.s.log.Debug("snapshot request failed, retrying", "err", err)
		d.snapDue = time.Now().Add(250 * time.Millisecond)
	}
}

// hold keeps a delivery for after the snapshot. The backlog is bounded:
// past heldMax the oldest half is dropped, so what is kept is always the
// newest stretch of the feed, which a snapshot taken meanwhile can meet.
func (d *dispatcher) hold(it *item) {
	if len(d.held) >= d.heldMax {
		half := len(d.held) / 2
		for _, old := range d.held[:half] {
			d.s.q.release(old)
		}
		n := copy(d.held, d.held[half:])
		clear(d.held[n:])
		d.held = d.held[:n]
		d.s.stats.heldDropped.Add(uint64(half))
	}
	d.held = append(d.held, it)
}

func (d *dispatcher) releaseHeld() {
	for _, it := range d.held {
		d.s.q.release(it)
	}
	clear(d.held)
	d.held = d.held[:0]
}

// snapshotPacket applies one packet of the snapshot being awaited. Snapshot
// messages are unsequenced; SnapshotEnd closes the snapshot with the last
// sequence it reflects.
func (d *dispatcher) snapshotPacket(it *item) {
	if !d.recovering || it.pkt.Session != d.session && d.session != 0 {
		d.s.stats.snapshotsIgnored.Add(1)
		return
	}
	d.snapSeen = true
	if end, ok := d.state.ApplySnapshot(it.pkt); ok {
		d.finishSnapshot(it.pkt.Session, end.LastSeq)
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
	d.s.stream.Advance(lastSeq + 1)
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
		d.s.q.release(it)
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
	it := d.held[0]
	return it.pkt.Seq + uint64(it.skip)
}
