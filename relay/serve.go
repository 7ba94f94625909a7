package relay

import (
	"context"
	"errors"
	"time"

	"github.com/tickcast/tickcast/feed"
	"github.com/tickcast/tickcast/wire"
)

// nackWait bounds how long a downstream's NACK waits for the relay to
// receive what it asks for, from its own upstream.
const nackWait = time.Second

// errNotWhole: a snapshot was asked while the relay's own books are being
// recovered, for longer than a snapshot may take; the downstream asks again.
var errNotWhole = errors.New("relay: books not complete yet (recovering from upstream), ask again")

// retransmit answers a downstream's NACK (from the UDP server or a link)
// from the nearest copy:
//
//   - the relay's cache;
//   - a range the relay has not forwarded yet is waited for, up to nackWait:
//     the relay's own arbiter asks upstream once for all its downstreams;
//   - a range older than the cache is asked upstream once, coalesced across
//     downstreams, and the answer is passed down.
//
// A range served in part up to what the relay has forwarded returns
// wire.RejectNotYetSent with the part sent (see [gap.Cache.Fetch]), after
// waiting up to nackWait for the rest like for a range not forwarded at all
// (and serving what came meanwhile): the downstream learns where the sent
// part ends, and a relay that merely lags its upstream does not call a tail
// "not yet sent" too soon.
//
// Any goroutine.
func (c *channel) retransmit(session, first uint64, count uint32, maxMsgs, maxBytes int, emit func([]byte) error) (uint32, wire.RejectReason, error) {
	used := 0 // bytes emitted
	counted := func(pkt []byte) error {
		if err := emit(pkt); err != nil {
			return err
		}
		used += len(pkt)
		return nil
	}
	sent, reason, err := c.cache.Fetch(session, first, count, maxMsgs, maxBytes, counted)
	if sent > 0 && reason == wire.RejectNotYetSent && err == nil {
		return c.retransmitRest(session, first, count, maxMsgs, maxBytes, sent, used, emit)
	}
	if sent > 0 || err != nil {
		c.stats.nacksServed.Add(1)
		return sent, 0, err
	}
	if session != c.sess.Load() {
		c.stats.nacksRefused.Add(1)
		return 0, reason, nil
	}
	switch reason {
	case wire.RejectNotYetSent:
		c.stats.nacksWaited.Add(1)
		if !c.waitUntil(func() bool { return c.next.Load() > first }) {
			c.stats.nacksRefused.Add(1)
			return 0, reason, nil
		}
		sent, reason, err = c.cache.Fetch(session, first, count, maxMsgs, maxBytes, emit)
		if sent > 0 || err != nil {
			c.stats.nacksServed.Add(1)
			return sent, 0, err
		}
	case wire.RejectTooOld:
		if sent, err := c.fromUpstream(session, first, count, maxMsgs, maxBytes, emit); sent > 0 || err != nil {
			c.stats.nacksServed.Add(1)
			return sent, 0, err
		}
	}
	c.stats.nacksRefused.Add(1)
	return 0, reason, nil
}

// retransmitRest finishes an answer whose first sent messages reached what
// the relay has forwarded: it waits up to nackWait for more, serves it within
// what is left of the caps, and returns the total with RejectNotYetSent if
// the range still runs past what was forwarded. Any goroutine.
func (c *channel) retransmitRest(session, first uint64, count uint32, maxMsgs, maxBytes int, sent uint32, used int, emit func([]byte) error) (uint32, wire.RejectReason, error) {
	c.stats.nacksServed.Add(1)
	rest := first + uint64(sent)
	c.stats.nacksWaited.Add(1)
	if !c.waitUntil(func() bool { return c.next.Load() > rest }) {
		return sent, wire.RejectNotYetSent, nil
	}
	// What the first part spent of the caps. (It did not reach the message
	// cap, or it would not have stopped at "not yet sent".)
	if maxMsgs > 0 {
		maxMsgs -= int(sent)
	}
	if maxBytes > 0 {
		if maxBytes -= used; maxBytes < wire.HeaderLen+wire.MsgHeaderLen {
			return sent, 0, nil // the byte cap: the downstream asks again
		}
	}
	more, reason, err := c.cache.Fetch(session, rest, count-sent, maxMsgs, maxBytes, emit)
	if more == 0 && reason != wire.RejectNotYetSent {
		reason = 0 // stopped by the cap, or evicted meanwhile: asking again tells
	}
	return sent + more, reason, err
}

// fromUpstream serves a range older than the relay's cache from the
// upstream's answers, asking upstream once for every downstream that wants
// it. Any goroutine.
func (c *channel) fromUpstream(session, first uint64, count uint32, maxMsgs, maxBytes int, emit func([]byte) error) (uint32, error) {
	if sent, err := c.stale.serve(session, first, count, maxMsgs, maxBytes, emit); sent > 0 || err != nil {
		return sent, err
	}
	if c.stale.claim(session, first, time.Now()) {
		c.stats.nacksUpstream.Add(1)
		req := wire.RetransmitRequest{Channel: c.id, Session: session, FirstSeq: first, Count: count}
		if err := c.in.Request(req); err != nil {
			c.log.Debug("forwarding a NACK upstream failed", "first", first, "count", count, "err", err)
			return 0, nil
		}
	}
	// Serve what came within the wait: all of it, or the front part (the
	// downstream asks again for the rest).
	end := first + uint64(min(count, uint32(maxMsgs)))
	c.waitUntil(func() bool { return c.stale.covers(session, first, end) })
	return c.stale.serve(session, first, count, maxMsgs, maxBytes, emit)
}

// waitUntil waits up to nackWait for cond, rechecking whenever the channel
// makes progress. Any goroutine.
func (c *channel) waitUntil(cond func() bool) bool {
	t := time.NewTimer(nackWait)
	defer t.Stop()
	for {
		wake := c.progress.wait()
		if cond() {
			return true
		}
		select {
		case <-wake:
		case <-t.C:
			return cond()
		}
	}
}

// upstreamStale is the intake's hook for retransmissions it did not need:
// answers to NACKs the relay forwarded for its downstreams. Any goroutine.
func (c *channel) upstreamStale(p wire.Packet) {
	if c.stale.put(p) {
		c.stats.staleIn.Add(1)
		c.progress.broadcast()
	}
}

// snapshot captures the books for a downstream, waiting while the relay's
// own books are being recovered. Any goroutine.
func (c *channel) snapshot(ctx context.Context, instrument uint32) (*feed.Snapshot, uint64, error) {
	deadline := time.NewTimer(snapshotRetry)
	defer deadline.Stop()
	for {
		wake := c.progress.wait()
		if c.wholeNow.Load() {
			break
		}
		select {
		case <-wake:
		case <-deadline.C:
			return nil, 0, errNotWhole
		case <-ctx.Done():
			return nil, 0, ctx.Err()
		}
	}
	var (
		sn      *feed.Snapshot
		session uint64
	)
	c.in.Do(func() {
		if c.whole {
			sn, session = c.state.Capture(instrument, c.booksSeq), c.session
		}
	})
	if sn == nil {
		return nil, 0, errNotWhole
	}
	c.stats.snapshotsServed.Add(1)
	return sn, session, nil
}

// sums returns the books' checksums, the last sequence they reflect and
// whether they are complete. Any goroutine.
func (c *channel) sums() (sums map[uint32]uint32, seq uint64, whole bool) {
	c.in.Do(func() { sums, seq, whole = c.state.Sums(), c.booksSeq, c.whole })
	return sums, seq, whole
}
