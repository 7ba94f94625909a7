package subscriber

import (
	"fmt"
	"log/slog"
	"net/netip"
	"time"

	"github.com/tickcast/tickcast/intake"
	"github.com/tickcast/tickcast/internal/fault"
)

// Line is one multicast line to join (see [intake.Line]): Name, Group,
// Interface and Faults (an internal/fault.ParseSpec spec, "" = none).
type Line = intake.Line

// Link is a QUIC link to a publisher or relay (see [intake.Link]): Name,
// Addr, TLS and Live.
type Link = intake.Link

// Config configures a [Subscriber]. The zero value of a field means the
// default given beside it; everything is plain data (no files, no globals).
type Config struct {
	// Channel to follow.
	Channel uint16
	// Lines are the multicast lines (A, B, …); at least one line or a live
	// link is required.
	Lines []Line
	// Links are QUIC links in order of preference, used for snapshots
	// (late join, unrecoverable gap, session change, checksum mismatch,
	// overrun: the first connected one, failing over to the next), for
	// NACKs when RetransmitAddr is not set, and for live packets if Live
	// (each live link is one more line, after Lines). Empty = no snapshots:
	// books restart empty after a reset.
	Links []Link
	// Recovery are the recovery loop's groups (A, B; package recovery):
	// without a link, a late join, a gap lost for good or any other reset
	// joins them, rebuilds every book from the loop and leaves them when
	// all are whole. Empty = no loop: without a link, books restart empty
	// after a reset and fill as the source clears them. With a link the
	// link is preferred.
	Recovery []Line
	// RetransmitAddr is a UDP retransmit server to NACK on a LAN; the zero
	// value NACKs over the links, or not at all.
	RetransmitAddr netip.AddrPort
	// Window is the arbitration window before a hole is NACKed; 0 = 200µs.
	Window time.Duration
	// LineTimeout marks a silent line down; 0 = 300ms (3 heartbeats).
	LineTimeout time.Duration
	// Queue bounds the packets waiting for the handler; 0 = 16384. When the
	// handler falls that far behind, the subscriber drops the backlog,
	// resets (ResetOverrun) and recovers by snapshot: a slow handler never
	// grows memory without bound.
	Queue int
	// KernelTimestamps records the kernel receive time of every datagram
	// (SO_TIMESTAMPNS), so network and Go scheduling latency show apart.
	KernelTimestamps bool
	// BusyPoll reads every line from one goroutine that spins on
	// non-blocking recvmmsg instead of parking between packets (DESIGN.md,
	// "Optional spinning"): the lowest latency, especially on VMs where
	// waking an idle vCPU takes tens of µs, at the cost of one core kept
	// busy. false = readers block and cost nothing when idle.
	BusyPoll bool
	// Handler receives the events; nil = events are only counted (books and
	// latency are still kept).
	Handler Handler
	// Gap tunes the arbiter further (retries, RTO bounds, hold buffer).
	Gap intake.Tuning
	// StaleAfter is how long an instrument the publisher reports OK may go
	// without an update (a level update or a trade) before
	// [Subscriber.Instruments] reports it stale; 0 = 10s, negative = never.
	StaleAfter time.Duration
	// InstrumentMetrics is how many instruments [Subscriber.Instruments]
	// describes one by one (the first, in order of appearance), and so how
	// many get their own series in package metrics (update age, updates,
	// status). 0 = none: only the counts per status. Every instrument adds
	// a few series to each scrape: keep it to those watched.
	InstrumentMetrics int
	// Logger; nil = slog.Default().
	Logger *slog.Logger
}

// queueLen is Config.Queue with its default.
// checkRecovery validates the recovery lines (joined only when needed, so
// their errors would otherwise show late).
func (c *Config) checkRecovery() error {
	for i, l := range c.Recovery {
		if !l.Group.IsValid() || !l.Group.Addr().Is4() || !l.Group.Addr().IsMulticast() || l.Group.Port() == 0 {
			return fmt.Errorf("subscriber: Recovery[%d].Group %q: want an IPv4 multicast group:port", i, l.Group)
		}
		if l.Interface == "" {
			return fmt.Errorf("subscriber: Recovery[%d].Interface: required (name or IPv4 address)", i)
		}
		if l.Faults != "" {
			if _, err := fault.ParseSpec(l.Faults); err != nil {
				return fmt.Errorf("subscriber: Recovery[%d].Faults: %w", i, err)
			}
		}
	}
	return nil
}

// DefaultStaleAfter is Config.StaleAfter's value when it is 0.
const DefaultStaleAfter = 10 * time.Second

// staleAfter is Config.StaleAfter with its default; 0 = never stale.
func (c *Config) staleAfter() time.Duration {
	switch {
	case c.StaleAfter == 0:
		return DefaultStaleAfter
	case c.StaleAfter < 0:
		return 0
	}
	return c.StaleAfter
}

func (c *Config) queueLen() int {
	if c.Queue == 0 {
		return intake.DefaultQueue
	}
	return c.Queue
}
