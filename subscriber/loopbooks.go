package subscriber

import (
	"github.com/tickcast/tickcast/intake"
	"github.com/tickcast/tickcast/recovery"
)

// The dispatcher's side of the recovery loop: while looping, every book
// not yet whole is rebuilt from the loop's copy of it, then brought up to
// date from a ring of the most recent deliveries (kept with Intake.Hold),
// replaying that instrument's messages after the sequence the copy
// reflects. A copy the ring cannot bring up to date (it reflects a sequence
// older than the ring) is dropped: the book's next turn in the loop comes
// within a cycle. A copy ahead of the deliveries waits for them.

// maxPendingBooks bounds the loop books waiting for the deliveries to
// catch up with them.
const maxPendingBooks = 64

// loopState is the dispatcher's recovery loop state.
type loopState struct {
	on      bool               // looping: some book is not whole yet
	ring    []*intake.Delivery // the most recent deliveries, oldest at head
	head    int
	pending []*recovery.Book // copies ahead of the deliveries
	cur     *intake.Delivery // the delivery being applied, not yet in the ring
}

// startLoop resets the books to be rebuilt from the loop and joins its
// groups. The books were reset by the caller.
func (d *dispatcher) startLoop() {
	d.setRecovering(false) // the deliveries are applied meanwhile, not held
	d.state.SetWhole(false)
	d.releaseRing()
	d.loop.pending = d.loop.pending[:0]
	d.loop.on = true
	d.expect = 0 // whatever comes next is applied: every book is rebuilt anyway
	d.s.stats.recovering.Store(true)
	d.s.stats.loopStarts.Add(1)
	d.s.member.set(true)
}

// stopLoop leaves the loop (whole, or overtaken by a new session's start).
func (d *dispatcher) stopLoop() {
	d.loop.on = false
	d.releaseRing()
	d.loop.pending = d.loop.pending[:0]
	d.s.stats.recovering.Store(d.recovering)
	d.s.member.set(false)
}

// ringAdd keeps a delivery that was applied, dropping the oldest past the
// ring's bound.
func (d *dispatcher) ringAdd(dl *intake.Delivery) {
	d.s.in.Hold(dl)
	d.loop.ring = append(d.loop.ring, dl)
	if len(d.loop.ring)-d.loop.head > d.heldMax {
		d.s.in.Release(d.loop.ring[d.loop.head])
		d.loop.ring[d.loop.head] = nil
		d.loop.head++
		if d.loop.head > len(d.loop.ring)/2 {
			n := copy(d.loop.ring, d.loop.ring[d.loop.head:])
			clear(d.loop.ring[n:])
			d.loop.ring = d.loop.ring[:n]
			d.loop.head = 0
		}
	}
}

func (d *dispatcher) releaseRing() {
	for _, dl := range d.loop.ring[d.loop.head:] {
		d.s.in.Release(dl)
	}
	clear(d.loop.ring)
	d.loop.ring, d.loop.head = d.loop.ring[:0], 0
}

// loopBook takes one book from the loop (under the dispatch lock).
func (d *dispatcher) loopBook(b *recovery.Book) {
	id := b.Instrument.Def.Instrument
	if !d.loop.on || b.Session != d.session || d.expect == 0 {
		d.s.stats.loopIgnored.Add(1)
		return
	}
	if in := d.state.Lookup(id); in != nil && in.Synced {
		d.s.stats.loopIgnored.Add(1) // whole already (the other line's copy, a later turn)
		return
	}
	if b.LastSeq >= d.expect {
		// Ahead of the deliveries: wait for them.
		for _, p := range d.loop.pending {
			if p.Instrument.Def.Instrument == id {
				return
			}
		}
		if len(d.loop.pending) < maxPendingBooks {
			d.loop.pending = append(d.loop.pending, b.Clone())
		}
		return
	}
	d.installBook(b, b.Total)
}

// installPending installs the waiting copies the deliveries caught up with.
func (d *dispatcher) installPending() {
	kept := d.loop.pending[:0]
	for _, b := range d.loop.pending {
		if !d.loop.on {
			break
		}
		if b.LastSeq >= d.expect {
			kept = append(kept, b)
			continue
		}
		if in := d.state.Lookup(b.Instrument.Def.Instrument); in == nil || !in.Synced {
			d.installBook(b, b.Total)
		}
	}
	if d.loop.on {
		clear(d.loop.pending[len(kept):])
		d.loop.pending = kept
	}
}

// installBook makes b the instrument's book and replays the ring's messages
// of it after b.LastSeq.
func (d *dispatcher) installBook(b *recovery.Book, total uint32) {
	id := b.Instrument.Def.Instrument
	ring := d.loop.ring[d.loop.head:]
	first := d.expect
	switch {
	case len(ring) > 0:
		first = ring[0].First()
	case d.loop.cur != nil:
		first = d.loop.cur.First()
	}
	if first > b.LastSeq+1 {
		d.s.stats.loopStale.Add(1) // older than the ring: the next turn will do
		return
	}
	in := d.state.Get(id)
	src := &b.Instrument
	in.Def, in.HasDef, in.Status = src.Def, true, src.Status
	in.ExchTime = max(in.ExchTime, src.ExchTime)
	in.Book.CopyFrom(&src.Book)
	replay := func(dl *intake.Delivery) {
		msgs := dl.Packet.Messages()
		for i := 0; msgs.Next(); i++ {
			if i < dl.Skip || msgs.Seq() <= b.LastSeq {
				continue
			}
			m := msgs.Message()
			if mid, ok := m.Instrument(); ok && mid == id {
				d.state.Apply(m)
			}
		}
	}
	for _, dl := range ring {
		replay(dl)
	}
	if d.loop.cur != nil {
		replay(d.loop.cur)
	}
	in.Synced = true
	d.s.stats.loopBooks.Add(1)
	if h := d.s.cfg.Handler; h != nil {
		d.ev = Event{Kind: EventSnapshotBook, Session: d.session, Seq: d.expect - 1, Instrument: id, Book: &in.Book}
		d.defOf(in)
		h.HandleEvent(&d.ev)
	}
	d.checkLoopWhole(total)
}

// checkLoopWhole ends the loop once every instrument the channel has (total,
// as the loop announces) is defined and whole.
func (d *dispatcher) checkLoopWhole(total uint32) {
	whole := uint32(0)
	for _, in := range d.state.All() {
		if in.HasDef {
			if !in.Synced {
				return
			}
			whole++
		}
	}
	if whole < total {
		return
	}
	d.stopLoop()
	d.state.SetWhole(true)
	d.s.log.Info("recovered from the recovery loop", "reason", d.reason.String(), "books", whole, "seq", d.expect-1)
	d.emitRecovered(d.expect - 1)
}
