// Package metrics exports tickcast's counters to Prometheus
// (prometheus/client_golang): a [prometheus.Collector] for a subscriber, a
// publisher and a relay, which read the component's Stats at scrape time.
// Nothing is counted twice and the hot path pays nothing for it: the
// per-packet counters the components keep anyway are exported as they are,
// and the latency histograms are built at scrape time from the HDR
// histograms the subscriber and the relay record anyway (latency.Tally), as
// const histograms over latency.DefaultBounds (10µs to 10s, 1-2-5).
//
// Names follow Prometheus conventions (tickcast_…_total for counters, base
// units); labels are channel, line, reason, kind, status, link and, for a
// relay's downstreams, the certificate name (bounded by the downstreams
// allowed to connect). Series per instrument are opt-in and capped
// (subscriber.Config.InstrumentMetrics): by default a channel's instruments
// are only counted per status. The README lists every metric.
package metrics
