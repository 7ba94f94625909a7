package metrics

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tickcast/tickcast/latency"
)

// family is one metric's description and kind.
type family struct {
	desc *prometheus.Desc
	kind prometheus.ValueType
}

func counter(name, help string, labels ...string) family {
	return family{prometheus.NewDesc("tickcast_"+name, help, labels, nil), prometheus.CounterValue}
}

func gauge(name, help string, labels ...string) family {
	return family{prometheus.NewDesc("tickcast_"+name, help, labels, nil), prometheus.GaugeValue}
}

// emit sends one sample of f.
func (f family) emit(ch chan<- prometheus.Metric, v float64, labels ...string) {
	ch <- prometheus.MustNewConstMetric(f.desc, f.kind, v, labels...)
}

// histogram is a latency histogram family, exported from latency.Buckets
// at scrape time (the hot path records into HDR histograms as it always
// has).
type histogram struct{ desc *prometheus.Desc }

func newHistogram(name, help string, labels ...string) histogram {
	return histogram{prometheus.NewDesc("tickcast_"+name, help, labels, nil)}
}

// emit sends b as one histogram sample of h.
func (h histogram) emit(ch chan<- prometheus.Metric, b *latency.Buckets, labels ...string) {
	cum := b.Cumulative(nil)
	buckets := make(map[float64]uint64, len(cum))
	for i, bound := range b.Bounds() {
		buckets[bound.Seconds()] = cum[i]
	}
	ch <- prometheus.MustNewConstHistogram(h.desc, b.Count(), b.SumSeconds(), buckets, labels...)
}

// describeHistograms sends the histograms' descriptions.
func describeHistograms(ch chan<- *prometheus.Desc, hs ...histogram) {
	for _, h := range hs {
		ch <- h.desc
	}
}

// describe sends every family's description.
func describe(ch chan<- *prometheus.Desc, fs ...[]family) {
	for _, group := range fs {
		for _, f := range group {
			ch <- f.desc
		}
	}
}

func channelLabel(id uint16) string { return strconv.Itoa(int(id)) }

func bool01(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
