package binance_test

import (
	"context"
	"io"
	"log/slog"
	"slices"
	"strings"
	"testing"

	"github.com/tickcast/tickcast/publisher/binance"
	"github.com/tickcast/tickcast/publisher/binance/binancetest"
	"github.com/tickcast/tickcast/wire"
)

// symStats returns the stats of the symbol served as name, if it is.
func (h *harness) symStats(name string) (binance.SymbolStats, bool) {
	for _, st := range h.src.Stats().Symbols {
		if st.Symbol == name {
			return st, true
		}
	}
	return binance.SymbolStats{}, false
}

// served returns the symbols the source serves, by name, with their ids.
func (h *harness) served() map[string]uint32 {
	out := map[string]uint32{}
	for _, st := range h.src.Stats().Symbols {
		out[st.Symbol] = st.Instrument
	}
	return out
}

// checkBook pauses the emulator and waits until the book rebuilt for
// instrument id equals the emulator's book of name.
func (h *harness) checkBook(name string, id uint32) {
	h.t.Helper()
	h.srv.Pause()
	defer h.srv.Resume()
	waitFor(h.t, name+" book equal to the emulator's", func() bool {
		want := h.srv.Book(name)
		got := h.sink.book(id)
		st, ok := h.symStats(name)
		return ok && h.sink.statusOf(id) == wire.StatusOK && st.LastUpdateID == want.LastUpdateID &&
			len(want.Bids) > 0 && slices.Equal(got.Bids, want.Bids) && slices.Equal(got.Asks, want.Asks)
	})
}

// def returns the InstrumentDef the sink saw for id.
func (h *harness) def(id uint32) (wire.InstrumentDef, bool) {
	h.sink.mu.Lock()
	defer h.sink.mu.Unlock()
	d, ok := h.sink.defs[id]
	return d, ok
}

// streamsServed returns every stream the emulator sends on any connection.
func (h *harness) streamsServed() []string {
	var out []string
	for _, c := range h.srv.Conns() {
		out = append(out, c.Streams...)
	}
	slices.Sort(out)
	return out
}

func streamsOf(names ...string) []string {
	var out []string
	for _, n := range names {
		l := strings.ToLower(n)
		out = append(out, l+"@depth@100ms", l+"@trade")
	}
	slices.Sort(out)
	return out
}

func symbolList(names ...string) []binance.Symbol {
	var out []binance.Symbol
	for _, n := range names {
		out = append(out, binance.Symbol{Name: n})
	}
	return out
}

// TestSetSymbolsLive adds and removes symbols while the source runs, three
// symbols per connection: added symbols are introduced and sync (their books
// equal the emulator's), by SUBSCRIBE on the connection with room or on a
// new connection when all are full; removed ones are unsubscribed, cleared
// and halted, and never mentioned again (the sink checks); the symbols that
// stay keep their ids and are never resynced; new ids go above every id
// used; an emptied connection closes, and is reused by the next additions.
func TestSetSymbolsLive(t *testing.T) {
	h := startEmulating(t, symbols, symbols[:2], func(c *binance.Config) { c.MaxStreamsPerConn = 6 }, nil)
	h.waitOK(20) // BTCUSDT 1, ETHUSDT 2 on connection 0

	// Grow: BNBBTC joins connection 0 by SUBSCRIBE, SOLUSDT fills it, XRPUSDT
	// opens connection 1.
	if err := h.src.SetSymbols(symbolList("BTCUSDT", "ethusdt", "BNBBTC", "SOLUSDT", "XRPUSDT")); err != nil {
		t.Fatal(err)
	}
	want := map[string]uint32{"BTCUSDT": 1, "ETHUSDT": 2, "BNBBTC": 3, "SOLUSDT": 4, "XRPUSDT": 5}
	if got := h.served(); !maps(got, want) {
		t.Fatalf("served %v, want %v", got, want)
	}
	for name, id := range want {
		h.checkBook(name, id)
		if d, _ := h.def(id); d.SymbolString() != name {
			t.Fatalf("instrument %d is %q, want %s", id, d.SymbolString(), name)
		}
	}
	if _, subs, _ := h.srv.Requests(); subs < 1 {
		t.Fatal("no SUBSCRIBE: the new symbols came another way")
	}
	st := h.src.Stats()
	if len(st.Conns) != 2 || !slices.Equal(st.Conns[0].Symbols, []string{"BTCUSDT", "ETHUSDT", "BNBBTC"}) ||
		!slices.Equal(st.Conns[1].Symbols, []string{"SOLUSDT", "XRPUSDT"}) {
		t.Fatalf("connections %+v", st.Conns)
	}
	if st.Conns[0].Reconnects != 0 || st.Conns[0].Requests < 1 || st.Conns[0].RequestErrors != 0 {
		t.Fatalf("connection 0 %+v", st.Conns[0])
	}
	waitFor(t, "the emulator to serve every stream", func() bool {
		return slices.Equal(h.streamsServed(), streamsOf(symbols...))
	})

	// Shrink: BTCUSDT and BNBBTC go (connection 0 keeps ETHUSDT), SOLUSDT and
	// XRPUSDT stay on connection 1.
	if err := h.src.SetSymbols(symbolList("ETHUSDT", "SOLUSDT", "XRPUSDT")); err != nil {
		t.Fatal(err)
	}
	for _, id := range []uint32{1, 3} {
		waitFor(t, "removed symbols halted", func() bool { return h.sink.statusOf(id) == wire.StatusHalted })
		if b := h.sink.book(id); len(b.Bids)+len(b.Asks) != 0 {
			t.Fatalf("instrument %d halted with a book", id)
		}
	}
	waitFor(t, "the removed streams unsubscribed", func() bool {
		return slices.Equal(h.streamsServed(), streamsOf("ETHUSDT", "SOLUSDT", "XRPUSDT"))
	})
	if _, _, unsubs := h.srv.Requests(); unsubs < 1 {
		t.Fatal("no UNSUBSCRIBE")
	}
	// The symbols that stayed were never disturbed: one BookClear each.
	for _, id := range []uint32{2, 4, 5} {
		if n := h.sink.count(id, "clear"); n != 1 {
			t.Fatalf("instrument %d: %d BookClears: %v", id, n, h.sink.historyOf(id))
		}
	}

	// Empty connection 0, then refill: it closes, and the additions reuse it.
	if err := h.src.SetSymbols(symbolList("SOLUSDT", "XRPUSDT")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "connection 0 closed", func() bool { return len(h.srv.Conns()) == 1 && !h.src.Stats().Conns[0].Connected })
	// BTCUSDT comes back as a new symbol (a new id, above every one used);
	// BNBBTC with its old id given.
	if err := h.src.SetSymbols([]binance.Symbol{{Name: "SOLUSDT"}, {Name: "XRPUSDT"}, {Name: "BTCUSDT"}, {Name: "BNBBTC", Instrument: 3}, {Name: "ETHUSDT"}}); err != nil {
		t.Fatal(err)
	}
	want = map[string]uint32{"SOLUSDT": 4, "XRPUSDT": 5, "BTCUSDT": 6, "BNBBTC": 3, "ETHUSDT": 7}
	if got := h.served(); !maps(got, want) {
		t.Fatalf("served %v, want %v", got, want)
	}
	for name, id := range want {
		h.checkBook(name, id)
	}
	if h.sink.statusOf(1) != wire.StatusHalted || h.sink.statusOf(2) != wire.StatusHalted {
		t.Fatal("the old ids of BTCUSDT and ETHUSDT came back")
	}
	st = h.src.Stats()
	if !slices.Equal(st.Conns[0].Symbols, []string{"BTCUSDT", "BNBBTC", "ETHUSDT"}) {
		t.Fatalf("connection 0 carries %v", st.Conns[0].Symbols)
	}
	for _, c := range st.Conns {
		if c.Malformed != 0 || c.RequestErrors != 0 {
			t.Fatalf("connection %d: %+v", c.Index, c)
		}
	}
	// SOLUSDT and XRPUSDT were never disturbed: one BookClear each.
	for _, id := range []uint32{4, 5} {
		if n := h.sink.count(id, "clear"); n != 1 {
			t.Fatalf("instrument %d: %d BookClears: %v", id, n, h.sink.historyOf(id))
		}
	}
}

func maps(a, b map[string]uint32) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// TestSetSymbolsRefused: bad input is refused with an error naming the
// symbol, and nothing changes: no message on the feed, no request to the
// emulator's streams, no id spent.
func TestSetSymbolsRefused(t *testing.T) {
	h := startEmulating(t, symbols, symbols[:2], nil, nil)
	h.waitOK(5)
	before := h.served()
	for _, c := range []struct {
		syms []binance.Symbol
		want []string // in the error
	}{
		{nil, []string{"no symbols"}},
		{symbolList("BTCUSDT", "BTC-USDT"), []string{`"BTC-USDT"`}},
		{symbolList("BTCUSDT", "THIRTEENLETTERSX1"), []string{"THIRTEENLETTERSX1"}},
		{symbolList("BTCUSDT", "ETHUSDT", "btcusdt"), []string{"BTCUSDT", "duplicates"}},
		{symbolList("BTCUSDT", "DOGEUSDT"), []string{"DOGEUSDT"}},
		{symbolList("PEPEUSDT", "BTCUSDT", "SOLUSDT", "DOGEUSDT"), []string{"PEPEUSDT, DOGEUSDT"}},
		{[]binance.Symbol{{Name: "BTCUSDT", Instrument: 9}, {Name: "ETHUSDT"}}, []string{"BTCUSDT", "instrument 9 cannot change"}},
		{[]binance.Symbol{{Name: "BTCUSDT", PriceExp: -2}, {Name: "ETHUSDT"}}, []string{"BTCUSDT", "exponents"}},
		{[]binance.Symbol{{Name: "BTCUSDT", QtyExp: 3}}, []string{"BTCUSDT", "QtyExp 3"}},
		{[]binance.Symbol{{Name: "BTCUSDT"}, {Name: "ETHUSDT"}, {Name: "SOLUSDT", Instrument: 2}}, []string{"SOLUSDT", "instrument 2 is ETHUSDT's"}},
		{[]binance.Symbol{{Name: "BTCUSDT"}, {Name: "SOLUSDT", Instrument: 2}}, []string{"SOLUSDT", "instrument 2 is ETHUSDT's"}}, // even as ETHUSDT goes
		{[]binance.Symbol{{Name: "SOLUSDT", Instrument: 9}, {Name: "XRPUSDT", Instrument: 9}}, []string{"XRPUSDT", "duplicates the instrument"}},
	} {
		err := h.src.SetSymbols(c.syms)
		for _, w := range c.want {
			if err == nil || !strings.Contains(err.Error(), w) {
				t.Fatalf("SetSymbols(%v) = %v, want an error with %q", c.syms, err, w)
			}
		}
	}
	if got := h.served(); !maps(got, before) {
		t.Fatalf("served %v after refusals, want %v", got, before)
	}
	if all, _, _ := h.srv.Requests(); all != 0 {
		t.Fatalf("%d requests on the streams after refusals", all)
	}
	if n := h.srv.ExchangeInfoRequests(); n < 2 {
		t.Fatalf("%d exchangeInfo requests: the unknown names were not asked about", n)
	}
	h.sink.mu.Lock()
	defs := len(h.sink.defs)
	h.sink.mu.Unlock()
	if defs != 2 {
		t.Fatalf("%d instruments defined after refusals", defs)
	}
	// A good change still works, and no id was spent by the refusals.
	if err := h.src.SetSymbols(symbolList("BTCUSDT", "ETHUSDT", "SOLUSDT")); err != nil {
		t.Fatal(err)
	}
	h.checkBook("SOLUSDT", 3)
}

// TestSetSymbolsBeforeRun: a change before Run decides what Run introduces;
// after Run it is refused.
func TestSetSymbolsBeforeRun(t *testing.T) {
	srv := binancetest.Start(t, binancetest.Config{Symbols: symbols})
	src, err := binance.New(binance.Config{
		Symbols: symbolList("BTCUSDT"), WSURL: srv.WSURL(), RESTURL: srv.RESTURL(), DepthLimit: 1000,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := src.SetSymbols(symbolList("ETHUSDT", "SOLUSDT")); err != nil {
		t.Fatal(err)
	}
	sink := newTestSink()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- src.Run(ctx, sink) }()
	waitFor(t, "ETHUSDT and SOLUSDT ok", func() bool { return sink.statusOf(2) == wire.StatusOK && sink.statusOf(3) == wire.StatusOK })
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	sink.mu.Lock()
	_, one := sink.defs[1]
	n := len(sink.defs)
	sink.mu.Unlock()
	if one || n != 2 {
		t.Fatalf("%d instruments defined (BTCUSDT's: %v), want ETHUSDT 2 and SOLUSDT 3", n, one)
	}
	if p := sink.problems(); len(p) > 0 {
		t.Fatal(p)
	}
	if err := src.SetSymbols(symbolList("ETHUSDT")); err == nil || !strings.Contains(err.Error(), "stopped") {
		t.Fatalf("SetSymbols after Run: %v", err)
	}
}

// TestSetSymbolsSubscribeRefused: a connection that refuses a SUBSCRIBE (the
// emulator allows fewer streams than the source thinks) leaves that symbol
// resyncing, counted, and the others undisturbed.
func TestSetSymbolsSubscribeRefused(t *testing.T) {
	h := startWith(t, binancetest.Config{Symbols: symbols, MaxStreamsPerConn: 4}, symbols[:2], nil, nil)
	h.waitOK(5)
	if err := h.src.SetSymbols(symbolList("BTCUSDT", "ETHUSDT", "SOLUSDT")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the SUBSCRIBE refused", func() bool { return h.src.Stats().Conns[0].RequestErrors == 1 })
	if st := h.sink.statusOf(3); st != wire.StatusResyncing {
		t.Fatalf("SOLUSDT %v, want resyncing", st)
	}
	h.checkBooks()
	// Removing it again unsubscribes nothing it lacked and leaves the
	// connection healthy.
	if err := h.src.SetSymbols(symbolList("BTCUSDT", "ETHUSDT")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "SOLUSDT halted", func() bool { return h.sink.statusOf(3) == wire.StatusHalted })
	if c := h.src.Stats().Conns[0]; c.Reconnects != 0 || c.Malformed != 0 {
		t.Fatalf("%+v", c)
	}
	h.checkBooks()
}
