package mcast

import (
	"fmt"
	"net"
	"net/netip"
	"sync"

	"golang.org/x/net/ipv4"
)

// sendChunk is the most datagrams one sendmmsg carries; WriteBatch loops
// over longer batches.
const sendChunk = 64

// TooBigError is the error for a datagram larger than the line's packet size
// limit. It matches [ErrTooBig] with errors.Is.
type TooBigError struct {
	Size  int // the datagram's size in bytes
	Limit int // the line's SendConfig.MaxPacket
}

// Error implements error.
func (e *TooBigError) Error() string {
	return fmt.Sprintf("datagram of %d bytes exceeds the line's %d-byte limit", e.Size, e.Limit)
}

// Is reports whether target is [ErrTooBig].
func (e *TooBigError) Is(target error) bool { return target == ErrTooBig }

// Sender sends datagrams to one multicast line. WriteBatch and Write must be
// called by one goroutine at a time (the line's single writer, DESIGN.md
// "Performance principles"); LocalAddr and Close are safe from any goroutine.
type Sender struct {
	conn  *net.UDPConn
	pc    *ipv4.PacketConn
	group netip.AddrPort
	ifi   *net.Interface
	local netip.AddrPort
	max   int
	wbuf  int // effective SO_SNDBUF

	msgs []ipv4.Message // sendChunk messages, each with one buffer
	bufs [][]byte       // the messages' buffers
	one  [][]byte       // Write's batch of one

	closeOnce sync.Once
	closeErr  error
}

// Dial opens the sending side of the multicast line cfg names, with its
// interface, TTL and loopback set explicitly (DESIGN.md, "Security and
// abuse"). On Linux the socket is connected to the group, so a send skips
// the route lookup. The socket binds SendConfig.Source when set, else the
// interface's address, so receivers that join source-specifically
// (RecvConfig.Source) can name the sender.
func Dial(cfg SendConfig) (*Sender, error) {
	if err := cfg.normalize(); err != nil {
		return nil, fmt.Errorf("mcast: dial: %w", err)
	}
	ifi, src, err := resolveInterface(cfg.Interface)
	if err != nil {
		return nil, fmt.Errorf("mcast: dial %s: %w", cfg.Group, err)
	}
	// Send from the configured source, else from the interface's address,
	// so receivers see a source that names the line's interface (127.0.0.1
	// on lo, not another NIC's).
	if cfg.Source.IsValid() {
		src = cfg.Source
	}
	bind := &net.UDPAddr{IP: net.IPv4zero}
	if src.IsValid() {
		bind.IP = src.AsSlice()
	}
	conn, err := net.ListenUDP("udp4", bind)
	if err != nil {
		if cfg.Source.IsValid() {
			return nil, fmt.Errorf("mcast: dial %s: bind source %s: %w", cfg.Group, cfg.Source, err)
		}
		return nil, fmt.Errorf("mcast: dial %s: %w", cfg.Group, err)
	}
	s := &Sender{
		conn:  conn,
		pc:    ipv4.NewPacketConn(conn),
		group: cfg.Group,
		ifi:   ifi,
		max:   cfg.MaxPacket,
		msgs:  make([]ipv4.Message, sendChunk),
		bufs:  make([][]byte, sendChunk),
		one:   make([][]byte, 1),
	}
	if err := s.setup(&cfg); err != nil {
		conn.Close()
		return nil, fmt.Errorf("mcast: dial %s on %s: %w", cfg.Group, ifi.Name, err)
	}
	s.local = conn.LocalAddr().(*net.UDPAddr).AddrPort()
	s.local = netip.AddrPortFrom(s.local.Addr().Unmap(), s.local.Port())
	return s, nil
}

// setup sets the multicast options and prepares the messages.
func (s *Sender) setup(cfg *SendConfig) error {
	if err := s.pc.SetMulticastInterface(s.ifi); err != nil {
		return fmt.Errorf("multicast interface: %w", err)
	}
	if err := s.pc.SetMulticastTTL(cfg.TTL); err != nil {
		return fmt.Errorf("multicast TTL %d: %w", cfg.TTL, err)
	}
	if err := s.pc.SetMulticastLoopback(cfg.Loopback); err != nil {
		return fmt.Errorf("multicast loopback: %w", err)
	}
	var err error
	if s.wbuf, err = setWriteBuffer(s.conn, cfg.WriteBuffer, cfg.Group.String(), cfg.Logger); err != nil {
		return err
	}
	// Connected (Linux): the kernel knows the destination; elsewhere every
	// message names it.
	var dst net.Addr
	connected, err := connectGroup(s.conn, cfg.Group)
	if err != nil {
		return err
	}
	if !connected {
		dst = net.UDPAddrFromAddrPort(cfg.Group)
	}
	for i := range s.msgs {
		s.msgs[i].Buffers = s.bufs[i : i+1 : i+1]
		s.msgs[i].Addr = dst
	}
	return nil
}

// WriteBatch sends pkts in order, one datagram each, with as few sendmmsg
// calls as the batch needs, and returns how many were sent. It does not
// allocate. If n < len(pkts), err says why pkts[n] was not sent: a datagram
// over the line's MaxPacket fails with a [*TooBigError] (matching
// [ErrTooBig]) and nothing after it is sent.
func (s *Sender) WriteBatch(pkts [][]byte) (int, error) {
	sent := 0
	for sent < len(pkts) {
		m := 0
		var tooBig error
		for m < len(s.msgs) && sent+m < len(pkts) {
			p := pkts[sent+m]
			if len(p) > s.max {
				tooBig = &TooBigError{Size: len(p), Limit: s.max}
				break
			}
			s.bufs[m] = p
			m++
		}
		for off := 0; off < m; {
			n, err := s.pc.WriteBatch(s.msgs[off:m], 0)
			if n > 0 {
				// sendmmsg's -1 on an error (the interface down) sent nothing.
				off += n
			}
			if err != nil {
				clear(s.bufs[:m])
				return sent + off, fmt.Errorf("mcast: send to %s: %w", s.group, err)
			}
		}
		clear(s.bufs[:m])
		sent += m
		if tooBig != nil {
			return sent, fmt.Errorf("mcast: send to %s: %w", s.group, tooBig)
		}
	}
	return sent, nil
}

// Write sends one datagram; see [Sender.WriteBatch].
func (s *Sender) Write(pkt []byte) error {
	s.one[0] = pkt
	_, err := s.WriteBatch(s.one)
	s.one[0] = nil
	return err
}

// MaxPacket returns the line's packet size limit in bytes.
func (s *Sender) MaxPacket() int { return s.max }

// LocalAddr returns the address and port the datagrams are sent from:
// SendConfig.Source when set, else the interface's address (receivers match
// its address against RecvConfig.Source).
func (s *Sender) LocalAddr() netip.AddrPort { return s.local }

// WriteBuffer returns the socket send buffer in bytes that the kernel
// granted, which may be less than SendConfig.WriteBuffer asked for.
func (s *Sender) WriteBuffer() int { return s.wbuf }

// Close closes the socket. It is idempotent.
func (s *Sender) Close() error {
	s.closeOnce.Do(func() { s.closeErr = s.conn.Close() })
	return s.closeErr
}
