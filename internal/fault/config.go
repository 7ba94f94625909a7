package fault

import (
	"fmt"
	"time"
)

// Limits on a [Config].
const (
	// MaxReorderDepth is the largest ReorderDepth.
	MaxReorderDepth = 1 << 16
	// MaxDelay is the largest Delay: longer would hold an unbounded share of
	// a busy line in memory.
	MaxDelay = 10 * time.Second
)

// Config says which faults an [Injector] applies. The zero value injects
// nothing: every packet passes, unchanged and in order.
type Config struct {
	// DropRate is the probability, 0..1, that a packet is lost on its own.
	DropRate float64
	// BurstRate is the probability, 0..1, that a packet starts a burst loss:
	// it and the next BurstLen-1 packets are lost.
	BurstRate float64
	// BurstLen is the number of packets a burst loses; at least 1 when
	// BurstRate is set.
	BurstLen int
	// DupRate is the probability, 0..1, that a packet is delivered twice
	// (the copy right after the original).
	DupRate float64
	// ReorderRate is the probability, 0..1, that a packet is held back and
	// released after the next ReorderDepth packets.
	ReorderRate float64
	// ReorderDepth is how many packets overtake a reordered one; 0 = 1, at
	// most MaxReorderDepth.
	ReorderDepth int
	// Delay holds every packet this long, 0..MaxDelay; held packets come out
	// of the Apply or Drain call made once they are due. 0 = no delay.
	Delay time.Duration
	// Seed seeds the decisions: the same seed, configuration and packets
	// give the same faults. 0 is a seed like any other.
	Seed int64
}

// Validate reports the first field out of range, naming it and its value.
func (c Config) Validate() error {
	for _, r := range []struct {
		name string
		v    float64
	}{{"DropRate", c.DropRate}, {"BurstRate", c.BurstRate}, {"DupRate", c.DupRate}, {"ReorderRate", c.ReorderRate}} {
		if !(r.v >= 0 && r.v <= 1) { // also rejects NaN
			return fmt.Errorf("fault: %s %v: out of range 0..1", r.name, r.v)
		}
	}
	if c.BurstLen < 0 || (c.BurstRate > 0 && c.BurstLen == 0) {
		return fmt.Errorf("fault: BurstLen %d: must be at least 1 when BurstRate is set", c.BurstLen)
	}
	if c.ReorderDepth < 0 || c.ReorderDepth > MaxReorderDepth {
		return fmt.Errorf("fault: ReorderDepth %d: out of range 0..%d", c.ReorderDepth, MaxReorderDepth)
	}
	if c.Delay < 0 || c.Delay > MaxDelay {
		return fmt.Errorf("fault: Delay %v: out of range 0..%v", c.Delay, MaxDelay)
	}
	return nil
}

// active reports whether c injects any fault.
func (c Config) active() bool {
	return c.DropRate > 0 || c.BurstRate > 0 || c.DupRate > 0 || c.ReorderRate > 0 || c.Delay > 0
}
