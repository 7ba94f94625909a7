// Package bench is tickcast's benchmark suite (DESIGN.md, "Packages": bench;
// "Performance principles": measure against a floor; BENCHMARKING.md).
//
// [RunLatency] measures one-way latency at a fixed rate. Each side runs in a
// process of its own, started from this very executable (see [ChildEnv]):
// a publisher child paces the synthetic feed (publisher/synth's Generator)
// to a schedule, message i at start + i/rate, spinning on the clock because
// Go's timers wake a millisecond late on a VM, and stamps every message with
// its scheduled time as its exchange time; a subscriber child records, per
// message, its handler time minus that scheduled time. A sender that stalls
// cannot hide the stall: the figures are free of coordinated omission, as
// wrk2's are. The uncorrected figure (handler time − the packet's send time)
// is reported beside them.
//
// Every run compares, one after the other and with the same messages and
// pacing:
//
//   - tickcast: publisher.Publisher → lines A/B (or A) on loopback multicast
//     → the subscriber library with a handler, NACKing the publisher's
//     retransmit server;
//   - the floor: the same packets written with sendmmsg straight from the
//     pacing goroutine and read with recvmmsg, without any tickcast logic,
//     so every figure reads as a ratio to what the machine allows;
//   - peers: NATS (an embedded nats-server in the parent, nats.go clients in
//     the children, one NATS message per market message);
//   - the relay path (LatencyConfig.ViaRelay): the same publisher → a hub
//     relay child (the lines in, a QUIC link out) → an edge relay child (the
//     link in, its own A/B groups out) → the subscriber, four processes,
//     with certificates made for the run; each relay reports its latency
//     from the packet's send time, so every hop's share is measured.
//
// [RunThroughput] searches the highest rate tickcast sustains with zero loss
// at the subscriber, doubling then bisecting, directly or through the relay
// path. [StartRelayProcess] runs a hub or an edge as a child for the drills.
//
// Reports carry the percentiles (p50 … p99.99, max) in µs, counts, ratios,
// per-run figures and their range over runs, and the processes and CPUs
// each side used; [WriteHgrm] writes .hgrm files and [PlotPercentiles] the
// percentile-distribution plot. Children exit by themselves when their run
// ends, when their deadline passes, or when their parent goes (their stdin
// closes).
package bench
