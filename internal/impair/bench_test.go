package impair

import (
	"encoding/binary"
	"net"
	"net/netip"
	"testing"
	"time"
)

// lockstep is a client and an upstream around a proxy, exchanging one
// packet at a time so no socket buffer overflows.
type lockstep struct {
	client, upstream *net.UDPConn
	p                *Proxy
	out, in          []byte
}

func newLockstep(tb testing.TB, spec Spec) *lockstep {
	tb.Helper()
	up, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { up.Close() })
	l := &lockstep{upstream: up, out: make([]byte, 1200), in: make([]byte, maxDatagram)}
	l.p = startProxy(tb, Config{Upstream: up.LocalAddr().String(), Spec: spec, Seed: 1})
	l.client = dial(tb, l.p)
	up.SetReadDeadline(time.Now().Add(time.Hour))
	l.round(tb) // opens the session
	return l
}

// round sends one packet through the proxy and waits for it upstream.
func (l *lockstep) round(tb testing.TB) {
	binary.BigEndian.PutUint32(l.out, binary.BigEndian.Uint32(l.out)+1)
	if _, err := l.client.Write(l.out); err != nil {
		tb.Fatal(err)
	}
	var from netip.AddrPort
	var err error
	if _, from, err = l.upstream.ReadFromUDPAddrPort(l.in); err != nil || !from.IsValid() {
		tb.Fatal(err)
	}
}

// specs of the forwarding paths: straight through, through the injector
// (a loss that never fires), and held on the heap (a rate cap).
var pathSpecs = []struct {
	name string
	spec Spec
}{
	{"direct", Spec{}},
	{"injector", Spec{Loss: 1e-15, Dup: 1e-15}},
	{"held", Spec{Rate: 1e9, Delay: time.Microsecond}},
}

// Forwarding allocates nothing in steady state, on every path (the count
// is the whole process's: client, proxy and upstream).
func TestForwardDoesNotAllocate(t *testing.T) {
	for _, ps := range pathSpecs {
		t.Run(ps.name, func(t *testing.T) {
			l := newLockstep(t, ps.spec)
			for range 100 {
				l.round(t) // warm the heap and the buffers
			}
			if n := testing.AllocsPerRun(200, func() { l.round(t) }); n != 0 {
				t.Fatalf("%v allocations per packet", n)
			}
		})
	}
}

func BenchmarkForward(b *testing.B) {
	for _, ps := range pathSpecs {
		b.Run(ps.name, func(b *testing.B) {
			l := newLockstep(b, ps.spec)
			b.ReportAllocs()
			b.SetBytes(int64(len(l.out)))
			for b.Loop() {
				l.round(b)
			}
		})
	}
}
