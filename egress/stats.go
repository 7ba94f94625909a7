package egress

import "net/netip"

// LineStats counts one line's sending side.
type LineStats struct {
	Name          string
	Group         netip.AddrPort
	Packets       uint64 // datagrams written
	Bytes         uint64
	Errors        uint64 // failed writes (logged at most once a second)
	Failing       bool   // the last write failed
	Killed        bool   // stopped by KillLine now
	KilledPackets uint64 // packets not sent because the line was killed
	FaultDropped  uint64 // packets dropped by the line's fault injection
}

// Stats are an Egress's counters.
type Stats struct {
	Lines []LineStats
	Split uint64 // packets over MaxPacket that were split
}

// Stats returns the current counters. Safe from any goroutine.
func (e *Egress) Stats() Stats {
	s := Stats{Split: e.split.Load(), Lines: make([]LineStats, len(e.lines))}
	for i, l := range e.lines {
		s.Lines[i] = l.stats()
	}
	return s
}
