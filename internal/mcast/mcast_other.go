//go:build !linux

package mcast

import (
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"syscall"
	"time"

	"golang.org/x/net/ipv4"
)

// The portable fallback: x/net's batch I/O (one datagram per call off
// Linux, and an allocation per datagram), no kernel timestamps, no drop
// counter and no shared ports.

// listenControl has nothing portable to set.
func listenControl(_, _ string, _ syscall.RawConn) error { return nil }

// batchReader wraps x/net's ReadBatch.
type batchReader struct {
	msgs []ipv4.Message
}

// setup sizes the socket buffer and preallocates the batch.
func (r *Receiver) setup(cfg *RecvConfig) error {
	if err := r.conn.SetReadBuffer(cfg.ReadBuffer); err != nil {
		return err
	}
	r.rbuf = cfg.ReadBuffer
	r.br.msgs = make([]ipv4.Message, cfg.BatchSize)
	for i := range r.br.msgs {
		r.br.msgs[i].Buffers = [][]byte{make([]byte, cfg.MaxPacket)}
	}
	r.batch = make([]Datagram, cfg.BatchSize)
	return nil
}

// readBatch fills r.batch with the next datagrams and returns how many
// (with wait false, 0 when none was queued: a deadline in the past; 0 also
// when every one was from a foreign source).
func (r *Receiver) readBatch(wait bool) (int, error) {
	if !wait {
		r.conn.SetReadDeadline(time.Now())
		defer r.conn.SetReadDeadline(time.Time{})
	}
	n, err := r.pc.ReadBatch(r.br.msgs, 0)
	if !wait && errors.Is(err, os.ErrDeadlineExceeded) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	for i := range r.br.msgs[:n] {
		m := &r.br.msgs[i]
		var src netip.AddrPort
		if ua, ok := m.Addr.(*net.UDPAddr); ok {
			src = ua.AddrPort()
		}
		r.batch[i] = Datagram{Data: m.Buffers[0][:m.N], Src: netip.AddrPortFrom(src.Addr().Unmap(), src.Port())}
	}
	if r.src.IsValid() {
		var foreign int
		if n, foreign = keepSource(r.batch[:n], r.src); foreign > 0 {
			r.foreign.Add(uint64(foreign))
		}
	}
	return n, nil
}

// SetReadBuffer sizes a UDP socket's receive buffer (plain SO_RCVBUF off
// Linux) and returns the size asked for.
func SetReadBuffer(c *net.UDPConn, want int, _ string, _ *slog.Logger) (int, error) {
	return want, c.SetReadBuffer(want)
}

// setWriteBuffer sets the socket send buffer; the platform's cap is unknown.
func setWriteBuffer(c *net.UDPConn, want int, _ string, _ *slog.Logger) (int, error) {
	return want, c.SetWriteBuffer(want)
}

// connectGroup leaves the socket unconnected: every message names the group.
func connectGroup(*net.UDPConn, netip.AddrPort) (bool, error) { return false, nil }
