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
// relay's cache keeps what the snapshot must be followed by. dispatch
func (c *channel) recover() {
	c.setWhole(false)
	c.state.ClearBooks()
	c.state.SetWhole(false)
	c.stats.recoveries.Add(1)
	c.askSnapshot()
}

// askSnapshot (re)starts receiving a snapshot from the first connected
// upstream link. dispatch
func (c *channel) askSnapshot() {
	c.pending = &feed.State{}
	c.snapDue = time.Now().Add(snapshotRetry)
	if err := c.in.RequestSnapshot(0); err != nil {
		c.log.Debug("snapshot request failed, retrying", "err", err)
		c.snapDue = time.Now().Add(snapshotRetryAfter)
	}
}

// Snapshot applies one packet of the upstream's snapshot answer. dispatch
func (c *channel) Snapshot(p wire.Packet, _ int64) {
	if c.whole || c.pending == nil || p.Session != c.session {
		return
	}
	end, done := c.pending.ApplySnapshot(p)
	if !done {
		return
	}
	c.stats.snapshotsIn.Add(1)
	st := c.pending
	c.pending = nil
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
