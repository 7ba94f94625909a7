package mcast

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/net/ipv4"
)

// Datagram is one received datagram. Data is a view into the [Receiver]'s
// buffers, valid until the next [Receiver.ReadBatch].
type Datagram struct {
	// Data is the datagram's payload.
	Data []byte
	// Src is the sender's address.
	Src netip.AddrPort
	// KernelTime is when the kernel received the datagram, in ns since the
	// Unix epoch (SO_TIMESTAMPNS); 0 if RecvConfig.Timestamps is off or the
	// platform has no such timestamps.
	KernelTime int64
}

// RecvStats counts what a [Receiver] saw. The counters only grow.
type RecvStats struct {
	// Datagrams and Bytes count what ReadBatch delivered.
	Datagrams, Bytes uint64
	// Batches counts the ReadBatch calls that delivered datagrams;
	// Datagrams/Batches is the average batch.
	Batches uint64
	// Truncated counts datagrams larger than RecvConfig.MaxPacket: dropped.
	Truncated uint64
	// KernelDrops is the kernel's count of datagrams dropped for this socket
	// because its receive buffer was full (SO_RXQ_OVFL, Linux), as of the last
	// datagram received: the reader fell behind. 0 elsewhere.
	KernelDrops uint64
	// ForeignSource counts datagrams from an address other than
	// RecvConfig.Source, dropped (DESIGN.md, "Security and abuse"). The
	// source-specific join makes the kernel filter them first, so a count
	// here means one slipped through: a race with a membership change, or a
	// platform without SSM. Always 0 when Source is unset.
	ForeignSource uint64
}

// Receiver receives one multicast line: a group and port joined on one
// interface. ReadBatch must be called by one goroutine at a time; LocalAddr,
// Stats and Close are safe from any goroutine.
type Receiver struct {
	conn  *net.UDPConn
	pc    *ipv4.PacketConn
	ifi   *net.Interface
	local netip.AddrPort
	src   netip.Addr // RecvConfig.Source; the zero Addr for any source
	rbuf  int        // effective SO_RCVBUF in bytes (what the caller can use)

	batch []Datagram // returned by ReadBatch, len BatchSize
	br    batchReader

	closeOnce sync.Once
	closeErr  error

	datagrams, bytes, batches, truncated, kernelDrops, foreign atomic.Uint64
}

// Listen joins the multicast line cfg names and returns its [Receiver]
// (DESIGN.md, "Testing on one machine": join the group on the interface).
//
// The socket binds the group's address and port, so receivers of other groups
// on the same port never see this group's datagrams, and with SO_REUSEADDR
// and SO_REUSEPORT, so several receivers on one host can join the same
// group and port: each gets every datagram.
//
// With RecvConfig.Source set, the join is source-specific (IGMPv3 SSM,
// DESIGN.md "Security and abuse"): the kernel delivers only that sender's
// datagrams, and the receiver drops any other that still arrives, counting
// it in [RecvStats.ForeignSource].
func Listen(cfg RecvConfig) (*Receiver, error) {
	if err := cfg.normalize(); err != nil {
		return nil, fmt.Errorf("mcast: listen: %w", err)
	}
	ifi, _, err := resolveInterface(cfg.Interface)
	if err != nil {
		return nil, fmt.Errorf("mcast: listen %s: %w", cfg.Group, err)
	}
	group := cfg.Group.Addr()
	lc := net.ListenConfig{Control: listenControl}
	bind := net.JoinHostPort(group.String(), strconv.Itoa(int(cfg.Group.Port())))
	c, err := lc.ListenPacket(context.Background(), "udp4", bind)
	if err != nil {
		return nil, fmt.Errorf("mcast: listen %s: %w", cfg.Group, err)
	}
	conn := c.(*net.UDPConn)
	r := &Receiver{conn: conn, pc: ipv4.NewPacketConn(conn), ifi: ifi, src: cfg.Source}
	r.local = netip.AddrPortFrom(group, uint16(conn.LocalAddr().(*net.UDPAddr).Port))
	if err := r.join(group); err != nil {
		conn.Close()
		return nil, err
	}
	if err := r.setup(&cfg); err != nil {
		conn.Close()
		return nil, fmt.Errorf("mcast: listen %s on %s: %w", r.local, ifi.Name, err)
	}
	return r, nil
}

// join joins group on the receiver's interface: from the receiver's source
// only when it has one, else from any source.
func (r *Receiver) join(group netip.Addr) error {
	g := &net.UDPAddr{IP: group.AsSlice()}
	if !r.src.IsValid() {
		if err := r.pc.JoinGroup(r.ifi, g); err != nil {
			return fmt.Errorf("mcast: join %s on %s: %w", group, r.ifi.Name, err)
		}
		return nil
	}
	if err := r.pc.JoinSourceSpecificGroup(r.ifi, g, &net.UDPAddr{IP: r.src.AsSlice()}); err != nil {
		return fmt.Errorf("mcast: join %s source %s on %s: %w", group, r.src, r.ifi.Name, err)
	}
	return nil
}

// keepSource compacts batch in place to the datagrams whose source address
// is src, keeping their order, and returns how many it kept and how many it
// dropped. The zero src keeps every datagram. It does not allocate.
func keepSource(batch []Datagram, src netip.Addr) (kept, dropped int) {
	if !src.IsValid() {
		return len(batch), 0
	}
	for i := range batch {
		if batch[i].Src.Addr().Unmap() != src {
			continue
		}
		if kept != i {
			batch[kept] = batch[i]
		}
		kept++
	}
	clear(batch[kept:]) // no stale views past the kept ones
	return kept, len(batch) - kept
}

// ReadBatch blocks until at least one datagram arrives and returns up to
// RecvConfig.BatchSize of them, in the order the kernel queued them. The
// slice and the Data views are valid until the next call. It does not
// allocate. After [Receiver.Close], or when a read deadline passes, it
// returns an error matching net.ErrClosed or os.ErrDeadlineExceeded; to stop
// a reader with a context, close the receiver when it ends:
//
//	stop := context.AfterFunc(ctx, func() { r.Close() })
//	defer stop()
func (r *Receiver) ReadBatch() ([]Datagram, error) {
	for {
		n, err := r.readBatch(true)
		if err != nil {
			return nil, fmt.Errorf("mcast: read %s: %w", r.local, err)
		}
		if n > 0 {
			return r.count(n), nil
		}
	}
}

// TryReadBatch is ReadBatch without the wait: it returns at once, with no
// datagrams if none is queued. A busy-polling reader spins on it instead of
// parking in the scheduler, which on a VM saves the wake-up of an idle vCPU
// (tens of µs) at the cost of a core.
func (r *Receiver) TryReadBatch() ([]Datagram, error) {
	n, err := r.readBatch(false)
	if err != nil {
		return nil, fmt.Errorf("mcast: read %s: %w", r.local, err)
	}
	if n == 0 {
		return nil, nil
	}
	return r.count(n), nil
}

// count updates the counters for a batch of n and returns it.
func (r *Receiver) count(n int) []Datagram {
	var b uint64
	for i := range r.batch[:n] {
		b += uint64(len(r.batch[i].Data))
	}
	r.datagrams.Add(uint64(n))
	r.bytes.Add(b)
	r.batches.Add(1)
	return r.batch[:n]
}

// SetReadDeadline makes a ReadBatch blocked past t return an error matching
// os.ErrDeadlineExceeded; the zero t means no deadline.
func (r *Receiver) SetReadDeadline(t time.Time) error { return r.conn.SetReadDeadline(t) }

// LocalAddr returns the group and the port the receiver is bound to (the
// chosen port when RecvConfig.Group had port 0).
func (r *Receiver) LocalAddr() netip.AddrPort { return r.local }

// Source returns the only sender address the receiver accepts
// (RecvConfig.Source), or the zero Addr when it accepts any source.
func (r *Receiver) Source() netip.Addr { return r.src }

// Interface returns the interface the group was joined on.
func (r *Receiver) Interface() *net.Interface { return r.ifi }

// ReadBuffer returns the socket receive buffer in bytes that the kernel
// granted, which may be less than RecvConfig.ReadBuffer asked for.
func (r *Receiver) ReadBuffer() int { return r.rbuf }

// Stats returns the receiver's counters.
func (r *Receiver) Stats() RecvStats {
	return RecvStats{
		Datagrams:     r.datagrams.Load(),
		Bytes:         r.bytes.Load(),
		Batches:       r.batches.Load(),
		Truncated:     r.truncated.Load(),
		KernelDrops:   r.kernelDrops.Load(),
		ForeignSource: r.foreign.Load(),
	}
}

// Close leaves the group and closes the socket; a ReadBatch blocked in
// another goroutine returns an error matching net.ErrClosed. Close is
// idempotent.
func (r *Receiver) Close() error {
	r.closeOnce.Do(func() { r.closeErr = r.conn.Close() })
	return r.closeErr
}
