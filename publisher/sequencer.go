package publisher

import (
	"context"
	"math"
	"time"

	"github.com/tickcast/tickcast/feed"
	"github.com/tickcast/tickcast/wire"
)

// maxQueued is how many finished packets the sequencer gathers before it
// sends them with one sendmmsg per line even if more input waits.
const maxQueued = 64

// sequencer is the single writer of the channel: it numbers messages, packs
// them, keeps the books and sends. Everything here is guarded by
// Publisher.seqMu: whoever holds it is the single writer (usually the
// source's goroutine, see Publisher.Publish, else run).
type sequencer struct {
	p     *Publisher
	next  uint64              // next sequence to assign
	books feed.State          // the channel's books, kept current from what is sequenced
	due   []wire.BookChecksum // the checksums being sequenced, reused

	pb       wire.Builder // the packet being filled
	open     bool         // pb holds a started packet
	bufs     [maxQueued][]byte
	queued   []wire.Packet // finished packets not yet sent (views of bufs)
	raw      [][]byte      // their bytes, for the lines
	lastSend time.Time
	scratch  []byte

	nextChecksum   int64 // feed time of the next periodic checksums, ns
	checksumOnExch bool  // nextChecksum is on the exchange-time clock
	stopped        bool  // the session ended: no more input
}

func (s *sequencer) init(p *Publisher) {
	s.p = p
	s.next = 1
	p.stats.next.Store(1)
	for i := range s.bufs {
		s.bufs[i] = make([]byte, 0, p.cfg.MaxPacket)
	}
	s.queued = make([]wire.Packet, 0, maxQueued)
	s.raw = make([][]byte, 0, maxQueued)
	s.scratch = make([]byte, 0, 64)
}

// run is the sequencer's own goroutine. Most input never reaches it: a
// source's Publish runs the sequencer inline when no one else does (see
// Publisher.Publish), so a batch is sequenced and sent on the source's
// goroutine with no hand-off. run takes over what must not wait for input:
// batches queued while the sequencer was busy, the linger timer, heartbeats,
// snapshot requests and the end of the session. Everything it touches is
// guarded by Publisher.seqMu.
func (s *sequencer) run(ctx context.Context) {
	p := s.p
	hb := time.NewTicker(p.cfg.Heartbeat / 4)
	defer hb.Stop()
	linger := time.NewTimer(time.Hour)
	linger.Stop()
	defer linger.Stop()
	lingering := false

	p.seqMu.Lock()
	s.lastSend = time.Now()
	s.heartbeat(wire.FlagHeartbeat) // announce the session at once
	p.seqMu.Unlock()
	for {
		select {
		case <-p.kick:
			p.seqMu.Lock()
			s.drainQueued()
			open := s.afterInput()
			p.seqMu.Unlock()
			if open && !lingering {
				linger.Reset(p.cfg.Linger)
				lingering = true
			}
		case <-linger.C:
			lingering = false
			p.seqMu.Lock()
			s.flush()
			p.seqMu.Unlock()
		case now := <-hb.C:
			p.seqMu.Lock()
			if now.Sub(s.lastSend) >= p.cfg.Heartbeat {
				s.heartbeat(wire.FlagHeartbeat)
			}
			p.out.DrainFaults(now.UnixNano()) // injected delay: release what is due
			p.seqMu.Unlock()
		case r := <-p.snaps:
			p.seqMu.Lock()
			s.snapshot(r)
			p.seqMu.Unlock()
		case <-ctx.Done():
			p.seqMu.Lock()
			s.stop()
			p.seqMu.Unlock()
			return
		}
	}
}

// drainQueued sequences the batches queued while the sequencer was busy,
// in order. seqMu held.
func (s *sequencer) drainQueued() {
	for {
		select {
		case b := <-s.p.in:
			s.take(b)
		default:
			return
		}
	}
}

// afterInput sends what the input produced: everything at once without a
// linger; with one, the finished packets now and the open one when the
// linger timer fires (it reports true when that timer is needed). seqMu held.
func (s *sequencer) afterInput() (lingerOpen bool) {
	if s.p.cfg.Linger == 0 {
		s.flush()
		return false
	}
	s.sendQueued()
	return s.open
}

// stop drains what the sources already handed over, sends it and ends the
// session on both lines. seqMu held.
func (s *sequencer) stop() {
	s.drainQueued()
	s.flush()
	s.p.out.DrainFaults(math.MaxInt64)
	s.heartbeat(wire.FlagEndOfSession)
	s.stopped = true
	s.p.log.Info("session ended", "last_seq", s.next-1)
}

// take sequences one queued batch and returns it to the free list.
func (s *sequencer) take(b *batch) {
	s.takeBytes(b.b)
	s.p.free <- b
}

// takeBytes sequences one batch of messages. seqMu held.
func (s *sequencer) takeBytes(msgs []byte) {
	s.p.stats.batches.Add(1)
	rest := msgs
	for len(rest) > 0 {
		m, ok := nextMessage(rest)
		if !ok {
			s.p.stats.malformed.Add(1)
			break
		}
		rest = rest[m.Len():]
		s.books.Apply(m)
		s.add(m.Bytes())
	}
	s.scheduledChecksums()
}

// add appends one encoded message to the current packet, starting a new
// packet when it is full.
func (s *sequencer) add(msg []byte) {
	if !s.open {
		s.start()
	}
	if !s.pb.AddRaw(msg) {
		s.finish()
		s.start()
		if !s.pb.AddRaw(msg) {
			// Bigger than an empty packet: cannot happen with the
			// fixed-size messages of v1 and MaxPacket >= 128.
			s.p.stats.malformed.Add(1)
			return
		}
	}
	s.next++
}

func (s *sequencer) start() {
	if len(s.queued) == maxQueued {
		s.flush()
	}
	buf := s.bufs[len(s.queued)]
	s.pb.Reset(buf, s.p.cfg.MaxPacket, s.p.wireHeader(0, s.next))
	s.open = true
}

// finish closes the current packet and queues it for sending.
func (s *sequencer) finish() {
	if !s.open {
		return
	}
	s.open = false
	if s.pb.Count() == 0 {
		return
	}
	s.queued = append(s.queued, s.pb.FinishPacket(0)) // the send time is stamped by flush
}

// flush sends every finished packet on both lines, then to the retransmit
// cache and the link subscribers.
func (s *sequencer) flush() {
	s.finish()
	s.sendQueued()
}

// sendQueued sends the finished packets, leaving an open one open.
func (s *sequencer) sendQueued() {
	if len(s.queued) == 0 {
		return
	}
	// One clock reading for the flush, stamped into every packet just
	// before it is handed to the egress (which caches, then sends).
	now := time.Now()
	var msgs uint64
	s.raw = s.raw[:0]
	for i := range s.queued {
		p := &s.queued[i]
		p.SendTime = now.UnixNano()
		wire.SetSendTime(p.Bytes(), p.SendTime)
		msgs += uint64(p.Count)
		s.raw = append(s.raw, p.Bytes())
	}
	s.p.out.Send(s.raw)
	s.p.stats.packets.Add(uint64(len(s.queued)))
	s.p.stats.messages.Add(msgs)
	s.p.stats.next.Store(s.next)
	s.queued = s.queued[:0]
	s.lastSend = now
}

// heartbeat sends a heartbeat (or the end of session) on both lines: no
// messages, Seq = the next sequence to be sent, so tail loss shows.
func (s *sequencer) heartbeat(f wire.Flags) {
	now := time.Now()
	h := s.p.wireHeader(f, s.next)
	h.SendTime = now.UnixNano()
	s.scratch = h.Append(s.scratch[:0])
	s.p.out.SendControl(s.scratch)
	s.lastSend = now
	s.p.stats.heartbeats.Add(1)
}

// checksums sequences a BookChecksum for every instrument whose book changed
// since its last one (resyncOnly: only those cleared since). An idle feed
// carries only heartbeats.
func (s *sequencer) checksums(resyncOnly bool) {
	s.due = s.books.DueChecksums(s.due[:0], resyncOnly)
	for _, c := range s.due {
		s.scratch = c.Append(s.scratch[:0])
		s.add(s.scratch)
		s.p.stats.checksums.Add(1)
	}
}

// scheduledChecksums runs after every batch (sources end batches on event
// boundaries): the checksums owed after a resync, and every ChecksumEvery
// of the feed's own clock (the latest exchange time seen, or the wall clock
// for a source without exchange times) those of the books that changed.
// Because the schedule follows the data, not a timer, a replayed capture
// gets its checksums at the same sequences as the original run.
func (s *sequencer) scheduledChecksums() {
	if every := int64(s.p.cfg.ChecksumEvery); every > 0 {
		now, exch := int64(s.books.ExchTime()), true
		if now == 0 {
			now, exch = time.Now().UnixNano(), false // no exchange time yet
		}
		switch {
		case s.nextChecksum == 0 || exch != s.checksumOnExch:
			// Start the schedule, or move it to the exchange-time clock
			// once the source provides one.
			s.nextChecksum, s.checksumOnExch = now+every, exch
		case now >= s.nextChecksum:
			s.checksums(false)
			s.nextChecksum = now + every
			return
		}
	}
	if s.books.Cleared() > 0 {
		s.checksums(true)
	}
}
