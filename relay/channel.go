package relay

import (
	"context"
	"log/slog"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tickcast/tickcast/egress"
	"github.com/tickcast/tickcast/feed"
	"github.com/tickcast/tickcast/gap"
	"github.com/tickcast/tickcast/intake"
	"github.com/tickcast/tickcast/latency"
	"github.com/tickcast/tickcast/recovery"
	"github.com/tickcast/tickcast/wire"
)

// channel relays one channel: intake → egress, with the books kept in a
// feed.State. Fields marked "dispatch" belong to whichever goroutine holds
// the intake's dispatch lock: the Consumer callbacks, and the functions run
// through intake.Do (the ticker, snapshots served, BookSums).
type channel struct {
	id    uint16
	cfg   Channel
	log   *slog.Logger
	in    *intake.Intake
	out   *egress.Egress
	cache *gap.Cache
	stale staleStore     // upstream answers to forwarded NACKs
	loop  *recovery.Loop // the relay's recovery loop, or nil

	// dispatch
	state   feed.State
	pending *feed.State // the snapshot being received while recovering, or nil
	// pendingSeq is the sequence the answer being received reflects (its
	// packets' Seq), 0 until its first packet.
	pendingSeq uint64
	whole      bool   // state reflects the feed up to booksSeq
	booksSeq   uint64 // last sequence state reflects (may run ahead of applied after a snapshot)
	session    uint64
	applied    uint64 // last sequence forwarded
	trimBuf    []byte
	pktBuf     [1][]byte
	hbBuf      []byte
	snapDue    time.Time // when to ask upstream for a snapshot again; zero = not recovering
	upLines    int       // upstream lines up
	// forward is the latency from the publisher's send time to the moment
	// the relay sent the packet on, per packet forwarded; forwardT drains
	// it for TakeLatency and the metrics (swapped under the dispatch lock).
	forward  *latency.Recorder
	forwardT *latency.Tally

	// Read by the downstream side (any goroutine).
	lastSend atomic.Int64  // when a packet was last sent downstream, ns
	next     atomic.Uint64 // applied+1
	sess     atomic.Uint64 // session
	wholeNow atomic.Bool   // whole
	progress signal        // applied, whole or the stale store moved on

	stats channelCounters
}

type channelCounters struct {
	packets, messages, heartbeats, endOfSession               atomic.Uint64
	recoveries, snapshotsIn, snapshotsAhead, snapshotsRetried atomic.Uint64
	snapshotsServed, nacksServed, nacksWaited, nacksUpstream  atomic.Uint64
	nacksRefused, staleIn, snapshotsMixed                     atomic.Uint64
}

// maxLatency is the largest latency the histogram resolves; larger values
// are clamped and counted.
const maxLatency = time.Minute

func newChannel(cfg Channel, log *slog.Logger) *channel {
	c := &channel{id: cfg.ID, cfg: cfg, log: log.With("channel", cfg.ID)}
	c.trimBuf = make([]byte, 0, wire.MaxJumboPacket)
	c.hbBuf = make([]byte, 0, wire.HeaderLen)
	c.progress.init()
	c.stale.init()
	c.forward = latency.NewRecorder(maxLatency)
	c.forwardT, _ = latency.NewTally(maxLatency, nil) // cannot fail: the default bounds
	return c
}

// swapForward is the Swap of the forwarding latency recorder: under the
// dispatch lock, the only place it is recorded.
func (c *channel) swapForward(empty *latency.Recorder) (full *latency.Recorder) {
	c.in.Do(func() { full, c.forward = c.forward, empty })
	return full
}

// capture runs fn with the relay's books for the recovery loop, once they
// are whole (until then the loop waits). It implements recovery.Capture.
func (c *channel) capture(ctx context.Context, fn func(st *feed.State, session, lastSeq uint64)) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.in.Do(func() {
		if c.whole && c.session != 0 {
			fn(&c.state, c.session, c.booksSeq)
		}
	})
	return nil
}

// Packet forwards one in-order packet downstream and applies it to the
// books. dispatch
func (c *channel) Packet(d *intake.Delivery) {
	p := d.Packet
	if d.Skip > 0 {
		p = p.Trim(d.Skip, c.trimBuf[:0])
	}
	if p.Count == 0 {
		return
	}
	if p.Header.Flags&wire.FlagRetransmission != 0 {
		// A repair upstream is live for the downstreams. The bytes are the
		// intake's for the length of the call; the flag is theirs to clear.
		p.Header.Flags &^= wire.FlagRetransmission
		wire.SetFlags(p.Bytes(), p.Header.Flags)
	}
	c.session = p.Session
	c.applyPacket(p)
	c.applied = p.End() - 1
	c.pktBuf[0] = p.Bytes()
	c.out.Send(c.pktBuf[:])
	c.pktBuf[0] = nil
	now := time.Now().UnixNano()
	c.forward.RecordNanos(now - p.SendTime)
	if c.cfg.Tap != nil {
		c.cfg.Tap(p, now)
	}
	c.stats.packets.Add(1)
	c.stats.messages.Add(uint64(p.Count))
	c.lastSend.Store(now)
	c.sess.Store(c.session)
	c.next.Store(c.applied + 1)
	c.progress.broadcast()
}

// applyPacket applies the messages of p the books do not reflect yet.
// dispatch
func (c *channel) applyPacket(p wire.Packet) {
	if !c.whole {
		return
	}
	msgs := p.Messages()
	for msgs.Next() {
		if msgs.Seq() <= c.booksSeq {
			continue
		}
		c.state.Apply(msgs.Message())
		c.booksSeq = msgs.Seq()
	}
}

// Event follows the upstream: sessions, losses, ends of session, lines.
// dispatch
func (c *channel) Event(e intake.Event) {
	switch e.Kind {
	case intake.EventJoin:
		c.session = e.Session
		c.applied = e.Seq - 1
		c.sess.Store(e.Session)
		c.next.Store(e.Seq)
		if e.Seq <= 1 {
			// A session from its start: its messages define everything.
			c.state = feed.State{}
			c.state.SetWhole(true)
			c.booksSeq = 0
			c.pending, c.snapDue = nil, time.Time{}
			c.setWhole(true)
			c.log.Info("following a session from its start", "session", e.Session)
			return
		}
		c.log.Info("joined the feed after its start: recovering the books by snapshot", "session", e.Session, "seq", e.Seq)
		c.recover()
	case intake.EventLost:
		c.log.Warn("upstream loss the relay could not repair: recovering the books by snapshot; downstreams do the same",
			"session", e.Session, "first", e.Seq, "count", e.Count, "reason", e.Reason.String())
		c.applied = e.Seq + e.Count - 1
		c.next.Store(c.applied + 1)
		c.recover()
	case intake.EventReset:
		c.log.Warn("intake reset: recovering the books by snapshot", "reason", e.Reset.String())
		c.recover()
	case intake.EventEndOfSession:
		c.out.DrainFaults(math.MaxInt64) // what injected faults held back goes first
		c.heartbeat(wire.FlagEndOfSession, e.Session, e.Seq)
		c.stats.endOfSession.Add(1)
	case intake.EventLineUp:
		c.upLines++
	case intake.EventLineDown:
		c.upLines = max(c.upLines-1, 0)
	}
}

func (c *channel) setWhole(v bool) {
	c.whole = v
	c.wholeNow.Store(v)
	c.progress.broadcast()
}

// tick runs every quarter heartbeat under the dispatch lock: a heartbeat
// when nothing was sent for a heartbeat interval while the upstream is
// alive, and the snapshot retry.
func (c *channel) tick(now time.Time) {
	c.out.DrainFaults(now.UnixNano())
	if c.session != 0 && c.upLines > 0 && now.UnixNano()-c.lastSend.Load() >= int64(c.cfg.Heartbeat) {
		c.heartbeat(wire.FlagHeartbeat, c.session, c.applied+1)
	}
	if !c.snapDue.IsZero() && now.After(c.snapDue) {
		c.stats.snapshotsRetried.Add(1)
		c.askSnapshot()
	}
}

// heartbeat sends a heartbeat or an end of session with the upstream's
// session and the next sequence: the relay invents no sequence numbers.
// dispatch
func (c *channel) heartbeat(f wire.Flags, session, next uint64) {
	h := wire.Header{Flags: f, Channel: c.id, Session: session, Seq: next, SendTime: time.Now().UnixNano()}
	c.hbBuf = h.Append(c.hbBuf[:0])
	c.out.SendControl(c.hbBuf)
	c.lastSend.Store(h.SendTime)
	c.stats.heartbeats.Add(1)
}

// run drives the heartbeat and the snapshot retry until ctx ends.
func (c *channel) run(ctx context.Context) {
	t := time.NewTicker(c.cfg.Heartbeat / 4)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			c.in.Do(func() { c.tick(now) })
		}
	}
}

// signal is a broadcast that waiters with a deadline can use: wait returns
// a channel closed at the next broadcast. A broadcast nobody waits for costs
// one atomic load.
type signal struct {
	waiting atomic.Bool
	mu      sync.Mutex
	ch      chan struct{}
}

func (s *signal) init() { s.ch = make(chan struct{}) }

// wait returns a channel closed by the next broadcast.
func (s *signal) wait() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.waiting.Store(true)
	return s.ch
}

// broadcast wakes every waiter.
func (s *signal) broadcast() {
	if !s.waiting.Load() {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.waiting.Store(false)
	close(s.ch)
	s.ch = make(chan struct{})
}
