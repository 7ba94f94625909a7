package binance

import (
	"strings"
	"testing"
	"time"
)

func TestConfigErrors(t *testing.T) {
	ok := []Symbol{{Name: "BTCUSDT"}}
	for _, tc := range []struct {
		cfg  Config
		want string // in the error: the field and the bad value
	}{
		{Config{}, "Config.Symbols is empty"},
		{Config{Symbols: []Symbol{{Name: ""}}}, `Symbols[0].Name ""`},
		{Config{Symbols: []Symbol{{Name: "BTC-USDT"}}}, `Symbols[0].Name "BTC-USDT"`},
		{Config{Symbols: []Symbol{{Name: "ABCDEFGHIJKLMNOPQ"}}}, `Symbols[0].Name "ABCDEFGHIJKLMNOPQ"`},
		{Config{Symbols: []Symbol{{Name: "BTCUSDT"}, {Name: "btcusdt"}}}, `Symbols[1].Name "btcusdt" duplicates Symbols[0]`},
		{Config{Symbols: []Symbol{{Name: "A"}, {Name: "B", Instrument: 1}}}, "Symbols[1].Instrument 1 (B) duplicates the instrument of Symbols[0] (A)"},
		{Config{Symbols: []Symbol{{Name: "A", Instrument: 2}, {Name: "B"}}}, "Symbols[1].Instrument 2 (B) duplicates"},
		{Config{Symbols: []Symbol{{Name: "A", PriceExp: 2}}}, "Symbols[0].PriceExp 2"},
		{Config{Symbols: []Symbol{{Name: "A", QtyExp: -19}}}, "Symbols[0].QtyExp -19"},
		{Config{Symbols: ok, WSURL: "http://x"}, `Config.WSURL "http://x"`},
		{Config{Symbols: ok, RESTURL: "api.binance.com"}, `Config.RESTURL "api.binance.com"`},
		{Config{Symbols: ok, DepthLimit: 5001}, "Config.DepthLimit 5001"},
		{Config{Symbols: ok, DepthLimit: -1}, "Config.DepthLimit -1"},
		{Config{Symbols: ok, DepthSpeed: "10ms"}, `Config.DepthSpeed "10ms"`},
		{Config{Symbols: ok, MaxStreamsPerConn: 1}, "Config.MaxStreamsPerConn 1"},
		{Config{Symbols: ok, MaxStreamsPerConn: 1025}, "Config.MaxStreamsPerConn 1025"},
		{Config{Symbols: ok, StaleAfter: -time.Second}, "Config.StaleAfter -1s"},
		{Config{Symbols: ok, ReconnectMin: time.Minute}, "Config.ReconnectMax 30s is below ReconnectMin 1m0s"},
		{Config{Symbols: ok, SnapshotWeightPerMinute: 100}, "Config.SnapshotWeightPerMinute 100 is below the weight 250"},
		{Config{Symbols: ok, Venue: "A VERY LONG VENUE"}, `Config.Venue "A VERY LONG VENUE"`},
	} {
		_, err := New(tc.cfg)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("New(%+v) = %v, want an error containing %q", tc.cfg, err, tc.want)
		}
	}
}

func TestConfigDefaults(t *testing.T) {
	s, err := New(Config{Symbols: []Symbol{{Name: "btcusdt"}, {Name: "EthUsdt", Instrument: 9, PriceExp: -2}, {Name: "BNBBTC"}}})
	if err != nil {
		t.Fatal(err)
	}
	c := s.cfg
	if c.WSURL != DefaultWSURL || c.RESTURL != DefaultRESTURL || c.DepthLimit != 5000 || c.DepthSpeed != "100ms" ||
		c.MaxStreamsPerConn != 1024 || c.StaleAfter != 10*time.Second || c.MaxConnAge != 23*time.Hour+30*time.Minute ||
		c.ReconnectMin != 500*time.Millisecond || c.ReconnectMax != 30*time.Second || c.Venue != "BINANCE" ||
		c.SnapshotWeightPerMinute != 6000 || c.HTTPClient == nil || c.Dialer == nil || c.Logger == nil {
		t.Fatalf("defaults: %+v", c)
	}
	want := []Symbol{{"BTCUSDT", 1, -8, -8}, {"ETHUSDT", 9, -2, -8}, {"BNBBTC", 3, -8, -8}}
	for i, w := range want {
		if c.Symbols[i] != w {
			t.Fatalf("symbol %d = %+v, want %+v", i, c.Symbols[i], w)
		}
	}
	wantURL := DefaultWSURL + "/stream?streams=btcusdt@depth@100ms/btcusdt@trade/ethusdt@depth@100ms/ethusdt@trade/bnbbtc@depth@100ms/bnbbtc@trade"
	if got := s.StreamURL(0); got != wantURL {
		t.Fatalf("stream URL %s", got)
	}
}

func TestConfigSplit(t *testing.T) {
	var syms []Symbol
	for _, n := range []string{"A", "B", "C", "D", "E"} {
		syms = append(syms, Symbol{Name: n})
	}
	s, err := New(Config{Symbols: syms, MaxStreamsPerConn: 5, DepthSpeed: "1000ms", WSURL: "ws://h:1/"})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"ws://h:1/stream?streams=a@depth/a@trade/b@depth/b@trade",
		"ws://h:1/stream?streams=c@depth/c@trade/d@depth/d@trade",
		"ws://h:1/stream?streams=e@depth/e@trade",
	}
	for i, w := range want {
		if got := s.StreamURL(i); got != w {
			t.Errorf("slot %d: %s, want %s", i, got, w)
		}
	}
	if s.StreamURL(3) != "" {
		t.Error("a fourth slot")
	}
	if st := s.Stats(); len(st.Conns) != 3 || len(st.Symbols) != 5 || st.Symbols[4].Conn != 2 {
		t.Fatalf("stats before Run: %+v", st)
	}
}
