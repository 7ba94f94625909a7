package relay

import (
	"log/slog"
	"testing"
	"time"

	"github.com/tickcast/tickcast/egress"
	"github.com/tickcast/tickcast/gap"
	"github.com/tickcast/tickcast/intake"
	"github.com/tickcast/tickcast/wire"
)

// nullSink takes the forwarded packets (the link server's place).
type nullSink struct{ n int }

func (s *nullSink) Publish(uint16, []byte) { s.n++ }

// forwarding returns a channel with a cache and an egress to a sink, whole
// from sequence 1, and a function making packet seq of 10 level updates.
func forwarding(tb testing.TB) (*channel, *nullSink, func(seq uint64) wire.Packet) {
	tb.Helper()
	c := newChannel(Channel{ID: testChannel, MaxPacket: wire.DefaultMaxPacket, Heartbeat: time.Second}, slog.New(slog.DiscardHandler))
	var err error
	if c.cache, err = gap.NewCache(gap.CacheConfig{}); err != nil {
		tb.Fatal(err)
	}
	sink := &nullSink{}
	if c.out, err = egress.New(egress.Config{Channel: testChannel, Cache: c.cache, Sink: sink}); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { c.out.Close() })
	c.Event(intake.Event{Kind: intake.EventJoin, Session: 9, Seq: 1})
	var pb wire.Builder
	buf := make([]byte, 0, wire.MaxJumboPacket)
	make1 := func(seq uint64) wire.Packet {
		pb.Reset(buf[:0], wire.DefaultMaxPacket, wire.Header{Channel: testChannel, Session: 9, Seq: seq, SendTime: time.Now().UnixNano()})
		for i := range 10 {
			wire.Add(&pb, wire.LevelUpdate{Instrument: uint32(1 + i%4), Price: int64(100 + i), Qty: int64(seq), Side: wire.Side(i % 2)})
		}
		p, err := wire.Parse(pb.Finish(time.Now().UnixNano()))
		if err != nil {
			tb.Fatal(err)
		}
		return p
	}
	return c, sink, make1
}

// TestForwardAllocatesNothing guards the relay's per-packet path: trim,
// books, cache, egress, latency, in steady state.
func TestForwardAllocatesNothing(t *testing.T) {
	c, sink, pkt := forwarding(t)
	seq := uint64(1)
	step := func() {
		d := intake.Delivery{Packet: pkt(seq)}
		c.Packet(&d)
		seq += 10
	}
	for range 100 { // warm up: books, histogram buckets
		step()
	}
	if n := testing.AllocsPerRun(1000, step); n != 0 {
		t.Fatalf("%v allocations per forwarded packet, want 0", n)
	}
	if sink.n == 0 || c.applied != seq-1 {
		t.Fatalf("sink got %d packets, applied %d, want %d", sink.n, c.applied, seq-1)
	}
}

// BenchmarkForward measures the relay's per-packet path without sockets.
func BenchmarkForward(b *testing.B) {
	c, _, pkt := forwarding(b)
	seq := uint64(1)
	b.ReportAllocs()
	for b.Loop() {
		d := intake.Delivery{Packet: pkt(seq)}
		c.Packet(&d)
		seq += 10
	}
}
