package egress

import (
	"fmt"
	"log/slog"
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/tickcast/tickcast/internal/fault"
	"github.com/tickcast/tickcast/internal/mcast"
)

// line is one sending line. Only the Egress's caller writes to it; the
// counters and the kill switch are safe from any goroutine.
type line struct {
	name   string
	group  netip.AddrPort
	conn   *mcast.Sender
	faults *fault.Injector // nil = none
	killed atomic.Bool
	// failing: the last write failed (set on a failure, cleared by the
	// next success: a load per write in the common case).
	failing atomic.Bool

	packets, bytes, errors, killedPkts atomic.Uint64
	lastErr                            atomic.Int64 // when an error was last logged, ns
	log                                *slog.Logger
}

func openLine(cfg Line, fc *fault.Config, maxPacket int, log *slog.Logger) (*line, error) {
	conn, err := mcast.Dial(mcast.SendConfig{
		Group:     cfg.Group,
		Interface: cfg.Interface,
		TTL:       cfg.TTL,
		Loopback:  cfg.Loopback,
		Source:    cfg.Source,
		MaxPacket: maxPacket,
		Logger:    log,
	})
	if err != nil {
		return nil, fmt.Errorf("line %s: %w", cfg.Name, err)
	}
	l := &line{name: cfg.Name, group: cfg.Group, conn: conn, log: log.With("line", cfg.Name)}
	if fc != nil {
		if l.faults, err = fault.New(*fc); err != nil {
			conn.Close()
			return nil, fmt.Errorf("line %s: Faults: %w", cfg.Name, err)
		}
	}
	return l, nil
}

// send writes pkts with one sendmmsg (after fault injection, if any). A
// killed line sends nothing (counted in killedPkts): the drill's dead line.
func (l *line) send(now int64, pkts [][]byte) {
	if l.killed.Load() {
		l.killedPkts.Add(uint64(len(pkts)))
		return
	}
	if l.faults != nil {
		pkts = l.faults.Apply(now, pkts)
	}
	l.write(now, pkts)
}

// drainFaults sends what the fault injector held back (delay, reorder) and
// is due at now (everything, with now = math.MaxInt64).
func (l *line) drainFaults(now int64) {
	if l.faults == nil || l.killed.Load() {
		return
	}
	l.write(now, l.faults.Drain(now))
}

func (l *line) write(now int64, pkts [][]byte) {
	if len(pkts) == 0 {
		return
	}
	n, err := l.conn.WriteBatch(pkts)
	var b uint64
	for _, p := range pkts[:n] {
		b += uint64(len(p))
	}
	l.bytes.Add(b)
	l.packets.Add(uint64(n))
	if err == nil {
		if l.failing.Load() {
			l.failing.Store(false)
		}
		return
	}
	l.failing.Store(true)
	l.errors.Add(1)
	// Log an error at most once a second: never per packet.
	if last := l.lastErr.Load(); now-last > int64(time.Second) && l.lastErr.CompareAndSwap(last, now) {
		l.log.Warn("send failed", "err", err, "errors", l.errors.Load())
	}
}

func (l *line) stats() LineStats {
	s := LineStats{
		Name: l.name, Group: l.group,
		Packets: l.packets.Load(), Bytes: l.bytes.Load(), Errors: l.errors.Load(),
		Killed: l.killed.Load(), KilledPackets: l.killedPkts.Load(), Failing: l.failing.Load(),
	}
	if l.faults != nil {
		s.FaultDropped = l.faults.Stats().Dropped
	}
	return s
}

func (l *line) close() error { return l.conn.Close() }
