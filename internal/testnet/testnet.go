package testnet

import (
	"encoding/binary"
	"math/rand/v2"
	"net/netip"
	"os"
	"sync/atomic"
	"testing"

	"github.com/tickcast/tickcast/internal/mcast"
)

// Interface is the interface tests use: multicast on loopback.
const Interface = "lo"

var counter atomic.Uint32

// Group returns a multicast group in 239.0.0.0/8 that no other call in any
// test process returns at the same time (with overwhelming probability):
// 239.<pid-derived byte>.<counter>.<random>.
func Group() netip.Addr {
	var b [4]byte
	b[0] = 239
	b[1] = byte(os.Getpid()) | 1
	binary.BigEndian.PutUint16(b[2:], uint16(counter.Add(1))<<6|uint16(rand.IntN(64)))
	return netip.AddrFrom4(b)
}

// Listen joins a fresh group on lo at a free port and returns the receiver
// and the group:port to send to. The receiver is closed at the end of the test.
func Listen(t testing.TB) (*mcast.Receiver, netip.AddrPort) {
	t.Helper()
	r, err := mcast.Listen(mcast.RecvConfig{Group: netip.AddrPortFrom(Group(), 0), Interface: Interface})
	if err != nil {
		t.Fatalf("listen on a test group: %v", err)
	}
	t.Cleanup(func() { r.Close() })
	return r, r.LocalAddr()
}

// FreeGroup returns a fresh group with a port that is free on this host, for
// components that open their own receivers.
func FreeGroup(t testing.TB) netip.AddrPort {
	t.Helper()
	r, ap := Listen(t)
	r.Close()
	return ap
}
