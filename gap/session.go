package gap

import "github.com/tickcast/tickcast/wire"

// Sessions (DESIGN.md, "Liveness"): the arbiter follows one session at a
// time and never abandons a live one for another because of a packet.
// Another session is adopted only when the followed one has ended (an end
// of session was seen, everything before it delivered, and the session
// silent since for a third of Config.SessionTimeout, about one heartbeat
// interval: a session that sends on after its end mark is alive and the mark
// was forged or stray), or when it has been silent on every line for
// Config.SessionTimeout and the new session has been seen, without a
// break of half that time, for a quarter of it since the followed one last
// spoke. The second condition keeps a stalled reader from being fooled: a
// reader that wakes after a long stall reads its backlog with one receive
// time per batch, and would otherwise find the followed session "silent" at
// the first foreign packet of the batch, before reaching the followed
// session's own packets behind it. A publisher that restarted sends at
// least a heartbeat per interval (a third of the line-down interval), so
// the break rule never delays it.

// candidate is a session that may replace the followed one.
type candidate struct {
	session uint64
	since   int64  // first seen after the followed session last spoke
	last    int64  // last seen
	first   uint64 // the lowest sequence it was seen at
}

// adopt decides what to do with p, a packet of a session other than the
// one followed: join it (true), or count it as not followed (false).
func (a *Arbiter) adopt(line int, ls *LineStats, p wire.Packet, now int64) bool {
	for _, s := range a.retired {
		if s == p.Session {
			ls.Stale++ // a straggler from a session already left
			return false
		}
	}
	if a.session != 0 {
		if a.ended(now) {
			a.endSession()
		} else if !a.replaceable(p.Session, max(p.Seq, 1), line, now) {
			ls.Foreign++
			a.stats.Foreign++
			return false
		}
	}
	a.newSession(p, now)
	return true
}

// endQuiet is how long a session must stay silent after its end of session
// (and after everything before it was delivered) for the end to be
// believed: about one heartbeat interval at the default SessionTimeout.
func (a *Arbiter) endQuiet() int64 { return int64(a.cfg.SessionTimeout) / 3 }

// ended reports whether the followed session has ended at now: an end of
// session was seen, everything before it was delivered, and the session
// has been silent since for endQuiet. A session that keeps sending after
// its end mark is alive, and the mark was forged or stray (falseEnd).
func (a *Arbiter) ended(now int64) bool {
	return a.eos != 0 && a.next >= a.eos && now-a.live >= a.endQuiet()
}

// endDeadline returns when the followed session's end will be confirmed,
// and false if no end is pending.
func (a *Arbiter) endDeadline() (int64, bool) {
	if a.eos == 0 || a.next < a.eos {
		return 0, false
	}
	return a.live + a.endQuiet(), true
}

// falseEnd forgets an end-of-session mark contradicted by the session
// sending on after it.
func (a *Arbiter) falseEnd() {
	a.eos = 0
	a.stats.FalseEnds++
}

// endSession reports the end of the followed session and leaves it.
func (a *Arbiter) endSession() {
	s := a.session
	a.sink.Event(Event{Kind: EventEndOfSession, Session: s, Seq: a.eos})
	a.retire(s)
	a.session, a.next, a.known, a.eos = 0, 0, 0, 0
	a.held.clear()
	a.holes = a.holes[:0]
}

// replaceable reports whether session may replace the followed one at now.
// Retransmissions (RepairLine) never start a session.
func (a *Arbiter) replaceable(session, seq uint64, line int, now int64) bool {
	if line == RepairLine {
		return false
	}
	timeout := int64(a.cfg.SessionTimeout)
	if a.cand.session != session || a.cand.since <= a.live || now-a.cand.last > timeout/2 {
		a.cand = candidate{session: session, since: now, first: seq}
	}
	a.cand.last = max(a.cand.last, now)
	a.cand.first = min(a.cand.first, seq)
	return now-a.live >= timeout && now-a.cand.since >= timeout/4
}

// newSession joins p's session, reporting what the previous one still owed
// as lost.
func (a *Arbiter) newSession(p wire.Packet, now int64) {
	prev := a.session
	if prev != 0 {
		if a.known > a.next {
			a.lost(a.next, a.known-a.next, LostSession)
		}
		a.retire(prev)
	}
	a.held.clear()
	a.holes = a.holes[:0]
	a.session = p.Session
	a.eos = 0
	a.live = now
	// Joined at the lowest sequence seen of it if that is at most
	// JoinBackfill behind: a session held off while the previous one ended
	// is still followed from its start, when that costs no more NACKs
	// than a join near a session's start does (beyond, a snapshot is
	// cheaper than backfilling).
	a.next = max(p.Seq, 1)
	if c := a.cand; c.session == p.Session && c.first < a.next && a.cfg.JoinBackfill >= 0 && a.next-c.first <= uint64(a.cfg.JoinBackfill) {
		a.next = c.first
	}
	a.cand = candidate{}
	if a.cfg.JoinBackfill >= 0 && a.next-1 <= uint64(a.cfg.JoinBackfill) {
		a.next = 1
	}
	a.known = a.next
	a.stats.Sessions++
	a.sink.Event(Event{Kind: EventJoin, Session: p.Session, Seq: a.next, Prev: prev})
}

// retire remembers s as a session left: its stragglers are ignored.
func (a *Arbiter) retire(s uint64) {
	copy(a.retired[1:], a.retired[:])
	a.retired[0] = s
}
