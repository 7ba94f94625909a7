package mcast

import (
	"fmt"
	"net/netip"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// batchReader reads with recvmmsg straight into preallocated headers,
// buffers, addresses and control buffers, so a read allocates nothing (the
// x/net batch reader allocates an address per datagram).
type batchReader struct {
	rc    syscall.RawConn
	hdrs  []unix.Mmsghdr
	iovs  []unix.Iovec
	names []unix.RawSockaddrInet4
	bufs  [][]byte // one view per datagram into one slab
	oob   []byte   // oobSize per datagram

	recvFn func(fd uintptr) bool // r.recv, bound once so Read does not allocate
	tryFn  func(fd uintptr) bool // r.tryRecv, likewise
	used   int                   // headers the last call filled (to reset)
	n      int                   // result of the last call
	err    error
}

// setup sets the socket options and preallocates the batch.
func (r *Receiver) setup(cfg *RecvConfig) error {
	rc, err := r.conn.SyscallConn()
	if err != nil {
		return err
	}
	// Receive only the groups this socket joined, not every group any socket
	// on the host joined for this port.
	if err := setsockoptInt(rc, unix.IPPROTO_IP, unix.IP_MULTICAST_ALL, 0); err != nil {
		return fmt.Errorf("IP_MULTICAST_ALL: %w", err)
	}
	if r.rbuf, err = setBuffer(rc, rcvBuf, cfg.ReadBuffer, r.local.String(), cfg.Logger); err != nil {
		return err
	}
	if cfg.Timestamps {
		if err := setsockoptInt(rc, unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, 1); err != nil {
			return fmt.Errorf("SO_TIMESTAMPNS: %w", err)
		}
	}
	if err := setsockoptInt(rc, unix.SOL_SOCKET, unix.SO_RXQ_OVFL, 1); err != nil {
		return fmt.Errorf("SO_RXQ_OVFL: %w", err)
	}

	n := cfg.BatchSize
	b := &r.br
	b.rc = rc
	b.hdrs = make([]unix.Mmsghdr, n)
	b.iovs = make([]unix.Iovec, n)
	b.names = make([]unix.RawSockaddrInet4, n)
	b.bufs = make([][]byte, n)
	b.oob = make([]byte, n*oobSize)
	slab := make([]byte, n*cfg.MaxPacket)
	for i := range n {
		b.bufs[i] = slab[i*cfg.MaxPacket : (i+1)*cfg.MaxPacket : (i+1)*cfg.MaxPacket]
		b.iovs[i].Base = &b.bufs[i][0]
		b.iovs[i].SetLen(cfg.MaxPacket)
		h := &b.hdrs[i].Hdr
		h.Name = (*byte)(unsafe.Pointer(&b.names[i]))
		h.Iov = &b.iovs[i]
		h.SetIovlen(1)
		h.Control = &b.oob[i*oobSize]
	}
	b.used = n
	b.recvFn = b.recv
	b.tryFn = b.tryRecv
	r.batch = make([]Datagram, n)
	return nil
}

// recv is the RawConn.Read callback: one non-blocking recvmmsg. It returns
// false to wait for the socket to become readable.
func (b *batchReader) recv(fd uintptr) bool {
	for i := range b.hdrs[:b.used] {
		h := &b.hdrs[i]
		h.Hdr.Namelen = unix.SizeofSockaddrInet4
		h.Hdr.SetControllen(oobSize)
		h.Hdr.Flags = 0
		h.Len = 0
	}
	for {
		n, _, errno := unix.Syscall6(unix.SYS_RECVMMSG, fd,
			uintptr(unsafe.Pointer(&b.hdrs[0])), uintptr(len(b.hdrs)), unix.MSG_DONTWAIT, 0, 0)
		switch errno {
		case 0:
			b.n, b.err, b.used = int(n), nil, int(n)
			return true
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			b.used = 0
			return false
		default:
			b.n, b.err, b.used = 0, fmt.Errorf("recvmmsg: %w", errno), 0
			return true
		}
	}
}

// tryRecv is recv without the wait: nothing queued reads nothing.
func (b *batchReader) tryRecv(fd uintptr) bool {
	if !b.recv(fd) {
		b.n, b.err = 0, nil
	}
	return true
}

// readBatch fills r.batch with the next datagrams and returns how many; 0
// when every datagram read was truncated or from a foreign source, or, with
// wait false, when none was queued.
func (r *Receiver) readBatch(wait bool) (int, error) {
	b := &r.br
	fn := b.recvFn
	if !wait {
		fn = b.tryFn
	}
	if err := b.rc.Read(fn); err != nil {
		return 0, err
	}
	if b.err != nil {
		return 0, b.err
	}
	k := 0
	for i := range b.hdrs[:b.n] {
		h := &b.hdrs[i]
		if h.Hdr.Flags&unix.MSG_TRUNC != 0 {
			r.truncated.Add(1)
			continue
		}
		sa := &b.names[i]
		port := (*[2]byte)(unsafe.Pointer(&sa.Port))
		d := &r.batch[k]
		k++
		d.Data = b.bufs[i][:h.Len]
		d.Src = netip.AddrPortFrom(netip.AddrFrom4(sa.Addr), uint16(port[0])<<8|uint16(port[1]))
		d.KernelTime = 0
		if cl := int(h.Hdr.Controllen); cl > 0 {
			c := parseControl(b.oob[i*oobSize : i*oobSize+min(cl, oobSize)])
			d.KernelTime = c.kernelTime
			if c.hasDrops {
				r.kernelDrops.Store(uint64(c.drops))
			}
		}
	}
	if r.src.IsValid() {
		var foreign int
		if k, foreign = keepSource(r.batch[:k], r.src); foreign > 0 {
			r.foreign.Add(uint64(foreign))
		}
	}
	return k, nil
}
