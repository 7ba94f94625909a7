package impair

import "sync/atomic"

// DirStats counts what one direction did. Every packet received is sent
// on, dropped or still held, and a duplicated packet counts twice after the
// loss stage: In + Duplicated = Out + Lost + Blackholed + RateDropped +
// Overflow + Failed + InFlight.
type DirStats struct {
	In          uint64 // packets received
	Out         uint64 // packets sent on, a duplicated packet twice
	Lost        uint64 // random and burst loss
	Duplicated  uint64 // packets sent twice
	Reordered   uint64 // packets held ReorderExtra longer
	RateDropped uint64 // dropped: the rate cap's queue was full
	Overflow    uint64 // dropped: MaxInFlight packets were held already
	Blackholed  uint64 // dropped by the blackhole, at intake or when due
	Failed      uint64 // the send failed (upstream unreachable, session expired)
	InFlight    int    // packets held now (a gauge)
	QueuedBytes int64  // bytes waiting for the rate cap now (a gauge)
}

// Stats is a snapshot of a [Proxy]'s counters. Each counter is read
// atomically; the set is not taken at one instant.
type Stats struct {
	Up       DirStats // client → upstream
	Down     DirStats // upstream → client
	Sessions int      // clients served now (a gauge)
	Opened   uint64   // client sessions opened
	Expired  uint64   // client sessions closed for being idle
	Refused  uint64   // packets dropped: MaxSessions clients served already
}

// counters are a direction's counters, written by its goroutines.
type counters struct {
	in, out, lost, duplicated, reordered, rateDropped, overflow, blackholed, failed atomic.Uint64
}

func (c *counters) load() DirStats {
	return DirStats{
		In: c.in.Load(), Out: c.out.Load(), Lost: c.lost.Load(), Duplicated: c.duplicated.Load(),
		Reordered: c.reordered.Load(), RateDropped: c.rateDropped.Load(), Overflow: c.overflow.Load(),
		Blackholed: c.blackholed.Load(), Failed: c.failed.Load(),
	}
}
