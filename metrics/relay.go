package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tickcast/tickcast/relay"
)

var (
	relayMessages  = counter("relay_messages_total", "Messages forwarded downstream.", "channel")
	relayPackets   = counter("relay_packets_total", "Packets forwarded downstream.", "channel")
	relayWhole     = gauge("relay_books_whole", "1 if the relay's books reflect the feed (it can serve snapshots).", "channel")
	relayRecovered = counter("relay_recoveries_total", "Recoveries of the relay's books by snapshot from upstream.", "channel")
	relayNacks     = counter("relay_nacks_total", "Downstream NACKs, by outcome (served, waited, upstream, refused).", "channel", "outcome")
	relaySnapsOut  = counter("relay_snapshots_served_total", "Snapshots served to downstreams.", "channel")
	downQueued     = gauge("downstream_queued_packets", "Live packets queued for the downstream now.", "name")
	downDatagrams  = counter("downstream_datagrams_total", "Datagrams sent to the downstream.", "name")
	downDropped    = counter("downstream_dropped_packets_total", "Live packets dropped because the downstream's queue was full.", "name")
	downLoss       = gauge("downstream_loss_ratio", "Share of its datagrams the downstream reported not taking in, last second.", "name")
	downCutOff     = counter("downstream_cutoffs_total", "Disconnections as a slow consumer.", "name")
	downLag        = gauge("downstream_lag_seconds", "How long the oldest live packet queued for the downstream has waited (0 when its queue is empty).", "name")
	downGone       = counter("downstream_disconnects_total", "Downstream links gone, by reason: closed (by the downstream), slow (cut off), "+
		"timeout (path silent), protocol, error, shutdown (this relay stopping), refused (handshake refused; name empty: not authenticated).", "name", "reason")

	relayFamilies = []family{relayMessages, relayPackets, relayWhole, relayRecovered, relayNacks, relaySnapsOut}
	// downstreamFamilies are a link server's, a relay's or a publisher's.
	downstreamFamilies = []family{downQueued, downDatagrams, downDropped, downLoss, downCutOff, downLag, downGone}

	hopLatency = newHistogram("hop_latency_seconds", "Latency per forwarded packet from the publisher's send time "+
		"(which every hop keeps) to this relay sending it on: the path up to and through this hop.", "channel")
)

// Relay exports a relay's counters: per channel its intake (lines, gaps,
// NACKs) and forwarding, per downstream (by certificate name) its queue,
// drops and loss.
func Relay(r *relay.Relay) prometheus.Collector { return relayCollector{r} }

type relayCollector struct{ r *relay.Relay }

func (c relayCollector) Describe(ch chan<- *prometheus.Desc) {
	describe(ch, intakeFamilies, relayFamilies, downstreamFamilies, retransmitFamilies)
	describeHistograms(ch, hopLatency)
}

func (c relayCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.r.Stats()
	for _, cs := range st.Channels {
		channel := channelLabel(cs.ID)
		collectIntake(ch, channel, cs.Intake)
		relayMessages.emit(ch, float64(cs.Messages), channel)
		relayPackets.emit(ch, float64(cs.Packets), channel)
		relayWhole.emit(ch, bool01(cs.Whole), channel)
		relayRecovered.emit(ch, float64(cs.Recoveries), channel)
		relayNacks.emit(ch, float64(cs.NacksServed), channel, "served")
		relayNacks.emit(ch, float64(cs.NacksWaited), channel, "waited")
		relayNacks.emit(ch, float64(cs.NacksUpstream), channel, "upstream")
		relayNacks.emit(ch, float64(cs.NacksRefused), channel, "refused")
		relaySnapsOut.emit(ch, float64(cs.SnapshotsServed), channel)
		if b, err := c.r.HopLatency(cs.ID); err == nil {
			hopLatency.emit(ch, b, channel)
		}
	}
	downs := make([]down, len(st.Downstreams))
	for i, d := range st.Downstreams {
		downs[i] = down{name: d.Name, queued: d.Queued, datagrams: d.Datagrams, dropped: d.Dropped, loss: d.Loss, lag: d.Lag}
	}
	collectDownstreams(ch, downs, st.CutOffByName, st.Disconnects)
	collectRetransmit(ch, "all", st.Retransmit)
}

// down is one downstream link's counters, a relay's or a publisher's.
type down struct {
	name               string
	queued             int
	datagrams, dropped uint64
	loss               float64
	lag                time.Duration
}

// collectDownstreams sends the samples of a link server's downstreams:
// one series per name (a downstream connected twice, on two paths, is
// summed; its loss and lag are the worse path's), the cutoffs and the
// disconnects.
func collectDownstreams(ch chan<- prometheus.Metric, downs []down, cutOffByName map[string]uint64, gone map[relay.Disconnect]uint64) {
	byName := map[string]*down{}
	for _, d := range downs {
		x := byName[d.name]
		if x == nil {
			x = &down{}
			byName[d.name] = x
		}
		x.queued += d.queued
		x.datagrams += d.datagrams
		x.dropped += d.dropped
		x.loss = max(x.loss, d.loss)
		x.lag = max(x.lag, d.lag)
	}
	for name, d := range byName {
		downQueued.emit(ch, float64(d.queued), name)
		downDatagrams.emit(ch, float64(d.datagrams), name)
		downDropped.emit(ch, float64(d.dropped), name)
		downLoss.emit(ch, d.loss, name)
		downLag.emit(ch, d.lag.Seconds(), name)
	}
	for name, n := range cutOffByName {
		downCutOff.emit(ch, float64(n), name)
	}
	collectDisconnects(ch, byName, gone)
}

// disconnectReasons are the reasons a downstream with a name leaves (see
// internal/link); "refused" goes with the empty name.
var disconnectReasons = []string{"closed", "slow", "timeout", "protocol", "error", "shutdown", "not_allowed"}

// collectDisconnects sends the disconnect counters: every reason of every
// downstream connected now or gone before (0 until it happens, so that a
// first disconnect shows as an increase), the refused handshakes, and
// whatever else was counted.
func collectDisconnects[T any](ch chan<- prometheus.Metric, connected map[string]T, gone map[relay.Disconnect]uint64) {
	keys := map[relay.Disconnect]bool{{Reason: "refused"}: true}
	for d := range gone {
		keys[d] = true
		if d.Name != "" {
			for _, reason := range disconnectReasons {
				keys[relay.Disconnect{Name: d.Name, Reason: reason}] = true
			}
		}
	}
	for name := range connected {
		for _, reason := range disconnectReasons {
			keys[relay.Disconnect{Name: name, Reason: reason}] = true
		}
	}
	for d := range keys {
		downGone.emit(ch, float64(gone[d]), d.Name, d.Reason)
	}
}
