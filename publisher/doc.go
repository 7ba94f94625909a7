// Package publisher turns tick sources into the sequenced A/B feed of
// DESIGN.md ("The one idea": sources → normalizer → sequencer → batcher →
// A/B sender).
//
// One goroutine, the sequencer, owns the channel's sequence space, its books
// and both lines' sockets (DESIGN.md, "Single writer"). Sources hand it
// batches of normalized messages through [Publisher.Publish]; it packs them
// into packets up to the configured size, flushes as soon as its input queue
// is empty (no added latency when idle), and writes every packet to line A
// and line B with one sendmmsg each. It keeps every instrument's book, sends
// BookChecksums periodically and after a resync, heartbeats when idle and an
// end of session on graceful stop. Sent packets go to the retransmit cache
// ([gap.Cache]), which the UDP retransmit server and the QUIC link server
// answer from; the link server also gets every live packet and serves
// snapshots of the books.
package publisher
