package binance

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"

	"github.com/tickcast/tickcast/wire"
)

// Decoding errors. A frame that fails with one of them is counted as malformed
// and dropped; a malformed depth event also resyncs its symbol.
var (
	errUnknownStream = errors.New("binance: unknown stream")
	errEventType     = errors.New("binance: event type does not match its stream")
	errEventSymbol   = errors.New("binance: event symbol does not match its stream")
	errUpdateIDs     = errors.New("binance: depth event without valid U and u")
	errLevel         = errors.New("binance: level is not [\"price\",\"qty\"]")
	errString        = errors.New("binance: want a JSON string without escapes")
	errNegative      = errors.New("binance: negative price or quantity")
	errTrade         = errors.New("binance: trade without a price, quantity or id")
	errTrailing      = errors.New("binance: data after the JSON value")
	errUnknownReply  = errors.New("binance: answer to no request")
)

// kind is what a stream carries.
type kind uint8

const (
	kindDepth kind = iota + 1
	kindTrade
)

// route tells which symbol and kind a stream name belongs to.
type route struct {
	sym  int // index into the decoder's symbols
	kind kind
}

// symInfo is what the decoder needs of a symbol to normalize its events.
type symInfo struct {
	inst       uint32
	priceExp   int8
	qtyExp     int8
	quotedName []byte // `"BTCUSDT"`, to check the event's "s"
}

// envelope is a combined-stream frame: {"stream":"<name>","data":{...}}.
type envelope struct {
	Stream json.RawMessage `json:"stream"`
	Data   json.RawMessage `json:"data"`
}

// depthEvent is a diff-depth event (BINANCE.md, "Payloads"). "e" must be a
// field of its own: encoding/json matches keys case-insensitively and would
// otherwise decode "e" into E.
type depthEvent struct {
	Type   json.RawMessage `json:"e"`
	Time   uint64          `json:"E"` // event time, ms
	Symbol json.RawMessage `json:"s"`
	First  uint64          `json:"U"` // first update id in the event
	Final  uint64          `json:"u"` // final update id in the event
	Bids   []jsonLevel     `json:"b"`
	Asks   []jsonLevel     `json:"a"`
}

// tradeEvent is a trade event. "M" is declared (and ignored) so that it is not
// matched case-insensitively to "m".
type tradeEvent struct {
	Type       json.RawMessage `json:"e"`
	Time       uint64          `json:"E"`
	Symbol     json.RawMessage `json:"s"`
	ID         uint64          `json:"t"`
	Price      jsonString      `json:"p"`
	Qty        jsonString      `json:"q"`
	TradeTime  uint64          `json:"T"` // ms
	BuyerMaker bool            `json:"m"` // the buyer is the maker: the aggressor sold
	Ignore     ignoreJSON      `json:"M"`
}

// jsonLevel is one ["price","qty"] pair, kept as the bytes of the two strings.
// Its buffers are reused from one event to the next.
type jsonLevel struct{ price, qty []byte }

// UnmarshalJSON reads ["price","qty"]; encoding/json has already checked that
// b is one well-formed JSON value.
func (l *jsonLevel) UnmarshalJSON(b []byte) error {
	b = skipSpace(b)
	if len(b) == 0 || b[0] != '[' {
		return errLevel
	}
	p, b, err := cutString(skipSpace(b[1:]))
	if err != nil {
		return err
	}
	if b = skipSpace(b); len(b) == 0 || b[0] != ',' {
		return errLevel
	}
	q, b, err := cutString(skipSpace(b[1:]))
	if err != nil {
		return err
	}
	if b = skipSpace(b); len(b) == 0 || b[0] != ']' || len(skipSpace(b[1:])) != 0 {
		return errLevel
	}
	l.price = append(l.price[:0], p...)
	l.qty = append(l.qty[:0], q...)
	return nil
}

// jsonString is the content of a JSON string without escapes, in a reused buffer.
type jsonString []byte

// UnmarshalJSON copies the string's content.
func (s *jsonString) UnmarshalJSON(b []byte) error {
	v, rest, err := cutString(b)
	if err != nil || len(skipSpace(rest)) != 0 {
		return errString
	}
	*s = append((*s)[:0], v...)
	return nil
}

// ignoreJSON accepts and discards any value.
type ignoreJSON struct{}

// UnmarshalJSON does nothing.
func (ignoreJSON) UnmarshalJSON([]byte) error { return nil }

func skipSpace(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t' || b[0] == '\n' || b[0] == '\r') {
		b = b[1:]
	}
	return b
}

// cutString splits a JSON string without escapes off the front of b and
// returns its content and what follows.
func cutString(b []byte) (s, rest []byte, err error) {
	if len(b) == 0 || b[0] != '"' {
		return nil, b, errString
	}
	end := bytes.IndexByte(b[1:], '"')
	if end < 0 {
		return nil, b, errString
	}
	s = b[1 : 1+end]
	if bytes.IndexByte(s, '\\') >= 0 {
		return nil, b, errString
	}
	return s, b[2+end:], nil
}

// valueDecoder decodes one whole JSON value per byte slice with encoding/json.
// Unlike json.Unmarshal, which builds a new decode state for every call (a
// dozen allocations per depth event), it keeps one json.Decoder whose scanner
// and decode state are reused, so a well-formed value costs no allocation. The
// decoder is replaced after any error, which json.Decoder keeps sticky.
type valueDecoder struct {
	src  sliceReader
	dec  *json.Decoder
	base int64 // the decoder's input offset when the current value started
}

// sliceReader reads the current value's bytes, then reports io.EOF.
type sliceReader struct{ b []byte }

func (r *sliceReader) Read(p []byte) (int, error) {
	if len(r.b) == 0 {
		return 0, io.EOF
	}
	n := copy(p, r.b)
	r.b = r.b[n:]
	return n, nil
}

// decode decodes b, which must hold exactly one JSON value (and optional
// trailing white space), into v.
func (d *valueDecoder) decode(b []byte, v any) error {
	if d.dec == nil {
		d.dec = json.NewDecoder(&d.src)
		d.base = 0
	}
	d.src.b = b
	err := d.dec.Decode(v)
	if err == nil {
		used := d.dec.InputOffset() - d.base
		if used != int64(len(b)) {
			if len(skipSpace(b[used:])) != 0 {
				err = errTrailing
			}
			d.dec = nil // drop what it buffered past the value
		}
		d.base += used
	}
	if err != nil {
		d.dec = nil
	}
	d.src.b = nil
	return err
}

// decoder decodes the frames of one connection into structs it reuses, so a
// well-formed frame is decoded without allocating.
type decoder struct {
	routes map[string]route
	syms   []*symInfo
	outer  valueDecoder // frames
	inner  valueDecoder // their data
	env    envelope
	depth  depthEvent
	trade  tradeEvent
}

var (
	quotedDepthUpdate = []byte(`"depthUpdate"`)
	quotedTrade       = []byte(`"trade"`)
)

// decode parses one combined-stream frame into d.depth or d.trade and returns
// its route. ok reports whether the frame's stream is known (so a failure can
// be charged to a symbol); err is nil only when the event decoded completely.
func (d *decoder) decode(frame []byte) (r route, ok bool, err error) {
	// Fast path: Binance writes {"stream":"<name>","data":<event>} exactly,
	// so the envelope need not be scanned twice more by encoding/json: the
	// event alone is decoded (and validated) by it. Anything else, or any
	// failure, takes the general path.
	if name, data, split := splitFrame(frame); split {
		if r, ok = d.routes[string(name)]; ok && d.decodeData(r, data) == nil {
			return r, true, nil
		}
	}
	d.env.Stream, d.env.Data = d.env.Stream[:0], d.env.Data[:0]
	if err := d.outer.decode(frame, &d.env); err != nil {
		r, ok = d.sniff(frame) // charge a broken frame to its symbol if it can be
		return r, ok, err
	}
	name, _, err := cutString(d.env.Stream)
	if err != nil {
		return r, false, errUnknownStream
	}
	if r, ok = d.routes[string(name)]; !ok {
		return r, false, errUnknownStream
	}
	return r, true, d.decodeData(r, d.env.Data)
}

var (
	framePrefix = []byte(`{"stream":"`)
	dataKey     = []byte(`","data":`)
)

// splitFrame splits {"stream":"<name>","data":<data>} without scanning data.
func splitFrame(frame []byte) (name, data []byte, ok bool) {
	if !bytes.HasPrefix(frame, framePrefix) || frame[len(frame)-1] != '}' {
		return nil, nil, false
	}
	rest := frame[len(framePrefix) : len(frame)-1]
	end := bytes.IndexByte(rest, '"')
	if end < 0 || !bytes.HasPrefix(rest[end:], dataKey) || bytes.IndexByte(rest[:end], '\\') >= 0 {
		return nil, nil, false
	}
	return rest[:end], rest[end+len(dataKey):], true
}

// decodeData decodes the event of a frame of route r.
func (d *decoder) decodeData(r route, data []byte) error {
	if r.kind == kindDepth {
		return d.decodeDepth(d.syms[r.sym], data)
	}
	return d.decodeTrade(d.syms[r.sym], data)
}

var streamKey = []byte(`"stream":"`)

// sniff finds the stream of a frame that is not valid JSON: Binance writes
// {"stream":"<name>","data":…}, so a truncated or corrupted frame usually
// still names it, and a broken depth event can resync its symbol.
func (d *decoder) sniff(frame []byte) (route, bool) {
	i := bytes.Index(frame, streamKey)
	if i < 0 {
		return route{}, false
	}
	name := frame[i+len(streamKey):]
	end := bytes.IndexByte(name, '"')
	if end < 0 {
		return route{}, false
	}
	r, ok := d.routes[string(name[:end])]
	return r, ok
}

func (d *decoder) decodeDepth(s *symInfo, data []byte) error {
	e := &d.depth
	e.Type, e.Symbol = e.Type[:0], e.Symbol[:0]
	e.Time, e.First, e.Final = 0, 0, 0
	e.Bids, e.Asks = e.Bids[:0], e.Asks[:0]
	if err := d.inner.decode(data, e); err != nil {
		return err
	}
	if len(e.Type) > 0 && !bytes.Equal(e.Type, quotedDepthUpdate) {
		return errEventType
	}
	if len(e.Symbol) > 0 && !bytes.Equal(e.Symbol, s.quotedName) {
		return errEventSymbol
	}
	if e.First == 0 || e.Final < e.First {
		return errUpdateIDs
	}
	return nil
}

func (d *decoder) decodeTrade(s *symInfo, data []byte) error {
	t := &d.trade
	t.Type, t.Symbol = t.Type[:0], t.Symbol[:0]
	t.Time, t.ID, t.TradeTime, t.BuyerMaker = 0, 0, 0, false
	t.Price, t.Qty = t.Price[:0], t.Qty[:0]
	if err := d.inner.decode(data, t); err != nil {
		return err
	}
	if len(t.Type) > 0 && !bytes.Equal(t.Type, quotedTrade) {
		return errEventType
	}
	if len(t.Symbol) > 0 && !bytes.Equal(t.Symbol, s.quotedName) {
		return errEventSymbol
	}
	if t.ID == 0 || len(t.Price) == 0 || len(t.Qty) == 0 {
		return errTrade
	}
	return nil
}

// appendDepth appends the decoded depth event as LevelUpdates of symbol s, the
// last one flagged end of event (DESIGN.md, "Market messages"); an event with
// no levels appends nothing. On error b is returned unchanged.
func (d *decoder) appendDepth(b []byte, s *symInfo) ([]byte, error) {
	e := &d.depth
	n := len(e.Bids) + len(e.Asks)
	start := len(b)
	u := wire.LevelUpdate{Instrument: s.inst, ExchTime: e.Time * 1_000_000}
	for i := range n {
		l := e.Bids
		u.Side = wire.Bid
		if i >= len(e.Bids) {
			l, u.Side = e.Asks, wire.Ask
			i -= len(e.Bids)
		}
		var err error
		if u.Price, u.Qty, err = parseLevel(&l[i], s); err != nil {
			return b[:start], err
		}
		u.EndOfEvent = len(b)-start == (n-1)*wire.LevelUpdateLen
		b = u.Append(b)
	}
	return b, nil
}

func parseLevel(l *jsonLevel, s *symInfo) (price, qty int64, err error) {
	if price, err = ParseDecimal(l.price, s.priceExp); err != nil {
		return 0, 0, err
	}
	if qty, err = ParseDecimal(l.qty, s.qtyExp); err != nil {
		return 0, 0, err
	}
	if price < 0 || qty < 0 {
		return 0, 0, errNegative
	}
	return price, qty, nil
}

// appendTrade appends the decoded trade as a Trade of symbol s. On error b is
// returned unchanged.
func (d *decoder) appendTrade(b []byte, s *symInfo) ([]byte, error) {
	t := &d.trade
	price, err := ParseDecimal(t.Price, s.priceExp)
	if err != nil {
		return b, err
	}
	qty, err := ParseDecimal(t.Qty, s.qtyExp)
	if err != nil {
		return b, err
	}
	if price < 0 || qty < 0 {
		return b, errNegative
	}
	aggr := wire.AggressorBuy
	if t.BuyerMaker {
		aggr = wire.AggressorSell // the buyer made the price: the seller hit it
	}
	return wire.Trade{
		Instrument: s.inst, Price: price, Qty: qty,
		ExchTime: t.TradeTime * 1_000_000, TradeID: t.ID, Aggressor: aggr,
	}.Append(b), nil
}
