package binancetest

import (
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

var decimal8 = regexp.MustCompile(`^[0-9]+\.[0-9]{8}$`)

type snapshotBody struct {
	LastUpdateID uint64      `json:"lastUpdateId"`
	Bids         [][2]string `json:"bids"`
	Asks         [][2]string `json:"asks"`
}

func getSnapshot(t *testing.T, s *Server, query string) (*http.Response, snapshotBody) {
	t.Helper()
	resp, err := http.Get(s.RESTURL() + "/api/v3/depth?" + query)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var snap snapshotBody
	if resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal(body, &snap); err != nil {
			t.Fatalf("snapshot %s: %v", body, err)
		}
	}
	return resp, snap
}

func toLevels(t *testing.T, ls [][2]string) []Level {
	var out []Level
	for _, l := range ls {
		if !decimal8.MatchString(l[0]) || !decimal8.MatchString(l[1]) {
			t.Fatalf("level %q is not two 8-decimal strings", l)
		}
		out = append(out, Level{parse8(l[0]), parse8(l[1])})
	}
	return out
}

func parse8(s string) int64 {
	n, _ := strconv.ParseInt(strings.Replace(s, ".", "", 1), 10, 64)
	return n
}

func TestSnapshotMatchesBook(t *testing.T) {
	s := Start(t, Config{Symbols: []string{"BTCUSDT", "ethusdt"}, Interval: time.Millisecond})
	s.Pause()
	defer s.Resume()
	resp, snap := getSnapshot(t, s, "symbol=BTCUSDT&limit=5000")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
	b := s.Book("btcusdt")
	if snap.LastUpdateID != b.LastUpdateID || !slices.Equal(toLevels(t, snap.Bids), b.Bids) || !slices.Equal(toLevels(t, snap.Asks), b.Asks) {
		t.Fatalf("snapshot %+v\nbook %+v", snap, b)
	}
	if len(b.Bids) < 2 || b.Bids[0].Price <= b.Bids[1].Price || b.Asks[0].Price >= b.Asks[1].Price || b.Bids[0].Price >= b.Asks[0].Price {
		t.Fatalf("book not ordered or crossed: %+v", b)
	}
	if _, snap := getSnapshot(t, s, "symbol=ETHUSDT&limit=3"); len(snap.Bids) != 3 || len(snap.Asks) != 3 {
		t.Fatalf("limit 3: %+v", snap)
	}
	for _, q := range []string{"symbol=DOGEUSDT", "symbol=btcusdt", "symbol=BTCUSDT&limit=5001", "symbol=BTCUSDT&limit=x"} {
		if resp, _ := getSnapshot(t, s, q); resp.StatusCode != http.StatusBadRequest {
			t.Fatalf("%s: status %d, want 400", q, resp.StatusCode)
		}
	}
	s.FailSnapshots("BTCUSDT", http.StatusTooManyRequests, 1)
	s.FailSnapshots("BTCUSDT", http.StatusInternalServerError, 1)
	if resp, _ := getSnapshot(t, s, "symbol=BTCUSDT"); resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "1" {
		t.Fatalf("status %d, Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	if resp, _ := getSnapshot(t, s, "symbol=BTCUSDT"); resp.StatusCode != 500 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	s.NonBridgingSnapshot("BTCUSDT")
	if _, snap := getSnapshot(t, s, "symbol=BTCUSDT"); snap.LastUpdateID != 1 || !slices.Contains(snap.Bids, [2]string{"0.00000001", "0.00000001"}) {
		t.Fatalf("non-bridging snapshot %+v", snap)
	}
	if _, snap := getSnapshot(t, s, "symbol=BTCUSDT"); snap.LastUpdateID != b.LastUpdateID {
		t.Fatal("the non-bridging snapshot was served twice")
	}
	if n := s.SnapshotRequests("BTCUSDT"); n != 5 { // the two with a bad limit never got far
		t.Fatalf("%d snapshot requests", n)
	}
}

type frameJSON struct {
	Stream string          `json:"stream"`
	Data   json.RawMessage `json:"data"`
}

type depthJSON struct {
	E    string      `json:"e"`
	Time int64       `json:"E"`
	S    string      `json:"s"`
	U    uint64      `json:"U"`
	Fin  uint64      `json:"u"`
	B    [][2]string `json:"b"`
	A    [][2]string `json:"a"`
}

func dialStreams(t *testing.T, s *Server, streams string) *websocket.Conn {
	t.Helper()
	ws, resp, err := websocket.DefaultDialer.Dial(s.WSURL()+"/stream?streams="+streams, nil)
	if err != nil {
		t.Fatalf("dial: %v (%v)", err, resp)
	}
	t.Cleanup(func() { ws.Close() })
	return ws
}

// TestStreamsAreContiguous reads the combined stream: every depth event is
// well-formed, continues the previous one's ids, and skipping an update makes
// exactly one gap; trades carry increasing ids.
func TestStreamsAreContiguous(t *testing.T) {
	s := Start(t, Config{Symbols: []string{"BTCUSDT", "ETHUSDT"}, Interval: time.Millisecond, TradeEvery: 1})
	ws := dialStreams(t, s, "btcusdt@depth@100ms/btcusdt@trade")
	var last, lastTrade uint64
	depths, trades, gaps := 0, 0, 0
	for depths < 200 || trades < 50 {
		_, msg, err := ws.ReadMessage()
		if err != nil {
			t.Fatal(err)
		}
		var f frameJSON
		if err := json.Unmarshal(msg, &f); err != nil {
			t.Fatalf("%s: %v", msg, err)
		}
		switch f.Stream {
		case "btcusdt@depth@100ms":
			var d depthJSON
			if err := json.Unmarshal(f.Data, &d); err != nil || d.E != "depthUpdate" || d.S != "BTCUSDT" || d.Fin < d.U || d.Time == 0 {
				t.Fatalf("depth %s: %v", f.Data, err)
			}
			toLevels(t, d.B)
			toLevels(t, d.A)
			if len(d.B)+len(d.A) == 0 {
				t.Fatalf("empty event %s", f.Data)
			}
			if last != 0 && d.U != last+1 {
				gaps++
			}
			last = d.Fin
			if depths++; depths == 100 {
				s.SkipUpdate("BTCUSDT")
			}
		case "btcusdt@trade":
			var tr struct {
				E    string `json:"e"`
				Time int64  `json:"E"` // declared, else "E" lands in e
				T    uint64 `json:"t"`
				TT   int64  `json:"T"` // likewise
				P    string `json:"p"`
				Q    string `json:"q"`
			}
			if err := json.Unmarshal(f.Data, &tr); err != nil || tr.E != "trade" || !decimal8.MatchString(tr.P) || !decimal8.MatchString(tr.Q) {
				t.Fatalf("trade %s: %v", f.Data, err)
			}
			if lastTrade != 0 && tr.T != lastTrade+1 {
				t.Fatalf("trade id %d after %d", tr.T, lastTrade)
			}
			lastTrade = tr.T
			trades++
		default:
			t.Fatalf("unexpected stream %q", f.Stream)
		}
	}
	if gaps != 1 {
		t.Fatalf("%d gaps, want 1", gaps)
	}
}

func TestStreamRequests(t *testing.T) {
	s := Start(t, Config{Symbols: []string{"BTCUSDT"}, MaxStreamsPerConn: 2})
	for _, q := range []string{"dogeusdt@trade", "BTCUSDT@trade", "btcusdt@kline_1m", "btcusdt@depth/btcusdt@trade/btcusdt@depth@100ms"} {
		_, resp, err := websocket.DefaultDialer.Dial(s.WSURL()+"/stream?streams="+q, nil)
		if err == nil || resp == nil || resp.StatusCode != http.StatusBadRequest {
			t.Fatalf("%s: %v %v, want HTTP 400", q, err, resp)
		}
	}
	ws := dialStreams(t, s, "btcusdt@depth/btcusdt@trade")
	if s.ConnAttempts() != 5 || len(s.Conns()) != 1 {
		t.Fatalf("%d attempts, conns %+v", s.ConnAttempts(), s.Conns())
	}
	// Pongs echo the ping and are recorded.
	if n := s.Ping("hi"); n != 1 {
		t.Fatalf("ping sent to %d", n)
	}
	go func() { // reading processes the ping and answers it
		for {
			if _, _, err := ws.ReadMessage(); err != nil {
				return
			}
		}
	}()
	deadline := time.Now().Add(time.Minute)
	for s.Pongs("hi") != 1 {
		if time.Now().After(deadline) {
			t.Fatal("no pong recorded")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if n := s.DropConnections(); n != 1 {
		t.Fatalf("dropped %d", n)
	}
	for len(s.Conns()) != 0 {
		if time.Now().After(deadline) {
			t.Fatal("connection still registered")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestAppendDecimal(t *testing.T) {
	for m, want := range map[int64]string{0: "0.00000000", 1: "0.00000001", 400000200: "4.00000200", 1234567890123: "12345.67890123", -150000000: "-1.50000000"} {
		if got := string(AppendDecimal(nil, m)); got != want {
			t.Errorf("AppendDecimal(%d) = %s, want %s", m, got, want)
		}
	}
}
