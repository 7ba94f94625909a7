package subscriber

import (
	"sync/atomic"

	"github.com/tickcast/tickcast/gap"
)

// counters are updated by the subscriber's goroutines and read by Stats.
type counters struct {
	messages, applied, lostMessages          atomic.Uint64
	checksums, mismatches                    atomic.Uint64
	snapshotRequests, snapshots, unrecovered atomic.Uint64
	snapshotsIgnored, lineDowns              atomic.Uint64
	resets                                   [ResetSnapshotFailed + 1]atomic.Uint64
	recovering                               atomic.Bool
	heldDropped, snapshotsStale              atomic.Uint64
	checksumsSkipped                         atomic.Uint64
}

// LineStats are one line's counters: the arbiter's view (which line won)
// plus what the subscriber saw at the socket.
type LineStats struct {
	gap.LineStats
	Datagrams uint64 // datagrams read from the socket (before fault injection)
	Malformed uint64 // datagrams that were not valid packets: dropped
	Up        bool   // the line delivered within LineTimeout
	Downs     uint64 // times the line went down
}

// Stats are a subscriber's counters (DESIGN.md, "Per-channel, per-line
// counters").
type Stats struct {
	Lines []LineStats // the multicast lines, then the link if it carries live data
	Gap   gap.Stats   // the arbiter: delivered, gaps, NACKs, retransmissions, lost…

	Recovering         bool   // a snapshot is awaited: the books are incomplete
	Messages           uint64 // messages applied to the books and handed to the handler
	AppliedSeq         uint64 // last sequence applied
	LostMessages       uint64 // messages the arbiter gave up (each followed by a snapshot)
	ChecksumChecks     uint64
	ChecksumMismatches uint64
	ChecksumsSkipped   uint64 // checksums of books not yet complete (after a reset without a link)
	SnapshotRequests   uint64
	Snapshots          uint64 // snapshots applied
	UnrecoveredResets  uint64 // resets without a link to fetch a snapshot from
	Resets             map[string]uint64
	QueueDrops         uint64 // deliveries dropped because the handler was behind
	HeldDropped        uint64 // deliveries dropped from the backlog kept during a recovery
	StaleSnapshots     uint64 // snapshots older than the backlog, fetched again
	LinkDials          uint64
	LinkDrops          uint64
	Retransmit         gap.ClientStats // the UDP retransmit client, if any
}

// Stats returns the current counters. Safe from any goroutine.
func (s *Subscriber) Stats() Stats {
	g := s.stream.Stats()
	st := Stats{
		Gap:                g,
		Recovering:         s.stats.recovering.Load(),
		Messages:           s.stats.messages.Load(),
		AppliedSeq:         s.stats.applied.Load(),
		LostMessages:       s.stats.lostMessages.Load(),
		ChecksumChecks:     s.stats.checksums.Load(),
		ChecksumMismatches: s.stats.mismatches.Load(),
		ChecksumsSkipped:   s.stats.checksumsSkipped.Load(),
		SnapshotRequests:   s.stats.snapshotRequests.Load(),
		Snapshots:          s.stats.snapshots.Load(),
		UnrecoveredResets:  s.stats.unrecovered.Load(),
		QueueDrops:         s.q.drops.Load(),
		HeldDropped:        s.stats.heldDropped.Load(),
		StaleSnapshots:     s.stats.snapshotsStale.Load(),
		Resets:             map[string]uint64{},
	}
	for i := range g.Lines {
		ls := LineStats{LineStats: g.Lines[i]}
		ls.Up, ls.Downs = s.stream.LineUp(i)
		if i < len(s.readers) {
			ls.Datagrams = s.readers[i].datagrams.Load()
			ls.Malformed = s.readers[i].malformed.Load()
		}
		st.Lines = append(st.Lines, ls)
	}
	for r := ResetLateJoin; r <= ResetSnapshotFailed; r++ {
		if n := s.stats.resets[r].Load(); n > 0 {
			st.Resets[r.String()] = n
		}
	}
	if s.link != nil {
		st.LinkDials, st.LinkDrops = s.link.dials.Load(), s.link.drops.Load()
	}
	if s.rtx != nil {
		st.Retransmit = s.rtx.Stats()
	}
	return st
}
