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
	sub, feed := injectRig(b, HandlerFunc(func(*Event) { events++ }))
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

// TestIntakeAllocatesNothing guards the subscriber's per-packet path (the
// one BenchmarkIntake measures: arbitration, books, per-instrument
// activity, latency, handler) in steady state.
func TestIntakeAllocatesNothing(t *testing.T) {
	var events int
	sub, feed := injectRig(t, HandlerFunc(func(*Event) { events++ }))
	i := 0
	if n := testing.AllocsPerRun(2000, func() { feed(i); i++ }); n != 0 {
		t.Fatalf("%v allocations per packet, want 0", n)
	}
	if events == 0 || sub.Stats().Messages == 0 {
		t.Fatal("nothing was applied")
	}
	if counts, _ := sub.Instruments(); counts.Total() != 100 {
		t.Fatalf("%+v instruments, want 100", counts)
	}
}

// injectRig returns a subscriber (not running: packets are injected on
// both lines) and a function feeding it packet i of a long synthetic
// stream of 100 instruments, warmed up: books at depth, every queue item's
// buffer grown.
func injectRig(tb testing.TB, h Handler) (*Subscriber, func(i int)) {
	sub, err := New(Config{
		Channel: 3,
		Lines: []Line{
			{Group: netip.AddrPortFrom(mcasttest.Group(tb), 40001), Interface: mcasttest.Interface},
			{Group: netip.AddrPortFrom(mcasttest.Group(tb), 40002), Interface: mcasttest.Interface},
		},
		Handler:           h,
		InstrumentMetrics: 10,
	})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { sub.Close() })
	gen, err := synth.NewGenerator(synth.Config{Instruments: 100, Levels: 200, Seed: 1})
	if err != nil {
		tb.Fatal(err)
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
		feed(i)
	}
	return sub, feed
}
