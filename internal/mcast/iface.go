package mcast

import (
	"fmt"
	"net"
	"net/netip"
)

// resolveInterface finds the interface named by spec, an interface name
// ("lo", "eth0") or one of the interface's IPv4 addresses, and the IPv4
// address to send from: spec itself, or the interface's first IPv4 address
// (invalid if it has none).
func resolveInterface(spec string) (*net.Interface, netip.Addr, error) {
	if a, err := netip.ParseAddr(spec); err == nil {
		a = a.Unmap()
		if !a.Is4() {
			return nil, netip.Addr{}, fmt.Errorf("interface %q: not an IPv4 address", spec)
		}
		ifs, err := net.Interfaces()
		if err != nil {
			return nil, netip.Addr{}, fmt.Errorf("interface %q: %w", spec, err)
		}
		for i := range ifs {
			for _, b := range ipv4Addrs(&ifs[i]) {
				if b == a {
					return &ifs[i], a, nil
				}
			}
		}
		return nil, netip.Addr{}, fmt.Errorf("interface %q: no network interface has this address", spec)
	}
	ifi, err := net.InterfaceByName(spec)
	if err != nil {
		return nil, netip.Addr{}, fmt.Errorf("interface %q: no such network interface", spec)
	}
	var src netip.Addr
	if as := ipv4Addrs(ifi); len(as) > 0 {
		src = as[0]
	}
	return ifi, src, nil
}

// ipv4Addrs returns the IPv4 addresses of ifi.
func ipv4Addrs(ifi *net.Interface) []netip.Addr {
	addrs, err := ifi.Addrs()
	if err != nil {
		return nil
	}
	var out []netip.Addr
	for _, ad := range addrs {
		if ipn, ok := ad.(*net.IPNet); ok {
			if b, ok := netip.AddrFromSlice(ipn.IP); ok && b.Unmap().Is4() {
				out = append(out, b.Unmap())
			}
		}
	}
	return out
}
