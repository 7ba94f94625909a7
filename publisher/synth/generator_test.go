package synth

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/tickcast/tickcast/wire"
)

// messages splits b into its messages, failing the test on a bad length.
func messages(t testing.TB, b []byte) []wire.Message {
	t.Helper()
	var ms []wire.Message
	for off := 0; off < len(b); {
		m, err := wire.ReadMessage(b[off:])
		if err != nil {
			t.Fatalf("message at %d: %v", off, err)
		}
		ms = append(ms, m)
		off += m.Len()
	}
	return ms
}

// refBook is a reference book built from the messages alone.
type refBook struct {
	def        wire.InstrumentDef
	bids, asks map[int64]int64
	bid, ask   int64 // cached best prices, 0 = unknown: rescan
}

func newRefBook(d wire.InstrumentDef) *refBook {
	return &refBook{def: d, bids: map[int64]int64{}, asks: map[int64]int64{}}
}

// set applies one level update.
func (b *refBook) set(s wire.Side, p, q int64) {
	m := b.bids
	if s == wire.Ask {
		m = b.asks
	}
	if q != 0 {
		m[p] = q
		if s == wire.Bid && b.bid != 0 && p > b.bid {
			b.bid = p
		} else if s == wire.Ask && b.ask != 0 && p < b.ask {
			b.ask = p
		}
		return
	}
	delete(m, p)
	if s == wire.Bid && p == b.bid {
		b.bid = 0
	} else if s == wire.Ask && p == b.ask {
		b.ask = 0
	}
}

// best returns the best bid and ask prices (0 for an empty side).
func (b *refBook) best() (bid, ask int64) {
	if b.bid == 0 {
		for p := range b.bids {
			b.bid = max(b.bid, p)
		}
	}
	if b.ask == 0 {
		for p := range b.asks {
			if b.ask == 0 || p < b.ask {
				b.ask = p
			}
		}
	}
	return b.bid, b.ask
}

// feed applies a stream of messages to reference books and checks every
// event as it completes.
type feed struct {
	t       testing.TB
	books   map[uint32]*refBook
	halted  map[uint32]bool // retired: nothing but a new InstrumentDef may follow
	retired int             // InstrumentStatus halted seen
	levels  int
	pending []wire.Message // the event in progress
	events  int
	trades  int
	// depth statistics over completed data events
	depthSum, depthN int
	minDepth         int
	maxDepth         int
}

func newFeed(t testing.TB, levels int) *feed {
	return &feed{t: t, books: map[uint32]*refBook{}, halted: map[uint32]bool{}, levels: levels, minDepth: 1 << 30}
}

func (f *feed) apply(b []byte) {
	t := f.t
	t.Helper()
	for _, m := range messages(t, b) {
		id, _ := m.Instrument()
		if f.halted[id] && m.Type() != wire.TypeInstrumentDef {
			t.Fatalf("%v for retired instrument %d", m.Type(), id)
		}
		switch m.Type() {
		case wire.TypeInstrumentDef:
			if len(f.pending) > 0 {
				t.Fatalf("InstrumentDef inside an event")
			}
			d := m.InstrumentDef()
			f.books[id] = newRefBook(d)
			delete(f.halted, id)
			continue
		case wire.TypeInstrumentStatus:
			switch s := m.InstrumentStatus().Status; s {
			case wire.StatusOK:
			case wire.StatusHalted: // retired: right after its BookClear
				if pid, _ := f.pendingID(); len(f.pending) != 1 || f.pending[0].Type() != wire.TypeBookClear || pid != id {
					t.Fatalf("instrument %d halted without a BookClear just before", id)
				}
				f.pending = f.pending[:0]
				f.halted[id] = true
				f.retired++
			default:
				t.Fatalf("instrument %d: status %v", id, s)
			}
			continue
		}
		bk := f.books[id]
		if bk == nil {
			t.Fatalf("%v for undefined instrument %d", m.Type(), id)
		}
		if len(f.pending) > 0 {
			if pid, _ := f.pending[0].Instrument(); pid != id {
				t.Fatalf("event mixes instruments %d and %d", pid, id)
			}
		}
		f.pending = append(f.pending, m)
		switch m.Type() {
		case wire.TypeBookClear:
			if len(f.pending) != 1 {
				t.Fatalf("BookClear inside an event")
			}
			*bk = *newRefBook(bk.def)
		case wire.TypeTrade:
			tr := m.Trade()
			if len(f.pending) != 1 {
				t.Fatalf("trade inside an event")
			}
			bid, ask := bk.best()
			switch tr.Aggressor {
			case wire.AggressorBuy:
				if tr.Price != ask || tr.Qty <= 0 || tr.Qty > bk.asks[ask] {
					t.Fatalf("buy %d@%d against best ask %d@%d", tr.Qty, tr.Price, bk.asks[ask], ask)
				}
			case wire.AggressorSell:
				if tr.Price != bid || tr.Qty <= 0 || tr.Qty > bk.bids[bid] {
					t.Fatalf("sell %d@%d against best bid %d@%d", tr.Qty, tr.Price, bk.bids[bid], bid)
				}
			default:
				t.Fatalf("trade aggressor %d", tr.Aggressor)
			}
			f.trades++
		case wire.TypeLevelUpdate:
			u := m.LevelUpdate()
			if u.Price <= 0 || u.Qty < 0 || u.Side > wire.Ask {
				t.Fatalf("bad level %+v", u)
			}
			side := bk.bids
			if u.Side == wire.Ask {
				side = bk.asks
			}
			if _, ok := side[u.Price]; !ok && u.Qty == 0 {
				t.Fatalf("removes missing level %+v", u)
			}
			bk.set(u.Side, u.Price, u.Qty)
			if u.EndOfEvent {
				f.endEvent(bk)
			}
		default:
			t.Fatalf("unexpected %v", m.Type())
		}
	}
}

// pendingID returns the instrument of the event in progress.
func (f *feed) pendingID() (uint32, bool) {
	if len(f.pending) == 0 {
		return 0, false
	}
	return f.pending[0].Instrument()
}

func (f *feed) endEvent(bk *refBook) {
	t := f.t
	t.Helper()
	snapshot := f.pending[0].Type() == wire.TypeBookClear
	if !snapshot && len(f.pending) > MaxEventMessages {
		t.Fatalf("event of %d messages", len(f.pending))
	}
	f.pending = f.pending[:0]
	f.events++
	bid, ask := bk.best()
	if len(bk.bids) == 0 || len(bk.asks) == 0 {
		t.Fatalf("%s: empty side: %d bids, %d asks", bk.def.SymbolString(), len(bk.bids), len(bk.asks))
	}
	if bid >= ask {
		t.Fatalf("%s: crossed book: bid %d ≥ ask %d", bk.def.SymbolString(), bid, ask)
	}
	if snapshot {
		return
	}
	for _, n := range []int{len(bk.bids), len(bk.asks)} {
		f.depthSum += n
		f.depthN++
		f.minDepth = min(f.minDepth, n)
		f.maxDepth = max(f.maxDepth, n)
	}
}

func TestGeneratorDeterministic(t *testing.T) {
	run := func(seed int64) []byte {
		g, err := NewGenerator(Config{Instruments: 10, Levels: 50, Seed: seed})
		if err != nil {
			t.Fatal(err)
		}
		b := g.Definitions(nil)
		for i := range 100 {
			b = g.Next(b, 100, uint64(i))
		}
		return b
	}
	a, b, c := run(7), run(7), run(8)
	if !bytes.Equal(a, b) {
		t.Fatal("same seed, different streams")
	}
	if bytes.Equal(a, c) {
		t.Fatal("different seeds, same stream")
	}
}

func TestGeneratorBooks(t *testing.T) {
	for _, cfg := range []Config{
		{Instruments: 20, Levels: 40, Seed: 1},
		{Instruments: 3, Levels: 1, Seed: 2, TradeRatio: 0.5},
		{Instruments: 2, Levels: 5, Seed: 3, TradeRatio: 1},
		{Instruments: 1, Levels: MaxLevels, Seed: 4},
		{Seed: 5}, // the defaults
	} {
		t.Run(fmt.Sprintf("instruments=%d/levels=%d/trades=%v", cfg.Instruments, cfg.Levels, cfg.TradeRatio), func(t *testing.T) {
			t.Parallel()
			g, err := NewGenerator(cfg)
			if err != nil {
				t.Fatal(err)
			}
			f := newFeed(t, g.levels)
			f.apply(g.Definitions(nil))
			if len(f.books) != len(g.inst) || f.events != len(g.inst) {
				t.Fatalf("definitions: %d books, %d events", len(f.books), f.events)
			}
			var buf []byte
			for i := range 150 {
				buf = g.Next(buf[:0], 1000, uint64(i))
				f.apply(buf)
				if len(f.pending) != 0 {
					t.Fatalf("Next ended inside an event")
				}
			}
			avg := float64(f.depthSum) / float64(f.depthN)
			t.Logf("%d events, %d trades; depth min %d avg %.1f max %d (target %d)",
				f.events, f.trades, f.minDepth, avg, f.maxDepth, g.levels)
			if f.maxDepth > g.maxDepth {
				t.Errorf("depth %d above the bound %d", f.maxDepth, g.maxDepth)
			}
			if lo, hi := 0.8*float64(g.levels), 1.2*float64(g.levels)+1; avg < lo || avg > hi {
				t.Errorf("average depth %.1f, want near %d", avg, g.levels)
			}
			if cfg.TradeRatio == 1 && f.trades != f.events-len(g.inst) {
				t.Errorf("TradeRatio 1: %d trades in %d data events", f.trades, f.events-len(g.inst))
			}

			// Definitions now describe exactly the books the stream built.
			again := newFeed(t, g.levels)
			again.apply(g.Definitions(nil))
			for id, want := range f.books {
				got := again.books[id]
				if fmt.Sprint(got.bids) != fmt.Sprint(want.bids) || fmt.Sprint(got.asks) != fmt.Sprint(want.asks) {
					t.Fatalf("instrument %d: Definitions disagree with the stream", id)
				}
			}
		})
	}
}

func TestGeneratorDefinitions(t *testing.T) {
	g, err := NewGenerator(Config{Instruments: 3, FirstInstrument: 41, Venue: "LAB"})
	if err != nil {
		t.Fatal(err)
	}
	ms := messages(t, g.Definitions(nil))
	for i := range 3 {
		d := ms[i].InstrumentDef()
		if ms[i].Type() != wire.TypeInstrumentDef || d.Instrument != uint32(41+i) ||
			d.SymbolString() != fmt.Sprintf("SYN%04d", 41+i) || d.VenueString() != "LAB" || d.QtyExp != -4 {
			t.Fatalf("def %d: %v %+v", i, ms[i].Type(), d)
		}
	}
	if last := ms[len(ms)-1]; last.Type() != wire.TypeInstrumentStatus {
		t.Fatalf("last definition message is %v", last.Type())
	}
}

func TestGeneratorNextCount(t *testing.T) {
	g, _ := NewGenerator(Config{Seed: 9})
	var buf []byte
	for _, n := range []int{0, 1, 7, 100, 5000} {
		buf = g.Next(buf[:0], n, 42)
		ms := messages(t, buf)
		if len(ms) < n || len(ms) >= n+MaxEventMessages {
			t.Fatalf("Next(%d): %d messages", n, len(ms))
		}
		for _, m := range ms {
			var ts uint64
			switch m.Type() {
			case wire.TypeLevelUpdate:
				ts = m.LevelUpdate().ExchTime
			case wire.TypeTrade:
				ts = m.Trade().ExchTime
			}
			if ts != 42 {
				t.Fatalf("exchange time %d, want 42", ts)
			}
		}
		if n > 0 && (ms[len(ms)-1].Type() != wire.TypeLevelUpdate || !ms[len(ms)-1].LevelUpdate().EndOfEvent) {
			t.Fatal("Next does not end on an end-of-event")
		}
	}
}

func TestGeneratorNextAllocs(t *testing.T) {
	g, _ := NewGenerator(Config{})
	buf := make([]byte, 0, 1000*wire.TradeLen+MaxEventBytes)
	if n := testing.AllocsPerRun(100, func() { buf = g.Next(buf[:0], 1000, 1) }); n != 0 {
		t.Fatalf("%v allocs per Next", n)
	}
}

func TestConfigValidation(t *testing.T) {
	for _, c := range []struct {
		cfg   Config
		field string
	}{
		{Config{Instruments: -1}, "Instruments"},
		{Config{Instruments: MaxInstruments + 1}, "Instruments"},
		{Config{Levels: MaxLevels + 1}, "Levels"},
		{Config{Rate: -5}, "Rate"},
		{Config{Rate: 2e9}, "Rate"},
		{Config{TradeRatio: 1.5}, "TradeRatio"},
		{Config{FirstInstrument: 1<<32 - 10, Instruments: 20}, "FirstInstrument"},
		{Config{Venue: "THIRTEEN-CHAR"}, "Venue"},
		{Config{Venue: "TAB\t"}, "Venue"},
		{Config{Burst: -1, BurstEvery: 1, BurstLen: 1}, "Burst"},
		{Config{Burst: 2}, "BurstEvery"},
		{Config{Burst: 2, BurstEvery: 10, BurstLen: 10}, "BurstLen"},
	} {
		_, err := New(c.cfg)
		if err == nil || !strings.Contains(err.Error(), "Config."+c.field+" ") {
			t.Errorf("%+v: error %v, want one naming %s", c.cfg, err, c.field)
		}
	}
	if _, err := New(Config{}); err != nil {
		t.Fatalf("zero Config: %v", err)
	}
}

// BenchmarkGeneratorNext measures the unpaced generator: an op is a Next of
// 1000 messages; the ns/msg metric is the figure that matters.
func BenchmarkGeneratorNext(b *testing.B) {
	g, _ := NewGenerator(Config{})
	const n = 1000
	buf := make([]byte, 0, n*wire.TradeLen+MaxEventBytes)
	b.ReportAllocs()
	for b.Loop() {
		buf = g.Next(buf[:0], n, 1)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(g.msgs), "ns/msg")
}
