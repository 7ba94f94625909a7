package wire_test

import (
	"testing"

	"github.com/tickcast/tickcast/wire"
)

// Benchmarks of the hot paths: run with
//
//	go test -run='^$' -bench=. -benchmem ./wire
//
// The single-message loops count b.N by hand instead of using b.Loop: b.Loop
// keeps every assigned value alive by converting it to an interface (a copy
// of a 40-byte LevelUpdate each iteration) and stops the calls in its body
// from being inlined, so it would measure its own overhead, not the codec's.

var (
	sinkBytes []byte
	sinkLU    wire.LevelUpdate
	sinkInt   int64
)

var benchLU = wire.LevelUpdate{
	Instrument: 7,
	Price:      6_512_345,
	Qty:        120_000,
	ExchTime:   1_700_000_000_123_456_789,
	Side:       wire.Ask,
	EndOfEvent: true,
}

func BenchmarkEncodeLevelUpdate(b *testing.B) {
	b.ReportAllocs()
	buf := make([]byte, 0, wire.LevelUpdateLen)
	for i := 0; i < b.N; i++ {
		buf = benchLU.Append(buf[:0])
	}
	sinkBytes = buf
}

// BenchmarkDecodeLevelUpdate compares the three ways to decode: the function
// returning a value, the method filling a reused value, and the accessor of
// a parsed packet's message.
func BenchmarkDecodeLevelUpdate(b *testing.B) {
	msg := benchLU.Append(nil)
	b.Run("Func", func(b *testing.B) {
		b.ReportAllocs()
		var u wire.LevelUpdate
		for i := 0; i < b.N; i++ {
			u, _ = wire.DecodeLevelUpdate(msg)
		}
		sinkLU = u
	})
	b.Run("Method", func(b *testing.B) {
		b.ReportAllocs()
		var u wire.LevelUpdate
		for i := 0; i < b.N; i++ {
			_ = u.Decode(msg)
		}
		sinkLU = u
	})
	b.Run("Accessor", func(b *testing.B) {
		b.ReportAllocs()
		it := mustParse(b, wire.AppendControl(nil, 1, 2, 3, benchLU)).Messages()
		it.Next()
		m := it.Message()
		var u wire.LevelUpdate
		for i := 0; i < b.N; i++ {
			u = m.LevelUpdate()
		}
		sinkLU = u
	})
}

// BenchmarkLevelUpdateRoundTrip encodes one LevelUpdate and decodes it back,
// with the Decode method (Method) or the DecodeLevelUpdate function (Func).
func BenchmarkLevelUpdateRoundTrip(b *testing.B) {
	b.Run("Method", func(b *testing.B) {
		b.ReportAllocs()
		buf := make([]byte, 0, wire.LevelUpdateLen)
		var u wire.LevelUpdate
		var sum int64
		for i := 0; i < b.N; i++ {
			buf = benchLU.Append(buf[:0])
			_ = u.Decode(buf)
			sum += u.Price
		}
		sinkInt = sum
	})
	b.Run("Func", func(b *testing.B) {
		b.ReportAllocs()
		buf := make([]byte, 0, wire.LevelUpdateLen)
		var sum int64
		for i := 0; i < b.N; i++ {
			buf = benchLU.Append(buf[:0])
			u, _ := wire.DecodeLevelUpdate(buf)
			sum += u.Price
		}
		sinkInt = sum
	})
}

// BenchmarkBuildPacket fills a 1200-byte packet with LevelUpdates (29 of
// them) and finishes it.
func BenchmarkBuildPacket(b *testing.B) {
	b.ReportAllocs()
	buf := make([]byte, 0, wire.DefaultMaxPacket)
	var pb wire.Builder
	var pkt []byte
	msgs := 0
	for b.Loop() {
		pb.Reset(buf, wire.DefaultMaxPacket, wire.Header{Channel: 1, Session: 2, Seq: 3})
		for p := int64(0); ; p++ {
			u := wire.LevelUpdate{Instrument: 7, Price: 6_512_345 + p, Qty: p, Side: wire.Side(p & 1)}
			if !wire.Add(&pb, u) {
				break
			}
		}
		msgs += pb.Count()
		pkt = pb.Finish(1_700_000_000_000_000_000)
	}
	sinkBytes = pkt
	b.SetBytes(int64(len(pkt)))
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(msgs), "ns/msg")
}

// fullPacket returns a packet filled to the 1200-byte limit with LevelUpdates.
func fullPacket() []byte {
	var pb wire.Builder
	pb.Reset(nil, wire.DefaultMaxPacket, wire.Header{Channel: 1, Session: 2, Seq: 3})
	u := benchLU
	for wire.Add(&pb, u) {
		u.Price++
	}
	return pb.Finish(1_700_000_000_000_000_000)
}

// parseAll parses pkt, walks every message and decodes every LevelUpdate,
// returning a sum of prices (so the work cannot be optimised away) and the
// number of messages.
func parseAll(pkt []byte) (sum int64, n int) {
	p, err := wire.Parse(pkt)
	if err != nil {
		return 0, 0
	}
	var u wire.LevelUpdate
	it := p.Messages() // outside the for statement: see Iter
	for it.Next() {
		if m := it.Message(); m.Type() == wire.TypeLevelUpdate {
			_ = u.Decode(m.Bytes())
			sum += u.Price
		}
		n++
	}
	return sum, n
}

// BenchmarkParsePacket parses a full 1200-byte packet and decodes its 29
// LevelUpdates.
func BenchmarkParsePacket(b *testing.B) {
	b.ReportAllocs()
	pkt := fullPacket()
	b.SetBytes(int64(len(pkt)))
	msgs := 0
	for b.Loop() {
		s, n := parseAll(pkt)
		sinkInt += s
		msgs += n
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(msgs), "ns/msg")
}

// BenchmarkSplit cuts a full 1200-byte packet for a 600-byte link.
func BenchmarkSplit(b *testing.B) {
	b.ReportAllocs()
	pkt := fullPacket()
	buf := make([]byte, 0, 600)
	parts := 0
	emit := func(part []byte) error { parts++; return nil }
	for b.Loop() {
		if err := wire.Split(pkt, 600, buf, emit); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(parts)/float64(b.N), "parts/op")
}
