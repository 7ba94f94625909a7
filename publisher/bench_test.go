package publisher

import (
	"errors"
	"fmt"
	"github.com/tickcast/tickcast/egress"
	"net"
	"net/netip"
	"testing"

	"github.com/tickcast/tickcast/internal/mcast"
	"github.com/tickcast/tickcast/internal/mcast/mcasttest"
	"github.com/tickcast/tickcast/publisher/synth"
)

// benchPublisher returns a publisher on two fresh groups on lo, each with a
// receiver draining it (so the kernel does the full loopback delivery), and
// a generator for its input.
func benchPublisher(b testing.TB, maxPacket int, lines bool) (*Publisher, *synth.Generator) {
	b.Helper()
	var groups [2]netip.AddrPort
	for i := range groups {
		r, err := mcast.Listen(mcast.RecvConfig{Group: netip.AddrPortFrom(mcasttest.Group(b), 0), Interface: mcasttest.Interface})
		if err != nil {
			b.Fatal(err)
		}
		groups[i] = r.LocalAddr()
		go func() {
			for {
				if _, err := r.ReadBatch(); errors.Is(err, net.ErrClosed) || err != nil {
					return
				}
			}
		}()
		b.Cleanup(func() { r.Close() })
	}
	p, err := New(Config{
		Lines:     []egress.Line{{Name: "A", Group: groups[0], Interface: mcasttest.Interface, Loopback: true}, {Name: "B", Group: groups[1], Interface: mcasttest.Interface, Loopback: true}},
		MaxPacket: maxPacket,
	})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(p.closeLines)
	if !lines {
		p.out.Close()
		if p.out, err = egress.New(egress.Config{Sink: discard{}, MaxPacket: maxPacket, Cache: p.cache}); err != nil {
			b.Fatal(err)
		}
	}
	gen, err := synth.NewGenerator(synth.Config{Instruments: 100, Levels: 200, Seed: 1})
	if err != nil {
		b.Fatal(err)
	}
	<-p.free // make room: take hands every batch back to the free list
	p.seq.take(&batch{b: gen.Definitions(nil)})
	<-p.free
	p.seq.flush()
	return p, gen
}

// benchmarkPublish drives the sequencer directly with generated batches of
// about 256 messages, flushing after every perFlush batches: 1 is a
// lightly loaded sequencer (it sends as soon as its input is empty), 16 one
// under sustained load (batches queue up while it sends).
func benchmarkPublish(b *testing.B, maxPacket int, lines bool, perFlush int) {
	p, gen := benchPublisher(b, maxPacket, lines)
	bt := &batch{b: make([]byte, 0, 64<<10)}
	msgs0, pkts0 := p.stats.messages.Load(), p.stats.packets.Load()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		bt.b = gen.Next(bt.b[:0], 256, 1)
		p.seq.take(bt)
		<-p.free // take returned it to the free list; keep using our own
		if i%perFlush == perFlush-1 {
			p.seq.flush()
		}
	}
	msgs := float64(p.stats.messages.Load() - msgs0)
	pkts := float64(p.stats.packets.Load() - pkts0)
	sec := b.Elapsed().Seconds()
	b.ReportMetric(msgs/sec, "msgs/s")
	b.ReportMetric(pkts/sec, "pkts/s")
	b.ReportMetric(b.Elapsed().Seconds()*1e9/msgs, "ns/msg")
}

// BenchmarkSequence measures sequencing and encoding alone: books, packets,
// checksum bookkeeping and the retransmit cache, no sockets.
func BenchmarkSequence(b *testing.B) {
	b.Run("packet=1200", func(b *testing.B) { benchmarkPublish(b, 1200, false, 1) })
	b.Run("packet=8192", func(b *testing.B) { benchmarkPublish(b, 8192, false, 1) })
}

// BenchmarkPublishToLines measures the whole path into the sockets: every
// packet written to line A and line B on lo with sendmmsg.
func BenchmarkPublishToLines(b *testing.B) {
	for _, size := range []int{1200, 8192} {
		for _, per := range []int{1, 16} {
			b.Run(fmt.Sprintf("packet=%d/flush=%d", size, per*256), func(b *testing.B) { benchmarkPublish(b, size, true, per) })
		}
	}
}

func TestSequenceDoesNotAllocate(t *testing.T) {
	p, gen := benchPublisher(t, 1200, false)
	bt := &batch{b: make([]byte, 0, 64<<10)}
	step := func() {
		bt.b = gen.Next(bt.b[:0], 256, 1)
		p.seq.take(bt)
		<-p.free
		p.seq.flush()
	}
	for i := 0; i < 100; i++ {
		step() // warm up: buffers grow to their steady size
	}
	if n := testing.AllocsPerRun(100, step); n != 0 {
		t.Fatalf("%v allocations per batch of 256 messages", n)
	}
}

// discard is a Sink that drops everything: the sequencer alone, no sockets.
type discard struct{}

func (discard) Publish(uint16, []byte) {}
