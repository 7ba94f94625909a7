package bench

import (
	"fmt"
	"sync/atomic"
	"time"
)

// Schedule is the send schedule of a paced run, wrk2's constant rate: message
// i is due at offset At(i) = i/Rate from the start of the run. Every message
// is measured from its scheduled time, so a sender that stalls cannot hide
// the stall from the latency figures (BENCHMARKING.md, "Coordinated
// omission").
type Schedule struct {
	nsPer float64 // ns between two messages
}

// MaxRate is the highest rate a [Schedule] takes, in messages per second:
// one message per nanosecond keeps every scheduled time distinct, so the
// scheduled time identifies a message.
const MaxRate = 1e9

// NewSchedule returns the schedule of rate messages per second.
func NewSchedule(rate float64) (Schedule, error) {
	if !(rate > 0 && rate <= MaxRate) {
		return Schedule{}, fmt.Errorf("rate %v: want a rate in (0, %g] messages/s", rate, MaxRate)
	}
	return Schedule{nsPer: 1e9 / rate}, nil
}

// Rate returns the schedule's rate in messages per second.
func (s Schedule) Rate() float64 { return 1e9 / s.nsPer }

// At returns the offset of message i from the start of the run, in ns.
func (s Schedule) At(i int64) int64 { return int64(float64(i) * s.nsPer) }

// Before returns how many messages are scheduled before offset t: the least
// i with At(i) >= t.
func (s Schedule) Before(t int64) int64 {
	if t <= 0 {
		return 0
	}
	// The estimate is off by float rounding at most; settle it exactly.
	i := int64(float64(t) / s.nsPer)
	for i > 0 && s.At(i-1) >= t {
		i--
	}
	for s.At(i) < t {
		i++
	}
	return i
}

// Due returns how many messages are due at offset t (scheduled at or before
// it): the least i with At(i) > t.
func (s Schedule) Due(t int64) int64 {
	if t < 0 {
		return 0
	}
	return s.Before(t + 1)
}

// spinMargin is how long before its target spinUntil stops sleeping and
// starts spinning: Go's timers wake about 1 ms late on this VM.
const spinMargin = 2 * time.Millisecond

// spinUntil waits until the wall clock reaches t (ns since the Unix epoch)
// and returns true, or returns false as soon as stop is set. Waits longer
// than spinMargin sleep most of the way; the rest is a spin on time.Now,
// the only way to keep a µs-level schedule on a machine whose timers wake
// milliseconds late.
func spinUntil(t int64, stop *atomic.Bool) bool {
	for {
		if stop.Load() {
			return false
		}
		left := time.Duration(t - time.Now().UnixNano())
		switch {
		case left <= 0:
			return true
		case left > spinMargin:
			time.Sleep(min(left-spinMargin, 50*time.Millisecond))
		}
	}
}

// sleepUntil sleeps until the wall clock reaches t (ns since the Unix epoch)
// or stop is set, in slices of at most 50 ms; it wakes as late as Go's
// timers do.
func sleepUntil(t int64, stop *atomic.Bool) {
	for !stop.Load() {
		left := time.Duration(t - time.Now().UnixNano())
		if left <= 0 {
			return
		}
		time.Sleep(min(left, 50*time.Millisecond))
	}
}
