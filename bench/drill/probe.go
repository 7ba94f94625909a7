package drill

import (
	"slices"
	"sync"
	"time"

	"github.com/tickcast/tickcast/subscriber"
)

// probe is the drill's application: a [subscriber.Handler] that notes what
// an application would notice. Market events (levels, trades) return at
// once, so the probe costs nothing at full rate; the rare events are kept
// under a mutex.
type probe struct {
	mu       sync.Mutex
	appGaps  uint64               // resets for a gap or an overrun: holes the application saw
	downs    []lineChange         // lines reported down, in order
	sessions map[uint64]time.Time // when each session was first seen
	resets   map[string]uint64    // every reset, by reason
}

type lineChange struct {
	line int
	at   time.Time
}

func newProbe() *probe {
	return &probe{sessions: map[uint64]time.Time{}, resets: map[string]uint64{}}
}

// HandleEvent implements subscriber.Handler.
func (p *probe) HandleEvent(e *subscriber.Event) {
	switch e.Kind {
	case subscriber.EventLevel, subscriber.EventConsistent, subscriber.EventTrade, subscriber.EventStatus, subscriber.EventSnapshotBook:
		return
	}
	now := time.Now()
	p.mu.Lock()
	defer p.mu.Unlock()
	if e.Session != 0 {
		if _, ok := p.sessions[e.Session]; !ok {
			p.sessions[e.Session] = now
		}
	}
	switch e.Kind {
	case subscriber.EventReset:
		p.resets[e.Reset.String()]++
		if e.Reset == subscriber.ResetGap || e.Reset == subscriber.ResetOverrun {
			p.appGaps++
		}
	case subscriber.EventLine:
		if !e.Up {
			p.downs = append(p.downs, lineChange{line: e.Line, at: now})
		}
	}
}

// downWithin returns how long after from the first of lines (any line if
// none given) was reported down, before until.
func (p *probe) downWithin(from, until time.Time, lines ...int) (time.Duration, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, d := range p.downs {
		if d.at.Before(from) || !d.at.Before(until) {
			continue
		}
		if len(lines) == 0 || slices.Contains(lines, d.line) {
			return d.at.Sub(from), true
		}
	}
	return 0, false
}

// sessionSeen returns when the application first heard of session.
func (p *probe) sessionSeen(session uint64) (time.Time, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	t, ok := p.sessions[session]
	return t, ok
}

// gaps returns the holes the application saw and every reset by reason.
func (p *probe) gaps() (uint64, map[string]uint64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	r := make(map[string]uint64, len(p.resets))
	for k, v := range p.resets {
		r[k] = v
	}
	return p.appGaps, r
}
