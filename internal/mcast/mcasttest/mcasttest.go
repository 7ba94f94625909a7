// Package mcasttest gives tests their own multicast groups, so tests and
// packages running in parallel on one host never see each other's traffic
// (DESIGN.md, "Testing on one machine").
package mcasttest

import (
	"math/rand/v2"
	"net/netip"
	"sync"
	"testing"
)

// Interface is the interface tests join and send on.
const Interface = "lo"

var (
	mu   sync.Mutex
	used = map[netip.Addr]bool{}
)

// Group returns a multicast group in 239.0.0.0/8 (administratively scoped)
// that no other call in this process returned, chosen at random so that
// other test processes are very unlikely to pick it. Pair it with port 0 on
// the receiver to make a collision practically impossible.
func Group(tb testing.TB) netip.Addr {
	tb.Helper()
	mu.Lock()
	defer mu.Unlock()
	for {
		r := rand.Uint32()
		// Skip x.x.x.0 and x.x.x.255, which some tools treat specially.
		if b := byte(r); b == 0 || b == 255 {
			continue
		}
		g := netip.AddrFrom4([4]byte{239, byte(r >> 16), byte(r >> 8), byte(r)})
		if !used[g] {
			used[g] = true
			return g
		}
	}
}
