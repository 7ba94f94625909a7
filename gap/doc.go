// Package gap turns N redundant, lossy, reordered lines into one gap-free
// sequence (DESIGN.md, "The one idea" and "Recovery ladder").
//
// It holds the pieces every tickcast component shares, so the publisher, the
// relay and the subscriber use one arbiter, one cache and one retransmit
// server:
//
//   - [Arbiter] takes packets from any number of lines, delivers every sequence
//     exactly once and in order, holds early packets in a bounded buffer, finds
//     gaps (including tail gaps revealed by heartbeats), follows session changes
//     and tells its consumer explicitly when a gap could not be filled.
//   - The arbiter's NACK scheduling waits a short arbitration window before
//     asking (the other line usually fills a hole within microseconds),
//     coalesces missing ranges, retries with backoff a bounded number of times,
//     then gives up to the snapshot path.
//   - [Cache] is a ring of recent packets keyed by sequence, bounded by bytes and
//     by messages, with O(1) lookup.
//   - [Policy] is the one retransmit policy: an allowlist, per-answer caps and
//     a token bucket per requester, used by the UDP [Server] and by the QUIC
//     link's server for NACKs.
//   - [Server] answers RetransmitRequests over unicast UDP from the Caches of
//     all of a daemon's channels, as its Policy allows; [Client] sends
//     requests and receives the answers.
package gap
