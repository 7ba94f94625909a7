package mcast

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"testing"
	"time"

	"github.com/tickcast/tickcast/internal/mcast/mcasttest"
)

// waitFor bounds every wait in these tests: generous, because the machine
// is shared and stalls; a passing test never waits for it.
const waitFor = 20 * time.Second

// listen joins a fresh group on lo at a free port (or at port, if non-zero).
func listen(t testing.TB, group netip.Addr, port uint16, mod func(*RecvConfig)) *Receiver {
	t.Helper()
	cfg := RecvConfig{Group: netip.AddrPortFrom(group, port), Interface: mcasttest.Interface}
	if mod != nil {
		mod(&cfg)
	}
	r, err := Listen(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// dial opens a sender on lo to group with the given TTL and loopback on.
func dial(t testing.TB, group netip.AddrPort, ttl int) *Sender {
	t.Helper()
	s, err := Dial(SendConfig{Group: group, Interface: mcasttest.Interface, TTL: ttl, Loopback: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// packet returns a datagram of size bytes carrying seq, recognizable byte
// for byte.
func packet(seq uint32, size int) []byte {
	p := make([]byte, size)
	binary.LittleEndian.PutUint32(p, seq)
	for i := 4; i < size; i++ {
		p[i] = byte(seq) + byte(i)
	}
	return p
}

// seqOf reads the sequence packet put in p.
func seqOf(p []byte) uint32 { return binary.LittleEndian.Uint32(p) }

// received is what readN collected: copies of the datagrams and the sizes
// of the batches they came in.
type received struct {
	data    [][]byte
	src     []netip.AddrPort
	ktime   []int64
	batches []int
}

// readN reads until n datagrams arrived, failing the test if they do not
// within waitFor.
func readN(t testing.TB, r *Receiver, n int) received {
	t.Helper()
	var got received
	if err := r.SetReadDeadline(time.Now().Add(waitFor)); err != nil {
		t.Fatal(err)
	}
	defer r.SetReadDeadline(time.Time{})
	for len(got.data) < n {
		b, err := r.ReadBatch()
		if err != nil {
			t.Fatalf("after %d of %d datagrams: %v", len(got.data), n, err)
		}
		got.batches = append(got.batches, len(b))
		for _, d := range b {
			got.data = append(got.data, bytes.Clone(d.Data))
			got.src = append(got.src, d.Src)
			got.ktime = append(got.ktime, d.KernelTime)
		}
	}
	return got
}
