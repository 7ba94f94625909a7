package metrics

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/tickcast/tickcast/gap"
	"github.com/tickcast/tickcast/publisher"
)

var (
	pubMessages   = counter("publisher_messages_total", "Messages sequenced and sent.", "channel")
	pubPackets    = counter("publisher_packets_total", "Packets sent (each on every line).", "channel")
	pubHeartbeats = counter("publisher_heartbeats_total", "Heartbeat and end-of-session packets sent.", "channel")
	pubChecksums  = counter("publisher_checksums_total", "BookChecksums sequenced.", "channel")
	pubSnapshots  = counter("publisher_snapshots_total", "Snapshots served.", "channel")
	pubMalformed  = counter("publisher_malformed_messages_total", "Bad messages from a source, dropped.", "channel")
	pubNextSeq    = gauge("publisher_next_sequence", "The next sequence to be assigned.", "channel")
	pubLinePkts   = counter("publisher_line_packets_total", "Packets written to the line.", "channel", "line")
	pubLineBytes  = counter("publisher_line_bytes_total", "Bytes written to the line.", "channel", "line")
	pubLineErrors = counter("publisher_line_errors_total", "Failed writes to the line.", "channel", "line")
	pubLinkPeers  = gauge("link_clients", "QUIC link clients connected.", "channel")
	loopBooks     = counter("recovery_loop_books_sent_total", "Books the recovery loop sent.", "channel")
	loopBytes     = counter("recovery_loop_bytes_total", "Bytes the recovery loop sent per line.", "channel")
	loopCycle     = gauge("recovery_loop_cycle_seconds", "How long the recovery loop's last complete round took.", "channel")

	rtxRequests   = counter("retransmit_requests_total", "Retransmit requests received by the UDP server.", "channel")
	rtxAnswered   = counter("retransmit_answered_messages_total", "Messages retransmitted by the UDP server.", "channel")
	rtxRejected   = counter("retransmit_rejected_total", "Retransmit requests refused by the UDP server, by reason.", "channel", "reason")
	rtxUnvalidate = counter("retransmit_unvalidated_total", "Requests without the requester's token: answered with a token only.", "channel")

	publisherFamilies = []family{pubMessages, pubPackets, pubHeartbeats, pubChecksums, pubSnapshots, pubMalformed, pubNextSeq,
		pubLinePkts, pubLineBytes, pubLineErrors, pubLinkPeers, loopBooks, loopBytes, loopCycle}
	retransmitFamilies = []family{rtxRequests, rtxAnswered, rtxRejected, rtxUnvalidate}
)

// Publisher exports a publisher's counters.
func Publisher(p *publisher.Publisher) prometheus.Collector { return publisherCollector{p} }

type publisherCollector struct{ p *publisher.Publisher }

func (c publisherCollector) Describe(ch chan<- *prometheus.Desc) {
	describe(ch, publisherFamilies, downstreamFamilies, retransmitFamilies)
}

func (c publisherCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.p.Stats()
	channel := channelLabel(st.Channel)
	pubMessages.emit(ch, float64(st.Messages), channel)
	pubPackets.emit(ch, float64(st.Packets), channel)
	pubHeartbeats.emit(ch, float64(st.Heartbeats), channel)
	pubChecksums.emit(ch, float64(st.Checksums), channel)
	pubSnapshots.emit(ch, float64(st.Snapshots), channel)
	pubMalformed.emit(ch, float64(st.Malformed), channel)
	pubNextSeq.emit(ch, float64(st.NextSeq), channel)
	for _, l := range st.Lines {
		pubLinePkts.emit(ch, float64(l.Packets), channel, l.Name)
		pubLineBytes.emit(ch, float64(l.Bytes), channel, l.Name)
		pubLineErrors.emit(ch, float64(l.Errors), channel, l.Name)
	}
	pubLinkPeers.emit(ch, float64(st.Link.Clients), channel)
	if c.p.LinkAddr() != "" { // a link server
		downs := make([]down, len(st.Link.Peers))
		for i, p := range st.Link.Peers {
			downs[i] = down{name: p.Name, queued: p.Queued, datagrams: p.Datagrams, dropped: p.Dropped, loss: p.Loss, lag: p.Lag}
		}
		collectDownstreams(ch, downs, st.Link.CutOffByName, st.Link.Disconnects)
	}
	loopBooks.emit(ch, float64(st.Recovery.Books), channel)
	loopBytes.emit(ch, float64(st.Recovery.Bytes), channel)
	loopCycle.emit(ch, st.Recovery.LastCycle.Seconds(), channel)
	collectRetransmit(ch, channel, st.Retransmit)
}

// collectRetransmit sends a UDP retransmit server's samples.
func collectRetransmit(ch chan<- prometheus.Metric, channel string, r gap.ServerStats) {
	rtxRequests.emit(ch, float64(r.Requests), channel)
	rtxAnswered.emit(ch, float64(r.Answered), channel)
	rtxUnvalidate.emit(ch, float64(r.Unvalidated), channel)
	for reason, n := range map[string]uint64{
		"too_old": r.RejectedTooOld, "rate_limited": r.RejectedRateLimited, "unknown_session": r.RejectedUnknownSession,
		"not_allowed": r.RejectedNotAllowed, "not_yet_sent": r.RejectedNotYetSent,
	} {
		rtxRejected.emit(ch, float64(n), channel, reason)
	}
}
