package subscriber

import (
	"sync/atomic"

	"github.com/tickcast/tickcast/gap"
	"github.com/tickcast/tickcast/intake"
	"github.com/tickcast/tickcast/recovery"
)

// counters are updated by the subscriber's goroutines and read by Stats.
type counters struct {
	messages, applied, lostMessages          atomic.Uint64
	checksums, mismatches                    atomic.Uint64
	snapshotRequests, snapshots, unrecovered atomic.Uint64
	snapshotsIgnored                         atomic.Uint64
	resets                                   [ResetSnapshotFailed + 1]atomic.Uint64
	recovering                               atomic.Bool
	heldDropped, snapshotsStale              atomic.Uint64
	checksumsSkipped                         atomic.Uint64
	loopStarts, loopBooks, loopStale         atomic.Uint64
	loopIgnored                              atomic.Uint64
}

// LineStats are one line's counters: the arbiter's view (which line won)
// plus what the intake saw at the socket (see [intake.LineStats]).
type LineStats = intake.LineStats

// LinkStats are one link's counters (see [intake.LinkStats]).
type LinkStats = intake.LinkStats

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
	QueueDrops         uint64          // deliveries dropped because the handler was behind
	QueueDepth         int             // deliveries waiting for the handler now
	HeldDropped        uint64          // deliveries dropped from the backlog kept during a recovery
	StaleSnapshots     uint64          // snapshots older than the backlog, fetched again
	LinkDials          uint64          // dials of every link
	LinkDrops          uint64          // connections lost, every link
	Links              []LinkStats     // per link, in Config.Links order
	Retransmit         gap.ClientStats // the UDP retransmit client, if any
	// ForeignSources are the senders of packets of sessions not followed
	// (a second or stale publisher on the groups, forged packets; at most
	// 16), ForeignOther the packets of senders beyond them. Gap.Foreign
	// counts them all, Gap.Phantom the claimed messages never sent.
	ForeignSources []intake.ForeignSource
	ForeignOther   uint64
	// Loop is the recovery loop's side of the counters.
	Loop LoopStats
}

// LoopStats count what a subscriber took from the recovery loop.
type LoopStats struct {
	Joined    bool                    // in the recovery groups now
	Joins     uint64                  // times the groups were joined
	Starts    uint64                  // recoveries from the loop begun
	Books     uint64                  // books rebuilt from it
	Stale     uint64                  // copies older than the ring of recent deliveries: dropped for the next turn
	Ignored   uint64                  // copies of books already whole, or of another session
	Datagrams uint64                  // datagrams read from the groups, latest membership
	Assembled recovery.AssemblerStats // the assemblers' counters, latest membership
}

// Stats returns the current counters. Safe from any goroutine.
func (s *Subscriber) Stats() Stats {
	is := s.in.Stats()
	st := Stats{
		Lines:              is.Lines,
		Gap:                is.Gap,
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
		QueueDrops:         is.QueueDrops,
		QueueDepth:         is.QueueDepth,
		HeldDropped:        s.stats.heldDropped.Load(),
		StaleSnapshots:     s.stats.snapshotsStale.Load(),
		Links:              is.Links,
		Retransmit:         is.Retransmit,
		ForeignSources:     is.ForeignSources,
		ForeignOther:       is.ForeignOther,
		Loop: LoopStats{
			Joined:  s.member.joined.Load(),
			Joins:   s.member.joins.Load(),
			Starts:  s.stats.loopStarts.Load(),
			Books:   s.stats.loopBooks.Load(),
			Stale:   s.stats.loopStale.Load(),
			Ignored: s.stats.loopIgnored.Load(),
		},
		Resets: map[string]uint64{},
	}
	st.Loop.Datagrams, st.Loop.Assembled = s.member.stats()
	for _, l := range is.Links {
		st.LinkDials += l.Dials
		st.LinkDrops += l.Drops
	}
	for r := ResetLateJoin; r <= ResetSnapshotFailed; r++ {
		if n := s.stats.resets[r].Load(); n > 0 {
			st.Resets[r.String()] = n
		}
	}
	return st
}
