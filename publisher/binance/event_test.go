package binance

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/tickcast/tickcast/wire"
)

// Real payloads from Binance's documentation (BINANCE.md, "Payloads"), wrapped
// as combined-stream frames.
const (
	docDepth = `{"stream":"bnbbtc@depth@100ms","data":{"e":"depthUpdate","E":1672515782136,"s":"BNBBTC","U":157,"u":160,"b":[["0.0024","10"]],"a":[["0.0026","100"]]}}`
	docTrade = `{"stream":"bnbbtc@trade","data":{"e":"trade","E":1672515782136,"s":"BNBBTC","t":12345,"p":"0.001","q":"100","T":1672515782136,"m":true,"M":true}}`
	// Older documents show the buyer and seller order ids b and a.
	docTradeOld = `{"stream":"bnbbtc@trade","data":{"e":"trade","E":123456789,"s":"BNBBTC","t":12345,"p":"0.001","q":"100","b":88,"a":50,"T":123456785,"m":false,"M":true}}`
)

func testDecoder() *decoder {
	d := &decoder{routes: map[string]route{}}
	for i, name := range []string{"BNBBTC", "BTCUSDT"} {
		lower := strings.ToLower(name)
		d.routes[lower+"@depth@100ms"] = route{sym: i, kind: kindDepth}
		d.routes[lower+"@trade"] = route{sym: i, kind: kindTrade}
		d.syms = append(d.syms, &symInfo{inst: uint32(i + 1), priceExp: -8, qtyExp: -8, quotedName: []byte(`"` + name + `"`)})
	}
	return d
}

func TestDecodeDocDepth(t *testing.T) {
	d := testDecoder()
	r, ok, err := d.decode([]byte(docDepth))
	if err != nil || !ok || r != (route{0, kindDepth}) {
		t.Fatalf("decode = %v %v %v", r, ok, err)
	}
	if d.depth.First != 157 || d.depth.Final != 160 || d.depth.Time != 1672515782136 {
		t.Fatalf("ids/time = %d %d %d", d.depth.First, d.depth.Final, d.depth.Time)
	}
	b, err := d.appendDepth(nil, d.syms[r.sym])
	if err != nil {
		t.Fatal(err)
	}
	want := wire.LevelUpdate{Instrument: 1, Price: 240000, Qty: 1_000_000_000, ExchTime: 1672515782136_000_000, Side: wire.Bid}.Append(nil)
	want = wire.LevelUpdate{Instrument: 1, Price: 260000, Qty: 10_000_000_000, ExchTime: 1672515782136_000_000, Side: wire.Ask, EndOfEvent: true}.Append(want)
	if !bytes.Equal(b, want) {
		t.Fatalf("levels\n got %x\nwant %x", b, want)
	}
}

func TestDecodeDocTrade(t *testing.T) {
	for _, tc := range []struct {
		frame string
		want  wire.Trade
	}{
		{docTrade, wire.Trade{Instrument: 1, Price: 100000, Qty: 10_000_000_000, ExchTime: 1672515782136_000_000, TradeID: 12345, Aggressor: wire.AggressorSell}},
		{docTradeOld, wire.Trade{Instrument: 1, Price: 100000, Qty: 10_000_000_000, ExchTime: 123456785_000_000, TradeID: 12345, Aggressor: wire.AggressorBuy}},
	} {
		d := testDecoder()
		r, ok, err := d.decode([]byte(tc.frame))
		if err != nil || !ok || r.kind != kindTrade {
			t.Fatalf("decode(%s) = %v %v %v", tc.frame, r, ok, err)
		}
		b, err := d.appendTrade(nil, d.syms[r.sym])
		if err != nil {
			t.Fatal(err)
		}
		got, err := wire.DecodeTrade(b)
		if err != nil || got != tc.want {
			t.Fatalf("trade = %+v, %v; want %+v", got, err, tc.want)
		}
	}
}

func TestDecodeMalformed(t *testing.T) {
	for _, tc := range []struct {
		name, frame string
		known       bool // the stream is known, so the symbol is charged
	}{
		{"truncated", docDepth[:60], true},
		{"truncated in the name", docDepth[:20], false},
		{"not json", `hello`, false},
		{"unknown stream", strings.Replace(docDepth, "bnbbtc@depth@100ms", "ethbtc@depth@100ms", 1), false},
		{"stream not a string", `{"stream":1,"data":{}}`, false},
		{"no data", `{"stream":"bnbbtc@depth@100ms"}`, true},
		{"null data", `{"stream":"bnbbtc@depth@100ms","data":null}`, true},
		{"wrong type", strings.Replace(docDepth, `"depthUpdate"`, `"trade"`, 1), true},
		{"wrong symbol", strings.Replace(docDepth, `"BNBBTC"`, `"BTCUSDT"`, 1), true},
		{"u before U", strings.Replace(docDepth, `"u":160`, `"u":150`, 1), true},
		{"no U", strings.Replace(docDepth, `"U":157,`, ``, 1), true},
		{"negative u", strings.Replace(docDepth, `"u":160`, `"u":-160`, 1), true},
		{"level not a pair", strings.Replace(docDepth, `["0.0024","10"]`, `["0.0024"]`, 1), true},
		{"level numbers", strings.Replace(docDepth, `["0.0024","10"]`, `[0.0024,10]`, 1), true},
		{"level triple", strings.Replace(docDepth, `["0.0024","10"]`, `["0.0024","10","1"]`, 1), true},
		{"level escape", strings.Replace(docDepth, `["0.0024","10"]`, `["0.00\u0032","10"]`, 1), true},
		{"bids object", strings.Replace(docDepth, `[["0.0024","10"]]`, `{}`, 1), true},
		{"trade price number", strings.Replace(docTrade, `"p":"0.001"`, `"p":0.001`, 1), true},
		{"trade without id", strings.Replace(docTrade, `"t":12345,`, ``, 1), true},
		{"two values", docTrade + docTrade, true},
		{"trailing garbage", docDepth + " x", true},
		{"data trailing garbage", `{"stream":"bnbbtc@trade","data":"{} x"}`, true},
	} {
		d := testDecoder()
		_, ok, err := d.decode([]byte(tc.frame))
		if err == nil || ok != tc.known {
			t.Errorf("%s: decode = known %v, err %v; want known %v and an error", tc.name, ok, err, tc.known)
		}
	}
}

func TestNormalizeMalformed(t *testing.T) {
	for _, tc := range []struct{ name, from, to string }{
		{"too precise", `"0.0024"`, `"0.000000001"`},
		{"negative qty", `"10"`, `"-10"`},
		{"exponent form", `"0.0024"`, `"2.4e-3"`},
		{"overflow", `"10"`, `"100000000000"`},
		{"empty", `"10"`, `""`},
	} {
		d := testDecoder()
		frame := strings.Replace(docDepth, tc.from, tc.to, 1)
		r, _, err := d.decode([]byte(frame))
		if err != nil {
			t.Fatalf("%s: decode: %v", tc.name, err)
		}
		b, err := d.appendDepth([]byte("keep"), d.syms[r.sym])
		if err == nil || string(b) != "keep" {
			t.Errorf("%s: appendDepth = %q, %v; want the buffer unchanged and an error", tc.name, b, err)
		}
	}
	d := testDecoder()
	frame := strings.Replace(docTrade, `"0.001"`, `"0.0000000011"`, 1)
	r, _, err := d.decode([]byte(frame))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.appendTrade(nil, d.syms[r.sym]); !errors.Is(err, ErrDecimalPrecision) {
		t.Fatalf("appendTrade = %v, want ErrDecimalPrecision", err)
	}
}

// TestDecoderRecovers checks that a decoder keeps working after malformed
// frames of every kind, and accepts trailing white space.
func TestDecoderRecovers(t *testing.T) {
	d := testDecoder()
	for i, frame := range []string{docDepth[:70], docDepth, docTrade + " {", docTrade, docDepth + " \n", docDepth, "[", docTrade} {
		_, _, err := d.decode([]byte(frame))
		if bad := i%2 == 0 && i != 4; (err != nil) != bad {
			t.Fatalf("frame %d %q: err %v", i, frame, err)
		}
	}
}

// TestDecodeAllocs guards the zero-allocation decoding of depth events and trades.
func TestDecodeAllocs(t *testing.T) {
	d := testDecoder()
	depth := depthFrame("btcusdt@depth@100ms", "BTCUSDT", 10)
	trade := []byte(docTrade)
	out := make([]byte, 0, 4096)
	run := func() {
		var err error
		if out, err = decodeAndNormalize(d, depth, out[:0]); err != nil {
			t.Fatal(err)
		}
		r, _, err := d.decode(trade)
		if err != nil {
			t.Fatal(err)
		}
		if out, err = d.appendTrade(out[:0], d.syms[r.sym]); err != nil {
			t.Fatal(err)
		}
	}
	run()
	if n := testing.AllocsPerRun(100, run); n != 0 {
		t.Fatalf("%v allocations per depth event + trade, want 0", n)
	}
}

func TestDecodeEmptyEvent(t *testing.T) {
	d := testDecoder()
	frame := `{"stream":"btcusdt@depth@100ms","data":{"e":"depthUpdate","E":1,"s":"BTCUSDT","U":5,"u":5,"b":[],"a":[]}}`
	r, _, err := d.decode([]byte(frame))
	if err != nil {
		t.Fatal(err)
	}
	b, err := d.appendDepth(nil, d.syms[r.sym])
	if err != nil || len(b) != 0 {
		t.Fatalf("appendDepth = %x, %v; want nothing", b, err)
	}
}

// TestDecoderReuse checks that a decoder reused across frames does not carry
// fields of one event into the next.
func TestDecoderReuse(t *testing.T) {
	d := testDecoder()
	big := depthFrame("bnbbtc@depth@100ms", "BNBBTC", 10)
	if _, _, err := d.decode(big); err != nil {
		t.Fatal(err)
	}
	small := `{"stream":"btcusdt@depth@100ms","data":{"U":7,"u":9,"a":[["1","2"]]}}`
	r, _, err := d.decode([]byte(small))
	if err != nil {
		t.Fatal(err)
	}
	b, err := d.appendDepth(nil, d.syms[r.sym])
	if err != nil || len(b) != wire.LevelUpdateLen {
		t.Fatalf("appendDepth = %d bytes, %v; want one level", len(b), err)
	}
	if u, _ := wire.DecodeLevelUpdate(b); u.ExchTime != 0 || u.Side != wire.Ask || !u.EndOfEvent || u.Instrument != 2 {
		t.Fatalf("level = %+v", u)
	}
}

// depthFrame builds a depth frame with n bids and n asks.
func depthFrame(stream, symbol string, n int) []byte {
	var sb strings.Builder
	fmt.Fprintf(&sb, `{"stream":%q,"data":{"e":"depthUpdate","E":1672515782136,"s":%q,"U":1000157,"u":1000160,"b":[`, stream, symbol)
	for i := range n {
		if i > 0 {
			sb.WriteByte(',')
		}
		fmt.Fprintf(&sb, `["%d.%08d","%d.%08d"]`, 60000-i, 12345678*i%100000000, i+1, 2500000*i)
	}
	sb.WriteString(`],"a":[`)
	for i := range n {
		if i > 0 {
			sb.WriteByte(',')
		}
		fmt.Fprintf(&sb, `["%d.%08d","0.00000000"]`, 60001+i, 87654321*i%100000000)
	}
	sb.WriteString(`]}}`)
	return []byte(sb.String())
}

func decodeAndNormalize(d *decoder, frame, out []byte) ([]byte, error) {
	r, _, err := d.decode(frame)
	if err != nil {
		return out, err
	}
	return d.appendDepth(out, d.syms[r.sym])
}

// BenchmarkDecodeDepth20 decodes and normalizes one depth event of 20 levels
// (10 bids, 10 asks) into LevelUpdates.
func BenchmarkDecodeDepth20(b *testing.B) {
	d := testDecoder()
	frame := depthFrame("btcusdt@depth@100ms", "BTCUSDT", 10)
	out := make([]byte, 0, 4096)
	b.SetBytes(int64(len(frame)))
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if out, err = decodeAndNormalize(d, frame, out[:0]); err != nil {
			b.Fatal(err)
		}
	}
	if len(out) != 20*wire.LevelUpdateLen {
		b.Fatalf("%d bytes out", len(out))
	}
}

// BenchmarkDecodeTrade decodes and normalizes one trade.
func BenchmarkDecodeTrade(b *testing.B) {
	d := testDecoder()
	frame := []byte(docTrade)
	out := make([]byte, 0, 64)
	b.ReportAllocs()
	for b.Loop() {
		r, _, err := d.decode(frame)
		if err != nil {
			b.Fatal(err)
		}
		if out, err = d.appendTrade(out[:0], d.syms[r.sym]); err != nil {
			b.Fatal(err)
		}
	}
}

// FuzzDecodeEvent feeds arbitrary frames to the event decoder: it never
// panics, and whatever it accepts normalizes to valid wire messages of the
// stream's instrument (one LevelUpdate per level, the last one ending the event).
func FuzzDecodeEvent(f *testing.F) {
	for _, s := range []string{docDepth, docTrade, docTradeOld,
		string(depthFrame("btcusdt@depth@100ms", "BTCUSDT", 3)),
		`{"stream":"btcusdt@depth@100ms","data":{"U":7,"u":9,"a":[["1","2"]]}}`,
		`{"result":null,"id":1}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, frame []byte) {
		d := testDecoder()
		r, ok, err := d.decode(frame)
		if err != nil {
			return
		}
		if !ok {
			t.Fatal("decoded without a route")
		}
		if !json.Valid(frame) {
			t.Fatalf("accepted invalid JSON %q", frame)
		}
		s := d.syms[r.sym]
		if r.kind == kindTrade {
			b, err := d.appendTrade(nil, s)
			if err != nil {
				return
			}
			tr, err := wire.DecodeTrade(b)
			if err != nil || tr.Instrument != s.inst || tr.TradeID != d.trade.ID || tr.Price < 0 || tr.Qty < 0 {
				t.Fatalf("trade %+v, %v", tr, err)
			}
			return
		}
		b, err := d.appendDepth(nil, s)
		if err != nil {
			if len(b) != 0 {
				t.Fatal("failed normalization left bytes behind")
			}
			return
		}
		n := len(d.depth.Bids) + len(d.depth.Asks)
		if len(b) != n*wire.LevelUpdateLen {
			t.Fatalf("%d bytes for %d levels", len(b), n)
		}
		for i := 0; i < n; i++ {
			m := b[i*wire.LevelUpdateLen:]
			if binary.LittleEndian.Uint16(m) != wire.LevelUpdateLen {
				t.Fatal("bad message length")
			}
			u, err := wire.DecodeLevelUpdate(m)
			if err != nil || u.Instrument != s.inst || u.EndOfEvent != (i == n-1) || u.Price < 0 || u.Qty < 0 {
				t.Fatalf("level %d: %+v, %v", i, u, err)
			}
		}
	})
}
