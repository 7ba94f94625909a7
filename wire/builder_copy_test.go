package wire_test

import (
	"testing"

	"github.com/tickcast/tickcast/wire"
)

func TestFinishPacketAndCopyTo(t *testing.T) {
	var b wire.Builder
	b.Reset(make([]byte, 0, 256), 256, wire.Header{Channel: 4, Session: 9, Seq: 100})
	wire.Add(&b, wire.LevelUpdate{Instrument: 1, Price: 5, Qty: 2})
	wire.Add(&b, wire.Trade{Instrument: 1, Price: 5, Qty: 1})
	p := b.FinishPacket(77)
	want, err := wire.Parse(p.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if p.Header != want.Header {
		t.Fatalf("FinishPacket header %+v, parsed %+v", p.Header, want.Header)
	}
	buf := make([]byte, 0, 8)
	c := p.CopyTo(buf)
	if c.Header != p.Header || string(c.Bytes()) != string(p.Bytes()) || &c.Bytes()[0] == &p.Bytes()[0] {
		t.Fatal("CopyTo is not an equal, separate copy")
	}
	if n := testing.AllocsPerRun(100, func() { c = p.CopyTo(c.Bytes()) }); n != 0 {
		t.Fatalf("CopyTo into a big enough buffer allocates %v times", n)
	}
}
