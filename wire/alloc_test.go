package wire_test

import (
	"testing"

	"github.com/tickcast/tickcast/wire"
)

// The hot paths do not allocate (CONVENTIONS.md: "guard 0 allocs with
// testing.AllocsPerRun tests").
func TestZeroAllocs(t *testing.T) {
	msgBuf := make([]byte, 0, 64)
	pktBuf := make([]byte, 0, wire.DefaultMaxPacket)
	splitBuf := make([]byte, 0, 600)
	full := fullPacket()
	lu := benchLU.Append(nil)
	var sum int64

	for _, c := range []struct {
		name string
		f    func()
	}{
		{"encode", func() {
			msgBuf = benchLU.Append(msgBuf[:0])
			msgBuf = wire.Trade{Instrument: 1, Price: 2}.Append(msgBuf[:0])
			msgBuf = wire.NewInstrumentDef(1, "BTCUSDT", "binance", -2, -8).Append(msgBuf[:0])
			msgBuf = wire.BookChecksum{Instrument: 1, CRC: 2}.Append(msgBuf[:0])
			msgBuf = wire.RetransmitRequest{Channel: 1, Count: 2, Token: 3}.Append(msgBuf[:0])
			msgBuf = wire.RetransmitToken{Channel: 1, Token: 3}.Append(msgBuf[:0])
			msgBuf = wire.AppendControl(msgBuf[:0], 1, 2, 3, wire.SnapshotRequest{Channel: 1})
		}},
		{"build a full packet", func() {
			var pb wire.Builder
			pb.Reset(pktBuf, wire.DefaultMaxPacket, wire.Header{Channel: 1, Session: 2, Seq: 3})
			u := benchLU
			for wire.Add(&pb, u) {
				u.Price++
			}
			pb.AddRaw(lu)
			_ = pb.Header()
			pktBuf = pb.Finish(4)[:0]
		}},
		{"parse, iterate, decode", func() {
			s, _ := parseAll(full)
			sum += s
			p, _ := wire.Parse(full)
			it := p.Messages()
			for it.Next() {
				m := it.Message()
				sum += m.LevelUpdate().Price + int64(m.Trade().Qty) + int64(it.Seq())
				id, _ := m.Instrument()
				sum += int64(id)
			}
		}},
		{"decode functions", func() {
			u, _ := wire.DecodeLevelUpdate(lu)
			_, err := wire.DecodeTrade(lu) // wrong type: a sentinel, no allocation
			sum += u.Price
			if err == nil {
				sum++
			}
		}},
		{"split", func() {
			_ = wire.Split(full, 600, splitBuf, func(part []byte) error {
				sum += int64(len(part))
				return nil
			})
		}},
	} {
		if n := testing.AllocsPerRun(200, c.f); n != 0 {
			t.Errorf("%s: %v allocations per run, want 0", c.name, n)
		}
	}
	sinkInt = sum
}
