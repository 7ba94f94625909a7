package publisher

import (
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/tickcast/tickcast/internal/fault"
	"github.com/tickcast/tickcast/internal/mcast"
)

// line is one sending line (A or B). Only the sequencer writes to it; the
// counters and the kill switch are safe from any goroutine.
type line struct {
	name   string
	conn   *mcast.Sender
	faults *fault.Injector // nil = none
	killed atomic.Bool

	packets, bytes, errors atomic.Uint64
	lastErr                atomic.Int64 // when an error was last logged, ns
	log                    *slog.Logger
}

func openLine(name string, cfg LineConfig, maxPacket int, log *slog.Logger) (*line, error) {
	conn, err := mcast.Dial(mcast.SendConfig{
		Group:     cfg.Group,
		Interface: cfg.Interface,
		TTL:       cfg.TTL,
		Loopback:  cfg.Loopback,
		MaxPacket: maxPacket,
		Logger:    log,
	})
	if err != nil {
		return nil, fmt.Errorf("line %s: %w", name, err)
	}
	l := &line{name: name, conn: conn, log: log.With("line", name)}
	if cfg.Faults != nil {
		if l.faults, err = fault.New(*cfg.Faults); err != nil {
			conn.Close()
			return nil, fmt.Errorf("line %s faults: %w", name, err)
		}
	}
	return l, nil
}

// send writes pkts with one sendmmsg (after fault injection, if any). A
// killed line sends nothing: the drill's dead A line.
func (l *line) send(now int64, pkts [][]byte) {
	if l.killed.Load() {
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
	for _, p := range pkts[:n] {
		l.bytes.Add(uint64(len(p)))
	}
	l.packets.Add(uint64(n))
	if err != nil {
		l.errors.Add(1)
		// Log an error at most once a second: never per packet.
		if last := l.lastErr.Load(); now-last > int64(time.Second) && l.lastErr.CompareAndSwap(last, now) {
			l.log.Warn("send failed", "err", err, "errors", l.errors.Load())
		}
	}
}

func (l *line) close() error { return l.conn.Close() }
