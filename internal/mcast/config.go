package mcast

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/netip"

	"github.com/tickcast/tickcast/wire"
)

// Defaults for the zero values of [RecvConfig] and [SendConfig].
const (
	// DefaultReadBuffer is the SO_RCVBUF a receiver asks for: deep enough to
	// ride out a stalled reader at line rate for a few milliseconds.
	DefaultReadBuffer = 16 << 20
	// DefaultWriteBuffer is the SO_SNDBUF a sender asks for.
	DefaultWriteBuffer = 4 << 20
	// DefaultBatchSize is the number of datagrams one ReadBatch can return.
	DefaultBatchSize = 64
	// MaxBatchSize is the largest BatchSize: the kernel's UIO_MAXIOV cap on
	// one recvmmsg call.
	MaxBatchSize = 1024
	// DefaultRecvPacket is the receive buffer per datagram: the largest packet
	// a line may carry (jumbo frames), so no configured sender is ever cut.
	DefaultRecvPacket = wire.MaxJumboPacket
	// MaxRecvPacket is the largest receive buffer per datagram (the UDP limit).
	MaxRecvPacket = 65535
)

// ErrTooBig is wrapped by the error [Sender.WriteBatch] and [Sender.Write]
// return for a datagram larger than the line's MaxPacket (DESIGN.md,
// "Promises users ask for": a datagram that is too big is a clear error,
// never a silent drop).
var ErrTooBig = errors.New("datagram exceeds the line's packet size limit")

// RecvConfig configures a [Receiver]: one subscription to a multicast line
// (DESIGN.md, "The one idea": a line is a multicast group on an interface).
type RecvConfig struct {
	// Group is the IPv4 multicast group and UDP port to receive. Port 0
	// binds a free port (tests); [Receiver.LocalAddr] tells which.
	Group netip.AddrPort
	// Interface is the interface to join the group on, by name ("lo",
	// "eth0") or by one of its IPv4 addresses. Required.
	Interface string
	// Source is the line's sender address (DESIGN.md, "Security and
	// abuse"): when set, an IPv4 unicast address, the receiver joins the
	// group source-specifically (IGMPv3 SSM), so the kernel delivers only
	// datagrams from Source, and it also drops and counts in
	// [RecvStats.ForeignSource] any other that still gets through. The zero
	// value accepts every source (an any-source join).
	Source netip.Addr
	// ReadBuffer is the socket receive buffer (SO_RCVBUF) in bytes;
	// 0 = DefaultReadBuffer (16 MiB). If the kernel caps it, the receiver
	// logs one warning naming the sysctl to raise.
	ReadBuffer int
	// Timestamps asks the kernel for a receive timestamp per datagram
	// (SO_TIMESTAMPNS), reported in [Datagram.KernelTime]; false = 0 there.
	Timestamps bool
	// BatchSize is the most datagrams one [Receiver.ReadBatch] returns;
	// 0 = DefaultBatchSize (64), at most MaxBatchSize.
	BatchSize int
	// MaxPacket is the receive buffer per datagram in bytes; 0 =
	// DefaultRecvPacket (8192). A bigger datagram is counted as truncated
	// and dropped, never delivered cut.
	MaxPacket int
	// Logger receives the rare anomaly (a capped buffer); nil = slog.Default().
	Logger *slog.Logger
}

// SendConfig configures a [Sender]: the sending side of one multicast line.
// TTL and interface are explicit (DESIGN.md, "Security and abuse").
type SendConfig struct {
	// Group is the IPv4 multicast group and UDP port to send to. Required,
	// and the port must not be 0.
	Group netip.AddrPort
	// Interface is the interface the datagrams leave by, by name or by one
	// of its IPv4 addresses. Required.
	Interface string
	// Source is the local IPv4 unicast address the sender binds and sends
	// from, the one receivers name in RecvConfig.Source (DESIGN.md,
	// "Security and abuse"). The zero value sends from the interface's
	// address: Interface itself when it is an address, else the interface's
	// first IPv4 address.
	Source netip.Addr
	// TTL is the multicast time to live, 0..255: 0 keeps the datagrams on
	// this host, 1 on the local subnet. The zero value is 0.
	TTL int
	// Loopback also delivers the datagrams to receivers on this host
	// (IP_MULTICAST_LOOP); false = only other hosts receive them.
	Loopback bool
	// WriteBuffer is the socket send buffer (SO_SNDBUF) in bytes;
	// 0 = DefaultWriteBuffer (4 MiB).
	WriteBuffer int
	// MaxPacket is the largest datagram the line carries, in bytes;
	// 0 = wire.DefaultMaxPacket (1200), at most wire.MaxJumboPacket (8192).
	// A bigger datagram is an error wrapping [ErrTooBig].
	MaxPacket int
	// Logger receives the rare anomaly (a capped buffer); nil = slog.Default().
	Logger *slog.Logger
}

// normalize validates c and fills in its defaults.
func (c *RecvConfig) normalize() error {
	g, err := checkGroup(c.Group, false)
	if err != nil {
		return err
	}
	c.Group = g
	if c.Interface == "" {
		return errors.New("RecvConfig.Interface is required (an interface name or one of its IPv4 addresses)")
	}
	if c.Source, err = checkSource(c.Source); err != nil {
		return fmt.Errorf("RecvConfig.Source %w", err)
	}
	switch {
	case c.ReadBuffer < 0 || c.ReadBuffer > math.MaxInt32:
		return fmt.Errorf("RecvConfig.ReadBuffer %d: out of range 0..%d", c.ReadBuffer, math.MaxInt32)
	case c.ReadBuffer == 0:
		c.ReadBuffer = DefaultReadBuffer
	}
	switch {
	case c.BatchSize < 0 || c.BatchSize > MaxBatchSize:
		return fmt.Errorf("RecvConfig.BatchSize %d: out of range 1..%d", c.BatchSize, MaxBatchSize)
	case c.BatchSize == 0:
		c.BatchSize = DefaultBatchSize
	}
	switch {
	case c.MaxPacket < 0 || (c.MaxPacket > 0 && c.MaxPacket < wire.HeaderLen) || c.MaxPacket > MaxRecvPacket:
		return fmt.Errorf("RecvConfig.MaxPacket %d: out of range %d..%d", c.MaxPacket, wire.HeaderLen, MaxRecvPacket)
	case c.MaxPacket == 0:
		c.MaxPacket = DefaultRecvPacket
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return nil
}

// normalize validates c and fills in its defaults.
func (c *SendConfig) normalize() error {
	g, err := checkGroup(c.Group, true)
	if err != nil {
		return err
	}
	c.Group = g
	if c.Interface == "" {
		return errors.New("SendConfig.Interface is required (an interface name or one of its IPv4 addresses)")
	}
	if c.Source, err = checkSource(c.Source); err != nil {
		return fmt.Errorf("SendConfig.Source %w", err)
	}
	if c.TTL < 0 || c.TTL > 255 {
		return fmt.Errorf("SendConfig.TTL %d: out of range 0..255", c.TTL)
	}
	switch {
	case c.WriteBuffer < 0 || c.WriteBuffer > math.MaxInt32:
		return fmt.Errorf("SendConfig.WriteBuffer %d: out of range 0..%d", c.WriteBuffer, math.MaxInt32)
	case c.WriteBuffer == 0:
		c.WriteBuffer = DefaultWriteBuffer
	}
	switch {
	case c.MaxPacket < 0 || (c.MaxPacket > 0 && c.MaxPacket < wire.HeaderLen) || c.MaxPacket > wire.MaxJumboPacket:
		return fmt.Errorf("SendConfig.MaxPacket %d: packet size limit out of range %d..%d", c.MaxPacket, wire.HeaderLen, wire.MaxJumboPacket)
	case c.MaxPacket == 0:
		c.MaxPacket = wire.DefaultMaxPacket
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return nil
}

// checkGroup returns g with its address as plain IPv4 if g is a usable IPv4
// multicast group; a sender also needs a port.
func checkGroup(g netip.AddrPort, needPort bool) (netip.AddrPort, error) {
	a := g.Addr().Unmap()
	if !a.IsValid() {
		return g, errors.New("group is required (an IPv4 multicast address and port)")
	}
	if !a.Is4() {
		return g, fmt.Errorf("group %s: not an IPv4 address", a)
	}
	if !a.IsMulticast() {
		return g, fmt.Errorf("group %s: not a multicast address", a)
	}
	if needPort && g.Port() == 0 {
		return g, fmt.Errorf("group %s: port 0 (a sender needs the group's port)", netip.AddrPortFrom(a, 0))
	}
	return netip.AddrPortFrom(a, g.Port()), nil
}

// checkSource returns a line's source address as plain IPv4, or the zero
// Addr for none, if it is unset or an IPv4 unicast address. The error starts
// with the address, for the caller to prefix with the field's name.
func checkSource(a netip.Addr) (netip.Addr, error) {
	if !a.IsValid() {
		return a, nil
	}
	a = a.Unmap()
	switch {
	case !a.Is4():
		return a, fmt.Errorf("%s: not an IPv4 address", a)
	case a.IsUnspecified():
		return a, fmt.Errorf("%s: not a unicast address (unspecified)", a)
	case a.IsMulticast():
		return a, fmt.Errorf("%s: not a unicast address (multicast)", a)
	case a == netip.AddrFrom4([4]byte{255, 255, 255, 255}):
		return a, fmt.Errorf("%s: not a unicast address (broadcast)", a)
	}
	return a, nil
}
