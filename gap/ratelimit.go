package gap

import (
	"math"
	"net/netip"
	"time"

	"golang.org/x/time/rate"
)

// requesterLimits holds one token bucket per requester address, in messages
// (DESIGN.md, "Security and abuse"). The table is bounded: when it is full,
// the least recently seen requester is forgotten. It is owned by one
// goroutine (the server's read loop) and is not safe for concurrent use.
type requesterLimits struct {
	rate  rate.Limit
	burst int
	max   int
	m     map[netip.Addr]*requesterLimit
	// A doubly linked list in order of last use: newest after root, oldest
	// before it.
	root requesterLimit
}

type requesterLimit struct {
	addr       netip.Addr
	lim        *rate.Limiter
	prev, next *requesterLimit
}

func newRequesterLimits(r float64, burst, max int) *requesterLimits {
	t := &requesterLimits{rate: rate.Limit(r), burst: burst, max: max, m: make(map[netip.Addr]*requesterLimit, max)}
	t.root.prev, t.root.next = &t.root, &t.root
	return t
}

// get returns the bucket of a, creating a full one for a new requester.
func (t *requesterLimits) get(a netip.Addr) *rate.Limiter {
	e := t.m[a]
	if e != nil {
		t.unlink(e)
	} else {
		if len(t.m) >= t.max {
			old := t.root.prev
			t.unlink(old)
			delete(t.m, old.addr)
		}
		e = &requesterLimit{addr: a, lim: rate.NewLimiter(t.rate, t.burst)}
		t.m[a] = e
	}
	e.prev, e.next = &t.root, t.root.next
	e.prev.next, e.next.prev = e, e
	return e.lim
}

func (t *requesterLimits) unlink(e *requesterLimit) {
	e.prev.next, e.next.prev = e.next, e.prev
	e.prev, e.next = nil, nil
}

// len returns how many requesters are tracked.
func (t *requesterLimits) len() int { return len(t.m) }

// retryAfterMs returns how long until lim holds one token, in whole
// milliseconds rounded up (at least 1), for a RetransmitReject.
func retryAfterMs(lim *rate.Limiter, now time.Time) uint32 {
	missing := 1 - lim.TokensAt(now)
	if missing <= 0 || lim.Limit() <= 0 {
		return 1
	}
	ms := math.Ceil(missing / float64(lim.Limit()) * 1000)
	return uint32(min(max(ms, 1), math.MaxUint32))
}
