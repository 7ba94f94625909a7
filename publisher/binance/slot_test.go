package binance

import (
	"fmt"
	"testing"

	"github.com/tickcast/tickcast/publisher/source"
	"github.com/tickcast/tickcast/wire"
)

// syncedSlot returns the slot of a source whose first symbol, BTCUSDT, is
// synced at update id 1000, publishing to sink; no network involved.
func syncedSlot(tb testing.TB, sink source.Sink) *slot {
	src, err := New(Config{Symbols: []Symbol{{Name: "BTCUSDT"}, {Name: "ETHUSDT"}}})
	if err != nil {
		tb.Fatal(err)
	}
	src.sink = sink
	sl := src.slots[0]
	sl.free = make(chan []byte, 1)
	s := sl.syms[0]
	s.synced, s.status, s.lastU = true, wire.StatusOK, 1000
	return sl
}

// depthFrameAt builds a BTCUSDT depth frame with ids first..first+1 and 10
// levels a side.
func depthFrameAt(first uint64) []byte {
	f := depthFrame("btcusdt@depth@100ms", "BTCUSDT", 10)
	return []byte(replaceIDs(string(f), first))
}

func replaceIDs(f string, first uint64) string {
	var out []byte
	out = fmt.Appendf(out, `"U":%d,"u":%d`, first, first+1)
	const ids = `"U":1000157,"u":1000160`
	for i := 0; i+len(ids) <= len(f); i++ {
		if f[i:i+len(ids)] == ids {
			return f[:i] + string(out) + f[i+len(ids):]
		}
	}
	panic("no ids")
}

// TestFramePathAllocs guards the steady state: a depth event of a synced
// symbol is decoded, normalized, checked and published without allocating.
func TestFramePathAllocs(t *testing.T) {
	n := 0
	sl := syncedSlot(t, source.SinkFunc(func(b []byte) error {
		if len(b) != 20*wire.LevelUpdateLen {
			t.Fatalf("published %d bytes", len(b))
		}
		n++
		return nil
	}))
	frames := make([][]byte, 200)
	for i := range frames {
		frames[i] = depthFrameAt(1001 + 2*uint64(i))
	}
	i := 0
	step := func() {
		if err := sl.onFrame(frame{buf: frames[i]}); err != nil {
			t.Fatal(err)
		}
		<-sl.free
		if err := sl.flush(); err != nil {
			t.Fatal(err)
		}
		i++
	}
	step()
	if a := testing.AllocsPerRun(100, step); a != 0 {
		t.Fatalf("%v allocations per depth event", a)
	}
	if s := sl.syms[0]; s.c.gaps.Load() != 0 || !s.synced || n != 102 {
		t.Fatalf("gaps %d, synced %v, %d batches", s.c.gaps.Load(), s.synced, n)
	}
}

// BenchmarkFramePath measures one depth event of 20 levels through the whole
// slot: decode, normalize, sequence check, publish.
func BenchmarkFramePath(b *testing.B) {
	sl := syncedSlot(b, source.SinkFunc(func([]byte) error { return nil }))
	frame0 := depthFrameAt(1001)
	b.ReportAllocs()
	b.SetBytes(int64(len(frame0)))
	for b.Loop() {
		sl.syms[0].lastU = 1000 // replay the same event
		if err := sl.onFrame(frame{buf: frame0}); err != nil {
			b.Fatal(err)
		}
		<-sl.free
		if err := sl.flush(); err != nil {
			b.Fatal(err)
		}
	}
}
