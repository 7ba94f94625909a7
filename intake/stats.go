package intake

import (
	"github.com/tickcast/tickcast/gap"
	"github.com/tickcast/tickcast/internal/link"
)

// LineStats are one line's counters: the arbiter's view (which line won)
// plus what the intake saw at the socket.
type LineStats struct {
	Name string // Line.Name, or the live link's Name
	gap.LineStats
	Datagrams uint64 // datagrams read from the socket (before fault injection); 0 for a link
	Bytes     uint64 // their bytes (UDP payload); 0 for a link
	Malformed uint64 // datagrams that were not valid packets: dropped
	// ForeignSource counts datagrams from a sender other than Line.Source
	// that reached the socket (the kernel drops the rest): dropped.
	ForeignSource uint64
	Up            bool   // the line delivered within LineTimeout
	Downs         uint64 // times the line went down
}

// LinkStats are one link's counters.
type LinkStats struct {
	Name      string
	Addr      string
	Line      int  // the line index of its live packets; -1 if not Live
	Connected bool // a connection is up now
	Dials     uint64
	Drops     uint64           // connections lost (each followed by a redial)
	Client    link.ClientStats // the current connection's counters (zero when down)
}

// Stats are an intake's counters (DESIGN.md, "Per-channel, per-line
// counters").
type Stats struct {
	Lines      []LineStats     // Lines, then live links
	Links      []LinkStats     // in Config.Links order
	Gap        gap.Stats       // the arbiter: delivered, gaps, NACKs, retransmissions, lost…
	Retransmit gap.ClientStats // the UDP retransmit client, if any
	QueueDrops uint64          // deliveries dropped because the consumer was behind
	QueueDepth int             // deliveries waiting for the consumer now (at most Config.Queue)
	Overruns   uint64          // EventReset reports for those drops
	Stale      uint64          // retransmissions passed to Config.Stale
	// ForeignSources are the senders of packets of sessions not followed
	// (at most 16), ForeignOther the packets of senders beyond them.
	ForeignSources []ForeignSource
	ForeignOther   uint64
}

// Stats returns the current counters. Safe from any goroutine.
func (in *Intake) Stats() Stats {
	g := in.stream.Stats()
	st := Stats{
		Gap:        g,
		QueueDrops: in.q.drops.Load(),
		QueueDepth: len(in.q.ready),
		Overruns:   in.overruns.Load(),
		Stale:      in.stale.Load(),
		Lines:      make([]LineStats, len(g.Lines)),
		Links:      make([]LinkStats, len(in.links)),
	}
	for i := range g.Lines {
		ls := &st.Lines[i]
		ls.LineStats = g.Lines[i]
		ls.Up, ls.Downs = in.stream.LineUp(i)
		if i < len(in.readers) {
			r := in.readers[i]
			ls.Name = r.name
			ls.Datagrams = r.datagrams.Load()
			ls.Bytes = r.bytes.Load()
			ls.Malformed = r.malformed.Load()
			ls.ForeignSource = r.recv.Stats().ForeignSource
		}
	}
	for i, l := range in.links {
		ks := &st.Links[i]
		ks.Name, ks.Addr, ks.Line = l.cfg.Name, l.cfg.Addr, l.index
		ks.Connected = l.connected.Load()
		ks.Dials, ks.Drops = l.dials.Load(), l.drops.Load()
		if c := l.client.Load(); c != nil {
			ks.Client = c.Stats()
		}
		if l.index >= 0 && l.index < len(st.Lines) {
			st.Lines[l.index].Name = l.cfg.Name
		}
	}
	if in.rtx != nil {
		st.Retransmit = in.rtx.Stats()
	}
	st.ForeignSources, st.ForeignOther = in.foreign.snapshot()
	return st
}
