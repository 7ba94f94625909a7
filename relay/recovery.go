package relay

import (
	"time"

	"github.com/tickcast/tickcast/feed"
	"github.com/tickcast/tickcast/wire"
)

// Snapshot timing: how long an upstream snapshot may take before it is
// asked again, and how soon a failed request is retried.
const (
	snapshotRetry      = 5 * time.Second
	snapshotRetryAfter = 250 * time.Millisecond
)

// recover drops the books and asks upstream for a snapshot. Forwarding goes
// on meanwhile: the downstreams lose nothing the upstream delivers, and the
// relay's cache keeps what the snapshot must be followed by. A snapshot
// already on its way is not asked again: two answers would arrive at once
// (several losses given up together did that, and the books were a mix of
// four answers, found by the lab's uplink-cut drill); if the one awaited is
// older than this loss, the cache cannot bring it forward and Snapshot asks
// again. dispatch
func (c *channel) recover() {
	c.setWhole(false)
	c.state.ClearBooks()
	c.state.SetWhole(false)
	if c.pending != nil {
		return
	}
	c.stats.recoveries.Add(1)
	c.askSnapshot()
}

// askSnapshot (re)starts receiving a snapshot from the first connected
// upstream link. dispatch
func (c *channel) askSnapshot() {
	c.pending, c.pendingSeq = &feed.State{}, 0
	c.snapDue = time.Now().Add(snapshotRetry)
	if err := c.in.RequestSnapshot(0); err != nil {
		c.log.Debug("snapshot request failed, retrying", "err", err)
		c.snapDue = time.Now().Add(snapshotRetryAfter)
	}
}

// Snapshot applies one packet of the upstream's snapshot answer. Only one
// answer is taken: the one whose packet came first after the request (its
// packets all carry the sequence it reflects); packets of any other (an
// answer to an earlier request still arriving on its own stream) are
// dropped. An answer joined after its start is incomplete: it is dropped
// when its SnapshotEnd counts more instruments than came, and asked again.
// dispatch
func (c *channel) Snapshot(p wire.Packet, _ int64) {
	if c.whole || c.pending == nil || p.Session != c.session {
		return
	}
	if c.pendingSeq == 0 {
		c.pendingSeq = p.Seq
	} else if p.Seq != c.pendingSeq {
		c.stats.snapshotsMixed.Add(1)
		return
	}
	end, done := c.pending.ApplySnapshot(p)
	if !done {
		return
	}
	st := c.pending
	c.pending = nil
	if n := defined(st); n != int(end.Instruments) {
		c.stats.snapshotsMixed.Add(1)
		c.log.Info("snapshot incomplete (joined after its start): asking again",
			"snapshot_seq", end.LastSeq, "instruments", n, "announced", end.Instruments)
		c.snapDue = time.Now().Add(snapshotRetryAfter)
		return
	}
	c.stats.snapshotsIn.Add(1)
	booksSeq := end.LastSeq
	switch {
	case end.LastSeq > c.applied:
		// The upstream is ahead of what reached the relay: the packets up to
		// LastSeq are on their way and will be forwarded, not applied.
		c.stats.snapshotsAhead.Add(1)
	case end.LastSeq < c.applied:
		// Bring the snapshot forward from what the relay forwarded since.
		if !c.replay(st, end.LastSeq+1, c.applied) {
			c.log.Info("snapshot older than the relay's cache: asking for a newer one",
				"snapshot_seq", end.LastSeq, "applied", c.applied)
			c.snapDue = time.Now().Add(snapshotRetryAfter)
			return
		}
		booksSeq = c.applied
	}
	st.ClearSnapshotMarks()
	st.SetWhole(true)
	c.state = *st
	c.booksSeq = booksSeq
	c.snapDue = time.Time{}
	c.setWhole(true)
	c.log.Info("books recovered by snapshot", "snapshot_seq", end.LastSeq, "applied", c.applied)
}

// defined counts the instruments of st whose definition came: each starts
// its part of a snapshot, so an answer joined after its start lacks one.
func defined(st *feed.State) int {
	n := 0
	for _, in := range st.All() {
		if in.HasDef {
			n++
		}
	}
	return n
}

// replay applies messages [from, to] from the relay's cache to st and
// reports whether the cache held all of them. dispatch
func (c *channel) replay(st *feed.State, from, to uint64) bool {
	next := from
	for next <= to {
		want := uint32(min(to-next+1, 1<<20))
		sent, _, err := c.cache.Fetch(c.session, next, want, 1<<20, 1<<30, func(pkt []byte) error {
			p, err := wire.Parse(pkt)
			if err != nil {
				return err
			}
			msgs := p.Messages()
			for msgs.Next() {
				if s := msgs.Seq(); s >= next && s <= to {
					st.Apply(msgs.Message())
				}
			}
			return nil
		})
		if err != nil || sent == 0 {
			return false
		}
		next += uint64(sent)
	}
	return true
}
