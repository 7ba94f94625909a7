package publisher

import (
	"sync/atomic"

	"github.com/tickcast/tickcast/gap"
	"github.com/tickcast/tickcast/internal/link"
	"github.com/tickcast/tickcast/recovery"
)

// counters are updated by the sequencer and read by Stats from any goroutine.
type counters struct {
	next, messages, packets, batches, malformed, heartbeats, checksums, snapshots atomic.Uint64
}

// LineStats counts one line's sending side.
type LineStats struct {
	Name    string
	Packets uint64 // datagrams written
	Bytes   uint64
	Errors  uint64 // failed writes (logged at most once a second)
	Killed  bool   // stopped by KillLine
	Failing bool   // the last write failed
}

// Stats are a publisher's counters (DESIGN.md, "Per-channel, per-line counters").
type Stats struct {
	Channel    uint16
	Session    uint64
	NextSeq    uint64 // next sequence to be assigned
	Messages   uint64 // messages sent
	Packets    uint64 // packets sent (each on every line)
	Batches    uint64 // batches taken from the sources
	Malformed  uint64 // bad messages from a source, dropped
	Heartbeats uint64 // heartbeat and end-of-session packets
	Checksums  uint64 // BookChecksums sequenced
	Snapshots  uint64 // snapshots served
	Lines      []LineStats
	Retransmit gap.ServerStats    // zero without a retransmit server
	Link       link.ServerStats   // zero without a link server
	Recovery   recovery.LoopStats // zero without a recovery loop
}

// Stats returns the current counters. Safe from any goroutine.
func (p *Publisher) Stats() Stats {
	s := Stats{
		Channel:    p.cfg.Channel,
		Session:    p.cfg.Session,
		NextSeq:    p.stats.next.Load(),
		Messages:   p.stats.messages.Load(),
		Packets:    p.stats.packets.Load(),
		Batches:    p.stats.batches.Load(),
		Malformed:  p.stats.malformed.Load(),
		Heartbeats: p.stats.heartbeats.Load(),
		Checksums:  p.stats.checksums.Load(),
		Snapshots:  p.stats.snapshots.Load(),
	}
	for _, l := range p.out.Stats().Lines {
		s.Lines = append(s.Lines, LineStats{
			Name: l.Name, Packets: l.Packets, Bytes: l.Bytes, Errors: l.Errors, Killed: l.Killed, Failing: l.Failing,
		})
	}
	if p.loop != nil {
		s.Recovery = p.loop.Stats()
	}
	if p.rtx != nil {
		s.Retransmit = p.rtx.Stats()
	}
	if p.link != nil {
		s.Link = p.link.Stats()
	}
	return s
}
