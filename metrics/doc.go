// Package metrics exports tickcast's counters to Prometheus
// (prometheus/client_golang): a [prometheus.Collector] for a subscriber, a
// publisher and a relay, which read the component's Stats at scrape time.
// Nothing is counted twice and the hot path pays nothing for it: the
// per-packet counters the components keep anyway are exported as they are.
//
// Names follow Prometheus conventions (tickcast_…_total for counters, base
// units); labels are channel, line, reason and, for a relay's downstreams,
// the certificate name (bounded by the downstreams allowed to connect). No
// series is per instrument. The README lists every metric.
package metrics
