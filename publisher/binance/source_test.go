package binance_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tickcast/tickcast/publisher/binance"
	"github.com/tickcast/tickcast/publisher/binance/binancetest"
	"github.com/tickcast/tickcast/wire"
)

// deadline is how long a test waits for a condition: generous, as the
// machine is shared and stalls at random.
const deadline = 60 * time.Second

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	end := time.Now().Add(deadline)
	for !cond() {
		if time.Now().After(end) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

var symbols = []string{"BTCUSDT", "ETHUSDT", "BNBBTC", "SOLUSDT", "XRPUSDT"}

type harness struct {
	t    *testing.T
	srv  *binancetest.Server
	src  *binance.Source
	sink *testSink
	syms []string
}

// start runs a source with n symbols against a new emulator; mod adjusts the
// source's config, arm the emulator before the source starts.
func start(t *testing.T, n int, mod func(*binance.Config), arm func(*binancetest.Server)) *harness {
	t.Helper()
	return startEmulating(t, symbols[:n], symbols[:n], mod, arm)
}

// startEmulating runs a source serving syms against a new emulator of
// emulated (which includes syms).
func startEmulating(t *testing.T, emulated, syms []string, mod func(*binance.Config), arm func(*binancetest.Server)) *harness {
	t.Helper()
	return startWith(t, binancetest.Config{Symbols: emulated}, syms, mod, arm)
}

// startWith runs a source serving syms against a new emulator configured
// by emu (its seed and interval are set here).
func startWith(t *testing.T, emu binancetest.Config, syms []string, mod func(*binance.Config), arm func(*binancetest.Server)) *harness {
	t.Helper()
	emu.Seed, emu.Interval = uint64(len(t.Name())), 5*time.Millisecond
	srv := binancetest.Start(t, emu)
	if arm != nil {
		arm(srv)
	}
	cfg := binance.Config{
		WSURL:                   srv.WSURL(),
		RESTURL:                 srv.RESTURL(),
		DepthLimit:              1000,
		ReconnectMin:            10 * time.Millisecond,
		ReconnectMax:            200 * time.Millisecond,
		SnapshotWeightPerMinute: 1_000_000,
		Logger:                  slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	for _, s := range syms {
		cfg.Symbols = append(cfg.Symbols, binance.Symbol{Name: strings.ToLower(s)})
	}
	if mod != nil {
		mod(&cfg)
	}
	src, err := binance.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, srv: srv, src: src, sink: newTestSink(), syms: syms}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- src.Run(ctx, h.sink) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
		if p := h.sink.problems(); len(p) > 0 {
			t.Errorf("sink saw violations: %q", p)
		}
	})
	return h
}

func inst(i int) uint32 { return uint32(i + 1) }

func (h *harness) sym(i int) binance.SymbolStats { return h.src.Stats().Symbols[i] }

// waitOK waits until every symbol is ok and has applied at least events depth
// events beyond its snapshot.
func (h *harness) waitOK(events uint64) {
	h.t.Helper()
	for i := range h.syms {
		waitFor(h.t, h.syms[i]+" ok with events", func() bool {
			st := h.sym(i)
			return h.sink.statusOf(inst(i)) == wire.StatusOK && st.Events >= events
		})
	}
}

// checkBooks pauses the emulator, waits until every rebuilt book equals the
// emulator's, and resumes it.
func (h *harness) checkBooks() {
	h.t.Helper()
	h.srv.Pause()
	defer h.srv.Resume()
	for i, name := range h.syms {
		var got, want binancetest.Book
		waitFor(h.t, name+" book equal to the emulator's", func() bool {
			want = h.srv.Book(name)
			got = h.sink.book(inst(i))
			return h.sink.statusOf(inst(i)) == wire.StatusOK &&
				h.sym(i).LastUpdateID == want.LastUpdateID &&
				slices.Equal(got.Bids, want.Bids) && slices.Equal(got.Asks, want.Asks)
		})
		if len(want.Bids) == 0 || len(want.Asks) == 0 {
			h.t.Fatalf("%s: empty emulator book", name)
		}
	}
}

// waitResynced waits until instrument i has gone through resyncing → BookClear
// → ok at least n times after its initial sync.
func (h *harness) waitResynced(i, n int) {
	h.t.Helper()
	waitFor(h.t, fmt.Sprintf("%s resynced %d times", h.syms[i], n), func() bool {
		return h.sink.count(inst(i), "clear") >= n+1 && h.sink.statusOf(inst(i)) == wire.StatusOK
	})
	hist := h.sink.historyOf(inst(i))
	// Every resync announces resyncing, then clears, then reports ok.
	for j, e := range hist {
		if e == "clear" && (j+1 >= len(hist) || hist[j+1] != "ok") {
			h.t.Fatalf("%s: BookClear not followed by ok: %v", h.syms[i], hist)
		}
	}
}

func TestBooksAndTradesMatchEmulator(t *testing.T) {
	h := start(t, 3, nil, nil)
	h.waitOK(100)
	h.checkBooks()
	h.srv.Pause()
	for i, name := range h.syms {
		var want []binancetest.Trade
		waitFor(t, name+" trades", func() bool {
			want = h.srv.Trades(name)
			return len(want) > 0 && len(h.sink.tradesOf(inst(i))) > 0 &&
				h.sink.tradesOf(inst(i))[len(h.sink.tradesOf(inst(i)))-1].TradeID == want[len(want)-1].ID
		})
		got := h.sink.tradesOf(inst(i))
		// The source sees the trades from its connection on: a suffix.
		want = want[len(want)-len(got):]
		sells := 0
		for j, g := range got {
			w := want[j]
			aggr := wire.AggressorBuy
			if w.BuyerMaker {
				aggr = wire.AggressorSell
				sells++
			}
			if g.TradeID != w.ID || g.Price != w.Price || g.Qty != w.Qty || g.ExchTime != uint64(w.Time)*1e6 || g.Aggressor != aggr {
				t.Fatalf("%s trade %d = %+v, want %+v (aggressor %v)", name, j, g, w, aggr)
			}
		}
		if sells == 0 || sells == len(got) {
			t.Fatalf("%s: %d sells out of %d trades: want both aggressors", name, sells, len(got))
		}
	}
	h.srv.Resume()
	for i, st := range h.src.Stats().Symbols {
		if st.Resyncs != 0 || st.Gaps != 0 || st.Malformed != 0 || st.Snapshots != 1 || h.sink.count(inst(i), "clear") != 1 {
			t.Fatalf("%s stats %+v, history %v; want one snapshot, no resync", st.Symbol, st, h.sink.historyOf(inst(i)))
		}
	}
	if c := h.src.Stats().Conns; len(c) != 1 || !c[0].Connected || c[0].Reconnects != 0 {
		t.Fatalf("conns %+v", c)
	}
}

func TestGapResyncsOnlyThatSymbol(t *testing.T) {
	h := start(t, 3, nil, nil)
	h.waitOK(20)
	h.srv.SkipUpdate("ETHUSDT")
	waitFor(t, "a gap", func() bool { return h.sym(1).Gaps >= 1 })
	h.waitResynced(1, 1)
	h.checkBooks()
	for _, i := range []int{0, 2} {
		if st := h.sym(i); st.Resyncs != 0 || st.Gaps != 0 || h.sink.count(inst(i), "clear") != 1 || h.sink.count(inst(i), "resyncing") != 1 {
			t.Fatalf("%s was disturbed by another symbol's gap: %+v, history %v", st.Symbol, st, h.sink.historyOf(inst(i)))
		}
	}
	if st := h.sym(1); st.Resyncs < 1 {
		t.Fatalf("ETHUSDT resyncs %d", st.Resyncs)
	}
	if c := h.src.Stats().Conns[0]; c.Reconnects != 0 || c.Dials != 1 {
		t.Fatalf("the connection was torn down: %+v", c)
	}
}

func TestMalformedInput(t *testing.T) {
	h := start(t, 2, nil, nil)
	h.waitOK(20)
	// A truncated depth event: counted, and the symbol resyncs.
	if n := h.srv.SendMalformed("BTCUSDT"); n != 1 {
		t.Fatalf("malformed sent to %d connections", n)
	}
	waitFor(t, "a malformed event", func() bool { return h.sym(0).Malformed >= 1 })
	h.waitResynced(0, 1)
	// A trade with too many decimals: counted, dropped, no resync.
	h.srv.Inject("ethusdt@trade", []byte(`{"stream":"ethusdt@trade","data":{"e":"trade","E":1,"s":"ETHUSDT","t":1,"p":"0.000000001","q":"1","T":1,"m":true,"M":true}}`))
	// A frame of a stream nobody asked for: counted on the connection.
	h.srv.Inject("ethusdt@trade", []byte(`{"stream":"dogeusdt@trade","data":{}}`))
	waitFor(t, "malformed trade and frame counted", func() bool {
		return h.sym(1).Malformed >= 1 && h.src.Stats().Conns[0].Unrouted >= 1
	})
	h.checkBooks()
	if st := h.sym(1); st.Resyncs != 0 || st.Gaps != 0 {
		t.Fatalf("ETHUSDT resynced on a malformed trade: %+v", st)
	}
	if st := h.sym(0); st.Gaps != 0 {
		t.Fatalf("BTCUSDT: the malformed event consumed no id, yet gaps %d", st.Gaps)
	}
}

func TestStaleThenOK(t *testing.T) {
	h := start(t, 2, func(c *binance.Config) { c.StaleAfter = 300 * time.Millisecond }, nil)
	h.waitOK(20)
	h.srv.Stall("ETHUSDT", true)
	waitFor(t, "ETHUSDT stale", func() bool { return h.sink.statusOf(inst(1)) == wire.StatusStale })
	h.srv.Stall("ETHUSDT", false)
	waitFor(t, "ETHUSDT ok again", func() bool { return h.sink.statusOf(inst(1)) == wire.StatusOK })
	if st := h.sym(1); st.Stale < 1 || st.Resyncs != 0 || st.Gaps != 0 {
		t.Fatalf("ETHUSDT %+v: want a stale transition and no resync", st)
	}
	h.checkBooks()
}

func TestReconnectAfterDrop(t *testing.T) {
	h := start(t, 3, nil, nil)
	h.waitOK(20)
	if n := h.srv.DropConnections(); n != 1 {
		t.Fatalf("dropped %d connections", n)
	}
	waitFor(t, "a reconnect", func() bool { return h.src.Stats().Conns[0].Reconnects >= 1 })
	for i := range h.syms {
		h.waitResynced(i, 1)
		if h.sink.count(inst(i), "resyncing") < 2 {
			t.Fatalf("%s did not announce resyncing: %v", h.syms[i], h.sink.historyOf(inst(i)))
		}
	}
	h.checkBooks()
}

func TestPongs(t *testing.T) {
	h := start(t, 1, nil, nil)
	h.waitOK(1)
	if n := h.srv.Ping("tickcast ping"); n != 1 {
		t.Fatalf("ping sent on %d connections", n)
	}
	waitFor(t, "the pong", func() bool { return h.srv.Pongs("tickcast ping") == 1 })
	c := h.src.Stats().Conns[0]
	if c.Pings != 1 || c.Pongs != 1 {
		t.Fatalf("conn stats %+v", c)
	}
	// A burst of pings: counted, answered within the pong budget, and the
	// connection stays up.
	for range 20 {
		h.srv.Ping("burst")
	}
	waitFor(t, "the burst read and its pongs received", func() bool {
		c := h.src.Stats().Conns[0]
		return c.Pings == 21 && h.srv.Pongs("burst") == int(c.Pongs)-1
	})
	if c := h.src.Stats().Conns[0]; c.Pongs > c.Pings || !c.Connected || c.Reconnects != 0 {
		t.Fatalf("conn stats %+v", c)
	}
	for _, ci := range h.srv.Conns() {
		if ci.ClientMessages != 0 {
			t.Fatalf("the source sent %d data messages", ci.ClientMessages)
		}
	}
	h.checkBooks()
}

func TestSymbolsSplitAcrossConnections(t *testing.T) {
	h := start(t, 5, func(c *binance.Config) { c.MaxStreamsPerConn = 4 }, nil)
	h.waitOK(20)
	conns := h.srv.Conns()
	if len(conns) != 3 {
		t.Fatalf("%d connections, want 3", len(conns))
	}
	seen := map[string]bool{}
	for _, c := range conns {
		if len(c.Streams) > 4 || len(c.Streams)%2 != 0 {
			t.Fatalf("streams %v", c.Streams)
		}
		for j := 0; j < len(c.Streams); j += 2 {
			sym, _, _ := strings.Cut(c.Streams[j], "@")
			if c.Streams[j] != sym+"@depth@100ms" || c.Streams[j+1] != sym+"@trade" {
				t.Fatalf("a symbol's streams are not together: %v", c.Streams)
			}
			seen[sym] = true
		}
	}
	if len(seen) != 5 {
		t.Fatalf("symbols served: %v", seen)
	}
	st := h.src.Stats()
	if len(st.Conns) != 3 || !slices.Equal(st.Conns[2].Symbols, []string{"XRPUSDT"}) || st.Symbols[4].Conn != 2 {
		t.Fatalf("stats %+v", st.Conns)
	}
	// A gap on one connection leaves the others alone.
	h.srv.SkipUpdate("BTCUSDT")
	h.waitResynced(0, 1)
	h.checkBooks()
	for i := 1; i < 5; i++ {
		if h.sym(i).Resyncs != 0 {
			t.Fatalf("%s resynced", h.syms[i])
		}
	}
}

func TestSnapshotRefused(t *testing.T) {
	h := start(t, 3, nil, func(s *binancetest.Server) {
		s.FailSnapshots("BTCUSDT", http.StatusInternalServerError, 2)
		s.FailSnapshots("ETHUSDT", http.StatusTooManyRequests, 1)
	})
	h.waitOK(20)
	if st := h.sym(0); st.SnapErrors != 2 || st.Snapshots != 3 || h.srv.SnapshotRequests("BTCUSDT") != 3 {
		t.Fatalf("BTCUSDT %+v, %d requests", st, h.srv.SnapshotRequests("BTCUSDT"))
	}
	if st := h.sym(1); st.SnapErrors != 1 || st.Snapshots != 2 {
		t.Fatalf("ETHUSDT %+v", st)
	}
	h.checkBooks()
	// Refused during a resync too.
	h.srv.FailSnapshots("BNBBTC", http.StatusInternalServerError, 1)
	h.srv.SkipUpdate("BNBBTC")
	h.waitResynced(2, 1)
	if st := h.sym(2); st.SnapErrors != 1 {
		t.Fatalf("BNBBTC %+v", st)
	}
	h.checkBooks()
}

func TestNonBridgingSnapshot(t *testing.T) {
	h := start(t, 2, nil, nil)
	h.waitOK(20)
	h.srv.NonBridgingSnapshot("ETHUSDT")
	h.srv.SkipUpdate("ETHUSDT")
	waitFor(t, "the snapshot refused", func() bool { return h.sym(1).Unbridged >= 1 })
	h.waitResynced(1, 1)
	h.checkBooks() // the poisoned level would show here
	if h.sym(0).Resyncs != 0 {
		t.Fatal("BTCUSDT resynced")
	}
}

// TestNonBridgingSnapshotAtStart arms the bad snapshot before the source
// connects: the first snapshot must be refused too.
func TestNonBridgingSnapshotAtStart(t *testing.T) {
	h := start(t, 1, func(c *binance.Config) { c.DepthSpeed = "1000ms" }, func(s *binancetest.Server) { s.NonBridgingSnapshot("BTCUSDT") })
	h.waitOK(20)
	if st := h.sym(0); st.Unbridged != 1 || st.Snapshots != 2 {
		t.Fatalf("%+v", st)
	}
	h.checkBooks()
}

// TestHandover replaces connections proactively (MaxConnAge) while data
// flows: the overlap loses nothing, so no symbol ever resyncs and every trade
// arrives once.
func TestHandover(t *testing.T) {
	h := start(t, 3, func(c *binance.Config) { c.MaxConnAge = 200 * time.Millisecond }, nil)
	h.waitOK(20)
	waitFor(t, "three handovers", func() bool { return h.src.Stats().Conns[0].Handovers >= 3 })
	h.checkBooks()
	for i, st := range h.src.Stats().Symbols {
		if st.Resyncs != 0 || st.Gaps != 0 || h.sink.count(inst(i), "clear") != 1 {
			t.Fatalf("%s lost data over a handover: %+v %v", st.Symbol, st, h.sink.historyOf(inst(i)))
		}
	}
	h.srv.Pause()
	defer h.srv.Resume()
	for i, name := range h.syms {
		var want []binancetest.Trade
		waitFor(t, name+" trades", func() bool {
			want = h.srv.Trades(name)
			got := h.sink.tradesOf(inst(i))
			return len(got) > 0 && got[len(got)-1].TradeID == want[len(want)-1].ID
		})
		got := h.sink.tradesOf(inst(i))
		want = want[len(want)-len(got):]
		for j := range got {
			if got[j].TradeID != want[j].ID {
				t.Fatalf("%s: trade %d is %d, want %d", name, j, got[j].TradeID, want[j].ID)
			}
		}
		if got[0].TradeID > want[0].ID {
			t.Fatalf("%s: trades missing", name)
		}
	}
	if c := h.src.Stats().Conns[0]; c.Reconnects != 0 {
		t.Fatalf("%+v", c)
	}
}

func TestSinkErrorStopsRun(t *testing.T) {
	srv := binancetest.Start(t, binancetest.Config{Symbols: []string{"BTCUSDT"}})
	src, err := binance.New(binance.Config{
		Symbols: []binance.Symbol{{Name: "BTCUSDT"}},
		WSURL:   srv.WSURL(), RESTURL: srv.RESTURL(), DepthLimit: 1000,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	closed := errors.New("sink closed")
	n := 0
	err = src.Run(context.Background(), sinkFunc(func([]byte) error {
		if n++; n > 3 {
			return closed
		}
		return nil
	}))
	if !errors.Is(err, closed) {
		t.Fatalf("Run = %v, want the sink's error", err)
	}
	if err := src.Run(context.Background(), sinkFunc(func([]byte) error { return nil })); err == nil {
		t.Fatal("second Run accepted")
	}
}

type sinkFunc func([]byte) error

func (f sinkFunc) Publish(b []byte) error { return f(b) }

func TestInstrumentDefs(t *testing.T) {
	h := start(t, 2, func(c *binance.Config) {
		c.Symbols[1].Instrument = 77
		c.Symbols[1].PriceExp = -2
		c.Symbols[1].QtyExp = -8
		c.Venue = "BNC"
	}, nil)
	waitFor(t, "ok", func() bool { return h.sink.statusOf(77) == wire.StatusOK })
	h.sink.mu.Lock()
	d0, d1 := h.sink.defs[1], h.sink.defs[77]
	h.sink.mu.Unlock()
	if d0.SymbolString() != "BTCUSDT" || d0.VenueString() != "BNC" || d0.PriceExp != -8 || d0.QtyExp != -8 {
		t.Fatalf("def 1 = %+v", d0)
	}
	if d1.SymbolString() != "ETHUSDT" || d1.PriceExp != -2 || d1.QtyExp != -8 {
		t.Fatalf("def 77 = %+v", d1)
	}
	// Emulator prices are on a 0.01 grid: exponent -2 represents them exactly.
	h.srv.Pause()
	defer h.srv.Resume()
	waitFor(t, "ETHUSDT book with exponent -2", func() bool {
		want := h.srv.Book("ETHUSDT")
		got := h.sink.book(77)
		if h.sym(1).LastUpdateID != want.LastUpdateID || len(got.Bids) != len(want.Bids) || len(got.Asks) != len(want.Asks) {
			return false
		}
		for j := range want.Bids {
			if got.Bids[j].Price*1_000_000 != want.Bids[j].Price || got.Bids[j].Qty != want.Bids[j].Qty {
				return false
			}
		}
		return true
	})
}

// TestRunStopsCleanly cancels Run mid-stream, during a resync and with a
// replacement connection pending: Run returns nil and leaves no goroutine.
func TestRunStopsCleanly(t *testing.T) {
	srv := binancetest.Start(t, binancetest.Config{Symbols: symbols[:2], Interval: time.Millisecond})
	base := runtime.NumGoroutine()
	client := &http.Client{Transport: &http.Transport{}}
	src, err := binance.New(binance.Config{
		Symbols: []binance.Symbol{{Name: "BTCUSDT"}, {Name: "ETHUSDT"}},
		WSURL:   srv.WSURL(), RESTURL: srv.RESTURL(), DepthLimit: 1000,
		MaxConnAge: 50 * time.Millisecond, HTTPClient: client,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	sink := newTestSink()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- src.Run(ctx, sink) }()
	waitFor(t, "synced", func() bool { return sink.statusOf(1) == wire.StatusOK && sink.statusOf(2) == wire.StatusOK })
	srv.FailSnapshots("BTCUSDT", http.StatusTooManyRequests, 1) // a fetch waiting for Retry-After
	srv.SkipUpdate("BTCUSDT")
	waitFor(t, "resyncing", func() bool { return src.Stats().Symbols[0].SnapErrors == 1 })
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run = %v", err)
	}
	client.CloseIdleConnections()
	waitFor(t, "goroutines to end", func() bool { return runtime.NumGoroutine() <= base })
	if p := sink.problems(); len(p) > 0 {
		t.Fatal(p)
	}
}
