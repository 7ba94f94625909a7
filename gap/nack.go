package gap

import (
	"math"
	"time"

	"github.com/tickcast/tickcast/wire"
)

// hole is a stretch of sequences found missing, with its NACK schedule. The
// range is coarse (what was missing when it opened); what is still missing
// inside it is worked out from the held packets when it is NACKed.
type hole struct {
	first, end uint64
	opened     int64  // when the hole was found
	due        int64  // next action: NACK, or give up once attempts reach MaxRetries
	sent       int64  // when the first NACK went out (for the RTT sample; 0 = none pending)
	front      uint64 // the first sequence still missing when it was last NACKed
	attempts   int
	lost       bool // given up rather than filled
}

// openHole records [first, end) as missing at now; it is NACKed after the
// arbitration window unless a line fills it first.
func (a *Arbiter) openHole(first, end uint64, now int64) {
	a.stats.Gaps++
	a.holes = append(a.holes, hole{first: first, end: end, opened: now, due: now + int64(a.cfg.Window)})
	a.kick = true
}

// closeHoles drops the holes that delivery went past at now.
func (a *Arbiter) closeHoles(now int64) {
	i := 0
	for i < len(a.holes) && a.holes[i].end <= a.next {
		if h := &a.holes[i]; !h.lost {
			a.stats.GapsFilled++
			if a.cfg.OnRepair != nil && now != 0 {
				// The filling copy may carry a kernel timestamp from before
				// the hole was noticed: it was filled at once.
				a.cfg.OnRepair(time.Duration(max(now-h.opened, 0)), h.attempts)
			}
		}
		i++
	}
	if i > 0 {
		n := copy(a.holes, a.holes[i:])
		a.holes = a.holes[:n]
	}
	if len(a.holes) > 0 && a.holes[0].first < a.next {
		a.holes[0].first = a.next
	}
}

// TakeKick reports whether a hole opened since the last call, so the owner
// re-arms its timer to [Arbiter.Deadline].
func (a *Arbiter) TakeKick() bool {
	k := a.kick
	a.kick = false
	return k
}

// Deadline returns when [Arbiter.Tick] next has work (a NACK, a give-up, or
// confirming an end of session), and false when there is none.
func (a *Arbiter) Deadline() (int64, bool) {
	d, ok := a.endDeadline()
	for i := range a.holes {
		if !ok || a.holes[i].due < d {
			d, ok = a.holes[i].due, true
		}
	}
	return d, ok
}

// rto returns the wait after the given number of NACKs: the smoothed round
// trip plus a margin (four deviations, at least a quarter of the round trip
// and at least MinRTO: RFC 6298's RTO with a floor for a steady WAN path),
// or twice MinRTO before any sample; doubled per retry up to MaxRTO, but
// never under the first wait, so a path longer than MaxRTO (a WAN link of
// 250 ms) is not NACKed twice for every hole.
func (a *Arbiter) rto(attempts int) int64 {
	base := 2 * int64(a.cfg.MinRTO)
	if a.srtt != 0 {
		base = a.srtt + max(4*a.rttv, a.srtt/4, int64(a.cfg.MinRTO))
	}
	limit := max(int64(a.cfg.MaxRTO), base)
	for i := 1; i < attempts && base < limit; i++ {
		base *= 2
	}
	return min(base, limit)
}

// rttSample updates the smoothed round trip from the first answer to a hole's
// first NACK (Karn: answers to retried NACKs are ambiguous and not sampled).
// Before any sample, an answer to a retried NACK is taken as measured from
// the first: at worst an overestimate, which the next unambiguous samples
// bring down, where waiting for one would never end on a path whose round
// trip is longer than the first RTOs (every hole would be retried before
// its answer came).
func (a *Arbiter) rttSample(seq uint64, now int64) {
	for i := range a.holes {
		h := &a.holes[i]
		if seq < h.first || seq >= h.end {
			continue
		}
		if h.sent != 0 && now > h.sent && (h.attempts == 1 || a.srtt == 0) {
			s := now - h.sent
			if a.srtt == 0 {
				a.srtt, a.rttv = s, s/2
			} else {
				a.rttv = (3*a.rttv + abs(a.srtt-s)) / 4
				a.srtt = (7*a.srtt + s) / 8
			}
		}
		h.sent = 0
		return
	}
}

// Tick does the work due at now: holes whose arbitration window or RTO ran
// out are NACKed (missing ranges coalesced into as few requests as
// possible), holes out of retries are given up to the snapshot path, and an
// end of session followed by silence is reported (EventEndOfSession).
func (a *Arbiter) Tick(now int64) {
	a.kick = false
	if a.ended(now) {
		a.endSession()
		return
	}
	if len(a.holes) == 0 {
		return
	}
	giveUp := -1
	for i := range a.holes {
		if h := &a.holes[i]; h.due <= now && h.attempts >= a.cfg.MaxRetries {
			giveUp = i
		}
	}
	if giveUp >= 0 {
		end := a.holes[giveUp].end
		if seen := a.seen(); end > seen && a.eos == 0 {
			// Beyond every packet received, only a heartbeat claimed these
			// sequences, and no server confirmed them: a give-up never
			// skips the stream past data it has not seen (a forged claim
			// would take the subscriber off the live feed). The claim is
			// dropped; a real loss there shows as a hole again when the
			// next packet arrives.
			a.cutClaim(seen)
			end = seen
		}
		if end > a.next {
			a.skipTo(end, LostRetries, now)
		}
	}
	var req wire.RetransmitRequest
	a.nackLeft = nackRound * uint64(a.cfg.MaxRequest)
	j := 0 // index into held, which is sorted like the holes
	for i := range a.holes {
		h := &a.holes[i]
		cursor := max(h.first, a.next)
		// Work out what is still missing in the hole from the held packets.
		var missing bool
		var front uint64 // the first sequence still missing in the hole
		asked0 := a.nackLeft
		for j < a.held.len() {
			s := a.held.at(j)
			if s.pkt.Seq >= h.end {
				break
			}
			if s.pkt.Seq > cursor {
				if !missing {
					front = cursor
				}
				missing = true
				if h.due <= now {
					req = a.want(req, cursor, s.pkt.Seq)
				}
			}
			cursor = max(cursor, s.pkt.End())
			if s.pkt.End() > h.end {
				break // it may cover the start of the next hole too
			}
			j++
		}
		if cursor < h.end {
			if !missing {
				front = cursor
			}
			missing = true
			if h.due <= now {
				req = a.want(req, cursor, h.end)
			}
		}
		asked := a.nackLeft < asked0
		if !missing {
			// Filled by other lines; it closes when the holes before it
			// do. Nothing to schedule.
			h.due = math.MaxInt64
			continue
		}
		if h.due > now {
			continue
		}
		if !asked {
			// The round's budget ran out before this hole: it goes first
			// next round, without spending one of its retries.
			h.due = now + a.rto(max(h.attempts, 1))
			continue
		}
		if front > h.front {
			// Filled from its front since the last NACK (a long outage
			// answered a round at a time): a hole being repaired is not
			// failing, so its retries start again.
			h.attempts = 0
			h.front = front
		}
		h.attempts++
		if h.attempts == 1 {
			h.sent = now
		}
		h.due = now + a.rto(h.attempts)
	}
	if req.Count > 0 {
		a.send(req)
	}
}

// nackRound is the most requests' worth of messages (Config.MaxRequest each)
// one Tick asks for: a huge hole (a long outage, or a claim far ahead of the
// sender) is asked for from its front, a round at a time, instead of in
// thousands of requests at once that no server would answer anyway.
const nackRound = 16

// want adds [first, end) to the request being built, within the round's
// budget (a.nackLeft), sending the previous one when the new range is too
// far from it or the request would be too big.
func (a *Arbiter) want(req wire.RetransmitRequest, first, end uint64) wire.RetransmitRequest {
	if end-first > a.nackLeft {
		end = first + a.nackLeft
	}
	a.nackLeft -= end - first
	for first < end {
		if req.Count > 0 {
			reqEnd := req.FirstSeq + uint64(req.Count)
			if first-reqEnd < a.cfg.Coalesce && end-req.FirstSeq <= uint64(a.cfg.MaxRequest) {
				req.Count = uint32(end - req.FirstSeq)
				return req
			}
			a.send(req)
		}
		n := min(end-first, uint64(a.cfg.MaxRequest))
		req = wire.RetransmitRequest{Channel: a.cfg.Channel, Session: a.session, FirstSeq: first, Count: uint32(n)}
		first += n
		if first < end {
			a.send(req)
			req.Count = 0
		}
	}
	return req
}

func (a *Arbiter) send(req wire.RetransmitRequest) {
	if a.cfg.Requester == nil {
		return
	}
	a.stats.Nacks++
	a.stats.NackedMessages += uint64(req.Count)
	if err := a.cfg.Requester.Request(req); err != nil {
		a.stats.NackErrors++
	}
}

// Reject handles a retransmit server's refusal. Too old, unknown session and
// not allowed give the holes it covers up to the snapshot path at once; rate
// limited postpones their next NACK. Not yet sent means nothing from
// r.FirstSeq on was ever sent: whatever a heartbeat claimed beyond it (a
// forged or foreign heartbeat of the live session) is dropped, counted in
// Stats.Phantom, never reported lost (see cutClaim).
func (a *Arbiter) Reject(r wire.RetransmitReject, now int64) {
	a.stats.Rejects++
	if i := int(r.Reason); i < len(a.stats.RejectReasons) {
		a.stats.RejectReasons[i]++
	} else {
		a.stats.RejectReasons[0]++
	}
	if r.Session != a.session || r.Channel != a.cfg.Channel || len(a.holes) == 0 {
		return
	}
	first, end := r.FirstSeq, r.FirstSeq+uint64(r.Count)
	switch r.Reason {
	case wire.RejectTooOld, wire.RejectUnknownSession, wire.RejectNotAllowed:
		last := -1
		for i := range a.holes {
			if a.holes[i].first < end && first < a.holes[i].end {
				last = i
			}
		}
		if last < 0 {
			return
		}
		reason := LostTooOld
		switch r.Reason {
		case wire.RejectUnknownSession:
			reason = LostSession
		case wire.RejectNotAllowed:
			reason = LostRetries
		}
		a.skipTo(a.holes[last].end, reason, now)
	case wire.RejectNotYetSent:
		a.cutClaim(first)
		fallthrough
	default:
		wait := a.rto(1)
		if r.Reason == wire.RejectRateLimited && r.RetryAfterMs > 0 {
			wait = int64(r.RetryAfterMs) * 1e6
		}
		for i := range a.holes {
			if h := &a.holes[i]; h.first < end && first < h.end {
				h.due = max(h.due, now+wait)
				h.sent = 0
			}
		}
	}
}

func abs(x int64) int64 {
	if x < 0 {
		return -x
	}
	return x
}

// seen returns one past the highest sequence received: the next to deliver,
// or the end of the last packet held.
func (a *Arbiter) seen() uint64 {
	if n := a.held.len(); n > 0 {
		return max(a.next, a.held.at(n-1).pkt.End())
	}
	return a.next
}

// cutClaim handles a "not yet sent" answer for first: the retransmit server
// has sent nothing from first on, so holes beyond the data actually received
// were claimed by a heartbeat that ran ahead of the sender. The claim is cut
// back to first (or to the end of the last packet held, which someone did
// send), the holes past it are dropped and the stream carries on: if the
// sequences do come later, their packets open a hole again like any loss.
// It reports whether anything was cut.
func (a *Arbiter) cutClaim(first uint64) bool {
	cut := max(first, a.seen())
	if cut >= a.known {
		return false
	}
	a.stats.Phantom += a.known - cut
	a.stats.PhantomCuts++
	a.known = cut
	if a.eos > cut {
		a.eos = 0
	}
	i := 0
	for i < len(a.holes) && a.holes[i].first < cut {
		a.holes[i].end = min(a.holes[i].end, cut)
		i++
	}
	a.holes = a.holes[:i]
	return true
}
