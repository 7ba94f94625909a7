// Package drill runs tickcast's failover, loss, restart, WAN and fan-out drills
// (DESIGN.md, "Who uses it and how": kill the A line, the application must
// see nothing but a latency blip; and "Recovery ladder").
//
// A drill runs a synthetic publisher and a subscriber in one process, on
// loopback multicast (a private pair of groups in 239/8 on lo, TTL 0, random
// ports), with the publisher's UDP retransmit server and QUIC link server on
// 127.0.0.1. It breaks something on purpose while the feed runs, then ends
// the session, waits for the subscriber to apply the last sequence and
// compares every subscriber book with the publisher's by CRC-32C:
//
//   - [Failover]: the publisher's line A (or B) sender stops mid-stream.
//     Promise: nothing lost, no gap the application sees, books equal; the
//     subscriber reports the line down.
//   - [Loss]: independent random loss on both lines at the subscriber,
//     repaired by the other line or by NACK over UDP. Promise: nothing lost,
//     no gap the application sees, books equal; recovery times measured.
//   - [Restart]: the publisher stops gracefully mid-run and a new one starts
//     a new session on the same groups and ports. Promise: nothing lost, the
//     subscriber follows the new session and its books equal the new
//     publisher's.
//   - [WAN]: publisher → hub relay → two impaired WAN paths (in-process
//     UDP proxies: loss, delay, jitter, blackhole) → edge relay →
//     subscriber. Promise: nothing lost, books equal, path A seen down when
//     blackholed; per-hop latency measured against the 2-RTT goal.
//   - [Fanout]: one hub feeding N edge relays (and slow ones behind a
//     bandwidth cap). Promise: every healthy edge's books equal, slow edges
//     shown losing or cut off; the arrival spread measured.
//
// The relay drills can run their relays as child processes
// (WANConfig.Processes, FanoutConfig.Processes; see bench.StartRelayProcess)
// so that each relay's CPU is its own.
//
// Every drill is bounded in time: the feed runs for [Feed.Duration], and
// every wait after it is bounded by [Feed.Settle]. The results are plain
// structs with stable JSON names ([Result]); [Report.Failures] says whether
// the drill kept its promise.
package drill
