package wire

import (
	"testing"
)

func TestTrim(t *testing.T) {
	h := Header{Channel: 3, Session: 9, Seq: 100, SendTime: 12345}
	var b Builder
	b.Reset(make([]byte, 0, 1200), 1200, h)
	for i := range 5 {
		if !Add(&b, LevelUpdate{Instrument: uint32(i + 1), Price: int64(i), Qty: 1}) {
			t.Fatal("add")
		}
	}
	p, err := Parse(b.Finish(h.SendTime))
	if err != nil {
		t.Fatal(err)
	}
	if q := p.Trim(0, nil); &q.Bytes()[0] != &p.Bytes()[0] {
		t.Fatal("Trim(0) copied")
	}
	for skip := 1; skip <= 6; skip++ {
		q := p.Trim(skip, nil)
		want := max(5-skip, 0)
		r, err := Parse(q.Bytes())
		if err != nil {
			t.Fatalf("skip %d: %v", skip, err)
		}
		if int(r.Count) != want || r.Seq != 100+uint64(min(skip, 5)) || r.SendTime != 12345 || r.Session != 9 || r.Channel != 3 {
			t.Fatalf("skip %d: header %+v", skip, r.Header)
		}
		if r.Header != q.Header {
			t.Fatalf("skip %d: view header %+v, parsed %+v", skip, q.Header, r.Header)
		}
		it := r.Messages()
		for i := 0; it.Next(); i++ {
			if got := it.Message().LevelUpdate().Instrument; got != uint32(skip+i+1) {
				t.Fatalf("skip %d: message %d is instrument %d", skip, i, got)
			}
			if it.Seq() != 100+uint64(skip+i) {
				t.Fatalf("skip %d: seq %d", skip, it.Seq())
			}
		}
	}
	buf := make([]byte, 0, 1200)
	if n := testing.AllocsPerRun(100, func() { buf = p.Trim(2, buf).Bytes() }); n != 0 {
		t.Fatalf("Trim allocates %v times", n)
	}
}
