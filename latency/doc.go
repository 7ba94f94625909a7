// Package latency records latencies in HDR histograms and reports their
// percentiles (DESIGN.md: the subscriber's feed and end-to-end latency, and
// the benchmark suite).
//
// A [Recorder] wraps an HdrHistogram (github.com/HdrHistogram/hdrhistogram-go)
// with nanosecond resolution and 3 significant digits: every value is kept
// within 0.1%, from 1 ns up to the recorder's maximum, in a fixed amount of
// memory. Recording never allocates. Values the histogram cannot hold are
// clamped rather than dropped, and counted: a negative latency (clock skew
// between sender and receiver) is recorded as 0, and one above the maximum as
// the maximum. [Recorder.RecordCorrected] corrects for coordinated omission
// when samples are expected at a fixed interval.
//
// [Recorder.Summary] gives the usual percentiles as durations and a one-line
// [Summary.String]; [Recorder.WriteHgrm] writes the standard .hgrm percentile
// distribution that HdrHistogram's plotting tools read. [Recorder.Interval]
// takes the samples recorded since the previous call, for periodic reports,
// and [Recorder.Merge] combines recorders. A recorder encodes to JSON and
// back ([Recorder.MarshalJSON]) with its exact statistics, so processes can
// send each other histograms (the benchmark's children do), and
// [Recorder.Percentiles] gives the points of a percentile-distribution plot.
//
// [Buckets] count recorders over fixed bounds ([DefaultBounds]: 10 µs to
// 10 s, 1-2-5), the form a Prometheus histogram exports; a [Tally] drains a
// live recorder that another goroutine records into (holding the owner's lock
// only for a pointer swap) and keeps both its interval for [Tally.Take] and
// its running total as Buckets for a scrape.
//
// The subscriber keeps one recorder per measurement (receive time − packet
// send time; receive time − exchange time; kernel receive timestamp − send
// time, which separates Go scheduling from the network), each owned by one
// goroutine.
package latency
