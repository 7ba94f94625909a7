package egress

import (
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tickcast/tickcast/gap"
	"github.com/tickcast/tickcast/wire"
)

// chunk is how many packets go to one line before the same go to the next.
// One sendmmsg per line for a whole batch would hold every B copy back by
// A's entire syscall (on loopback ~7 µs a datagram: 450 µs for 64 packets,
// longer than the subscribers' 200 µs arbitration window, so every loss on
// A would be NACKed before B's copy came). 16 keeps B within ~110 µs of A;
// 8 measured ~30 % fewer messages/s into the sockets on this VM.
const chunk = 16

// Egress sends sequenced packets on its lines and to its Sink. Create it
// with [New]; Send, SendControl and DrainFaults have one caller at a time.
type Egress struct {
	channel   uint16
	maxPacket int
	lines     []*line
	cache     *gap.Cache
	sink      Sink
	log       *slog.Logger

	out     [][]byte // the batch after splitting, reused
	parts   [][]byte // owned buffers for split parts, reused
	nparts  int      // parts used in this batch
	scratch []byte   // wire.Split's scratch
	emit    func([]byte) error
	one     [1][]byte

	split     atomic.Uint64
	closeOnce sync.Once
	closeErr  error
}

// New validates cfg (errors name the field) and opens the lines.
func New(cfg Config) (*Egress, error) {
	faults, err := cfg.normalize()
	if err != nil {
		return nil, err
	}
	e := &Egress{
		channel:   cfg.Channel,
		maxPacket: cfg.MaxPacket,
		cache:     cfg.Cache,
		sink:      cfg.Sink,
		log:       cfg.Logger,
		out:       make([][]byte, 0, 64),
		scratch:   make([]byte, 0, cfg.MaxPacket),
	}
	e.emit = e.keepPart
	for i, lc := range cfg.Lines {
		l, err := openLine(lc, faults[i], cfg.MaxPacket, cfg.Logger)
		if err != nil {
			e.Close()
			return nil, fmt.Errorf("egress: %w", err)
		}
		e.lines = append(e.lines, l)
	}
	return e, nil
}

// Lines returns the number of lines.
func (e *Egress) Lines() int { return len(e.lines) }

// Send sends in-order sequenced data packets: a packet over MaxPacket is
// split at message boundaries, every packet goes into the Cache (if any),
// then to every line in chunks of 16, each chunk then to the Sink. The bytes
// are not modified (SendTime is kept). A packet over MaxPacket that cannot
// be split (malformed, or one message too large) is dropped and logged. Send does not allocate
// in steady state; it keeps no reference to pkts after it returns (except
// a line's fault injection, which copies what it holds).
func (e *Egress) Send(pkts [][]byte) {
	if len(pkts) == 0 {
		return
	}
	out := pkts
	if e.needsSplit(pkts) {
		out = e.splitAll(pkts)
	}
	if e.cache != nil {
		for _, b := range out {
			p, err := wire.Parse(b)
			if err == nil && p.Sequenced() {
				e.cache.Put(p)
			}
		}
	}
	e.send(out)
}

// SendControl sends a heartbeat or end-of-session packet on every line and
// to the Sink; it is not cached.
func (e *Egress) SendControl(pkt []byte) {
	e.one[0] = pkt
	e.send(e.one[:])
	e.one[0] = nil
}

// DrainFaults sends what the lines' fault injection held back (delay,
// reorder) and is due at now, in ns since the epoch; math.MaxInt64 sends
// everything. Call it periodically when a fault spec delays packets, and
// before the end of session.
func (e *Egress) DrainFaults(now int64) {
	for _, l := range e.lines {
		l.drainFaults(now)
	}
}

// KillLine stops (kill=true) or resumes sending on line i (its index in
// Config.Lines): the failover drill's dead line. Out of range is ignored.
// Safe from any goroutine.
func (e *Egress) KillLine(i int, kill bool) {
	if i >= 0 && i < len(e.lines) {
		e.lines[i].killed.Store(kill)
		e.log.Warn("line state changed by operator", "line", e.lines[i].name, "killed", kill)
	}
}

// Close closes the lines. Idempotent; Send after Close counts errors.
func (e *Egress) Close() error {
	e.closeOnce.Do(func() {
		var errs []error
		for _, l := range e.lines {
			if err := l.close(); err != nil {
				errs = append(errs, fmt.Errorf("egress: close line %s: %w", l.name, err))
			}
		}
		e.closeErr = errors.Join(errs...)
	})
	return e.closeErr
}

// send writes pkts to every line, a chunk at a time, and to the Sink.
func (e *Egress) send(pkts [][]byte) {
	now := time.Now().UnixNano()
	for len(pkts) > 0 {
		n := min(len(pkts), chunk)
		for _, l := range e.lines {
			l.send(now, pkts[:n])
		}
		if e.sink != nil {
			for _, pkt := range pkts[:n] {
				e.sink.Publish(e.channel, pkt)
			}
		}
		pkts = pkts[n:]
	}
}

func (e *Egress) needsSplit(pkts [][]byte) bool {
	for _, p := range pkts {
		if len(p) > e.maxPacket {
			return true
		}
	}
	return false
}

// splitAll returns pkts with every packet over MaxPacket replaced by its
// parts, in order, in buffers the Egress owns.
func (e *Egress) splitAll(pkts [][]byte) [][]byte {
	e.out = e.out[:0]
	e.nparts = 0
	for _, p := range pkts {
		if len(p) <= e.maxPacket {
			e.out = append(e.out, p)
			continue
		}
		e.split.Add(1)
		if err := wire.Split(p, e.maxPacket, e.scratch, e.emit); err != nil {
			e.log.Warn("packet dropped: cannot split", "len", len(p), "max_packet", e.maxPacket, "err", err)
		}
	}
	return e.out
}

// keepPart copies one split part into an owned buffer and appends it to out.
func (e *Egress) keepPart(part []byte) error {
	if e.nparts == len(e.parts) {
		e.parts = append(e.parts, make([]byte, 0, e.maxPacket))
	}
	b := append(e.parts[e.nparts][:0], part...)
	e.parts[e.nparts] = b
	e.nparts++
	e.out = append(e.out, b)
	return nil
}
