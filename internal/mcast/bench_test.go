package mcast

import (
	"errors"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/tickcast/tickcast/internal/mcast/mcasttest"
)

// benchBatch and benchSize: a sendmmsg chunk of typical tickcast packets.
const (
	benchBatch = 64
	benchSize  = 200
)

func benchPackets() [][]byte {
	pkts := make([][]byte, benchBatch)
	for i := range pkts {
		pkts[i] = packet(uint32(i), benchSize)
	}
	return pkts
}

// roundTrip sends one batch and reads until all of it arrived.
func roundTrip(tb testing.TB, s *Sender, r *Receiver, pkts [][]byte) {
	if _, err := s.WriteBatch(pkts); err != nil {
		tb.Fatal(err)
	}
	for got := 0; got < len(pkts); {
		b, err := r.ReadBatch()
		if err != nil {
			tb.Fatal(err)
		}
		got += len(b)
	}
}

func TestRoundTripNoAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are not meaningful under the race detector")
	}
	for _, tc := range []struct {
		name    string
		source  netip.Addr // RecvConfig.Source
		foreign bool       // also send foreign datagrams, dropped in user space
	}{
		{"any source", netip.Addr{}, false},
		{"source-specific", lineSource, false},
		{"foreign dropped", lineSource, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := listen(t, mcasttest.Group(t), 0, func(c *RecvConfig) {
				c.Timestamps = true
				if !tc.foreign {
					c.Source = tc.source
				}
			})
			var f *Sender
			if tc.foreign {
				// Joined any-source with the source set behind it, so the
				// kernel delivers the foreign datagrams and readBatch
				// drops them.
				r.src = tc.source
				f = dialFrom(t, r.LocalAddr(), foreignSource)
			}
			s := dial(t, r.LocalAddr(), 0)
			pkts := benchPackets()
			if err := r.SetReadDeadline(time.Now().Add(waitFor)); err != nil {
				t.Fatal(err)
			}
			send := func() {
				if f != nil {
					if _, err := f.WriteBatch(pkts[:8]); err != nil {
						t.Fatal(err)
					}
				}
			}
			round := func() { send(); roundTrip(t, s, r, pkts) }
			round() // warm up
			if a := testing.AllocsPerRun(100, round); a != 0 {
				t.Fatalf("WriteBatch + ReadBatch round trip: %v allocs, want 0", a)
			}
			if a := testing.AllocsPerRun(100, func() {
				send()
				if err := s.Write(pkts[0]); err != nil {
					t.Fatal(err)
				}
				for got := 0; got == 0; {
					b, err := r.ReadBatch()
					if err != nil {
						t.Fatal(err)
					}
					got = len(b)
				}
			}); a != 0 {
				t.Fatalf("Write + ReadBatch: %v allocs, want 0", a)
			}
			deadline := time.Now().Add(waitFor)
			if a := testing.AllocsPerRun(100, func() {
				send()
				if err := s.Write(pkts[0]); err != nil {
					t.Fatal(err)
				}
				for got := 0; got == 0; {
					b, err := r.TryReadBatch()
					if err != nil {
						t.Fatal(err)
					}
					if got = len(b); got == 0 && time.Now().After(deadline) {
						t.Fatal("TryReadBatch: no datagram")
					}
				}
			}); a != 0 {
				t.Fatalf("Write + TryReadBatch: %v allocs, want 0", a)
			}
			if tc.foreign {
				if st := r.Stats(); st.ForeignSource == 0 {
					t.Fatalf("stats %+v: no foreign datagram was dropped", st)
				}
			}
		})
	}
}

func TestKeepSourceNoAllocs(t *testing.T) {
	b := make([]Datagram, 64)
	for i := range b {
		b[i].Data = []byte{byte(i)}
		b[i].Src = netip.AddrPortFrom(lineSource, 4000)
		if i%3 == 0 {
			b[i].Src = netip.AddrPortFrom(foreignSource, 4000)
		}
	}
	if a := testing.AllocsPerRun(100, func() { keepSource(b, lineSource) }); a != 0 {
		t.Fatalf("keepSource: %v allocs, want 0", a)
	}
}

// BenchmarkWriteBatch sends batches of 64 datagrams of 200 bytes with one
// sendmmsg each while a receiver drains them.
func BenchmarkWriteBatch(b *testing.B) {
	r := listen(b, mcasttest.Group(b), 0, nil)
	s := dial(b, r.LocalAddr(), 0)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			if _, err := r.ReadBatch(); errors.Is(err, net.ErrClosed) {
				return
			}
		}
	}()
	pkts := benchPackets()
	b.ReportAllocs()
	b.SetBytes(benchBatch * benchSize)
	for b.Loop() {
		if _, err := s.WriteBatch(pkts); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*benchBatch)/b.Elapsed().Seconds(), "datagrams/s")
	r.Close()
	<-done
}

// BenchmarkWrite sends the same 64 datagrams one send call each, for
// comparison with BenchmarkWriteBatch.
func BenchmarkWrite(b *testing.B) {
	r := listen(b, mcasttest.Group(b), 0, nil)
	s := dial(b, r.LocalAddr(), 0)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			if _, err := r.ReadBatch(); errors.Is(err, net.ErrClosed) {
				return
			}
		}
	}()
	pkts := benchPackets()
	b.ReportAllocs()
	b.SetBytes(benchBatch * benchSize)
	for b.Loop() {
		for _, p := range pkts {
			if err := s.Write(p); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.N*benchBatch)/b.Elapsed().Seconds(), "datagrams/s")
	r.Close()
	<-done
}

// BenchmarkReadBatch is a round trip on lo: send 64 datagrams of 200 bytes,
// read until all arrived (with kernel timestamps).
func BenchmarkReadBatch(b *testing.B) {
	r := listen(b, mcasttest.Group(b), 0, func(c *RecvConfig) { c.Timestamps = true })
	s := dial(b, r.LocalAddr(), 0)
	pkts := benchPackets()
	if err := r.SetReadDeadline(time.Now().Add(time.Hour)); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(benchBatch * benchSize)
	for b.Loop() {
		roundTrip(b, s, r, pkts)
	}
	b.ReportMetric(float64(b.N*benchBatch)/b.Elapsed().Seconds(), "datagrams/s")
	st := r.Stats()
	b.ReportMetric(float64(st.Datagrams)/float64(st.Batches), "datagrams/batch")
}
