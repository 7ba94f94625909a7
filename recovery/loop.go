package recovery

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	"github.com/tickcast/tickcast/egress"
	"github.com/tickcast/tickcast/feed"
	"github.com/tickcast/tickcast/internal/mcast"
	"github.com/tickcast/tickcast/wire"
)

// DefaultRate is the loop's bandwidth cap per line when LoopConfig.Rate is
// 0: 4 MB/s, so 100 instruments × 200 levels a side (1.6 MB of books) go
// round in under a second with every other slot given to busy books.
const DefaultRate = 4 << 20

// idleWait is how long the loop waits before looking again when the feed
// state has no defined instrument yet.
const idleWait = 100 * time.Millisecond

// Capture runs fn on the goroutine that owns a feed state (a publisher's
// sequencer, a relay's dispatcher), with the session and the last sequence
// that state reflects, and returns once fn has returned: fn reads the state
// consistently. An error means fn did not run (the owner stopped, ctx
// ended).
type Capture func(ctx context.Context, fn func(st *feed.State, session, lastSeq uint64)) error

// LoopConfig configures a [Loop].
type LoopConfig struct {
	// Channel is the channel the loop's packets name.
	Channel uint16
	// Lines are the recovery groups (A, B); at least one. Each carries the
	// whole loop.
	Lines []egress.Line
	// Rate caps each line's bandwidth in bytes per second; 0 = DefaultRate.
	Rate float64
	// MaxPacket is the largest packet; 0 = wire.DefaultMaxPacket.
	MaxPacket int
	// Capture reads the feed state the books come from; required.
	Capture Capture
	// Logger; nil = slog.Default().
	Logger *slog.Logger
}

// LoopStats are a [Loop]'s counters.
type LoopStats struct {
	Books   uint64 // instrument snapshots sent
	Hot     uint64 // of them, given a slot because the book changed recently
	Packets uint64 // packets sent (per line)
	Bytes   uint64 // bytes sent (per line)
	Cycles  uint64 // complete rounds of every instrument
	// LastCycle is how long the last complete round took.
	LastCycle time.Duration
}

// Loop sends the recovery loop (see the package doc). Create it with
// [NewLoop] (which opens the lines), run it with [Loop.Run].
type Loop struct {
	cfg   LoopConfig
	lines []*mcast.Sender
	lim   *rate.Limiter
	log   *slog.Logger

	// Touched by fn on the state's owner while Run waits for it.
	sent    []uint64 // per instrument (in the state's order): its ExchTime when last sent
	cursor  int      // the round robin's next index
	hotTurn bool
	snap    *feed.Snapshot
	session uint64
	hot     bool
	wrapped bool // the round robin passed the end

	cycleStart                              time.Time
	books, hotBooks, packets, bytes, cycles atomic.Uint64
	lastCycle                               atomic.Int64

	runOnce   sync.Once
	closeOnce sync.Once
}

// NewLoop validates cfg and opens the recovery lines.
func NewLoop(cfg LoopConfig) (*Loop, error) {
	if cfg.Capture == nil {
		return nil, errors.New("recovery: loop Capture is required")
	}
	if len(cfg.Lines) == 0 {
		return nil, errors.New("recovery: loop Lines: want at least one recovery group")
	}
	if cfg.Rate < 0 {
		return nil, fmt.Errorf("recovery: loop Rate %v: want ≥ 0 bytes/s", cfg.Rate)
	}
	if cfg.Rate == 0 {
		cfg.Rate = DefaultRate
	}
	if cfg.MaxPacket == 0 {
		cfg.MaxPacket = wire.DefaultMaxPacket
	}
	if cfg.MaxPacket < feed.MinSnapshotPacket || cfg.MaxPacket > wire.MaxJumboPacket {
		return nil, fmt.Errorf("recovery: loop MaxPacket %d: out of range %d..%d", cfg.MaxPacket, feed.MinSnapshotPacket, wire.MaxJumboPacket)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	l := &Loop{
		cfg: cfg,
		lim: rate.NewLimiter(rate.Limit(cfg.Rate), max(int(cfg.Rate/50), cfg.MaxPacket)),
		log: cfg.Logger.With("component", "recovery-loop", "channel", cfg.Channel),
	}
	for i, ln := range cfg.Lines {
		if ln.Name == "" {
			ln.Name = fmt.Sprintf("recovery%d", i)
		}
		s, err := mcast.Dial(mcast.SendConfig{
			Group: ln.Group, Interface: ln.Interface, TTL: ln.TTL, Loopback: ln.Loopback,
			Source: ln.Source, MaxPacket: cfg.MaxPacket, Logger: cfg.Logger,
		})
		if err != nil {
			l.Close()
			return nil, fmt.Errorf("recovery: loop line %s (%s): %w", ln.Name, ln.Group, err)
		}
		l.lines = append(l.lines, s)
	}
	return l, nil
}

// Close closes the lines; Run closes them too when it returns. Idempotent.
func (l *Loop) Close() error {
	var errs []error
	l.closeOnce.Do(func() {
		for _, s := range l.lines {
			errs = append(errs, s.Close())
		}
	})
	return errors.Join(errs...)
}

// Run sends the loop until ctx ends (it then returns nil) or the state's
// owner stops (Capture fails: it returns nil too, the feed is over). Call it
// once.
func (l *Loop) Run(ctx context.Context) error {
	err := errors.New("recovery: loop Run called twice")
	l.runOnce.Do(func() { err = l.run(ctx) })
	return err
}

func (l *Loop) run(ctx context.Context) error {
	defer l.Close()
	l.log.Info("recovery loop running", "lines", len(l.lines), "rate_bytes_per_s", l.cfg.Rate)
	l.cycleStart = time.Now()
	var sendErrs uint64
	for ctx.Err() == nil {
		l.snap = nil
		if err := l.cfg.Capture(ctx, l.pick); err != nil {
			return nil
		}
		if l.snap == nil {
			select {
			case <-ctx.Done():
			case <-time.After(idleWait):
			}
			continue
		}
		h := wire.Header{Channel: l.cfg.Channel, Session: l.session, SendTime: time.Now().UnixNano()}
		err := l.snap.Encode(h, l.cfg.MaxPacket, func(pkt []byte) error {
			if err := l.lim.WaitN(ctx, len(pkt)); err != nil {
				return err
			}
			for _, s := range l.lines {
				if err := s.Write(pkt); err != nil {
					if sendErrs++; sendErrs == 1 {
						l.log.Warn("recovery loop send failed (logged once)", "err", err)
					}
				}
			}
			l.packets.Add(1)
			l.bytes.Add(uint64(len(pkt)))
			return nil
		})
		if err != nil {
			return nil // ctx ended while pacing
		}
		l.books.Add(1)
		if l.hot {
			l.hotBooks.Add(1)
		}
		if l.wrapped {
			now := time.Now()
			l.cycles.Add(1)
			l.lastCycle.Store(int64(now.Sub(l.cycleStart)))
			l.cycleStart = now
		}
	}
	return nil
}

// pick chooses the next instrument and captures its book. It runs on the
// state's owner (see Capture).
func (l *Loop) pick(st *feed.State, session, lastSeq uint64) {
	all := st.All()
	for len(l.sent) < len(all) {
		l.sent = append(l.sent, 0)
	}
	defined := 0
	for _, in := range all {
		if in.HasDef {
			defined++
		}
	}
	if defined == 0 {
		return
	}
	l.hotTurn = !l.hotTurn
	l.hot, l.wrapped = false, false
	i := -1
	if l.hotTurn {
		// The book that changed most recently since the loop last sent it.
		for j, in := range all {
			if in.HasDef && in.ExchTime > l.sent[j] && (i < 0 || in.ExchTime > all[i].ExchTime) {
				i = j
			}
		}
		l.hot = i >= 0
	}
	if i < 0 {
		for {
			if l.cursor >= len(all) {
				l.cursor = 0
			}
			j := l.cursor
			l.cursor++
			if l.cursor >= len(all) {
				l.wrapped = true
			}
			if all[j].HasDef {
				i = j
				break
			}
		}
	}
	in := all[i]
	l.sent[i] = in.ExchTime
	l.snap = st.Capture(in.Def.Instrument, lastSeq)
	l.snap.Checksums = true
	l.snap.Total = uint32(defined)
	l.session = session
}

// Stats returns the loop's counters.
func (l *Loop) Stats() LoopStats {
	return LoopStats{
		Books:     l.books.Load(),
		Hot:       l.hotBooks.Load(),
		Packets:   l.packets.Load(),
		Bytes:     l.bytes.Load(),
		Cycles:    l.cycles.Load(),
		LastCycle: time.Duration(l.lastCycle.Load()),
	}
}
