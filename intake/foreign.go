package intake

import (
	"log/slog"
	"net/netip"
	"slices"
	"sync"
)

// maxForeignSources bounds the table of senders of sessions not followed;
// packets from senders beyond it are counted together.
const maxForeignSources = 16

// ForeignSource counts the packets one sender sent of sessions the intake
// does not follow (DESIGN.md, "Liveness": a live session is never abandoned
// for a new one; packets of other sessions are counted per source and
// ignored): a second publisher on the same groups, a stale test publisher,
// forged packets, or a restarted publisher before it is adopted.
type ForeignSource struct {
	// Source is the sender's address; for a link, the zero value (the
	// link's peer is named by Line).
	Source netip.AddrPort
	// Line is the line the sender was first seen on.
	Line string
	// Session is the last session the sender sent.
	Session uint64
	// Packets counts its packets not followed.
	Packets uint64
}

// foreignSources is the bounded table of [ForeignSource]s. Any of the
// intake's goroutines add to it, rarely (only for packets not followed).
type foreignSources struct {
	log   *slog.Logger
	mu    sync.Mutex
	list  []ForeignSource
	other uint64 // packets from senders beyond the table
}

// add counts one packet of session from src on line; the first packet of a
// sender is logged, once.
func (f *foreignSources) add(src netip.AddrPort, line string, session uint64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := range f.list {
		if s := &f.list[i]; s.Source == src && (src.IsValid() || s.Line == line) {
			s.Packets++
			s.Session = session
			return
		}
	}
	if len(f.list) >= maxForeignSources {
		f.other++
		return
	}
	f.list = append(f.list, ForeignSource{Source: src, Line: line, Session: session, Packets: 1})
	f.log.Warn("ignoring packets of a session this intake does not follow "+
		"(a second or stale publisher on the lines, or forged packets; a restarted publisher is adopted "+
		"once the followed session has been silent for the line timeout)",
		"source", src, "line", line, "session", session)
}

// snapshot returns a copy of the table and the packets beyond it.
func (f *foreignSources) snapshot() ([]ForeignSource, uint64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.list), f.other
}
