package bench

import (
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
)

// freeGroups returns n multicast groups of their own in 239.0.0.0/8
// (administratively scoped), each with a UDP port that was free a moment
// ago: the lines of one series, apart from any other traffic on the host.
func freeGroups(n int) ([]netip.AddrPort, error) {
	out := make([]netip.AddrPort, 0, n)
	for len(out) < n {
		r := rand.Uint32()
		if b := byte(r); b == 0 || b == 255 {
			continue
		}
		port, err := freeUDPPort()
		if err != nil {
			return nil, err
		}
		g := netip.AddrPortFrom(netip.AddrFrom4([4]byte{239, byte(r >> 16), byte(r >> 8), byte(r)}), port)
		if len(out) == 1 && out[0].Addr() == g.Addr() {
			continue
		}
		out = append(out, g)
	}
	return out, nil
}

// freeUDPPort returns a UDP port that was free on 127.0.0.1 a moment ago.
func freeUDPPort() (uint16, error) {
	c, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free UDP port: %w", err)
	}
	defer c.Close()
	return uint16(c.LocalAddr().(*net.UDPAddr).Port), nil
}

// netipLoopback returns 127.0.0.1:port.
func netipLoopback(port uint16) netip.AddrPort {
	return netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, 1}), port)
}
