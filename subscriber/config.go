package subscriber

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"net/netip"
	"time"

	"github.com/tickcast/tickcast/gap"
	"github.com/tickcast/tickcast/internal/fault"
)

// Line is one multicast line to join.
type Line struct {
	// Group is the multicast group and port of the line; required.
	Group netip.AddrPort
	// Interface is the interface name ("lo", "eth0") or one of its IPv4
	// addresses; required.
	Interface string
	// Faults injects loss, duplication, reordering or delay on this line's
	// receiving side, in-process (tests and drills); nil = none.
	Faults *fault.Config
}

// Link is a QUIC link to a publisher or relay (DESIGN.md, "The QUIC link").
type Link struct {
	// Addr is the link server's host:port; required.
	Addr string
	// TLS holds this subscriber's certificate and the operator's CA
	// (pki.ClientTLS builds it); required.
	TLS *tls.Config
	// Live also takes the live packets from the link, as one more line
	// (a remote subscriber without multicast); false = the link only serves
	// snapshots and NACKs.
	Live bool
}

// Config configures a [Subscriber]. The zero value of a field means the
// default given beside it; everything is plain data (no files, no globals).
type Config struct {
	// Channel to follow.
	Channel uint16
	// Lines are the multicast lines (A, B, …); at least one line or a live
	// Link is required.
	Lines []Line
	// Link, if set, is used for snapshots (late join, unrecoverable gap,
	// session change, checksum mismatch, overrun), for NACKs when
	// RetransmitAddr is not set, and for live packets if Link.Live.
	Link *Link
	// RetransmitAddr is a UDP retransmit server to NACK on a LAN; the zero
	// value NACKs over the Link, or not at all.
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
	// Gap tunes the arbiter further (retries, RTO bounds, hold buffer); its
	// Channel, Lines, Window and Requester are set by the subscriber.
	Gap gap.Config
	// Logger; nil = slog.Default().
	Logger *slog.Logger
}

func (c *Config) normalize() error {
	if len(c.Lines) == 0 && (c.Link == nil || !c.Link.Live) {
		return fmt.Errorf("subscriber: no line: configure Lines or a Link with Live")
	}
	if len(c.Lines)+1 > gap.MaxLines {
		return fmt.Errorf("subscriber: %d lines: at most %d", len(c.Lines), gap.MaxLines-1)
	}
	for i, l := range c.Lines {
		if !l.Group.IsValid() || !l.Group.Addr().Is4() || !l.Group.Addr().IsMulticast() || l.Group.Port() == 0 {
			return fmt.Errorf("subscriber: Lines[%d].Group %q: want an IPv4 multicast group:port", i, l.Group)
		}
		if l.Interface == "" {
			return fmt.Errorf("subscriber: Lines[%d].Interface: required (name or IPv4 address)", i)
		}
	}
	if c.Link != nil {
		if c.Link.Addr == "" {
			return fmt.Errorf("subscriber: Link.Addr: required")
		}
		if c.Link.TLS == nil {
			return fmt.Errorf("subscriber: Link.TLS: required (certificate from the operator's CA)")
		}
	}
	if c.Window == 0 {
		c.Window = 200 * time.Microsecond
	}
	if c.Queue == 0 {
		c.Queue = 16384
	}
	if c.Queue < 16 {
		return fmt.Errorf("subscriber: Queue %d: at least 16", c.Queue)
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return nil
}
