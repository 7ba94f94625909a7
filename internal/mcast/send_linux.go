package mcast

import (
	"fmt"
	"log/slog"
	"net"
	"net/netip"

	"golang.org/x/sys/unix"
)

// SetReadBuffer sizes a UDP socket's receive buffer as the multicast
// receivers do: SO_RCVBUF, forced past the sysctl cap when the process may
// (SO_RCVBUFFORCE), one warning naming the sysctl when it stays capped. It
// returns the size granted. The link's client socket uses it too.
func SetReadBuffer(c *net.UDPConn, want int, name string, log *slog.Logger) (int, error) {
	rc, err := c.SyscallConn()
	if err != nil {
		return 0, err
	}
	return setBuffer(rc, rcvBuf, want, name, log)
}

// setWriteBuffer sets SO_SNDBUF, forcing it past the sysctl cap if allowed.
func setWriteBuffer(c *net.UDPConn, want int, line string, log *slog.Logger) (int, error) {
	rc, err := c.SyscallConn()
	if err != nil {
		return 0, err
	}
	return setBuffer(rc, sndBuf, want, line, log)
}

// connectGroup connects the socket to the group after the multicast options
// are set, so the kernel resolves the route once instead of per datagram.
func connectGroup(c *net.UDPConn, group netip.AddrPort) (bool, error) {
	rc, err := c.SyscallConn()
	if err != nil {
		return false, err
	}
	sa := &unix.SockaddrInet4{Port: int(group.Port()), Addr: group.Addr().As4()}
	if cerr := rc.Control(func(fd uintptr) { err = unix.Connect(int(fd), sa) }); cerr != nil {
		return false, cerr
	}
	if err != nil {
		return false, fmt.Errorf("connect %s: %w", group, err)
	}
	return true, nil
}
