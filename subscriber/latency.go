package subscriber

import (
	"sync"
	"time"

	"github.com/tickcast/tickcast/latency"
)

// maxLatency is the largest latency the histograms resolve; larger values
// are clamped and counted.
const maxLatency = time.Minute

// latencies are the subscriber's HDR histograms. The dispatcher records
// under mu (uncontended, a few ns per packet); TakeLatency and a metrics
// scrape drain them through their tallies, which hold mu only to swap a
// recorder for an empty one.
type latencies struct {
	mu       sync.Mutex
	feed     *latency.Recorder // handler dispatch time − packet send time
	network  *latency.Recorder // kernel receive time − packet send time
	exchange *latency.Recorder // handler dispatch time − exchange time of each message

	feedT, networkT, exchangeT *latency.Tally
}

func newLatencies() *latencies {
	l := &latencies{
		feed:     latency.NewRecorder(maxLatency),
		network:  latency.NewRecorder(maxLatency),
		exchange: latency.NewRecorder(maxLatency),
	}
	for _, t := range []**latency.Tally{&l.feedT, &l.networkT, &l.exchangeT} {
		*t, _ = latency.NewTally(maxLatency, nil) // cannot fail: the default bounds
	}
	return l
}

// record takes one packet's latencies: its send time, its receive time (0
// = unknown) and the exchange times of the messages applied, all against
// now, under one lock.
func (l *latencies) record(now, sendTime, rxTime int64, exch []uint64) {
	l.mu.Lock()
	l.feed.RecordNanos(now - sendTime)
	if rxTime != 0 {
		l.network.RecordNanos(rxTime - sendTime)
	}
	for _, e := range exch {
		if e != 0 {
			l.exchange.RecordNanos(now - int64(e))
		}
	}
	l.mu.Unlock()
}

// swapper returns the Swap of one of l's live recorders.
func (l *latencies) swapper(live **latency.Recorder) latency.Swap {
	return func(empty *latency.Recorder) *latency.Recorder {
		l.mu.Lock()
		defer l.mu.Unlock()
		full := *live
		*live = empty
		return full
	}
}

// Latency holds copies of the subscriber's histograms.
type Latency struct {
	// Feed: from the publisher's send time to the handler call, per packet.
	Feed *latency.Recorder
	// Network: from the publisher's send time to the receive time (the
	// kernel's with KernelTimestamps, else the reader's), per packet: the
	// difference to Feed is the subscriber's own queueing and scheduling.
	Network *latency.Recorder
	// Exchange: from each message's exchange time to the handler call (for
	// the synthetic source, its scheduled send time: coordinated-omission
	// free end-to-end latency).
	Exchange *latency.Recorder
}

// TakeLatency returns the histograms recorded since the previous call (or
// the start) and starts new ones: call it every second for a live view and
// Merge the results for a run's total. The recorders are reused by the next
// call. A metrics scrape ([Subscriber.LatencyBuckets]) takes nothing from
// them.
func (s *Subscriber) TakeLatency() Latency {
	l := s.lat
	return Latency{
		Feed:     l.feedT.Take(l.swapper(&l.feed)),
		Network:  l.networkT.Take(l.swapper(&l.network)),
		Exchange: l.exchangeT.Take(l.swapper(&l.exchange)),
	}
}

// LatencyBuckets are a subscriber's latency histograms since its start,
// over [latency.DefaultBounds]: what package metrics exports.
type LatencyBuckets struct {
	Feed, Network, Exchange *latency.Buckets // as in [Latency]
}

// LatencyBuckets returns copies of the latency histograms since the start,
// counted over latency.DefaultBounds. It walks the histograms (call it per
// scrape, not per packet) and holds the dispatcher's latency lock only to
// swap each recorder for an empty one; TakeLatency still sees everything.
func (s *Subscriber) LatencyBuckets() LatencyBuckets {
	l := s.lat
	return LatencyBuckets{
		Feed:     l.feedT.Buckets(l.swapper(&l.feed)),
		Network:  l.networkT.Buckets(l.swapper(&l.network)),
		Exchange: l.exchangeT.Buckets(l.swapper(&l.exchange)),
	}
}
