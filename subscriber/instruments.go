package subscriber

import (
	"time"

	"github.com/tickcast/tickcast/feed"
	"github.com/tickcast/tickcast/wire"
)

// activity is one instrument's data-quality counters, kept by the
// dispatcher beside its book: plain fields written by the goroutine that
// holds the dispatch lock (a load, an add and a store per message, no
// atomics), read under the same lock by Instruments, once per scrape.
type activity struct {
	updates uint64 // level updates and trades applied
	last    int64  // dispatch time of the last one, ns; when the instrument appeared before one
}

// touch counts an update of instrument id, applied at d.now. dispatch
func (d *dispatcher) touch(id uint32) {
	a := d.act.Get(id, nil)
	a.updates++
	a.last = d.now
}

// appeared starts the clock of an instrument never updated yet, so that one
// defined but silent turns stale after Config.StaleAfter. dispatch
func (d *dispatcher) appeared(id uint32, now int64) *activity {
	a := d.act.Get(id, nil)
	if a.last == 0 {
		a.last = now
	}
	return a
}

// InstrumentStats are one instrument's data quality, as the subscriber
// sees it.
type InstrumentStats struct {
	ID     uint32
	Symbol string      // from its definition; "" before one
	Status wire.Status // as [Subscriber.Instruments] decides it
	// Updates counts the level updates and trades applied to it.
	Updates uint64
	// Age is the time since the last update was applied (since the
	// instrument appeared, if none was).
	Age time.Duration
}

// InstrumentCounts are how many instruments are in each status.
type InstrumentCounts struct {
	OK, Stale, Resyncing, Halted int
}

// Total returns the number of instruments counted.
func (c InstrumentCounts) Total() int { return c.OK + c.Stale + c.Resyncing + c.Halted }

func (c *InstrumentCounts) add(s wire.Status) {
	switch s {
	case wire.StatusStale:
		c.Stale++
	case wire.StatusResyncing:
		c.Resyncing++
	case wire.StatusHalted:
		c.Halted++
	default:
		c.OK++
	}
}

// Instruments reports the data quality of every instrument of the channel:
// how many are in each status, and, for the first Config.InstrumentMetrics
// of them in order of appearance, each one's. An instrument's status is the
// publisher's (its InstrumentStatus; an unknown code counts as OK), except
// that one reported OK is resyncing while the subscriber's book of it is not
// whole (a recovery by snapshot or from the recovery loop, or, without
// either, until the source clears the book), and stale when it had no
// update for Config.StaleAfter.
//
// It walks the instruments under the dispatch lock (the hot path waits that
// long, once) and allocates: call it per scrape, not per packet.
func (s *Subscriber) Instruments() (InstrumentCounts, []InstrumentStats) {
	type one struct {
		id      uint32
		symbol  [16]byte
		hasDef  bool
		status  wire.Status
		updates uint64
		last    int64
	}
	var (
		counts InstrumentCounts
		ones   []one
	)
	staleAfter := int64(s.cfg.staleAfter())
	limit := s.cfg.InstrumentMetrics
	var now int64
	s.in.Do(func() {
		now = time.Now().UnixNano()
		d := &s.disp
		all := d.state.All()
		if limit > 0 {
			ones = make([]one, 0, min(limit, len(all)))
		}
		for _, in := range all {
			id := in.Def.Instrument
			a := d.act.Lookup(id)
			if a == nil {
				a = d.appeared(id, now) // seen only in a snapshot or a loop book
			}
			st := d.status(in, a, now, staleAfter)
			counts.add(st)
			if len(ones) < limit {
				ones = append(ones, one{id: id, symbol: in.Def.Symbol, hasDef: in.HasDef, status: st, updates: a.updates, last: a.last})
			}
		}
	})
	var list []InstrumentStats
	if len(ones) > 0 {
		list = make([]InstrumentStats, len(ones))
	}
	for i, o := range ones {
		l := &list[i]
		l.ID, l.Status, l.Updates, l.Age = o.id, o.status, o.updates, time.Duration(max(now-o.last, 0))
		if o.hasDef {
			def := wire.InstrumentDef{Symbol: o.symbol}
			l.Symbol = def.SymbolString()
		}
	}
	return counts, list
}

// status decides an instrument's status (see Instruments). dispatch
func (d *dispatcher) status(in *feed.Instrument, a *activity, now, staleAfter int64) wire.Status {
	switch in.Status {
	case wire.StatusStale, wire.StatusResyncing, wire.StatusHalted:
		return in.Status
	}
	switch {
	case d.recovering || !in.Synced:
		return wire.StatusResyncing
	case staleAfter > 0 && now-a.last > staleAfter:
		return wire.StatusStale
	}
	return wire.StatusOK
}
