package mcasttest

import (
	"net"
	"net/netip"
	"testing"
)

// FreeGroup returns a fresh group with a UDP port that was free on this
// host a moment ago, for components that open their own receivers.
func FreeGroup(tb testing.TB) netip.AddrPort {
	tb.Helper()
	c, err := net.ListenPacket("udp4", "0.0.0.0:0")
	if err != nil {
		tb.Fatalf("find a free port: %v", err)
	}
	defer c.Close()
	port := c.LocalAddr().(*net.UDPAddr).Port
	return netip.AddrPortFrom(Group(tb), uint16(port))
}
