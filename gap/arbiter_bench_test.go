package gap

import (
	"testing"

	"github.com/tickcast/tickcast/wire"
)

type nopSink struct{ n uint64 }

func (s *nopSink) Deliver(d Delivery) { s.n += uint64(d.Packet.Count) - uint64(d.Skip) }
func (s *nopSink) Event(Event)        {}

// benchPackets builds count consecutive packets of per messages each.
func benchPackets(b testing.TB, count, per int) [][]byte {
	out := make([][]byte, count)
	seq := uint64(1)
	for i := range out {
		var pb wire.Builder
		pb.Reset(make([]byte, 0, wire.DefaultMaxPacket), wire.DefaultMaxPacket, wire.Header{Session: 1, Seq: seq})
		for k := 0; k < per; k++ {
			wire.Add(&pb, wire.LevelUpdate{Instrument: 1, Price: int64(k), Qty: 1})
		}
		out[i] = pb.Finish(0)
		seq += uint64(per)
	}
	return out
}

// offerAB offers every packet on line A then its duplicate on line B,
// re-basing sequences so the stream never ends.
func offerAB(a *Arbiter, pkts [][]byte, base uint64, per int) uint64 {
	for _, raw := range pkts {
		wire.SetSeq(raw, base)
		p, _ := wire.Parse(raw)
		a.Offer(0, p, 1)
		a.Offer(1, p, 2)
		base += uint64(per)
	}
	return base
}

func benchmarkArbiterAB(b *testing.B, per int) {
	pkts := benchPackets(b, 256, per)
	a, err := NewArbiter(Config{}, &nopSink{})
	if err != nil {
		b.Fatal(err)
	}
	base := uint64(1)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i += len(pkts) {
		base = offerAB(a, pkts, base, per)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(per), "ns/msg")
}

// BenchmarkArbiterAB measures arbitration of an in-order A/B stream: per
// op, one packet offered on A (delivered) and its copy on B (dropped as a
// duplicate), including wire.Parse of the packet.
func BenchmarkArbiterAB(b *testing.B) {
	b.Run("1msg", func(b *testing.B) { benchmarkArbiterAB(b, 1) })
	b.Run("29msg", func(b *testing.B) { benchmarkArbiterAB(b, 29) })
}

func TestArbiterInOrderDoesNotAllocate(t *testing.T) {
	pkts := benchPackets(t, 64, 5)
	a, err := NewArbiter(Config{}, &nopSink{})
	if err != nil {
		t.Fatal(err)
	}
	base := offerAB(a, pkts, 1, 5)
	allocs := testing.AllocsPerRun(20, func() { base = offerAB(a, pkts, base, 5) })
	if allocs != 0 {
		t.Fatalf("%v allocations per run of 64 A/B packets", allocs)
	}
}
