package link

import (
	"encoding/binary"
	"net"
	"net/netip"
	"sync/atomic"
	"syscall"
	"time"
)

// clientQueueLen is how many sealed data datagrams a client holds between
// its socket and its Handler (on top of the kernel's receive buffer).
const clientQueueLen = 4096

// clientReadBuffer is the receive buffer asked for a client's socket: it
// absorbs the scheduling stalls of a busy host at the feed's rate.
const clientReadBuffer = 8 << 20

// dataConn is a link client's UDP socket as quic-go's transport sees it: it
// passes QUIC packets through and takes the data path's datagrams out
// (seal.go) into a queue that the client's reader drains. quic-go's reading
// goroutine is the queue's only producer.
//
// It wraps the socket rather than embedding it: a conn with ReadMsgUDP would
// be read by quic-go directly, past ReadFrom.
type dataConn struct {
	udp    *net.UDPConn
	server netip.AddrPort
	q      *liveQueue

	// inline, once the client's Run has a Handler, delivers data datagrams
	// on quic-go's reading goroutine itself, without a hand-off (the
	// queue is only for what came before Run, or while it drains).
	inline atomic.Pointer[dataSink]

	queued, full, foreign atomic.Uint64 // queued: every datagram taken in, inline or queued
}

// dataSink opens data datagrams and delivers them to the Handler, counting
// both outcomes; one goroutine uses it (it owns the opener): the socket's
// reader inline, or the client's reader for what was queued.
type dataSink struct {
	c      *Client
	d      *deliverer
	opener *sealer
}

// deliver opens b in place and hands the packet to the Handler.
func (s *dataSink) deliver(b []byte, rx int64) {
	if _, pkt, err := s.opener.open(b, typeData); err != nil {
		s.c.unsealed.Add(1)
	} else if s.d.deliver(pkt, rx) {
		s.c.datagrams.Add(1)
	}
}

// ReadFrom implements net.PacketConn for quic-go: it returns the next QUIC
// packet and queues every data datagram from the server on the way.
func (c *dataConn) ReadFrom(b []byte) (int, net.Addr, error) {
	for {
		n, from, err := c.udp.ReadFromUDPAddrPort(b)
		if err != nil || !isData(b[:n]) {
			return n, net.UDPAddrFromAddrPort(from), err
		}
		c.take(b[:n], from)
	}
}

// take delivers one data datagram inline, or queues it with its receive
// time for the client's reader.
func (c *dataConn) take(b []byte, from netip.AddrPort) {
	if from.Addr().Unmap() != c.server.Addr().Unmap() || from.Port() != c.server.Port() {
		c.foreign.Add(1)
		return
	}
	now := time.Now().UnixNano()
	if s := c.inline.Load(); s != nil && c.q.live.len() == 0 {
		c.queued.Add(1)
		s.deliver(b, now)
		return
	}
	var rx [8]byte
	binary.LittleEndian.PutUint64(rx[:], uint64(now))
	if !c.q.push2(rx[:], b) {
		c.full.Add(1)
		return
	}
	c.queued.Add(1)
}

// WriteTo implements net.PacketConn.
func (c *dataConn) WriteTo(b []byte, addr net.Addr) (int, error) { return c.udp.WriteTo(b, addr) }

// Close implements net.PacketConn.
func (c *dataConn) Close() error { return c.udp.Close() }

// LocalAddr implements net.PacketConn.
func (c *dataConn) LocalAddr() net.Addr { return c.udp.LocalAddr() }

// SetDeadline implements net.PacketConn.
func (c *dataConn) SetDeadline(t time.Time) error { return c.udp.SetDeadline(t) }

// SetReadDeadline implements net.PacketConn.
func (c *dataConn) SetReadDeadline(t time.Time) error { return c.udp.SetReadDeadline(t) }

// SetWriteDeadline implements net.PacketConn.
func (c *dataConn) SetWriteDeadline(t time.Time) error { return c.udp.SetWriteDeadline(t) }

// SetReadBuffer and SetWriteBuffer let quic-go size the socket's buffers.
func (c *dataConn) SetReadBuffer(n int) error { return c.udp.SetReadBuffer(n) }

// SetWriteBuffer sets the socket's send buffer.
func (c *dataConn) SetWriteBuffer(n int) error { return c.udp.SetWriteBuffer(n) }

// SyscallConn lets quic-go check the buffers it asked for and set DF.
func (c *dataConn) SyscallConn() (syscall.RawConn, error) { return c.udp.SyscallConn() }
