package impair

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/tickcast/tickcast/internal/fault"
)

// Limits and defaults of a [Spec].
const (
	// MaxDelay is the largest Delay + Jitter + ReorderExtra: a packet is
	// never held longer (the fault injector's limit).
	MaxDelay = fault.MaxDelay
	// DefaultReorderExtra is the extra delay of a reordered packet when
	// ReorderExtra is 0.
	DefaultReorderExtra = 5 * time.Millisecond
	// DefaultQueue is the rate cap's queue when Queue is 0.
	DefaultQueue = 256 << 10
	// MaxQueue is the largest Queue.
	MaxQueue = 1 << 30
	// MaxRate is the largest Rate in bytes per second (100 Gbit/s).
	MaxRate = 100e9 / 8
)

// specKeys lists the keys ParseSpec knows, for its error messages.
const specKeys = "loss, burst, dup, delay, jitter, reorder, rate, queue"

// Spec says how one direction of the proxy impairs its packets. The zero
// value impairs nothing: packets pass at once, unchanged and in order.
//
// The stages, in order: loss (random, then bursts), duplication, the rate
// cap, then delay with jitter and reordering.
type Spec struct {
	// Loss is the probability, 0..1, that a packet is lost on its own.
	Loss float64
	// BurstRate is the probability, 0..1, that a packet starts a loss
	// burst: it and the next BurstLen-1 packets are lost.
	BurstRate float64
	// BurstLen is the number of packets a burst loses; at least 1 when
	// BurstRate is set.
	BurstLen int
	// Dup is the probability, 0..1, that a packet is delivered twice.
	Dup float64
	// Delay is the fixed one-way delay; 0 = none.
	Delay time.Duration
	// Jitter adds a uniform random -Jitter..+Jitter to each packet's delay
	// (never making it negative); 0 = none. Jitter larger than the gap
	// between packets reorders them, as on a real path.
	Jitter time.Duration
	// Reorder is the probability, 0..1, that a packet is held ReorderExtra
	// longer than the others, so that later packets overtake it.
	Reorder float64
	// ReorderExtra is the extra delay of a reordered packet; 0 =
	// DefaultReorderExtra.
	ReorderExtra time.Duration
	// Rate caps the direction at this many bytes per second (a token
	// bucket with no burst: each packet takes len/Rate to go out); 0 = no
	// cap.
	Rate int64
	// Queue is how many bytes may wait for the rate cap; a packet that
	// does not fit is dropped (a tbf qdisc's limit). 0 = DefaultQueue.
	// Only with Rate.
	Queue int
}

// faults is the loss and duplication part of s, which the line fault
// injector applies.
func (s Spec) faults(seed int64) fault.Config {
	return fault.Config{DropRate: s.Loss, BurstRate: s.BurstRate, BurstLen: s.BurstLen, DupRate: s.Dup, Seed: seed}
}

// Validate reports the first field out of range, naming it and its value.
func (s Spec) Validate() error {
	if err := s.faults(0).Validate(); err != nil {
		return fmt.Errorf("impair: loss, burst or dup: %w", err)
	}
	if !(s.Reorder >= 0 && s.Reorder <= 1) {
		return fmt.Errorf("impair: Reorder %v: out of range 0..1", s.Reorder)
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"Delay", s.Delay}, {"Jitter", s.Jitter}, {"ReorderExtra", s.ReorderExtra}} {
		if d.v < 0 || d.v > MaxDelay {
			return fmt.Errorf("impair: %s %v: out of range 0..%v", d.name, d.v, MaxDelay)
		}
	}
	if s.Delay+s.Jitter+s.reorderExtra() > MaxDelay {
		return fmt.Errorf("impair: Delay %v + Jitter %v + ReorderExtra %v: more than %v", s.Delay, s.Jitter, s.reorderExtra(), MaxDelay)
	}
	if s.Rate < 0 || s.Rate > MaxRate {
		return fmt.Errorf("impair: Rate %d: out of range 0..%d bytes/s", s.Rate, int64(MaxRate))
	}
	if s.Queue < 0 || s.Queue > MaxQueue {
		return fmt.Errorf("impair: Queue %d: out of range 0..%d bytes", s.Queue, MaxQueue)
	}
	if s.Queue > 0 && s.Rate == 0 {
		return fmt.Errorf("impair: Queue %d: needs a Rate", s.Queue)
	}
	return nil
}

func (s Spec) reorderExtra() time.Duration {
	if s.Reorder > 0 && s.ReorderExtra == 0 {
		return DefaultReorderExtra
	}
	return s.ReorderExtra
}

func (s Spec) queue() int {
	if s.Queue == 0 {
		return DefaultQueue
	}
	return s.Queue
}

// ParseSpec reads a Spec in the command line's form, the one the line fault
// specs use (fault.SplitSpec): comma separated key=value items, each key at
// most once, in any order.
//
//	loss=P              Spec.Loss (P: 0.003 or 0.3%)
//	burst=P:N           Spec.BurstRate and Spec.BurstLen: loss bursts of N packets
//	dup=P               Spec.Dup
//	delay=D             Spec.Delay (time.ParseDuration: 15ms, 500us)
//	jitter=D            Spec.Jitter
//	reorder=P[:D]       Spec.Reorder and Spec.ReorderExtra
//	rate=R              Spec.Rate: 10Mbit, 512kbit, 1Gbit, 100bit; 1MB/s, 64KiB/s, 100B/s
//	queue=SIZE          Spec.Queue: 256KiB, 1MiB, 64KB, 1500B, 1500
//
// An empty spec (or "none") is the zero Spec. The result is validated;
// errors name the item and what is wrong with it.
//
//	loss=0.3%,delay=15ms,jitter=2ms,reorder=1%,dup=0.1%,rate=10Mbit,queue=256KiB
func ParseSpec(spec string) (Spec, error) {
	var s Spec
	if err := fault.SplitSpec(spec, specKeys, s.set); err != nil {
		return Spec{}, fmt.Errorf("impair spec %q: %w", spec, err)
	}
	if err := s.Validate(); err != nil {
		return Spec{}, fmt.Errorf("impair spec %q: %w", spec, err)
	}
	return s, nil
}

// set parses one item into s.
func (s *Spec) set(key, val string) error {
	var err error
	switch key {
	case "loss":
		s.Loss, err = fault.ParseRate(key, val)
	case "dup":
		s.Dup, err = fault.ParseRate(key, val)
	case "burst":
		p, n, ok := strings.Cut(val, ":")
		if !ok {
			return fmt.Errorf("burst=%s: want P:N, for example burst=0.1%%:20", val)
		}
		if s.BurstRate, err = fault.ParseRate(key, p); err != nil {
			return err
		}
		s.BurstLen, err = strconv.Atoi(strings.TrimSpace(n))
		if err != nil || s.BurstLen < 1 {
			return fmt.Errorf("burst length %q: want an integer of at least 1", n)
		}
	case "delay":
		s.Delay, err = parseDuration(key, val)
	case "jitter":
		s.Jitter, err = parseDuration(key, val)
	case "reorder":
		p, d, ok := strings.Cut(val, ":")
		if s.Reorder, err = fault.ParseRate(key, p); err != nil || !ok {
			return err
		}
		s.ReorderExtra, err = parseDuration("reorder delay", strings.TrimSpace(d))
	case "rate":
		s.Rate, err = parseRate(val)
	case "queue":
		var q int64
		q, err = parseSize(val)
		s.Queue = int(q)
	default:
		return fmt.Errorf("unknown key %q (keys: %s)", key, specKeys)
	}
	return err
}

// parseDuration parses a non-negative duration no longer than MaxDelay.
func parseDuration(what, val string) (time.Duration, error) {
	d, err := time.ParseDuration(val)
	if err != nil || d < 0 || d > MaxDelay {
		return 0, fmt.Errorf("%s %q: want a duration from 0 to %v (for example 15ms or 500us)", what, val, MaxDelay)
	}
	return d, nil
}

// String returns s in ParseSpec's form, with the fields at their zero value
// left out ("none" for the zero Spec); ParseSpec(s.String()) gives s back.
func (s Spec) String() string {
	var items []string
	prob := func(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
	if s.Loss != 0 {
		items = append(items, "loss="+prob(s.Loss))
	}
	if s.BurstRate != 0 || s.BurstLen != 0 {
		items = append(items, "burst="+prob(s.BurstRate)+":"+strconv.Itoa(s.BurstLen))
	}
	if s.Dup != 0 {
		items = append(items, "dup="+prob(s.Dup))
	}
	if s.Delay != 0 {
		items = append(items, "delay="+s.Delay.String())
	}
	if s.Jitter != 0 {
		items = append(items, "jitter="+s.Jitter.String())
	}
	if s.Reorder != 0 || s.ReorderExtra != 0 {
		r := "reorder=" + prob(s.Reorder)
		if s.ReorderExtra != 0 {
			r += ":" + s.ReorderExtra.String()
		}
		items = append(items, r)
	}
	if s.Rate != 0 {
		items = append(items, "rate="+formatRate(s.Rate))
	}
	if s.Queue != 0 {
		items = append(items, "queue="+formatSize(int64(s.Queue)))
	}
	if len(items) == 0 {
		return "none"
	}
	return strings.Join(items, ",")
}
