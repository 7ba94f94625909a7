package fault

import (
	"math"
	"sync/atomic"
)

// minBuf is the smallest buffer the injector keeps for a held packet: room
// for a default 1200-byte packet, so buffers are reused whatever the sizes.
const minBuf = 2048

// Stats counts what an [Injector] did. Every input packet is passed,
// dropped or still held, and a duplicate passes twice:
// In + Duplicated = Passed + Dropped + Held.
type Stats struct {
	In         uint64 // packets given to Apply
	Passed     uint64 // packets handed out, a duplicated packet twice
	Dropped    uint64 // lost: random, burst, or a dead line (held ones included)
	Duplicated uint64 // packets delivered twice
	Reordered  uint64 // packets held back behind later ones
	Delayed    uint64 // packets held for Config.Delay
	Held       uint64 // packets held now (a gauge, not a counter)
}

// Injector applies a [Config]'s faults to the packets of one line.
//
// Apply, Drain and NextDue must be called by one goroutine at a time (the
// line's reader or writer); Kill, Revive, Dead and Stats are safe from any
// goroutine.
type Injector struct {
	cfg   Config
	depth int64
	delay int64
	rng   uint64 // splitmix64 state

	// Thresholds: a draw x fires when x>>11 < threshold, the rate in 2^-53 steps.
	dropT, burstT, dupT, reorderT uint64

	burstLeft   int
	seq         int64 // input packets so far: the reorder clock
	reorderDups int   // held reordered packets that go out twice

	out     [][]byte // the last result
	reorder queue    // ordered by release count
	delayed queue    // ordered by due time
	free    [][]byte // buffers to reuse
	lent    [][]byte // buffers in the last result: free at the next call

	dead                                                        atomic.Bool
	in, passed, dropped, duplicated, reordered, delayedN, heldN atomic.Uint64
}

// New returns an Injector for cfg, or the error Validate gives.
func New(cfg Config) (*Injector, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	i := &Injector{
		cfg:      cfg,
		depth:    int64(max(cfg.ReorderDepth, 1)),
		delay:    int64(cfg.Delay),
		rng:      uint64(cfg.Seed) ^ 0x7469636b63617374, // "tickcast"
		dropT:    threshold(cfg.DropRate),
		burstT:   threshold(cfg.BurstRate),
		dupT:     threshold(cfg.DupRate),
		reorderT: threshold(cfg.ReorderRate),
	}
	return i, nil
}

// Config returns the injector's configuration.
func (i *Injector) Config() Config { return i.cfg }

// Kill makes the line dead: from the next Apply or Drain, every packet,
// including those held, is dropped.
func (i *Injector) Kill() { i.dead.Store(true) }

// Revive brings a dead line back.
func (i *Injector) Revive() { i.dead.Store(false) }

// Dead reports whether the line is dead.
func (i *Injector) Dead() bool { return i.dead.Load() }

// Stats returns the counters. Each is read atomically, the set is not a
// snapshot taken at one instant.
func (i *Injector) Stats() Stats {
	return Stats{
		In:         i.in.Load(),
		Passed:     i.passed.Load(),
		Dropped:    i.dropped.Load(),
		Duplicated: i.duplicated.Load(),
		Reordered:  i.reordered.Load(),
		Delayed:    i.delayedN.Load(),
		Held:       i.heldN.Load(),
	}
}

// counts accumulates one call's statistics, published once at its end.
type counts struct {
	in, passed, dropped, duplicated, reordered, delayed uint64
}

// Apply passes the batch in through the faults and returns what comes out
// now, in order: the packets that passed (the same slices as in, not
// copies) and the held packets that became due. now is the time in ns; it
// only matters with Delay. Held packets are copied into the injector's own
// buffers. The result is valid until the next Apply or Drain. In steady
// state Apply allocates nothing.
func (i *Injector) Apply(now int64, in [][]byte) [][]byte {
	i.begin()
	var c counts
	c.in = uint64(len(in))
	switch {
	case i.dead.Load():
		c.dropped = uint64(len(in))
		i.dropHeld(&c)
	case !i.cfg.active() && i.reorder.len() == 0 && i.delayed.len() == 0:
		// No faults: hand the batch back as it is.
		c.passed = uint64(len(in))
		i.publish(&c)
		return in
	default:
		for _, p := range in {
			i.seq++
			i.one(now, p, &c)
			for i.reorder.len() > 0 && i.reorder.peek().at <= i.seq {
				i.unreorder(now, &c)
			}
		}
		i.releaseDue(now, &c)
	}
	i.publish(&c)
	return i.out
}

// Drain returns the held packets that are due at now; with now =
// math.MaxInt64 it releases everything held, reordered packets included (in
// their order). The result is valid until the next Apply or Drain.
func (i *Injector) Drain(now int64) [][]byte {
	i.begin()
	var c counts
	if i.dead.Load() {
		i.dropHeld(&c)
	} else {
		i.releaseDue(now, &c)
		if now == math.MaxInt64 {
			for i.reorder.len() > 0 {
				i.unreorder(now, &c)
			}
		}
	}
	i.publish(&c)
	return i.out
}

// NextDue returns when the next delayed packet is due (ns), and false when
// none is held for delay: a caller with Delay set calls Drain then.
func (i *Injector) NextDue() (int64, bool) {
	if i.delayed.len() == 0 {
		return 0, false
	}
	return i.delayed.peek().at, true
}

// begin starts a call: the last result's buffers become free again.
func (i *Injector) begin() {
	i.free = append(i.free, i.lent...)
	clear(i.lent)
	i.lent = i.lent[:0]
	clear(i.out)
	i.out = i.out[:0]
}

// one decides the fate of one input packet. The draws happen in a fixed
// order and only for the faults configured, so the decisions depend on the
// seed and the packet order alone.
func (i *Injector) one(now int64, p []byte, c *counts) {
	switch {
	case i.burstLeft > 0:
		i.burstLeft--
		c.dropped++
		return
	case i.burstT > 0 && i.chance(i.burstT):
		i.burstLeft = i.cfg.BurstLen - 1
		c.dropped++
		return
	case i.dropT > 0 && i.chance(i.dropT):
		c.dropped++
		return
	}
	dup := i.dupT > 0 && i.chance(i.dupT)
	if dup {
		c.duplicated++
	}
	if i.reorderT > 0 && i.chance(i.reorderT) {
		c.reordered++
		i.reorder.push(held{buf: i.copyOf(p), at: i.seq + i.depth, dup: dup})
		if dup {
			i.reorderDups++
		}
		return
	}
	i.forward(now, p, false, c)
	if dup {
		i.forward(now, p, false, c)
	}
}

// unreorder releases the oldest reordered packet.
func (i *Injector) unreorder(now int64, c *counts) {
	h := i.reorder.pop()
	i.forward(now, h.buf, true, c)
	if h.dup {
		i.reorderDups--
		i.forward(now, h.buf, false, c)
	}
}

// forward sends p on past the reorder stage: out now, or into the delay
// queue. owned says p is one of the injector's buffers.
func (i *Injector) forward(now int64, p []byte, owned bool, c *counts) {
	if i.delay == 0 || now == math.MaxInt64 {
		i.out = append(i.out, p)
		if owned {
			i.lent = append(i.lent, p)
		}
		c.passed++
		return
	}
	if !owned {
		p = i.copyOf(p)
	}
	c.delayed++
	i.delayed.push(held{buf: p, at: now + i.delay})
}

// releaseDue hands out the delayed packets due at now.
func (i *Injector) releaseDue(now int64, c *counts) {
	for i.delayed.len() > 0 && i.delayed.peek().at <= now {
		h := i.delayed.pop()
		i.out = append(i.out, h.buf)
		i.lent = append(i.lent, h.buf)
		c.passed++
	}
}

// dropHeld drops everything held: the line died with packets in flight.
func (i *Injector) dropHeld(c *counts) {
	c.dropped += uint64(i.reorder.len() + i.reorderDups)
	for i.reorder.len() > 0 {
		i.free = append(i.free, i.reorder.pop().buf)
	}
	i.reorderDups = 0
	for i.delayed.len() > 0 {
		i.free = append(i.free, i.delayed.pop().buf)
		c.dropped++
	}
	i.burstLeft = 0
}

// copyOf copies p into a free buffer, or a new one if none fits.
func (i *Injector) copyOf(p []byte) []byte {
	for n := len(i.free); n > 0; n = len(i.free) {
		b := i.free[n-1]
		i.free[n-1] = nil
		i.free = i.free[:n-1]
		if cap(b) >= len(p) {
			return append(b[:0], p...)
		}
		// Too small for this packet: let it go, a bigger one replaces it.
	}
	return append(make([]byte, 0, max(minBuf, len(p))), p...)
}

// threshold turns a rate into chance's threshold: 0 never fires, 1 always.
func threshold(rate float64) uint64 { return uint64(rate * (1 << 53)) }

// chance draws true with the probability threshold stands for. The
// generator is splitmix64: fast, and plenty random for fault decisions.
func (i *Injector) chance(threshold uint64) bool {
	i.rng += 0x9e3779b97f4a7c15
	z := i.rng
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	z ^= z >> 31
	return z>>11 < threshold
}

// publish adds one call's counts to the shared counters.
func (i *Injector) publish(c *counts) {
	i.in.Add(c.in)
	i.passed.Add(c.passed)
	if c.dropped > 0 {
		i.dropped.Add(c.dropped)
	}
	if c.duplicated > 0 {
		i.duplicated.Add(c.duplicated)
	}
	if c.reordered > 0 {
		i.reordered.Add(c.reordered)
	}
	if c.delayed > 0 {
		i.delayedN.Add(c.delayed)
	}
	i.heldN.Store(uint64(i.delayed.len() + i.reorder.len() + i.reorderDups))
}
