package gap

import (
	"fmt"
	"time"

	"github.com/tickcast/tickcast/wire"
)

// RepairLine is the line index under which retransmitted packets (answers to
// NACKs) are offered to an [Arbiter]; their counters are kept apart from the
// multicast or link lines.
const RepairLine = -1

// MaxLines is the most lines one arbiter merges (A, B and a few more paths).
const MaxLines = 8

// Config configures an [Arbiter]. The zero value of every field means the
// default given beside it.
type Config struct {
	// Channel is the channel this arbiter follows; packets of other channels
	// are ignored and counted.
	Channel uint16
	// Lines is the number of redundant lines offered (A, B, …); 0 = 2.
	Lines int
	// MaxHeldPackets bounds the buffer of packets that arrived ahead of a
	// hole; 0 = 16384 (about 0.8 s of a 600k msg/s feed in 1200-byte
	// packets). When it overflows, the oldest hole is given up.
	MaxHeldPackets int
	// MaxHeldBytes bounds the same buffer in bytes; 0 = 32 MiB.
	MaxHeldBytes int
	// Window is how long a hole may stay open before it is NACKed: the other
	// line usually fills it within microseconds (DESIGN.md, recovery ladder
	// step 2); 0 = 200µs; negative = NACK at once.
	Window time.Duration
	// MinRTO and MaxRTO bound the wait before a NACK is retried: the
	// smoothed round trip to the retransmit server plus max(4 × its mean
	// deviation, a quarter of it, MinRTO) as RFC 6298's RTO (2 × MinRTO
	// before any sample), doubling on every retry up to MaxRTO, but never
	// under the first wait (a round trip longer than MaxRTO still gets its
	// answer before the retry); 0 = 500µs and 200ms.
	MinRTO, MaxRTO time.Duration
	// MaxRetries is how many NACKs a hole gets before it is given up to the
	// snapshot path; 0 = 12 (with the default RTOs about 0.9 s: a VM that
	// stalls for hundreds of ms must not turn every loss into a snapshot).
	MaxRetries int
	// MaxRequest caps the messages asked for in one RetransmitRequest; 0 = 2048.
	MaxRequest uint32
	// Coalesce merges two missing ranges into one request when fewer than
	// this many messages lie between them; 0 = 16.
	Coalesce uint64
	// JoinBackfill: a session first seen at sequence S ≤ JoinBackfill+1 is
	// followed from sequence 1 (the start is NACKed like any hole), so a
	// subscriber started with the publisher, or seeing it restart, misses
	// nothing even when the first packets arrive out of order. Joined later,
	// the stream starts at S and the consumer recovers by snapshot.
	// 0 = 2048; negative = never backfill.
	JoinBackfill int
	// SessionTimeout is how long the session followed must be silent on
	// every line before a new session may replace it (a publisher that
	// restarted without an end of session): until then the packets of any
	// other session are not adopted but counted (LineStats.Foreign), so a
	// stray publisher or one forged packet on a group never takes the
	// subscriber off the live feed. After an end of session a new session is
	// adopted at once. 0 = 300ms (the line-down interval).
	SessionTimeout time.Duration
	// OnRepair, if set, is called for every hole filled (by another line or
	// a retransmission) with how long it was open and how many NACKs it
	// took: the recovery-time histogram of the loss drill. It runs on the
	// arbiter's owner, locked: keep it quick.
	OnRepair func(open time.Duration, nacks int)
	// Requester sends NACKs. nil means no retransmit server: a hole only the
	// other lines can fill is given up after Window plus MaxRetries RTOs.
	Requester Requester
}

func (c *Config) setDefaults() error {
	if c.Lines == 0 {
		c.Lines = 2
	}
	if c.Lines < 1 || c.Lines > MaxLines {
		return fmt.Errorf("gap: Lines %d out of range 1..%d", c.Lines, MaxLines)
	}
	if c.MaxHeldPackets == 0 {
		c.MaxHeldPackets = 16384
	}
	if c.MaxHeldBytes == 0 {
		c.MaxHeldBytes = 32 << 20
	}
	if c.MaxHeldPackets < 1 || c.MaxHeldBytes < 1<<16+wire.HeaderLen {
		return fmt.Errorf("gap: MaxHeldPackets %d / MaxHeldBytes %d too small", c.MaxHeldPackets, c.MaxHeldBytes)
	}
	if c.Window == 0 {
		c.Window = 200 * time.Microsecond
	}
	if c.Window < 0 {
		c.Window = 0
	}
	if c.MinRTO == 0 {
		c.MinRTO = 500 * time.Microsecond
	}
	if c.MaxRTO == 0 {
		c.MaxRTO = 200 * time.Millisecond
	}
	if c.MinRTO < 0 || c.MaxRTO < c.MinRTO {
		return fmt.Errorf("gap: MinRTO %v / MaxRTO %v out of order", c.MinRTO, c.MaxRTO)
	}
	if c.MaxRetries == 0 {
		c.MaxRetries = 12
	}
	if c.MaxRetries < 0 {
		return fmt.Errorf("gap: MaxRetries %d is negative", c.MaxRetries)
	}
	if c.MaxRequest == 0 {
		c.MaxRequest = 2048
	}
	if c.JoinBackfill == 0 {
		c.JoinBackfill = 2048
	}
	if c.Coalesce == 0 {
		c.Coalesce = 16
	}
	if c.SessionTimeout == 0 {
		c.SessionTimeout = 300 * time.Millisecond
	}
	if c.SessionTimeout < 0 {
		return fmt.Errorf("gap: SessionTimeout %v is negative", c.SessionTimeout)
	}
	return nil
}

// Delivery is the next run of in-order messages: those of Packet from index
// Skip on, with sequences Packet.Seq+Skip, Packet.Seq+Skip+1, …
// The packet's bytes are valid only during the [Sink] call.
type Delivery struct {
	Packet wire.Packet
	Skip   int   // messages at the front already delivered from another copy
	Line   int   // the line whose copy won, or RepairLine
	RxTime int64 // when that copy was received, as given to Offer
}

// First returns the sequence of the first message delivered.
func (d *Delivery) First() uint64 { return d.Packet.Seq + uint64(d.Skip) }

// EventKind says what an [Event] reports.
type EventKind uint8

// Event kinds.
const (
	// EventJoin: the arbiter started following Session at sequence Seq: at
	// its start, after a new session, or after an end of session. Seq > 1
	// means earlier messages of the session were never seen: the consumer
	// recovers its state by snapshot.
	EventJoin EventKind = iota + 1
	// EventLost: messages [Seq, Seq+Count) will never be delivered (retries
	// exhausted, too old for the cache, buffer overflow). Never a silent hole:
	// the consumer recovers by snapshot.
	EventLost
	// EventEndOfSession: the publisher ended Session gracefully after
	// delivering everything before Seq, and the session has been silent
	// since (a third of Config.SessionTimeout).
	EventEndOfSession
)

// LostReason says why messages were given up.
type LostReason uint8

// Reasons for EventLost.
const (
	LostRetries  LostReason = iota + 1 // NACKs exhausted (or no retransmit server)
	LostTooOld                         // the retransmit server no longer holds them
	LostSession                        // the retransmit server is in another session
	LostOverflow                       // too much held ahead of the hole
	LostSkipped                        // the consumer skipped past them (Advance)
)

// String returns the reason in words.
func (r LostReason) String() string {
	switch r {
	case LostRetries:
		return "retries exhausted"
	case LostTooOld:
		return "too old for the cache"
	case LostSession:
		return "session unknown upstream"
	case LostOverflow:
		return "hold buffer overflow"
	case LostSkipped:
		return "skipped"
	}
	return "unknown"
}

// Event tells the consumer about a change in the stream.
type Event struct {
	Kind    EventKind
	Session uint64
	Seq     uint64
	Count   uint64     // EventLost: how many messages
	Reason  LostReason // EventLost
	Prev    uint64     // EventJoin: the previous session, 0 at start
}

// Sink consumes an arbiter's output. Calls come from the arbiter's owner, one
// at a time, in stream order; they must be quick (copy and hand off).
type Sink interface {
	Deliver(d Delivery)
	Event(e Event)
}

// Arbiter merges N redundant lines into one in-order, exactly-once stream
// (DESIGN.md, recovery ladder steps 1–3). It is not safe for concurrent use:
// one owner offers packets and ticks it ([Stream] is the locked wrapper).
//
// Time is the caller's: every method takes now in nanoseconds, and the
// arbiter never reads a clock.
type Arbiter struct {
	cfg  Config
	sink Sink

	session uint64
	retired [4]uint64 // recent sessions, ignored if a straggler arrives
	next    uint64    // next sequence to deliver; 0 = not joined
	known   uint64    // one past the highest sequence known to exist
	eos     uint64    // end of session at this sequence (0 = none)
	live    int64     // when a line last brought a packet of the session
	cand    candidate // a session that may replace a silent one

	held  *held
	holes []hole // open holes in sequence order
	srtt  int64  // smoothed NACK round trip, ns (0 = no sample yet)
	rttv  int64  // its mean deviation, ns (RFC 6298's RTTVAR)
	kick  bool   // a hole opened since the owner last looked at Deadline

	nackLeft uint64 // messages the current Tick may still ask for

	stats Stats
}

// NewArbiter returns an arbiter delivering to sink.
func NewArbiter(cfg Config, sink Sink) (*Arbiter, error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	if sink == nil {
		return nil, fmt.Errorf("gap: nil Sink")
	}
	return &Arbiter{
		cfg:   cfg,
		sink:  sink,
		held:  newHeld(cfg.MaxHeldPackets, cfg.MaxHeldBytes),
		holes: make([]hole, 0, 64),
		stats: Stats{Lines: make([]LineStats, cfg.Lines)},
	}, nil
}

// Session returns the session followed (0 before the first packet).
func (a *Arbiter) Session() uint64 { return a.session }

// Next returns the next sequence to be delivered (0 before the first packet).
func (a *Arbiter) Next() uint64 { return a.next }

func (a *Arbiter) line(i int) *LineStats {
	if i == RepairLine {
		return &a.stats.Repair
	}
	return &a.stats.Lines[i]
}

// Offer hands the arbiter one validated packet received on line (0..Lines-1,
// or RepairLine for retransmissions) at now (ns). Sequenced packets,
// heartbeats and end-of-session packets are used; snapshot and control
// packets are not the arbiter's and are counted as ignored. It returns false
// for a packet of a session the arbiter does not follow (one it left, or
// another session while the followed one is live; see
// Config.SessionTimeout): the owner may count it by source.
func (a *Arbiter) Offer(line int, p wire.Packet, now int64) bool {
	if line != RepairLine && (line < 0 || line >= a.cfg.Lines) {
		a.stats.Ignored++
		return true
	}
	ls := a.line(line)
	ls.Packets++
	ls.LastRx = now
	if p.Channel != a.cfg.Channel || p.Has(wire.FlagSnapshot) || p.Session == 0 {
		a.stats.Ignored++
		return true
	}
	if p.Session != a.session && !a.adopt(line, ls, p, now) {
		return false
	}
	if line != RepairLine {
		a.live = max(a.live, now)
	}
	switch {
	case p.Has(wire.FlagEndOfSession):
		a.tail(p.Seq, now)
		if a.eos == 0 {
			a.eos = p.Seq
			a.kick = true // Deadline now includes the end's confirmation
		}
		a.stats.Heartbeats++
		return true
	case p.Has(wire.FlagHeartbeat) || p.Count == 0:
		a.stats.Heartbeats++
		if a.eos != 0 && p.Seq > a.eos {
			a.falseEnd()
		}
		a.tail(p.Seq, now)
		return true
	case p.Seq == 0:
		a.stats.Ignored++
		return true
	}
	if a.eos != 0 && p.End() > a.eos {
		a.falseEnd()
	}
	a.offerData(line, ls, p, now)
	return true
}

// offerData sequences one packet of market data.
func (a *Arbiter) offerData(line int, ls *LineStats, p wire.Packet, now int64) {
	end := p.End()
	if end <= a.next {
		ls.Duplicates++
		return
	}
	if line == RepairLine {
		a.rttSample(p.Seq, now)
		a.stats.Retransmitted++
	}
	if p.Seq <= a.next {
		// The common case: the next packet, or one overlapping what was
		// delivered (split differently on another path).
		ls.Won++
		a.deliver(p, line, now)
		if a.held.len() > 0 {
			a.drain()
		}
		a.afterAdvance(now)
		return
	}
	// Ahead of a hole.
	if a.held.full(len(p.Bytes())) {
		// Too much waits behind the oldest hole: give it up (the consumer
		// recovers by snapshot) and look at p again.
		a.stats.Overflows++
		for a.held.len() > 0 && a.held.full(len(p.Bytes())) {
			a.giveUpFront(LostOverflow, now)
		}
		if line == RepairLine {
			a.stats.Retransmitted-- // counted again below
		}
		a.offerData(line, ls, p, now)
		return
	}
	if p.Seq > a.known {
		a.openHole(a.known, p.Seq, now)
	}
	if end > a.known {
		a.known = end
	}
	if a.held.insert(p, line, now) {
		ls.Won++
		a.stats.Reordered++
		if n := uint64(a.held.len()); n > a.stats.HeldMax {
			a.stats.HeldMax = n
		}
	} else {
		ls.Duplicates++
	}
}

// deliver hands p's messages from a.next on to the sink.
func (a *Arbiter) deliver(p wire.Packet, line int, rxTime int64) {
	skip := int(a.next - p.Seq)
	n := uint64(p.Count) - uint64(skip)
	a.sink.Deliver(Delivery{Packet: p, Skip: skip, Line: line, RxTime: rxTime})
	a.next = p.End()
	if a.known < a.next {
		a.known = a.next
	}
	a.stats.Delivered += n
	a.line(line).Messages += n
}

// drain delivers held packets that have become contiguous.
func (a *Arbiter) drain() {
	for a.held.len() > 0 {
		s := a.held.front()
		if s.pkt.Seq > a.next {
			return
		}
		if s.pkt.End() > a.next {
			a.deliver(s.pkt, s.line, s.rxTime)
		}
		a.held.popFront()
	}
}

// afterAdvance closes holes that delivery went past.
func (a *Arbiter) afterAdvance(now int64) {
	if len(a.holes) > 0 {
		a.closeHoles(now)
	}
}

// tail learns from a heartbeat (or end of session) that sequences before
// seq exist: a tail loss shows up as a hole.
func (a *Arbiter) tail(seq uint64, now int64) {
	if seq > a.known {
		a.openHole(a.known, seq, now)
		a.known = seq
	}
}

// lost reports [first, first+count) as given up.
func (a *Arbiter) lost(first, count uint64, r LostReason) {
	a.stats.Lost += count
	a.stats.LostEvents++
	a.sink.Event(Event{Kind: EventLost, Session: a.session, Seq: first, Count: count, Reason: r})
}

// skipTo gives up every hole before seq, delivering the held packets between
// them in order, and reporting each hole as lost.
func (a *Arbiter) skipTo(seq uint64, r LostReason, now int64) {
	for i := range a.holes {
		if a.holes[i].first < seq {
			a.holes[i].lost = true
		}
	}
	for a.next < seq {
		if a.held.len() > 0 {
			s := a.held.front()
			if s.pkt.Seq <= a.next {
				if s.pkt.End() > a.next {
					a.deliver(s.pkt, s.line, s.rxTime)
				}
				a.held.popFront()
				continue
			}
			end := min(s.pkt.Seq, seq)
			a.lost(a.next, end-a.next, r)
			a.next = end
			continue
		}
		a.lost(a.next, seq-a.next, r)
		a.next = seq
	}
	if a.known < a.next {
		a.known = a.next
	}
	a.drain()
	a.afterAdvance(now)
}

// giveUpFront gives up the oldest open hole (or, with none recorded, the
// stretch before the first held packet).
func (a *Arbiter) giveUpFront(r LostReason, now int64) {
	if len(a.holes) > 0 {
		a.skipTo(a.holes[0].end, r, now)
		return
	}
	if a.held.len() > 0 {
		a.skipTo(a.held.front().pkt.Seq, r, now)
	}
}

// Advance moves the stream forward to seq without delivering what lies
// before it: the consumer applied a snapshot reflecting everything up to
// seq-1. Held packets and holes before seq are dropped (not reported lost).
func (a *Arbiter) Advance(seq uint64) {
	if a.next == 0 || seq <= a.next {
		return
	}
	for a.held.len() > 0 && a.held.front().pkt.End() <= seq {
		a.held.popFront()
	}
	for i := range a.holes {
		if a.holes[i].first < seq {
			a.holes[i].lost = true // skipped, not repaired
		}
	}
	a.next = seq
	if a.known < seq {
		a.known = seq
	}
	a.drain()
	a.afterAdvance(0)
}

// Stats returns a copy of the counters.
func (a *Arbiter) Stats() Stats {
	s := a.stats
	s.Lines = append([]LineStats(nil), a.stats.Lines...)
	s.Held = uint64(a.held.len())
	s.OpenHoles = uint64(len(a.holes))
	s.Next = a.next
	s.Session = a.session
	s.SRTT = time.Duration(a.srtt)
	return s
}
