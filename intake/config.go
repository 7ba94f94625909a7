package intake

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"net/netip"
	"strconv"
	"time"

	"github.com/tickcast/tickcast/gap"
	"github.com/tickcast/tickcast/internal/fault"
	"github.com/tickcast/tickcast/wire"
)

// Defaults of [Config].
const (
	DefaultWindow      = 200 * time.Microsecond
	DefaultLineTimeout = 300 * time.Millisecond
	DefaultQueue       = 16384
)

// Line is one multicast line to join (DESIGN.md, "A/B arbitration").
type Line struct {
	// Name labels the line in stats and logs ("A", "B"); "" = "line<i>".
	Name string
	// Group is the multicast group and port of the line; required, IPv4.
	Group netip.AddrPort
	// Interface is the interface name ("lo", "eth0") or one of its IPv4
	// addresses; required.
	Interface string
	// Source is the address of the line's sender (the publisher or relay):
	// the group is then joined source-specifically (IGMPv3 SSM), so the
	// kernel drops every other sender's datagrams, and each datagram's
	// source is checked too (LineStats.ForeignSource). The zero value
	// accepts any sender.
	Source netip.Addr
	// Faults injects loss, duplication, reordering or delay on this line's
	// receiving side, in-process (tests and drills), in
	// internal/fault.ParseSpec's form ("drop=0.01,seed=3"); "" = none.
	Faults string
}

// Link is a QUIC link (DESIGN.md, "The QUIC link") to a publisher or relay.
type Link struct {
	// Name labels the link in stats and logs; "" = Addr.
	Name string
	// Addr is the link server's host:port; required.
	Addr string
	// TLS holds this client's certificate and the operator's CA
	// (pki.ClientTLS builds it); required.
	TLS *tls.Config
	// Live also takes the live packets from the link, as one more
	// arbitrated line (a remote subscriber without multicast, an edge
	// relay's A path and B path); false = the link only serves snapshots
	// and NACKs.
	Live bool
}

// Tuning are the arbiter settings an owner may choose (see [gap.Config]
// for each); the zero value of each is gap's default. The channel, the
// number of lines, the window and the NACK path are the intake's.
type Tuning struct {
	// MaxHeldPackets and MaxHeldBytes bound the packets held ahead of a
	// hole; 0 = 16384 packets, 32 MiB.
	MaxHeldPackets, MaxHeldBytes int
	// MinRTO and MaxRTO bound the wait before a NACK is retried; 0 =
	// 500µs and 200ms.
	MinRTO, MaxRTO time.Duration
	// MaxRetries is how many NACKs a hole gets before it is given up to
	// the consumer (EventLost); 0 = 12.
	MaxRetries int
	// MaxRequest caps the messages asked for in one NACK; 0 = 2048.
	MaxRequest uint32
	// Coalesce merges two missing ranges closer than this; 0 = 16.
	Coalesce uint64
	// JoinBackfill: a session first seen this close to its start is
	// followed from sequence 1; 0 = 2048, negative = never.
	JoinBackfill int
	// OnRepair, if set, gets every hole filled with how long it was open
	// and how many NACKs it took; it runs with the arbiter locked.
	OnRepair func(open time.Duration, nacks int)
}

// Config configures an [Intake]. The zero value of a field means the
// default given beside it; everything is plain data.
type Config struct {
	// Channel to follow.
	Channel uint16
	// Lines are the multicast lines (A, B, …): lines 0, 1, … At least one
	// line or one Live link is required, at most gap.MaxLines lines in all.
	Lines []Line
	// Links are QUIC links to publishers or relays, in order of
	// preference: live ones become lines after Lines, in order; snapshot
	// requests (and NACKs when RetransmitAddr is not set) go to the first
	// link that is connected, failing over to the next. Each link
	// reconnects with backoff and jitter on its own: a dead link is a line
	// down, not an outage.
	Links []Link
	// RetransmitAddr is a UDP retransmit server to NACK on a LAN; the zero
	// value NACKs over the links, or not at all without one.
	RetransmitAddr netip.AddrPort
	// Window is the arbitration window before a hole is NACKed; 0 =
	// DefaultWindow, negative = NACK at once.
	Window time.Duration
	// LineTimeout marks a silent line down; 0 = DefaultLineTimeout (three
	// heartbeats).
	LineTimeout time.Duration
	// Queue bounds the deliveries waiting for the consumer (and held by
	// it, see [Intake.Hold]); 0 = DefaultQueue, at least 16. When the
	// consumer falls that far behind, the backlog is dropped and the
	// consumer gets an [EventReset] with [ResetOverrun]: a slow consumer
	// never grows memory without bound.
	Queue int
	// KernelTimestamps takes every datagram's receive time from the kernel
	// (SO_TIMESTAMPNS) instead of the reader's clock.
	KernelTimestamps bool
	// BusyPoll reads every line from one goroutine spinning on
	// non-blocking recvmmsg (DESIGN.md, "Optional spinning"): the lowest
	// latency at the cost of one core; false = readers block.
	BusyPoll bool
	// Gap tunes the arbiter.
	Gap Tuning
	// Consumer receives the in-order stream; required.
	Consumer Consumer
	// Stale, if set, is called for a retransmitted packet
	// (wire.FlagRetransmission, from the UDP server or a link) whose
	// messages had all been delivered already, so the arbiter does not need
	// it: a relay refills its retransmit cache from it for the downstream
	// NACKs it forwarded with [Intake.Request]. It is called from any of
	// the intake's goroutines, must not block, and p is valid only during
	// the call. Best effort: a retransmission racing the same messages on a
	// line may be reported neither to Stale nor delivered.
	Stale func(p wire.Packet)
	// Logger; nil = slog.Default().
	Logger *slog.Logger
}

// lines returns the number of arbitrated lines: Lines, then live links.
func (c *Config) lines() int {
	n := len(c.Lines)
	for _, l := range c.Links {
		if l.Live {
			n++
		}
	}
	return n
}

// normalize validates c and fills in the defaults; it returns the parsed
// fault configuration of each line (nil = none).
func (c *Config) normalize() ([]*fault.Config, error) {
	if c.Consumer == nil {
		return nil, fmt.Errorf("intake: Consumer: required")
	}
	n := c.lines()
	if n == 0 {
		return nil, fmt.Errorf("intake: no line: configure Lines or a Links entry with Live")
	}
	if n > gap.MaxLines {
		return nil, fmt.Errorf("intake: %d lines (Lines and Live links): at most %d", n, gap.MaxLines)
	}
	faults := make([]*fault.Config, len(c.Lines))
	for i := range c.Lines {
		l := &c.Lines[i]
		if !l.Group.IsValid() || !l.Group.Addr().Is4() || !l.Group.Addr().IsMulticast() || l.Group.Port() == 0 {
			return nil, fmt.Errorf("intake: Lines[%d].Group %q: want an IPv4 multicast group:port", i, l.Group)
		}
		if l.Interface == "" {
			return nil, fmt.Errorf("intake: Lines[%d].Interface: required (name or IPv4 address)", i)
		}
		if l.Name == "" {
			l.Name = "line" + strconv.Itoa(i)
		}
		if l.Faults != "" {
			fc, err := fault.ParseSpec(l.Faults)
			if err != nil {
				return nil, fmt.Errorf("intake: Lines[%d].Faults: %w", i, err)
			}
			faults[i] = &fc
		}
	}
	for i := range c.Links {
		l := &c.Links[i]
		if l.Addr == "" {
			return nil, fmt.Errorf("intake: Links[%d].Addr: required", i)
		}
		if l.TLS == nil {
			return nil, fmt.Errorf("intake: Links[%d].TLS: required (certificate from the operator's CA)", i)
		}
		if l.Name == "" {
			l.Name = l.Addr
		}
	}
	if c.Window == 0 {
		c.Window = DefaultWindow
	}
	if c.LineTimeout == 0 {
		c.LineTimeout = DefaultLineTimeout
	}
	if c.LineTimeout < 0 {
		return nil, fmt.Errorf("intake: LineTimeout %v: negative", c.LineTimeout)
	}
	if c.Queue == 0 {
		c.Queue = DefaultQueue
	}
	if c.Queue < 16 {
		return nil, fmt.Errorf("intake: Queue %d: at least 16", c.Queue)
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return faults, nil
}

// gapConfig is the arbiter's configuration: the owner's tuning plus what
// the intake decides.
func (c *Config) gapConfig(req gap.Requester) gap.Config {
	t := c.Gap
	return gap.Config{
		Channel:        c.Channel,
		Lines:          c.lines(),
		Window:         c.Window,
		MaxHeldPackets: t.MaxHeldPackets,
		MaxHeldBytes:   t.MaxHeldBytes,
		MinRTO:         t.MinRTO,
		MaxRTO:         t.MaxRTO,
		MaxRetries:     t.MaxRetries,
		MaxRequest:     t.MaxRequest,
		Coalesce:       t.Coalesce,
		JoinBackfill:   t.JoinBackfill,
		OnRepair:       t.OnRepair,
		Requester:      req,
	}
}
