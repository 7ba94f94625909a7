package relay

import (
	"time"

	"github.com/tickcast/tickcast/egress"
	"github.com/tickcast/tickcast/gap"
	"github.com/tickcast/tickcast/intake"
	"github.com/tickcast/tickcast/internal/link"
)

// ChannelStats are one channel's counters.
type ChannelStats struct {
	// ID is the channel.
	ID uint16
	// Packets and Messages forwarded downstream; Heartbeats and
	// EndOfSession sent while nothing else was.
	Packets, Messages, Heartbeats, EndOfSession uint64
	// Whole: the relay's books reflect the feed (it can serve snapshots).
	Whole bool
	// Recoveries of the books by snapshot from upstream; SnapshotsIn
	// received, SnapshotsAhead of what the relay had forwarded (normal),
	// SnapshotsRetried after a timeout or a too old answer.
	Recoveries, SnapshotsIn, SnapshotsAhead, SnapshotsRetried uint64
	// SnapshotsServed to downstreams.
	SnapshotsServed uint64
	// SnapshotsDropped counts snapshot packets of an answer other than the
	// one being received, and answers joined after their start (asked again).
	SnapshotsDropped uint64
	// NACKs from downstreams: served (from the cache or an upstream
	// answer), waited for (the relay was repairing the range itself),
	// forwarded upstream (older than the cache; once per range however
	// many downstreams asked), refused (with the reason sent back).
	NacksServed, NacksWaited, NacksUpstream, NacksRefused uint64
	// StaleIn counts upstream answers to forwarded NACKs.
	StaleIn uint64
	// Intake and Egress are the upstream and downstream sides.
	Intake intake.Stats
	Egress egress.Stats
}

// Stats are a relay's counters.
type Stats struct {
	// Channels, in the order configured.
	Channels []ChannelStats
	// Downstreams connected to the link server, by certificate name.
	Downstreams []DownstreamStats
	// CutOff counts downstreams disconnected as slow consumers (they did
	// not keep up for Config.SlowCutoff).
	CutOff uint64
	// CutOffByName counts them by certificate name.
	CutOffByName map[string]uint64
	// NotAllowed counts downstream connections refused, or disconnected by
	// SetAllowDownstream, because their certificate name is not on
	// Config.AllowDownstream; NotAllowedByName counts them by name.
	NotAllowed       uint64
	NotAllowedByName map[string]uint64
	// Disconnects counts downstreams gone since the start, by certificate
	// name and reason (closed, slow, timeout, protocol, error, shutdown;
	// refused handshakes, with no name).
	Disconnects map[Disconnect]uint64
	// Retransmit is the UDP retransmit server's (zero without one).
	Retransmit gap.ServerStats
}

// Disconnect is a downstream's certificate name and why it left: a key of
// [Stats.Disconnects].
type Disconnect = link.Disconnect

// DownstreamStats are one downstream link's counters.
type DownstreamStats struct {
	// Name is the downstream's certificate name; Remote its address.
	Name, Remote string
	// Queued live packets now; Datagrams sent; Dropped because its queue
	// was full (it recovers by NACK or snapshot); Retransmitted packets
	// sent it; NACKs and Snapshots it asked for.
	Queued                                              int
	Datagrams, Dropped, Retransmitted, NACKs, Snapshots uint64
	// Lag is how long the oldest live packet in its queue has waited (0
	// when the queue is empty).
	Lag time.Duration
	// Loss is the share of its datagrams it reported not taking in over
	// the last second (the path's loss and its own), 0 to 1.
	Loss float64
	// CutOff: being disconnected as a slow consumer.
	CutOff bool
}

// Stats returns the relay's counters.
func (r *Relay) Stats() Stats {
	var st Stats
	for _, c := range r.order {
		s := &c.stats
		st.Channels = append(st.Channels, ChannelStats{
			ID: c.id, Packets: s.packets.Load(), Messages: s.messages.Load(),
			Heartbeats: s.heartbeats.Load(), EndOfSession: s.endOfSession.Load(),
			Whole: c.wholeNow.Load(), Recoveries: s.recoveries.Load(),
			SnapshotsIn: s.snapshotsIn.Load(), SnapshotsAhead: s.snapshotsAhead.Load(),
			SnapshotsRetried: s.snapshotsRetried.Load(), SnapshotsServed: s.snapshotsServed.Load(),
			NacksServed: s.nacksServed.Load(), NacksWaited: s.nacksWaited.Load(),
			NacksUpstream: s.nacksUpstream.Load(), NacksRefused: s.nacksRefused.Load(),
			StaleIn: s.staleIn.Load(), SnapshotsDropped: s.snapshotsMixed.Load(),
			Intake: c.in.Stats(), Egress: c.out.Stats(),
		})
	}
	if r.rtx != nil {
		st.Retransmit = r.rtx.Stats()
	}
	if r.link != nil {
		ls := r.link.Stats()
		st.CutOff, st.CutOffByName, st.Disconnects = ls.CutOff, ls.CutOffByName, ls.Disconnects
		st.NotAllowed, st.NotAllowedByName = ls.NotAllowed, ls.NotAllowedByName
		for _, p := range ls.Peers {
			st.Downstreams = append(st.Downstreams, DownstreamStats{
				Name: p.Name, Remote: p.Remote, Queued: p.Queued,
				Datagrams: p.Datagrams, Dropped: p.Dropped, Retransmitted: p.Retransmitted,
				NACKs: p.NACKs, Snapshots: p.Snapshots, Loss: p.Loss, CutOff: p.CutOff, Lag: p.Lag,
			})
		}
	}
	return st
}
