package binancetest

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestLiveSubscribe sends SUBSCRIBE, LIST_SUBSCRIPTIONS and UNSUBSCRIBE on
// an open connection: each is answered in Binance's format, events of a
// subscribed stream follow its answer, none of an unsubscribed one follow
// its answer, and bad requests are refused with an error and change nothing.
func TestLiveSubscribe(t *testing.T) {
	s := Start(t, Config{Symbols: []string{"BTCUSDT", "ETHUSDT"}, Interval: time.Millisecond, TradeEvery: 1, MaxStreamsPerConn: 3})
	ws := dialStreams(t, s, "btcusdt@trade")
	send := func(m string) {
		t.Helper()
		if err := ws.WriteMessage(1, []byte(m)); err != nil {
			t.Fatal(err)
		}
	}
	// next reads until the answer with id, returning the streams of the
	// events read before it.
	next := func(id string) (answer string, before map[string]int) {
		t.Helper()
		before = map[string]int{}
		for {
			_, msg, err := ws.ReadMessage()
			if err != nil {
				t.Fatal(err)
			}
			var f frameJSON
			if json.Unmarshal(msg, &f) == nil && f.Stream != "" {
				before[f.Stream]++
				continue
			}
			if strings.HasSuffix(string(msg), `"id":`+id+`}`) {
				return string(msg), before
			}
			t.Fatalf("unexpected message %s", msg)
		}
	}
	send(`{"method":"SUBSCRIBE","params":["ethusdt@depth@100ms","ethusdt@trade"],"id":1}`)
	if a, _ := next("1"); a != `{"result":null,"id":1}` {
		t.Fatalf("SUBSCRIBE answered %s", a)
	}
	// events reads n stream events and counts them by stream.
	events := func(n int) map[string]int {
		t.Helper()
		seen := map[string]int{}
		for range n {
			_, msg, err := ws.ReadMessage()
			if err != nil {
				t.Fatal(err)
			}
			var f frameJSON
			if err := json.Unmarshal(msg, &f); err != nil || f.Stream == "" {
				t.Fatalf("unexpected message %s", msg)
			}
			seen[f.Stream]++
		}
		return seen
	}
	if seen := events(300); seen["ethusdt@depth@100ms"] == 0 || seen["ethusdt@trade"] == 0 || seen["btcusdt@trade"] == 0 {
		t.Fatalf("events after SUBSCRIBE: %v", seen)
	}
	send(`{"method":"LIST_SUBSCRIPTIONS","id":2}`)
	if a, _ := next("2"); a != `{"result":["btcusdt@trade","ethusdt@depth@100ms","ethusdt@trade"],"id":2}` {
		t.Fatalf("LIST_SUBSCRIPTIONS answered %s", a)
	}
	for _, bad := range []struct{ req, code string }{
		{`{"method":"SUBSCRIBE","params":["dogeusdt@trade"],"id":3}`, `"code":2`},
		{`{"method":"SUBSCRIBE","params":["btcusdt@depth"],"id":3}`, `"code":2`}, // a 4th stream: over the cap
		{`{"method":"SUBSCRIBE","params":"btcusdt@depth","id":3}`, `"code":2`},
		{`{"method":"SUBSCRIB","params":[],"id":3}`, `"code":2`},
	} {
		send(bad.req)
		if a, _ := next("3"); !strings.Contains(a, bad.code) || !strings.Contains(a, `"msg":"Invalid request: `) {
			t.Fatalf("%s answered %s", bad.req, a)
		}
	}
	send(`{"method":"UNSUBSCRIBE","params":["btcusdt@trade","ethusdt@trade"],"id":4}`)
	if a, _ := next("4"); a != `{"result":null,"id":4}` {
		t.Fatalf("UNSUBSCRIBE answered %s", a)
	}
	if seen := events(300); seen["btcusdt@trade"] != 0 || seen["ethusdt@trade"] != 0 {
		t.Fatalf("events after UNSUBSCRIBE: %v", seen)
	}
	send(`{"method":"LIST_SUBSCRIPTIONS","id":5}`)
	if a, before := next("5"); a != `{"result":["ethusdt@depth@100ms"],"id":5}` || before["btcusdt@trade"] != 0 || before["ethusdt@trade"] != 0 {
		t.Fatalf("after UNSUBSCRIBE: %s, events %v", a, before)
	}
	if cs := s.Conns(); len(cs) != 1 || !slices.Equal(cs[0].Streams, []string{"ethusdt@depth@100ms"}) || cs[0].ClientMessages != 8 {
		t.Fatalf("conns %+v", cs)
	}
	if all, subs, unsubs := s.Requests(); all != 8 || subs != 1 || unsubs != 1 {
		t.Fatalf("requests %d, %d subscribes, %d unsubscribes", all, subs, unsubs)
	}
	send(`not json`)
	for {
		_, msg, err := ws.ReadMessage()
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasPrefix(string(msg), `{"stream"`) {
			continue // ethusdt@depth@100ms events
		}
		if !strings.HasPrefix(string(msg), `{"code":3,"msg":"Invalid JSON: `) || !strings.HasSuffix(string(msg), `"id":null}`) {
			t.Fatalf("not JSON answered %s", msg)
		}
		break
	}
}

// TestExchangeInfo asks for one symbol, a list and everything; an unknown
// name is refused as Binance refuses it.
func TestExchangeInfo(t *testing.T) {
	s := Start(t, Config{Symbols: []string{"BTCUSDT", "ETHUSDT"}})
	get := func(q string) (int, []string) {
		t.Helper()
		resp, err := http.Get(s.RESTURL() + "/api/v3/exchangeInfo" + q)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			if string(body) != `{"code":-1121,"msg":"Invalid symbol."}` {
				t.Fatalf("%s: %d %s", q, resp.StatusCode, body)
			}
			return resp.StatusCode, nil
		}
		var info struct {
			Symbols []struct{ Symbol, Status string } `json:"symbols"`
		}
		if err := json.Unmarshal(body, &info); err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, sym := range info.Symbols {
			if sym.Status != "TRADING" {
				t.Fatalf("%s: status %q", sym.Symbol, sym.Status)
			}
			names = append(names, sym.Symbol)
		}
		return resp.StatusCode, names
	}
	for q, want := range map[string][]string{
		"":                {"BTCUSDT", "ETHUSDT"},
		"?symbol=ETHUSDT": {"ETHUSDT"},
		"?symbols=" + url.QueryEscape(`["ETHUSDT","BTCUSDT"]`): {"ETHUSDT", "BTCUSDT"},
	} {
		if code, got := get(q); code != http.StatusOK || !slices.Equal(got, want) {
			t.Fatalf("%q: %d %v, want %v", q, code, got, want)
		}
	}
	for _, q := range []string{"?symbol=DOGEUSDT", "?symbol=btcusdt", "?symbols=" + url.QueryEscape(`["BTCUSDT","DOGEUSDT"]`)} {
		if code, _ := get(q); code != http.StatusBadRequest {
			t.Fatalf("%q: %d, want 400", q, code)
		}
	}
	if n := s.ExchangeInfoRequests(); n != 6 {
		t.Fatalf("%d exchangeInfo requests", n)
	}
}
