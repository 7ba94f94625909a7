package bench

import (
	"context"
	"encoding/binary"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/tickcast/tickcast/publisher/synth"
	"github.com/tickcast/tickcast/wire"
)

const (
	// exchTimeOff is where a LevelUpdate and a Trade keep their exchange time
	// (DESIGN.md, "Market messages").
	exchTimeOff = 24
	// batchLimit bounds one batch of the pacer: what one tick hands on, and
	// one Publish of the publisher (its batch buffers hold 64 KiB).
	batchLimit = 64 << 10
	// lateAfter makes a batch late: its first message waited longer.
	lateAfter = time.Millisecond
)

// feed is the message stream of a paced run: the synthetic generator's
// events, every message stamped with its scheduled time as its exchange time
// (so latency at the receiver is measured from the schedule, free of
// coordinated omission), handed on a batch of whole due events at a time.
// The tickcast publisher, the raw-UDP floor and the NATS peer all send this
// same stream. A feed is owned by one goroutine.
type feed struct {
	gen   *synth.Generator
	sched Schedule
	start int64    // ns since the Unix epoch of offset 0
	tick  int64    // ns between ticks when sleeping; 0 = spin
	total int64    // data messages in the run: those scheduled before its end
	win   [2]int64 // the recorded window [from, end), offsets in ns
	want  uint64   // messages scheduled in the window

	idx     int64  // messages generated so far
	ev      []byte // the next event: generated and stamped, not yet handed on
	evFirst int64  // index of its first message
	evLast  int64  // and of its last
	evWin   uint64 // how many of its messages are in the window

	messages uint64 // data messages handed on
	inWindow uint64 // of those, in the window
}

// feedConfig is what a feed needs: the same on every side of a run.
type feedConfig struct {
	Rate        float64       `json:"rate"`
	Instruments int           `json:"instruments"`
	Levels      int           `json:"levels"`
	Seed        int64         `json:"seed"`
	Start       int64         `json:"start_ns"` // offset 0, ns since the Unix epoch
	Warmup      time.Duration `json:"warmup_ns"`
	Duration    time.Duration `json:"duration_ns"`
	// Tick, if positive, makes the sender sleep between ticks until the
	// next message is due and at least Tick passed since the last tick
	// (Go's timers wake about 1 ms late here); 0 = spin on the clock.
	Tick time.Duration `json:"tick_ns,omitempty"`
}

// window returns the recorded window as exchange times: [from, end).
func (c feedConfig) window() (from, end int64) {
	return c.Start + int64(c.Warmup), c.Start + int64(c.Warmup+c.Duration)
}

func newFeed(c feedConfig) (*feed, error) {
	sched, err := NewSchedule(c.Rate)
	if err != nil {
		return nil, err
	}
	gen, err := synth.NewGenerator(synth.Config{Instruments: c.Instruments, Levels: c.Levels, Seed: c.Seed})
	if err != nil {
		return nil, err
	}
	if c.Warmup < 0 || c.Duration <= 0 || c.Tick < 0 {
		return nil, fmt.Errorf("warm-up %v, duration %v, tick %v: want warm-up >= 0, duration > 0 and tick >= 0", c.Warmup, c.Duration, c.Tick)
	}
	f := &feed{
		gen:   gen,
		sched: sched,
		start: c.Start,
		tick:  int64(c.Tick),
		win:   [2]int64{int64(c.Warmup), int64(c.Warmup + c.Duration)},
		ev:    make([]byte, 0, synth.MaxEventBytes),
	}
	f.total = sched.Before(f.win[1])
	f.want = uint64(f.total - sched.Before(f.win[0]))
	return f, nil
}

// definitions returns the instrument definitions and full books, in
// batches of whole events of at most batchLimit bytes (one book may exceed
// it): what a tickcast subscriber needs before the data.
func (f *feed) definitions() [][]byte {
	all := f.gen.Definitions(nil)
	var out [][]byte
	start, cut := 0, 0 // the batch being gathered; the last event boundary in it
	for off := 0; off+wire.MsgHeaderLen <= len(all); {
		n := int(binary.LittleEndian.Uint16(all[off:]))
		if n < wire.MsgHeaderLen || off+n > len(all) {
			break // cannot happen: the generator's own output
		}
		if off+n-start > batchLimit && cut > start {
			out = append(out, all[start:cut])
			start = cut
		}
		switch wire.Type(all[off+2]) {
		case wire.TypeInstrumentDef, wire.TypeInstrumentStatus: // each ends an event
			cut = off + n
		}
		off += n
	}
	if start < len(all) {
		out = append(out, all[start:])
	}
	return out
}

// done reports whether every message of the run was handed on.
func (f *feed) done() bool { return len(f.ev) == 0 && f.idx >= f.total }

// next generates the next event and stamps each message with its scheduled
// time.
func (f *feed) next() {
	f.ev = f.gen.Next(f.ev[:0], 1, 0)
	f.evFirst, f.evWin = f.idx, 0
	for off := 0; off+wire.MsgHeaderLen <= len(f.ev); {
		n := int(binary.LittleEndian.Uint16(f.ev[off:]))
		if n < exchTimeOff+8 || off+n > len(f.ev) {
			break // cannot happen: events hold LevelUpdates and Trades
		}
		at := f.sched.At(f.idx)
		binary.LittleEndian.PutUint64(f.ev[off+exchTimeOff:], uint64(f.start+at))
		if at >= f.win[0] && at < f.win[1] {
			f.evWin++
		}
		f.idx++
		off += n
	}
	f.evLast = f.idx - 1
}

// fill appends to dst every whole event whose messages are all due at
// offset now (ns), while dst stays within limit bytes, and returns it.
func (f *feed) fill(dst []byte, now int64, limit int) []byte {
	for {
		if len(f.ev) == 0 {
			if f.idx >= f.total {
				return dst
			}
			f.next()
		}
		if f.sched.At(f.evLast) > now || (len(dst) > 0 && len(dst)+len(f.ev) > limit) {
			return dst
		}
		dst = append(dst, f.ev...)
		f.messages += uint64(f.evLast - f.evFirst + 1)
		f.inWindow += f.evWin
		f.ev = f.ev[:0]
	}
}

// paceStats says how well a sender kept to the schedule.
type paceStats struct {
	Messages    uint64 `json:"messages"`     // data messages handed on, warm-up included
	InWindow    uint64 `json:"in_window"`    // of those, scheduled in the recorded window
	Batches     uint64 `json:"batches"`      // ticks that handed something on
	MaxLagNs    int64  `json:"max_lag_ns"`   // the longest a due message waited for its tick
	LateBatches uint64 `json:"late_batches"` // ticks whose first message waited more than 1 ms
	// WindowStartNs is when the window was scheduled to start;
	// WindowFirstNs and WindowLastNs are when its first and its last
	// message were handed on (ns since the Unix epoch).
	WindowStartNs int64 `json:"window_start_ns"`
	WindowFirstNs int64 `json:"window_first_ns"`
	WindowLastNs  int64 `json:"window_last_ns"`
	Complete      bool  `json:"complete"` // every message was handed on before the deadline
}

// achievedRate returns the rate at which the window's messages went out,
// from the window's scheduled start to when its last message was handed on:
// below the schedule's when the sender could not keep up.
func (p paceStats) achievedRate() float64 {
	if p.InWindow < 2 || p.WindowLastNs <= p.WindowStartNs {
		return 0
	}
	return float64(p.InWindow) / float64(p.WindowLastNs-p.WindowStartNs) * 1e9
}

// paceHooks are what a sender does with the stream.
type paceHooks struct {
	// emit sends one batch of whole events; now is the tick's time.
	emit func(b []byte, now int64) error
	// windowStart, if set, runs before the batch holding the window's first
	// message is emitted; windowEnd after the one completing the window.
	windowStart, windowEnd func()
}

// pace runs the schedule: from the start time on, each tick hands every due
// event to h.emit in batches of at most batchLimit bytes, then spins until
// the next event is due (or, with a tick, sleeps until it is due and a tick
// passed). A sender that falls behind keeps the schedule (it
// catches up without waiting) and counts late ticks. pace returns when every
// message was handed on, when stop is set, when deadline (ns since the Unix
// epoch) passes, or when emit fails.
func (f *feed) pace(deadline int64, stop *atomic.Bool, h paceHooks) (paceStats, error) {
	st := paceStats{WindowStartNs: f.start + f.win[0]}
	buf := make([]byte, 0, batchLimit+synth.MaxEventBytes)
	if !spinUntil(f.start, stop) {
		return st, nil
	}
	tickAt := f.start    // when the last tick began
	tickRel := int64(-1) // with a tick: the offset the current tick hands on messages to
	for !f.done() {
		if stop.Load() {
			break
		}
		now := time.Now().UnixNano()
		if now > deadline {
			break
		}
		rel := now - f.start
		if f.tick > 0 {
			// A tick hands on what was due when it began, then waits.
			if tickRel < 0 {
				tickRel = rel
			}
			rel = tickRel
		}
		first := f.idx // the first message the tick may hand on
		if len(f.ev) > 0 {
			first = f.evFirst
		}
		before := f.inWindow
		b := f.fill(buf[:0], rel, batchLimit)
		if len(b) == 0 {
			next := min(f.start+f.sched.At(f.evLast), deadline)
			if f.tick > 0 {
				sleepUntil(max(next, tickAt+f.tick), stop)
			} else {
				spinUntil(next, stop)
			}
			tickAt, tickRel = time.Now().UnixNano(), -1
			continue
		}
		lag := rel - f.sched.At(first)
		st.MaxLagNs = max(st.MaxLagNs, lag)
		if lag > int64(lateAfter) {
			st.LateBatches++
		}
		if f.inWindow > before && before == 0 && h.windowStart != nil {
			h.windowStart()
		}
		if err := h.emit(b, now); err != nil {
			return f.stats(st), err
		}
		st.Batches++
		if f.inWindow > before {
			if st.WindowFirstNs == 0 {
				st.WindowFirstNs = now
			}
			st.WindowLastNs = now
			if f.inWindow == f.want && h.windowEnd != nil {
				h.windowEnd()
			}
		}
	}
	st = f.stats(st)
	st.Complete = f.done()
	return st, nil
}

func (f *feed) stats(st paceStats) paceStats {
	st.Messages, st.InWindow = f.messages, f.inWindow
	return st
}

// window is the recorded window as exchange times, set once the start is
// known and read by the receiving goroutines meanwhile.
type window struct {
	from, end atomic.Int64 // both 0 until the start: nothing is in the window
}

// has reports whether a message with exchange time exch is recorded.
func (w *window) has(exch uint64) bool {
	return int64(exch) >= w.from.Load() && int64(exch) < w.end.Load()
}

// await waits for the run's start and sets the window from it.
func (w *window) await(ctx context.Context, env *childEnv, c feedConfig) error {
	start, err := env.awaitStart(ctx)
	if err != nil {
		return err
	}
	c.Start = start
	from, end := c.window()
	w.end.Store(end)
	w.from.Store(from)
	return nil
}
