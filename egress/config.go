package egress

import (
	"fmt"
	"log/slog"
	"net/netip"

	"github.com/tickcast/tickcast/gap"
	"github.com/tickcast/tickcast/internal/fault"
	"github.com/tickcast/tickcast/wire"
)

// Line is one outgoing multicast line. TTL and interface are explicit
// (DESIGN.md, "Security and abuse").
type Line struct {
	// Name is for logs and stats ("A", "B"); "" = "line<i>".
	Name string
	// Group is the IPv4 multicast group and port; required.
	Group netip.AddrPort
	// Interface is the interface name or one of its IPv4 addresses; required.
	Interface string
	// TTL of the datagrams, 0..255: 0 keeps them on this host, 1 on the subnet.
	TTL int
	// Loopback delivers the datagrams to receivers on this host too.
	Loopback bool
	// Source is the local IPv4 address the line sends from (receivers that
	// name it join source-specifically, DESIGN.md "Security and abuse");
	// the zero value = the interface's address.
	Source netip.Addr
	// Faults is a fault spec as read by fault.ParseSpec ("drop=0.01,seed=1";
	// "" = none), injected on this line's sending side: drills and tests.
	Faults string
}

// Sink receives every packet sent, data and control, after the lines (a
// link server's Publish).
type Sink interface {
	Publish(channel uint16, pkt []byte)
}

// Config configures an [Egress].
type Config struct {
	// Channel is the channel the packets belong to, for the Sink.
	Channel uint16
	// Lines are the multicast lines; may be empty if Sink is set (a relay
	// serving only links).
	Lines []Line
	// MaxPacket is the datagram limit on the lines; 0 = wire.DefaultMaxPacket,
	// 128..wire.MaxJumboPacket. A bigger packet is split at message
	// boundaries before it is cached and sent.
	MaxPacket int
	// Cache, if set, gets every data packet before it is sent.
	Cache *gap.Cache
	// Sink, if set, gets every packet after the lines.
	Sink Sink
	// Logger; nil = slog.Default().
	Logger *slog.Logger
}

// normalize validates c, fills in the defaults and returns the parsed fault
// configurations, one per line (nil = none).
func (c *Config) normalize() ([]*fault.Config, error) {
	if len(c.Lines) == 0 && c.Sink == nil {
		return nil, fmt.Errorf("egress: no Lines and no Sink: nothing to send to")
	}
	if c.MaxPacket == 0 {
		c.MaxPacket = wire.DefaultMaxPacket
	}
	if c.MaxPacket < 128 || c.MaxPacket > wire.MaxJumboPacket {
		return nil, fmt.Errorf("egress: MaxPacket %d out of range 128..%d", c.MaxPacket, wire.MaxJumboPacket)
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	faults := make([]*fault.Config, len(c.Lines))
	seen := map[netip.AddrPort]string{}
	for i := range c.Lines {
		l := &c.Lines[i]
		if l.Name == "" {
			l.Name = fmt.Sprintf("line%d", i)
		}
		if !l.Group.IsValid() {
			return nil, fmt.Errorf("egress: line %s: a multicast group is required", l.Name)
		}
		if !l.Group.Addr().Is4() || !l.Group.Addr().IsMulticast() {
			return nil, fmt.Errorf("egress: line %s: group %s is not an IPv4 multicast address", l.Name, l.Group.Addr())
		}
		if l.Group.Port() == 0 {
			return nil, fmt.Errorf("egress: line %s: group %s has no port", l.Name, l.Group)
		}
		if l.Interface == "" {
			return nil, fmt.Errorf("egress: line %s: an interface is required (name or IPv4 address)", l.Name)
		}
		if l.TTL < 0 || l.TTL > 255 {
			return nil, fmt.Errorf("egress: line %s: TTL %d out of range 0..255", l.Name, l.TTL)
		}
		if other, dup := seen[l.Group]; dup {
			return nil, fmt.Errorf("egress: lines %s and %s use the same group %s", other, l.Name, l.Group)
		}
		seen[l.Group] = l.Name
		fc, err := fault.ParseSpec(l.Faults)
		if err != nil {
			return nil, fmt.Errorf("egress: line %s: Faults: %w", l.Name, err)
		}
		if fc != (fault.Config{}) {
			faults[i] = &fc
		}
	}
	return faults, nil
}
