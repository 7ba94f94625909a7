package mcast

import (
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/tickcast/tickcast/internal/mcast/mcasttest"
)

var (
	// lineSource is the line's sender on lo: a Sender on lo sends from it.
	lineSource = netip.MustParseAddr("127.0.0.1")
	// foreignSource is another address of lo (127.0.0.0/8 is all local),
	// for a sender that is not the line's.
	foreignSource = netip.MustParseAddr("127.0.0.2")
)

// dialFrom opens a sender on lo to group that sends from src.
func dialFrom(t testing.TB, group netip.AddrPort, src netip.Addr) *Sender {
	t.Helper()
	s, err := Dial(SendConfig{Group: group, Interface: mcasttest.Interface, Source: src, Loopback: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if s.LocalAddr().Addr() != src {
		t.Fatalf("sender bound to %v, want source %v", s.LocalAddr(), src)
	}
	return s
}

func TestSourceSpecificJoin(t *testing.T) {
	t.Parallel()
	g := mcasttest.Group(t)
	ssm := listen(t, g, 0, func(c *RecvConfig) { c.Source = lineSource })
	anySrc := listen(t, g, ssm.LocalAddr().Port(), nil)
	if ssm.Source() != lineSource || anySrc.Source().IsValid() {
		t.Fatalf("Source() = %v and %v, want %v and the zero Addr", ssm.Source(), anySrc.Source(), lineSource)
	}
	line := dial(t, ssm.LocalAddr(), 0)
	if line.LocalAddr().Addr() != lineSource {
		t.Fatalf("a sender on lo sends from %v, want %v", line.LocalAddr(), lineSource)
	}
	foreign := dialFrom(t, ssm.LocalAddr(), foreignSource)

	// The foreign datagrams first, then the line's marker: lo is FIFO, so a
	// receiver that let a foreign one through would read it before the
	// marker.
	const nForeign = 100
	for i := range nForeign {
		if err := foreign.Write(packet(uint32(i), 64)); err != nil {
			t.Fatal(err)
		}
	}
	if err := line.Write([]byte("marker")); err != nil {
		t.Fatal(err)
	}

	got := readN(t, ssm, 1)
	if string(got.data[0]) != "marker" || got.src[0] != line.LocalAddr() {
		t.Fatalf("SSM receiver first got %q from %v, want the marker from %v", got.data[0], got.src[0], line.LocalAddr())
	}
	st := ssm.Stats()
	if st.Datagrams != 1 {
		t.Fatalf("SSM receiver delivered %d datagrams, want only the marker", st.Datagrams)
	}
	// Every foreign datagram was queued before the marker, so had the kernel
	// delivered any, the receiver would have counted it by now.
	if st.ForeignSource != 0 {
		t.Errorf("ForeignSource = %d: the kernel delivered foreign datagrams despite the source-specific join (dropped in user space)", st.ForeignSource)
	}

	// The any-source receiver on the same group:port gets them all: they
	// were on the wire.
	got = readN(t, anySrc, nForeign+1)
	for i := range nForeign {
		if seqOf(got.data[i]) != uint32(i) || got.src[i] != foreign.LocalAddr() {
			t.Fatalf("any-source receiver datagram %d: seq %d from %v, want seq %d from %v",
				i, seqOf(got.data[i]), got.src[i], i, foreign.LocalAddr())
		}
	}
	if string(got.data[nForeign]) != "marker" {
		t.Fatalf("any-source receiver got %q last, want the marker", got.data[nForeign])
	}
	if st := anySrc.Stats(); st.ForeignSource != 0 {
		t.Fatalf("any-source receiver counted %d foreign datagrams, want 0", st.ForeignSource)
	}
}

// TestForeignSourceDroppedInUserSpace checks the receiver's own source check
// on a real socket: an any-source join with the receiver's source set
// behind it, as on a platform without SSM.
func TestForeignSourceDroppedInUserSpace(t *testing.T) {
	t.Parallel()
	r := listen(t, mcasttest.Group(t), 0, nil)
	r.src = lineSource // joined any-source: the kernel filters nothing
	line := dial(t, r.LocalAddr(), 0)
	foreign := dialFrom(t, r.LocalAddr(), foreignSource)

	const nForeign = 50
	for round := range 2 {
		for i := range nForeign {
			if err := foreign.Write(packet(uint32(i), 64)); err != nil {
				t.Fatal(err)
			}
		}
		marker := fmt.Sprintf("marker-%d", round)
		if err := line.Write([]byte(marker)); err != nil {
			t.Fatal(err)
		}
		if round == 0 {
			got := readN(t, r, 1)
			if string(got.data[0]) != marker || got.src[0] != line.LocalAddr() {
				t.Fatalf("ReadBatch got %q from %v, want %q from %v", got.data[0], got.src[0], marker, line.LocalAddr())
			}
		} else {
			got := tryReadN(t, r, 1)
			if string(got[0]) != marker {
				t.Fatalf("TryReadBatch got %q, want %q", got[0], marker)
			}
		}
		// FIFO: the foreign datagrams came before the marker and are all
		// counted once it is read.
		if st := r.Stats(); st.ForeignSource != uint64((round+1)*nForeign) || st.Datagrams != uint64(round+1) {
			t.Fatalf("after round %d: stats %+v, want %d foreign and %d delivered", round, st, (round+1)*nForeign, round+1)
		}
	}
}

func TestKeepSource(t *testing.T) {
	t.Parallel()
	line := netip.AddrPortFrom(lineSource, 4000)
	other := netip.AddrPortFrom(foreignSource, 4000)
	mapped := netip.AddrPortFrom(netip.AddrFrom16(lineSource.As16()), 4001)
	mk := func(srcs ...netip.AddrPort) []Datagram {
		b := make([]Datagram, len(srcs))
		for i, s := range srcs {
			b[i] = Datagram{Data: []byte{byte(i)}, Src: s, KernelTime: int64(i)}
		}
		return b
	}
	for _, tc := range []struct {
		name  string
		batch []Datagram
		src   netip.Addr
		want  []byte // Data[0] of the kept datagrams, in order
	}{
		{"empty", nil, lineSource, nil},
		{"any source keeps all", mk(line, other, line), netip.Addr{}, []byte{0, 1, 2}},
		{"all from the source", mk(line, line, mapped), lineSource, []byte{0, 1, 2}},
		{"all foreign", mk(other, other), lineSource, nil},
		{"mixed", mk(other, line, other, other, line, line, other), lineSource, []byte{1, 4, 5}},
		{"foreign last", mk(line, line, other), lineSource, []byte{0, 1}},
		{"same address other port is the source", mk(other, netip.AddrPortFrom(lineSource, 9)), lineSource, []byte{1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			orig := append([]Datagram(nil), tc.batch...)
			kept, dropped := keepSource(tc.batch, tc.src)
			if kept != len(tc.want) || dropped != len(tc.batch)-len(tc.want) {
				t.Fatalf("keepSource = %d kept, %d dropped; want %d, %d", kept, dropped, len(tc.want), len(tc.batch)-len(tc.want))
			}
			for i, d := range tc.batch[:kept] {
				w := orig[tc.want[i]]
				if d.Data[0] != tc.want[i] || d.Src != w.Src || d.KernelTime != w.KernelTime {
					t.Fatalf("kept[%d] = %+v, want %+v", i, d, w)
				}
			}
			for i, d := range tc.batch[kept:] {
				if d.Data != nil {
					t.Fatalf("batch[%d] past the kept ones still holds %+v", kept+i, d)
				}
			}
		})
	}
}

// tryReadN spins on TryReadBatch until n datagrams arrived, failing the test
// if they do not within waitFor.
func tryReadN(t testing.TB, r *Receiver, n int) [][]byte {
	t.Helper()
	var got [][]byte
	deadline := time.Now().Add(waitFor)
	for len(got) < n {
		b, err := r.TryReadBatch()
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range b {
			got = append(got, append([]byte(nil), d.Data...))
		}
		if len(b) == 0 && time.Now().After(deadline) {
			t.Fatalf("TryReadBatch: %d of %d datagrams after %v", len(got), n, waitFor)
		}
	}
	return got
}
