package subscriber

import (
	"sync"
	"time"

	"github.com/tickcast/tickcast/latency"
)

// maxLatency is the largest latency the histograms resolve; larger values
// are clamped and counted.
const maxLatency = time.Minute

// latencies are the subscriber's HDR histograms. The dispatcher records;
// Latency reads from any goroutine, so a mutex guards them (uncontended,
// a few ns per packet).
type latencies struct {
	mu       sync.Mutex
	feed     *latency.Recorder // handler dispatch time − packet send time
	network  *latency.Recorder // kernel receive time − packet send time
	exchange *latency.Recorder // handler dispatch time − exchange time of each message
}

func newLatencies() *latencies {
	return &latencies{
		feed:     latency.NewRecorder(maxLatency),
		network:  latency.NewRecorder(maxLatency),
		exchange: latency.NewRecorder(maxLatency),
	}
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
// Merge the results for a run's total.
func (s *Subscriber) TakeLatency() Latency {
	l := s.lat
	l.mu.Lock()
	defer l.mu.Unlock()
	return Latency{Feed: l.feed.Interval(), Network: l.network.Interval(), Exchange: l.exchange.Interval()}
}
