package metrics

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tickcast/tickcast/intake"
)

// The receiving side, shared by subscriber and relay: per line, and per
// channel the arbiter's work.
var (
	linePackets    = counter("line_packets_total", "Packets received on the line (multicast, or a live link).", "channel", "line")
	lineDatagrams  = counter("line_datagrams_total", "Datagrams read from the line's socket.", "channel", "line")
	lineBytes      = counter("line_bytes_total", "Bytes of the datagrams read from the line's socket (UDP payload; 0 for a link).", "channel", "line")
	lineMessages   = counter("line_messages_total", "Messages delivered from this line's copies (the ones it brought first).", "channel", "line")
	lineFirst      = counter("line_first_arrivals_total", "Packets that brought at least one new message: this line was first.", "channel", "line")
	lineDuplicates = counter("line_duplicates_total", "Packets with nothing new (the other line was first).", "channel", "line")
	lineMalformed  = counter("line_malformed_total", "Datagrams that were not valid packets: dropped.", "channel", "line")
	lineForeignSrc = counter("line_foreign_source_packets_total", "Datagrams from a sender other than the line's configured source: dropped.", "channel", "line")
	lineOtherSess  = counter("line_other_session_packets_total", "Packets of a session not followed while the followed one was live: ignored.", "channel", "line")
	lineUp         = gauge("line_up", "1 if the line delivered within the line timeout.", "channel", "line")
	lineDowns      = counter("line_downs_total", "Times the line went down.", "channel", "line")

	gaps          = counter("gaps_total", "Holes in the sequence detected.", "channel")
	gapsFilled    = counter("gaps_filled_total", "Holes filled by another line or a retransmission.", "channel")
	nacks         = counter("nacks_sent_total", "Retransmit requests sent.", "channel")
	nackedMsgs    = counter("nacked_messages_total", "Messages asked for in retransmit requests.", "channel")
	rejects       = counter("nack_rejects_total", "RetransmitRejects received.", "channel")
	retransmitted = counter("retransmitted_packets_total", "Retransmitted packets that brought something new.", "channel")
	lostMsgs      = counter("messages_lost_total", "Messages given up (recovered by snapshot or the recovery loop).", "channel")
	phantom       = counter("phantom_messages_total", "Messages a heartbeat claimed that were never sent: dropped, not lost.", "channel")
	sessions      = counter("sessions_total", "Sessions joined.", "channel")
	queueDrops    = counter("queue_drops_total", "Deliveries dropped because the consumer was behind.", "channel")
	heldPackets   = gauge("held_packets", "Packets held ahead of a hole now.", "channel")
	srtt          = gauge("nack_rtt_seconds", "Smoothed round trip of retransmit requests.", "channel")
	rejectsBy     = counter("nack_rejects_by_reason_total", "RetransmitRejects received, by reason (too_old, rate_limited, "+
		"unknown_session, not_allowed, not_yet_sent; unknown for a code this version does not know).", "channel", "reason")
	queueDepth = gauge("queue_depth", "Deliveries waiting in the hand-off queue for the consumer (the handler, or the relay's forwarding) now.", "channel")
	upLinkUp   = gauge("upstream_link_up", "1 while the QUIC link to the upstream (publisher or relay) is connected.", "channel", "link")

	intakeFamilies = []family{linePackets, lineDatagrams, lineBytes, lineMessages, lineFirst, lineDuplicates, lineMalformed, lineForeignSrc,
		lineOtherSess, lineUp, lineDowns, gaps, gapsFilled, nacks, nackedMsgs, rejects, retransmitted, lostMsgs,
		phantom, sessions, queueDrops, heldPackets, srtt, rejectsBy, queueDepth, upLinkUp}

	// rejectReasons name gap.Stats.RejectReasons' indexes.
	rejectReasons = [...]string{"unknown", "too_old", "rate_limited", "unknown_session", "not_allowed", "not_yet_sent"}
)

// collectIntake sends the samples of one channel's intake.
func collectIntake(ch chan<- prometheus.Metric, channel string, st intake.Stats) {
	for _, l := range st.Lines {
		linePackets.emit(ch, float64(l.Packets), channel, l.Name)
		lineDatagrams.emit(ch, float64(l.Datagrams), channel, l.Name)
		lineBytes.emit(ch, float64(l.Bytes), channel, l.Name)
		lineMessages.emit(ch, float64(l.Messages), channel, l.Name)
		lineFirst.emit(ch, float64(l.Won), channel, l.Name)
		lineDuplicates.emit(ch, float64(l.Duplicates), channel, l.Name)
		lineMalformed.emit(ch, float64(l.Malformed), channel, l.Name)
		lineForeignSrc.emit(ch, float64(l.ForeignSource), channel, l.Name)
		lineOtherSess.emit(ch, float64(l.Foreign), channel, l.Name)
		lineUp.emit(ch, bool01(l.Up), channel, l.Name)
		lineDowns.emit(ch, float64(l.Downs), channel, l.Name)
	}
	g := st.Gap
	gaps.emit(ch, float64(g.Gaps), channel)
	gapsFilled.emit(ch, float64(g.GapsFilled), channel)
	nacks.emit(ch, float64(g.Nacks), channel)
	nackedMsgs.emit(ch, float64(g.NackedMessages), channel)
	rejects.emit(ch, float64(g.Rejects), channel)
	retransmitted.emit(ch, float64(g.Retransmitted), channel)
	lostMsgs.emit(ch, float64(g.Lost), channel)
	phantom.emit(ch, float64(g.Phantom), channel)
	sessions.emit(ch, float64(g.Sessions), channel)
	queueDrops.emit(ch, float64(st.QueueDrops), channel)
	heldPackets.emit(ch, float64(g.Held), channel)
	srtt.emit(ch, g.SRTT.Seconds(), channel)
	for i, n := range g.RejectReasons {
		rejectsBy.emit(ch, float64(n), channel, rejectReasons[i])
	}
	queueDepth.emit(ch, float64(st.QueueDepth), channel)
	for i, l := range st.Links {
		name := l.Name
		if name == "" {
			name = l.Addr
		}
		if name == "" {
			name = strconv.Itoa(i)
		}
		upLinkUp.emit(ch, bool01(l.Connected), channel, name)
	}
}
