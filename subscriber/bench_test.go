package subscriber

import (
	"net/netip"
	"testing"

	"github.com/tickcast/tickcast/internal/mcast/mcasttest"
	"github.com/tickcast/tickcast/publisher/synth"
	"github.com/tickcast/tickcast/wire"
)

// BenchmarkIntake measures the subscriber's whole receive path short of the
// socket: validation, A/B arbitration (each packet arrives on both lines),
// the hand-off queue, books, latency recording and a handler call per
// event. One op is one packet of ~29 LevelUpdates from each line.
func BenchmarkIntake(b *testing.B) {
	var events int
	sub, err := New(Config{
		Channel: 3,
		Lines: []Line{
			{Group: netip.AddrPortFrom(mcasttest.Group(b), 40001), Interface: mcasttest.Interface},
			{Group: netip.AddrPortFrom(mcasttest.Group(b), 40002), Interface: mcasttest.Interface},
		},
		Handler: HandlerFunc(func(*Event) { events++ }),
	})
	if err != nil {
		b.Fatal(err)
	}
	defer sub.Close()
	gen, err := synth.NewGenerator(synth.Config{Instruments: 100, Levels: 200, Seed: 1})
	if err != nil {
		b.Fatal(err)
	}
	// Pre-build a long stream of packets; sequences are rewritten per lap.
	var pkts [][]byte
	msgs := gen.Definitions(nil)
	for len(pkts) < 4096 {
		msgs = gen.Next(msgs, 2000, 1)
		for len(msgs) > 0 {
			var pb wire.Builder
			pb.Reset(make([]byte, 0, 1200), 1200, wire.Header{Channel: 3, Session: 9})
			for len(msgs) > 0 {
				m, _ := wire.ReadMessage(msgs)
				if !pb.AddRaw(m.Bytes()) {
					break
				}
				msgs = msgs[m.Len():]
			}
			pkts = append(pkts, pb.Finish(1))
		}
	}
	seq := uint64(1)
	dg := [][]byte{nil}
	feed := func(i int) {
		raw := pkts[i%len(pkts)]
		wire.SetSeq(raw, seq)
		h, _ := wire.ParseHeader(raw)
		seq += uint64(h.Count)
		dg[0] = raw
		sub.in.Inject(0, dg, 1)
		sub.in.Inject(1, dg, 1)
	}
	for i := 0; i < 2*16384; i++ {
		feed(i) // warm up: books at depth, every queue item's buffer grown
	}
	msgs0 := sub.Stats().Messages
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		feed(i)
	}
	b.StopTimer()
	n := float64(sub.Stats().Messages - msgs0)
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/n, "ns/msg")
	if events == 0 {
		b.Fatal("no events")
	}
}
