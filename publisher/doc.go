// Package publisher turns tick sources into the sequenced A/B feed of
// DESIGN.md ("The one idea": sources → normalizer → sequencer → batcher →
// A/B sender).
//
// One goroutine, the sequencer, owns the channel's sequence space, its books
// and the sending side (DESIGN.md, "Single writer"). Sources hand it
// batches of normalized messages through [Publisher.Publish]; it packs them
// into packets up to the configured size, flushes as soon as its input queue
// is empty (no added latency when idle), stamps their SendTime and hands them
// to an [egress.Egress], which puts them into the retransmit cache
// ([gap.Cache]) and then on line A and line B in chunks of 16 and to the
// QUIC link server. It keeps every instrument's book, sends BookChecksums
// periodically and after a resync, heartbeats when idle and an end of
// session on graceful stop. The UDP retransmit server and the link server
// answer from the cache; the link server also serves snapshots of the books.
// [Publisher.Run] returns a failure of either server; [Publisher.Close]
// releases what [New] opened for a publisher that never runs.
package publisher
