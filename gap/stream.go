package gap

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/tickcast/tickcast/wire"
)

// StreamConfig configures a [Stream].
type StreamConfig struct {
	Config
	// LineTimeout: a line with no packet for this long is down (DESIGN.md,
	// "Liveness": three heartbeat intervals); it comes back up on its next
	// packet. 0 = 300ms.
	LineTimeout time.Duration
	// OnLineState, if set, is called when a line goes down or comes back up
	// (line RepairLine is not watched). It runs with the stream locked: it
	// must be quick and must not call back into the Stream.
	OnLineState func(line int, up bool)
	// AfterTick, if set, is called by Run after a Tick (which may have
	// delivered held packets or reported losses), with the stream unlocked:
	// the owner's chance to consume what the Sink was given.
	AfterTick func()
}

// Stream is an [Arbiter] made safe for its owner's goroutines: line readers
// offer packets directly (no hand-off, so no added latency), and [Stream.Run]
// drives the NACK schedule and line liveness from a timer that sleeps when
// nothing is missing. The Sink is called with the stream locked.
type Stream struct {
	mu    sync.Mutex
	arb   *Arbiter
	cfg   StreamConfig
	kick  chan struct{}
	up    [MaxLines]bool
	downs [MaxLines]uint64
}

// NewStream returns a stream delivering to sink.
func NewStream(cfg StreamConfig, sink Sink) (*Stream, error) {
	if cfg.LineTimeout == 0 {
		cfg.LineTimeout = 300 * time.Millisecond
	}
	if cfg.LineTimeout < 0 {
		return nil, fmt.Errorf("gap: LineTimeout %v is negative", cfg.LineTimeout)
	}
	if cfg.Config.SessionTimeout == 0 {
		cfg.Config.SessionTimeout = cfg.LineTimeout
	}
	a, err := NewArbiter(cfg.Config, sink)
	if err != nil {
		return nil, err
	}
	return &Stream{arb: a, cfg: cfg, kick: make(chan struct{}, 1)}, nil
}

// Offer hands one validated packet from line to the arbiter (see
// [Arbiter.Offer]); now is the receive time, ns since the Unix epoch. It
// returns false for a packet of a session not followed.
func (s *Stream) Offer(line int, p wire.Packet, now int64) bool {
	s.mu.Lock()
	ok := s.arb.Offer(line, p, now)
	s.lineUp(line)
	k := s.arb.TakeKick()
	s.mu.Unlock()
	if k {
		s.wake()
	}
	return ok
}

// OfferBatch offers a batch of packets from one line under one lock: the
// right call for a reader that receives with recvmmsg. rx[i] is the receive
// time of pkts[i]. notFollowed, if not nil, is called with the index of
// every packet of a session not followed, with the stream locked.
func (s *Stream) OfferBatch(line int, pkts []wire.Packet, rx []int64, notFollowed func(i int)) {
	if len(pkts) == 0 {
		return
	}
	s.mu.Lock()
	for i := range pkts {
		if !s.arb.Offer(line, pkts[i], rx[i]) && notFollowed != nil {
			notFollowed(i)
		}
	}
	s.lineUp(line)
	k := s.arb.TakeKick()
	s.mu.Unlock()
	if k {
		s.wake()
	}
}

func (s *Stream) lineUp(line int) {
	if line >= 0 && line < MaxLines && !s.up[line] {
		s.up[line] = true
		if s.cfg.OnLineState != nil {
			s.cfg.OnLineState(line, true)
		}
	}
}

func (s *Stream) wake() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// Reject hands a RetransmitReject to the arbiter (see [Arbiter.Reject]).
func (s *Stream) Reject(r wire.RetransmitReject, now int64) {
	s.mu.Lock()
	s.arb.Reject(r, now)
	s.mu.Unlock()
}

// Advance moves the stream past a snapshot (see [Arbiter.Advance]).
func (s *Stream) Advance(seq uint64) {
	s.mu.Lock()
	s.arb.Advance(seq)
	s.mu.Unlock()
}

// Next returns the next sequence to be delivered and the session.
func (s *Stream) Next() (seq, session uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.arb.Next(), s.arb.Session()
}

// Stats returns the arbiter's counters.
func (s *Stream) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.arb.Stats()
}

// LineUp reports whether line is up and how often it went down.
func (s *Stream) LineUp(line int) (up bool, downs uint64) {
	if line < 0 || line >= MaxLines {
		return false, 0
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.up[line], s.downs[line]
}

// Run drives NACKs, give-ups and line liveness until ctx ends; it returns nil
// then. Call it once, from the stream's owner.
func (s *Stream) Run(ctx context.Context) error {
	t := time.NewTimer(time.Hour)
	defer t.Stop()
	check := s.cfg.LineTimeout / 4
	nextCheck := time.Now().Add(check)
	for {
		now := time.Now()
		s.mu.Lock()
		ns := now.UnixNano()
		ticked := false
		if d, ok := s.arb.Deadline(); ok && d <= ns {
			s.arb.Tick(ns)
			ticked = true
		}
		if !now.Before(nextCheck) {
			s.checkLines(ns)
			nextCheck = now.Add(check)
		}
		wait := nextCheck.Sub(now)
		if d, ok := s.arb.Deadline(); ok {
			wait = min(wait, time.Duration(d-ns))
		}
		s.arb.TakeKick()
		s.mu.Unlock()
		if ticked && s.cfg.AfterTick != nil {
			s.cfg.AfterTick()
		}
		t.Reset(max(wait, 0))
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		case <-s.kick: // a hole opened: recompute the deadline
		}
	}
}

// checkLines marks down the lines silent for LineTimeout. Lock held.
func (s *Stream) checkLines(now int64) {
	for i := range s.arb.stats.Lines {
		if s.up[i] && now-s.arb.stats.Lines[i].LastRx > int64(s.cfg.LineTimeout) {
			s.up[i] = false
			s.downs[i]++
			if s.cfg.OnLineState != nil {
				s.cfg.OnLineState(i, false)
			}
		}
	}
}
