package mcasttest

import (
	"net/netip"
	"testing"

	"github.com/tickcast/tickcast/internal/mcast"
)

// Listen joins a fresh group on lo at a free port and returns the receiver
// and the group:port to send to. The receiver is closed when the test ends.
func Listen(tb testing.TB) (*mcast.Receiver, netip.AddrPort) {
	tb.Helper()
	r, err := mcast.Listen(mcast.RecvConfig{Group: netip.AddrPortFrom(Group(tb), 0), Interface: Interface})
	if err != nil {
		tb.Fatalf("listen on a test group: %v", err)
	}
	tb.Cleanup(func() { r.Close() })
	return r, r.LocalAddr()
}

// FreeGroup returns a fresh group with a port that was free on this host a
// moment ago, for components that open their own receivers.
func FreeGroup(tb testing.TB) netip.AddrPort {
	tb.Helper()
	r, ap := Listen(tb)
	r.Close()
	return ap
}
