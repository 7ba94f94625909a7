package metrics

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tickcast/tickcast/intake"
	"github.com/tickcast/tickcast/subscriber"
)

var (
	subMessages   = counter("messages_total", "Messages applied to the books and handed to the handler.", "channel")
	subChecks     = counter("checksum_checks_total", "Book checksums verified.", "channel")
	subMismatches = counter("checksum_mismatches_total", "Book checksums that disagreed (each followed by a recovery).", "channel")
	subSnapshots  = counter("snapshots_total", "Snapshots applied.", "channel")
	subResets     = counter("resets_total", "Book resets, by reason.", "channel", "reason")
	subRecovering = gauge("recovering", "1 while the books are being recovered (snapshot or recovery loop).", "channel")
	subLoopBooks  = counter("recovery_loop_books_total", "Books rebuilt from the recovery loop.", "channel")
	subLoopJoined = gauge("recovery_loop_joined", "1 while the recovery groups are joined.", "channel")

	subInstruments = gauge("instruments", "Instruments in each status: the publisher's, except that one it reports ok is "+
		"resyncing while the subscriber's book of it is not whole, and stale after no update (level update or trade) "+
		"for the subscriber's stale-after interval.", "channel", "status")
	instAge     = gauge("instrument_update_age_seconds", "Time since the instrument's last update was applied (opt-in, capped: subscribe --instrument-metrics).", "channel", "instrument")
	instUpdates = counter("instrument_updates_total", "Level updates and trades applied to the instrument (opt-in, capped).", "channel", "instrument")
	instStatus  = gauge("instrument_status", "The instrument's status as the wire codes it: 1 ok, 2 stale, 3 resyncing, 4 halted (opt-in, capped).", "channel", "instrument")

	subscriberFamilies = []family{subMessages, subChecks, subMismatches, subSnapshots, subResets, subRecovering, subLoopBooks, subLoopJoined,
		subInstruments, instAge, instUpdates, instStatus}

	subLatency = newHistogram("latency_seconds", "Latency per packet. kind=\"feed\": from the publisher's send time "+
		"(which relays keep) to the subscriber's handler call; kind=\"network\": from that send time to the receive "+
		"time (the kernel's timestamp with kernel timestamps on, else the reader's). Clocks of different hosts must be in sync.",
		"channel", "kind")
)

// Subscriber exports a subscriber's counters.
func Subscriber(s *subscriber.Subscriber, channel uint16) prometheus.Collector {
	return subscriberCollector{s: s, channel: channelLabel(channel)}
}

type subscriberCollector struct {
	s       *subscriber.Subscriber
	channel string
}

func (c subscriberCollector) Describe(ch chan<- *prometheus.Desc) {
	describe(ch, intakeFamilies, subscriberFamilies)
	describeHistograms(ch, subLatency)
}

func (c subscriberCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.s.Stats()
	collectIntake(ch, c.channel, intake.Stats{Lines: st.Lines, Links: st.Links, Gap: st.Gap, QueueDrops: st.QueueDrops, QueueDepth: st.QueueDepth})
	subMessages.emit(ch, float64(st.Messages), c.channel)
	subChecks.emit(ch, float64(st.ChecksumChecks), c.channel)
	subMismatches.emit(ch, float64(st.ChecksumMismatches), c.channel)
	subSnapshots.emit(ch, float64(st.Snapshots), c.channel)
	for reason, n := range st.Resets {
		subResets.emit(ch, float64(n), c.channel, reason)
	}
	subRecovering.emit(ch, bool01(st.Recovering), c.channel)
	subLoopBooks.emit(ch, float64(st.Loop.Books), c.channel)
	subLoopJoined.emit(ch, bool01(st.Loop.Joined), c.channel)
	counts, list := c.s.Instruments()
	subInstruments.emit(ch, float64(counts.OK), c.channel, "ok")
	subInstruments.emit(ch, float64(counts.Stale), c.channel, "stale")
	subInstruments.emit(ch, float64(counts.Resyncing), c.channel, "resyncing")
	subInstruments.emit(ch, float64(counts.Halted), c.channel, "halted")
	seen := make(map[string]bool, len(list))
	for _, in := range list {
		name := instrumentLabel(in, seen)
		instAge.emit(ch, in.Age.Seconds(), c.channel, name)
		instUpdates.emit(ch, float64(in.Updates), c.channel, name)
		instStatus.emit(ch, float64(in.Status), c.channel, name)
	}
	lat := c.s.LatencyBuckets()
	subLatency.emit(ch, lat.Feed, c.channel, "feed")
	subLatency.emit(ch, lat.Network, c.channel, "network")
}

// instrumentLabel is an instrument's label: its symbol; its id before its
// definition came; the symbol and "#id" for a symbol already taken in this
// scrape (two venues' instruments of one symbol), so series never collide.
func instrumentLabel(in subscriber.InstrumentStats, seen map[string]bool) string {
	name := in.Symbol
	if name == "" || seen[name] {
		name += "#" + strconv.FormatUint(uint64(in.ID), 10)
	}
	seen[name] = true
	return name
}
