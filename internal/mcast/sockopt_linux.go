package mcast

import (
	"fmt"
	"log/slog"
	"syscall"

	"golang.org/x/sys/unix"
)

// listenControl lets several receivers on one host bind the same group and
// port: every one of them gets every multicast datagram.
func listenControl(_, _ string, c syscall.RawConn) error {
	var err error
	cerr := c.Control(func(fd uintptr) {
		if err = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEADDR, 1); err != nil {
			err = fmt.Errorf("SO_REUSEADDR: %w", err)
			return
		}
		if err = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1); err != nil {
			err = fmt.Errorf("SO_REUSEPORT: %w", err)
		}
	})
	if cerr != nil {
		return cerr
	}
	return err
}

// sockBuf names one direction's buffer options and the sysctl that caps it.
type sockBuf struct {
	opt, force int
	name       string // "SO_RCVBUF"
	sysctl     string // "net.core.rmem_max"
	what       string // "receive"
}

var (
	rcvBuf = sockBuf{unix.SO_RCVBUF, unix.SO_RCVBUFFORCE, "SO_RCVBUF", "net.core.rmem_max", "receive"}
	sndBuf = sockBuf{unix.SO_SNDBUF, unix.SO_SNDBUFFORCE, "SO_SNDBUF", "net.core.wmem_max", "send"}
)

// setBuffer asks for want bytes of socket buffer and returns what the kernel
// granted. If the kernel caps the request at its sysctl maximum, it tries the
// FORCE option (which needs CAP_NET_ADMIN) and, if still capped, logs one
// warning naming the sizes and the sysctl to raise. A capped buffer is not an
// error: the line works, with less room to absorb a stalled reader.
func setBuffer(c syscall.RawConn, b sockBuf, want int, line string, log *slog.Logger) (int, error) {
	var got int
	var err error
	cerr := c.Control(func(fd uintptr) {
		got, err = trySetBuffer(int(fd), b.opt, want)
		if err != nil {
			err = fmt.Errorf("%s %d: %w", b.name, want, err)
			return
		}
		if got < want {
			// Without CAP_NET_ADMIN the FORCE option fails with EPERM: keep
			// what the plain option gave.
			if g, ferr := trySetBuffer(int(fd), b.force, want); ferr == nil && g > got {
				got = g
			}
		}
	})
	if cerr != nil {
		return 0, cerr
	}
	if err != nil {
		return 0, err
	}
	if got < want {
		log.Warn("mcast: socket "+b.what+" buffer capped by the kernel; raise the limit to absorb bursts",
			"line", line, "requested", want, "actual", got,
			"fix", fmt.Sprintf("sysctl -w %s=%d", b.sysctl, want))
	}
	return got, nil
}

// trySetBuffer sets one buffer option and reads back the usable size: Linux
// doubles the value for its bookkeeping and reports the doubled figure.
func trySetBuffer(fd, opt, want int) (int, error) {
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, opt, want); err != nil {
		return 0, err
	}
	get := opt
	switch opt {
	case unix.SO_RCVBUFFORCE:
		get = unix.SO_RCVBUF
	case unix.SO_SNDBUFFORCE:
		get = unix.SO_SNDBUF
	}
	v, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, get)
	if err != nil {
		return 0, err
	}
	return v / 2, nil
}

// setsockoptInt sets one integer socket option through c.
func setsockoptInt(c syscall.RawConn, level, opt, v int) error {
	var err error
	if cerr := c.Control(func(fd uintptr) { err = unix.SetsockoptInt(int(fd), level, opt, v) }); cerr != nil {
		return cerr
	}
	return err
}
