package mcast

import (
	"errors"
	"net"
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
	r := listen(t, mcasttest.Group(t), 0, func(c *RecvConfig) { c.Timestamps = true })
	s := dial(t, r.LocalAddr(), 0)
	pkts := benchPackets()
	if err := r.SetReadDeadline(time.Now().Add(waitFor)); err != nil {
		t.Fatal(err)
	}
	roundTrip(t, s, r, pkts) // warm up
	if a := testing.AllocsPerRun(100, func() { roundTrip(t, s, r, pkts) }); a != 0 {
		t.Fatalf("WriteBatch + ReadBatch round trip: %v allocs, want 0", a)
	}
	if a := testing.AllocsPerRun(100, func() {
		if err := s.Write(pkts[0]); err != nil {
			t.Fatal(err)
		}
		if _, err := r.ReadBatch(); err != nil {
			t.Fatal(err)
		}
	}); a != 0 {
		t.Fatalf("Write + ReadBatch: %v allocs, want 0", a)
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
