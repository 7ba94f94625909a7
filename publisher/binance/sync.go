package binance

import (
	"context"
	"encoding/binary"
	"time"

	"github.com/tickcast/tickcast/wire"
)

// symState is one symbol's book-sync state, owned by its slot's goroutine
// (BINANCE.md, "Keeping a local book correct").
type symState struct {
	name string
	info *symInfo
	c    symCounters

	status     wire.Status // the status last published
	synced     bool        // a snapshot was applied and every event since joins up
	justSynced bool        // no event applied since the snapshot
	lastU      uint64      // final update id of the book
	lastT      uint64      // last trade id published
	lastEvent  time.Time   // last event of any kind, for staleness

	epoch       uint64             // bumped for every fetch: late results of older ones are dropped
	cancelFetch context.CancelFunc // the fetch in flight
	snapAttempt int                // consecutive failed or unbridged snapshots

	pend       eventQueue // depth events waiting for the snapshot
	next       eventQueue // depth events of a replacement connection
	nextTrades []byte     // trades of a replacement connection (wire.Trade messages)
	covered    bool       // the replacement connection carries the symbol

	warnedResync, warnedSnap bool
}

// snapResult is the outcome of one snapshot fetch.
type snapResult struct {
	s     *symState
	epoch uint64
	snap  snapshot
	err   error
}

// setStatus publishes s's status when it changes.
func (sl *slot) setStatus(s *symState, st wire.Status) {
	if s.status == st {
		return
	}
	s.status = st
	s.c.status.Store(uint32(st))
	sl.out = wire.InstrumentStatus{Instrument: s.info.inst, Status: st}.Append(sl.out)
}

// onDepth handles a depth event of the active connection; decErr is its
// decoding error.
func (sl *slot) onDepth(s *symState, decErr error) {
	s.c.events.Add(1)
	s.lastEvent = sl.now
	err := decErr
	if err == nil {
		sl.ev, err = sl.dec.appendDepth(sl.ev[:0], s.info)
	}
	if err != nil {
		s.c.malformed.Add(1)
		sl.resync(s, "malformed depth event", err)
		return
	}
	sl.applyDepth(s, sl.dec.depth.First, sl.dec.depth.Final, sl.ev)
}

// applyDepth applies the event first..final (its LevelUpdates in msgs) to s:
// buffered while s resyncs; skipped when the book holds it already (u <=
// last); published when it joins up (U <= last+1: exactly last+1 on one
// connection, possibly less when a replacement connection overlaps, which is
// safe as quantities are absolute); otherwise the book broke.
func (sl *slot) applyDepth(s *symState, first, final uint64, msgs []byte) {
	if !s.synced {
		s.pend.push(first, final, msgs)
		return
	}
	if final <= s.lastU {
		return
	}
	if first > s.lastU+1 {
		if s.justSynced {
			s.c.unbridged.Add(1)
			sl.resync(s, "snapshot does not bridge", nil)
		} else {
			s.c.gaps.Add(1)
			sl.resync(s, "gap in update ids", nil)
		}
		s.pend.push(first, final, msgs) // a new snapshot must bridge to it
		return
	}
	if s.status == wire.StatusStale {
		sl.setStatus(s, wire.StatusOK)
	}
	sl.out = append(sl.out, msgs...)
	s.lastU = final
	s.c.lastUpdateID.Store(final)
	if s.justSynced {
		s.justSynced = false
		s.snapAttempt = 0
	}
}

// onTrade handles a trade of the active connection.
func (sl *slot) onTrade(s *symState, decErr error) {
	s.lastEvent = sl.now
	err := decErr
	if err == nil {
		sl.ev, err = sl.dec.appendTrade(sl.ev[:0], s.info)
	}
	if err != nil {
		s.c.malformed.Add(1)
		return
	}
	sl.applyTrade(s, sl.ev)
}

// applyTrade publishes one encoded Trade unless its id was published already.
func (sl *slot) applyTrade(s *symState, msg []byte) {
	id := binary.LittleEndian.Uint64(msg[32:]) // wire.Trade: trade id at 32
	if id <= s.lastT {
		return
	}
	s.lastT = id
	if s.status == wire.StatusStale {
		sl.setStatus(s, wire.StatusOK)
	}
	sl.out = append(sl.out, msg...)
	s.c.trades.Add(1)
}

// resync marks s's book broken: resyncing status, buffered events dropped, a
// new snapshot on its way. The connection and the other symbols carry on.
func (sl *slot) resync(s *symState, reason string, err error) {
	s.pend.reset()
	if !s.synced {
		return // resyncing already: its snapshot must bridge to what comes next
	}
	s.synced, s.justSynced = false, false
	s.c.resyncs.Add(1)
	if !s.warnedResync {
		s.warnedResync = true
		sl.log.Warn("resync (logged once per symbol)", "symbol", s.name, "reason", reason, "err", err, "last_update_id", s.lastU)
	}
	sl.setStatus(s, wire.StatusResyncing)
	sl.fetch(s, sl.snapDelay(s))
}

// lose handles the loss of s's connection.
func (sl *slot) lose(s *symState) {
	sl.cancelFetch(s)
	s.pend.reset()
	s.next.reset()
	s.nextTrades = s.nextTrades[:0]
	if s.synced {
		s.synced, s.justSynced = false, false
		s.c.resyncs.Add(1)
	}
	sl.setStatus(s, wire.StatusResyncing)
}

// snapDelay returns how long to wait before s's next snapshot: nothing the
// first time, then the backoff of the failures so far.
func (sl *slot) snapDelay(s *symState) time.Duration {
	if s.snapAttempt == 0 {
		return 0
	}
	return backoff(s.snapAttempt-1, sl.src.cfg.ReconnectMin, sl.src.cfg.ReconnectMax)
}

// cancelFetch abandons s's fetch in flight, if any.
func (sl *slot) cancelFetch(s *symState) {
	s.epoch++
	if s.cancelFetch != nil {
		s.cancelFetch()
		s.cancelFetch = nil
	}
}

// fetch starts fetching s's snapshot after delay (step 2); without a
// connection it waits for the next one.
func (sl *slot) fetch(s *symState, delay time.Duration) {
	sl.cancelFetch(s)
	if sl.active == nil {
		return
	}
	ctx, cancel := context.WithCancel(sl.ctx)
	s.cancelFetch = cancel
	epoch := s.epoch
	sl.wg.Add(1)
	go func() {
		defer sl.wg.Done()
		if sleep(ctx, delay) != nil {
			return
		}
		snap, err := sl.src.snaps.fetch(ctx, s.name, s.info)
		if ctx.Err() != nil {
			return
		}
		s.c.snapshots.Add(1)
		select {
		case sl.snaps <- snapResult{s: s, epoch: epoch, snap: snap, err: err}:
		case <-ctx.Done():
		}
	}()
}

// onSnapshot applies a fetched snapshot (steps 3 and 4): buffered events it
// already holds are dropped, the first remaining one must bridge it, and then
// BookClear, its levels, InstrumentStatus ok and the buffered events are
// published in one batch.
func (sl *slot) onSnapshot(r snapResult) {
	s := r.s
	if r.epoch != s.epoch || s.synced {
		return // superseded
	}
	s.cancelFetch()
	s.cancelFetch = nil
	if r.err != nil {
		s.c.snapErrors.Add(1)
		if !s.warnedSnap {
			s.warnedSnap = true
			sl.log.Warn("snapshot failed (logged once per symbol)", "symbol", s.name, "err", r.err)
		}
		s.snapAttempt++
		sl.fetch(s, sl.snapDelay(s))
		return
	}
	lid := r.snap.lastUpdateID
	s.pend.dropThrough(lid)
	if first, ok := s.pend.first(); ok && first > lid+1 {
		s.c.unbridged.Add(1) // older than the stream: events in between are lost
		s.snapAttempt++
		sl.fetch(s, sl.snapDelay(s))
		return
	}
	sl.out = wire.BookClear{Instrument: s.info.inst, ExchTime: r.snap.at}.Append(sl.out)
	sl.out = append(sl.out, r.snap.levels...)
	s.synced, s.justSynced = true, true
	s.lastU = lid
	s.c.lastUpdateID.Store(lid)
	s.lastEvent = time.Now()
	sl.setStatus(s, wire.StatusOK)
	sl.scratch, s.pend = s.pend, sl.scratch
	s.pend.reset()
	sl.scratch.each(func(first, final uint64, msgs []byte) bool {
		sl.applyDepth(s, first, final, msgs)
		return true
	})
	sl.scratch.reset()
	if sl.next != nil && !sl.isCovered(s) {
		s.covered = false
	}
}
