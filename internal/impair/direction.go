package impair

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tickcast/tickcast/internal/fault"
)

// minBuf is the smallest buffer a direction keeps for a held packet: room
// for any QUIC packet on an Ethernet path, so buffers are reused whatever
// the sizes.
const minBuf = 2048

// maxBatch is how many due packets the scheduler takes out of the heap per
// lock.
const maxBatch = 64

// direction impairs the packets of one way through the proxy. Readers hand
// packets to intake (from any goroutine); run, the direction's one
// scheduler goroutine, sends the held ones when they are due.
type direction struct {
	dir         Dir
	p           *Proxy
	seed        int64
	maxInFlight int
	send        func(s *session, b []byte) error // the write for this way
	log         *slog.Logger

	mu   sync.Mutex
	spec Spec
	gen  int64           // SetSpec calls so far: seeds the next injector
	inj  *fault.Injector // loss, bursts and duplication
	one  [1][]byte       // the injector's input, reused
	rng  *rand.Rand      // jitter and reordering
	tail int64           // when the rate cap's last accepted byte has gone out (ns)
	seq  uint64
	heap timerHeap
	free [][]byte // buffers to reuse

	wake   chan struct{} // a packet went to the top of the heap
	batch  []pending     // the scheduler's due packets
	st     counters
	warned atomic.Bool // a send failure was logged
}

func newDirection(p *Proxy, d Dir, seed int64, spec Spec, send func(*session, []byte) error) (*direction, error) {
	dd := &direction{
		dir:         d,
		p:           p,
		seed:        seed,
		maxInFlight: p.cfg.MaxInFlight,
		send:        send,
		log:         p.log.With("dir", d.String()),
		rng:         rand.New(rand.NewPCG(uint64(seed), 0x696d70616972)), // "impair"
		wake:        make(chan struct{}, 1),
		batch:       make([]pending, 0, maxBatch),
	}
	if dd.maxInFlight == 0 {
		dd.maxInFlight = DefaultMaxInFlight
	}
	if err := dd.setSpec(spec); err != nil {
		return nil, err
	}
	return dd, nil
}

// setSpec makes s the direction's spec from the next packet on. Held
// packets keep the times they were given; the bytes queued for the rate
// cap count against the new cap's queue, draining at the new rate.
func (d *direction) setSpec(s Spec) error {
	now := d.p.now()
	d.mu.Lock()
	defer d.mu.Unlock()
	if old := d.spec.Rate; old > 0 && s.Rate > 0 && d.tail > now {
		d.tail = now + int64(float64(d.tail-now)*float64(old)/float64(s.Rate))
	}
	inj, err := fault.New(s.faults(d.seed + d.gen*0x5851f42d4c957f2d))
	if err != nil {
		return fmt.Errorf("impair %s: %w", d.dir, err)
	}
	d.gen++
	d.spec, d.inj = s, inj
	return nil
}

// intake impairs one packet received at now (ns on the proxy clock) for
// session s. b is only read during the call: a held packet is copied.
func (d *direction) intake(now int64, b []byte, s *session) {
	d.st.in.Add(1)
	if d.p.blackhole.Load() {
		d.st.blackholed.Add(1)
		return
	}
	d.mu.Lock()
	d.one[0] = b
	copies := len(d.inj.Apply(now, d.one[:])) // 0 lost, 1, or 2 duplicated: each is b
	d.one[0] = nil
	if copies == 0 {
		d.mu.Unlock()
		d.st.lost.Add(1)
		return
	}
	if copies > 1 {
		d.st.duplicated.Add(1)
	}
	direct, wake := 0, false
	for range copies {
		due, ok := d.schedule(now, len(b))
		switch {
		case !ok:
		case due <= now:
			direct++
		default:
			wake = d.hold(due, b, s) || wake
		}
	}
	d.mu.Unlock()
	if wake {
		select {
		case d.wake <- struct{}{}:
		default:
		}
	}
	for range direct {
		d.deliver(s, b)
	}
}

// schedule decides when a packet of n bytes received at now goes out: the
// rate cap's queue, then delay, jitter and reordering. It reports false if
// the packet is dropped (counted). d.mu is held.
func (d *direction) schedule(now int64, n int) (int64, bool) {
	sp := &d.spec
	due := now
	var tail int64
	if sp.Rate > 0 {
		start := max(now, d.tail)
		backlog := float64(start-now) * float64(sp.Rate) / 1e9
		if backlog+float64(n) > float64(sp.queue()) {
			d.st.rateDropped.Add(1)
			return 0, false
		}
		tail = start + int64(n)*int64(time.Second)/sp.Rate
		due = tail
	}
	due += int64(sp.Delay)
	if j := int64(sp.Jitter); j > 0 {
		due += d.rng.Int64N(2*j+1) - j
	}
	reordered := sp.Reorder > 0 && d.rng.Float64() < sp.Reorder
	if reordered {
		due += int64(sp.reorderExtra())
	}
	if due > now && d.heap.len() >= d.maxInFlight {
		d.st.overflow.Add(1)
		return 0, false
	}
	if sp.Rate > 0 {
		d.tail = tail
	}
	if reordered {
		d.st.reordered.Add(1)
	}
	return max(due, now), true
}

// hold puts a copy of b on the heap, due then; it reports whether the
// packet is the new earliest (the scheduler must wake). d.mu is held.
func (d *direction) hold(due int64, b []byte, s *session) bool {
	first := d.heap.len() == 0 || due < d.heap.top().due
	d.seq++
	d.heap.push(pending{due: due, seq: d.seq, buf: d.copyOf(b), s: s})
	return first
}

// copyOf copies b into a free buffer, or a new one if none fits. d.mu is
// held.
func (d *direction) copyOf(b []byte) []byte {
	for n := len(d.free); n > 0; n = len(d.free) {
		buf := d.free[n-1]
		d.free[n-1] = nil
		d.free = d.free[:n-1]
		if cap(buf) >= len(b) {
			return append(buf[:0], b...)
		}
		// Too small for this packet: let it go, a bigger one replaces it.
	}
	return append(make([]byte, 0, max(minBuf, len(b))), b...)
}

// deliver sends one packet on and counts it.
func (d *direction) deliver(s *session, b []byte) {
	if err := d.send(s, b); err != nil {
		d.st.failed.Add(1)
		if !d.warned.Swap(true) {
			d.log.Warn("impair: send failed; counting further failures silently", "client", s.client, "err", err)
		}
		return
	}
	d.st.out.Add(1)
}

// run sends the held packets when they are due, until ctx ends. Held
// packets left then are dropped with the proxy.
func (d *direction) run(ctx context.Context) {
	t := time.NewTimer(time.Hour)
	defer t.Stop()
	for {
		now := d.p.now()
		d.mu.Lock()
		for d.heap.len() > 0 && d.heap.top().due <= now && len(d.batch) < maxBatch {
			d.batch = append(d.batch, d.heap.pop())
		}
		next, more := int64(0), d.heap.len() > 0
		if more {
			next = d.heap.top().due
		}
		d.mu.Unlock()
		if len(d.batch) > 0 {
			d.flush()
			continue // more may have come due meanwhile
		}
		if more {
			t.Reset(time.Duration(next - now))
		} else {
			t.Stop()
		}
		select {
		case <-ctx.Done():
			return
		case <-d.wake:
		case <-t.C:
		}
	}
}

// flush sends the batch of due packets and frees their buffers.
func (d *direction) flush() {
	for i := range d.batch {
		pk := &d.batch[i]
		if d.p.blackhole.Load() {
			d.st.blackholed.Add(1)
		} else {
			d.deliver(pk.s, pk.buf)
		}
	}
	d.mu.Lock()
	for i := range d.batch {
		d.free = append(d.free, d.batch[i].buf)
		d.batch[i] = pending{}
	}
	d.mu.Unlock()
	d.batch = d.batch[:0]
}

// stats returns the direction's counters and gauges at now.
func (d *direction) stats(now int64) DirStats {
	st := d.st.load()
	d.mu.Lock()
	st.InFlight = d.heap.len()
	if d.spec.Rate > 0 && d.tail > now {
		st.QueuedBytes = int64(float64(d.tail-now) * float64(d.spec.Rate) / 1e9)
	}
	d.mu.Unlock()
	return st
}
