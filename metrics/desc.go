package metrics

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
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
