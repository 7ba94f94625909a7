package binance

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gorilla/websocket"
)

// Defaults applied by [New] to zero fields of [Config] and [Symbol].
const (
	DefaultWSURL             = "wss://stream.binance.com:9443"
	DefaultRESTURL           = "https://api.binance.com"
	DefaultDepthLimit        = 5000
	DefaultDepthSpeed        = "100ms"
	DefaultMaxStreamsPerConn = 1024 // Binance's limit per connection
	DefaultStaleAfter        = 10 * time.Second
	DefaultMaxConnAge        = 23*time.Hour + 30*time.Minute // Binance cuts at 24 h
	DefaultReconnectMin      = 500 * time.Millisecond
	DefaultReconnectMax      = 30 * time.Second
	DefaultVenue             = "BINANCE"
	DefaultExp               = -8   // Binance spot strings carry 8 decimals
	DefaultWeightPerMinute   = 6000 // Binance's REQUEST_WEIGHT limit per IP and minute
)

// Binance limits the source stays under (BINANCE.md, "Connections").
const (
	maxConnAttempts      = 300 // connection attempts per attemptWindow per IP
	attemptWindow        = 5 * time.Minute
	maxSymbolLen         = 16 // InstrumentDef.Symbol
	maxVenueLen          = 12 // InstrumentDef.Venue
	maxDepthLimit        = 5000
	maxStreamsPerConnCap = 1024
)

// Symbol is one Binance spot symbol served as one tickcast instrument.
type Symbol struct {
	// Name is the Binance symbol, "BTCUSDT" (case-insensitive; 1 to 16 ASCII
	// letters and digits). Stream names use it in lower case.
	Name string
	// Instrument is the instrument id on the tickcast feed; 0 assigns the
	// symbol's 1-based position in Config.Symbols ([New]), or, for a symbol
	// [Source.SetSymbols] adds, an id above every id the source used so far.
	Instrument uint32
	// PriceExp is the price exponent (price = mantissa × 10^PriceExp), in
	// [-18, -1]; 0 means -8, the 8 decimals of Binance spot strings.
	PriceExp int8
	// QtyExp is the quantity exponent, in [-18, -1]; 0 means -8.
	QtyExp int8
}

// Config configures a [Source]. Validate it with [New]; the zero value of every
// field but Symbols means the documented default.
type Config struct {
	// Symbols to serve, at least one.
	Symbols []Symbol
	// WSURL is the WebSocket base; "" = wss://stream.binance.com:9443. The
	// combined streams are read from WSURL+"/stream?streams=a/b/c".
	WSURL string
	// RESTURL is the REST base; "" = https://api.binance.com. Snapshots are
	// GET RESTURL+"/api/v3/depth?symbol=X&limit=DepthLimit".
	RESTURL string
	// DepthLimit is the snapshot depth, 1 to 5000; 0 = 5000 (levels beyond
	// the snapshot that never change never appear: use the full depth).
	DepthLimit int
	// DepthSpeed is the diff-depth stream speed, "100ms" or "1000ms";
	// "" = "100ms" (<symbol>@depth@100ms; "1000ms" is <symbol>@depth).
	DepthSpeed string
	// MaxStreamsPerConn caps the streams of one connection, 2 to 1024;
	// 0 = 1024 (Binance's limit). Each symbol uses two streams (depth and
	// trade) on the same connection; symbols are split across connections
	// in config order.
	MaxStreamsPerConn int
	// StaleAfter is how long a synced symbol may go without any event before
	// it is reported stale (InstrumentStatus stale; ok again when data
	// resumes); 0 = 10s.
	StaleAfter time.Duration
	// MaxConnAge is when a connection is replaced proactively, before
	// Binance's 24 h cut: the new connection is dialled first and the old one
	// closed once the new one carries every symbol's data; 0 = 23h30m.
	MaxConnAge time.Duration
	// ReconnectMin and ReconnectMax bound the exponential backoff (with full
	// jitter) between connection attempts and between snapshot retries;
	// 0 = 500ms and 30s. Connection attempts never exceed 300 per 5 minutes.
	ReconnectMin, ReconnectMax time.Duration
	// SnapshotWeightPerMinute is the REST request weight the source may spend
	// per minute on snapshots (a snapshot costs 5 to 250 by DepthLimit);
	// 0 = 6000, Binance's REQUEST_WEIGHT limit per IP. HTTP 429/418 answers
	// pause every snapshot request for their Retry-After.
	SnapshotWeightPerMinute int
	// Venue is the InstrumentDef venue, at most 12 ASCII bytes; "" = "BINANCE".
	Venue string
	// HTTPClient fetches snapshots; nil = a client with a 30 s timeout.
	HTTPClient *http.Client
	// Dialer dials the WebSocket connections; nil = a dialer with a 10 s
	// handshake timeout that honours the proxy environment.
	Dialer *websocket.Dialer
	// Logger receives anomalies (connection losses, the first resync of a
	// symbol); nil = slog.Default().
	Logger *slog.Logger
}

// withDefaults validates c and returns a copy with defaults applied and the
// symbols normalized (upper-case names, instruments and exponents assigned).
func (c Config) withDefaults() (Config, error) {
	if len(c.Symbols) == 0 {
		return c, fmt.Errorf("binance: Config.Symbols is empty")
	}
	syms := make([]Symbol, len(c.Symbols))
	names := make(map[string]int, len(syms))
	ids := make(map[uint32]int, len(syms))
	for i, s := range c.Symbols {
		name := strings.ToUpper(s.Name)
		if !validSymbol(name) {
			return c, fmt.Errorf("binance: Config.Symbols[%d].Name %q: want 1 to %d ASCII letters and digits", i, s.Name, maxSymbolLen)
		}
		if j, dup := names[name]; dup {
			return c, fmt.Errorf("binance: Config.Symbols[%d].Name %q duplicates Symbols[%d]", i, s.Name, j)
		}
		names[name] = i
		s.Name = name
		if s.Instrument == 0 {
			s.Instrument = uint32(i + 1)
		}
		if j, dup := ids[s.Instrument]; dup {
			return c, fmt.Errorf("binance: Config.Symbols[%d].Instrument %d (%s) duplicates the instrument of Symbols[%d] (%s)",
				i, s.Instrument, name, j, syms[j].Name)
		}
		ids[s.Instrument] = i
		var err error
		if s.PriceExp, err = checkExp(s.PriceExp); err != nil {
			return c, fmt.Errorf("binance: Config.Symbols[%d].PriceExp %d: %w", i, s.PriceExp, err)
		}
		if s.QtyExp, err = checkExp(s.QtyExp); err != nil {
			return c, fmt.Errorf("binance: Config.Symbols[%d].QtyExp %d: %w", i, s.QtyExp, err)
		}
		syms[i] = s
	}
	c.Symbols = syms

	var err error
	if c.WSURL, err = checkURL("WSURL", c.WSURL, DefaultWSURL, "ws", "wss"); err != nil {
		return c, err
	}
	if c.RESTURL, err = checkURL("RESTURL", c.RESTURL, DefaultRESTURL, "http", "https"); err != nil {
		return c, err
	}
	switch {
	case c.DepthLimit == 0:
		c.DepthLimit = DefaultDepthLimit
	case c.DepthLimit < 0 || c.DepthLimit > maxDepthLimit:
		return c, fmt.Errorf("binance: Config.DepthLimit %d: want 1 to %d", c.DepthLimit, maxDepthLimit)
	}
	switch c.DepthSpeed {
	case "":
		c.DepthSpeed = DefaultDepthSpeed
	case "100ms", "1000ms":
	default:
		return c, fmt.Errorf("binance: Config.DepthSpeed %q: want \"100ms\" or \"1000ms\"", c.DepthSpeed)
	}
	switch {
	case c.MaxStreamsPerConn == 0:
		c.MaxStreamsPerConn = DefaultMaxStreamsPerConn
	case c.MaxStreamsPerConn < 2 || c.MaxStreamsPerConn > maxStreamsPerConnCap:
		return c, fmt.Errorf("binance: Config.MaxStreamsPerConn %d: want 2 to %d (two streams per symbol)", c.MaxStreamsPerConn, maxStreamsPerConnCap)
	}
	durations := []struct {
		name string
		d    *time.Duration
		def  time.Duration
	}{
		{"StaleAfter", &c.StaleAfter, DefaultStaleAfter},
		{"MaxConnAge", &c.MaxConnAge, DefaultMaxConnAge},
		{"ReconnectMin", &c.ReconnectMin, DefaultReconnectMin},
		{"ReconnectMax", &c.ReconnectMax, DefaultReconnectMax},
	}
	for _, d := range durations {
		if *d.d < 0 {
			return c, fmt.Errorf("binance: Config.%s %v is negative", d.name, *d.d)
		}
		if *d.d == 0 {
			*d.d = d.def
		}
	}
	if c.ReconnectMax < c.ReconnectMin {
		return c, fmt.Errorf("binance: Config.ReconnectMax %v is below ReconnectMin %v", c.ReconnectMax, c.ReconnectMin)
	}
	switch {
	case c.SnapshotWeightPerMinute == 0:
		c.SnapshotWeightPerMinute = DefaultWeightPerMinute
	case c.SnapshotWeightPerMinute < 0:
		return c, fmt.Errorf("binance: Config.SnapshotWeightPerMinute %d is negative", c.SnapshotWeightPerMinute)
	}
	if w := depthWeight(c.DepthLimit); c.SnapshotWeightPerMinute < w {
		return c, fmt.Errorf("binance: Config.SnapshotWeightPerMinute %d is below the weight %d of one snapshot of DepthLimit %d",
			c.SnapshotWeightPerMinute, w, c.DepthLimit)
	}
	if c.Venue == "" {
		c.Venue = DefaultVenue
	}
	if len(c.Venue) > maxVenueLen || !isASCII(c.Venue) {
		return c, fmt.Errorf("binance: Config.Venue %q: want at most %d ASCII bytes", c.Venue, maxVenueLen)
	}
	if c.HTTPClient == nil {
		c.HTTPClient = &http.Client{Timeout: 30 * time.Second}
	}
	if c.Dialer == nil {
		c.Dialer = &websocket.Dialer{Proxy: http.ProxyFromEnvironment, HandshakeTimeout: 10 * time.Second}
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c, nil
}

func checkExp(e int8) (int8, error) {
	if e == 0 {
		return DefaultExp, nil
	}
	if e > 0 || e < MinExp {
		return e, fmt.Errorf("want %d to -1 (0 = %d)", MinExp, DefaultExp)
	}
	return e, nil
}

func checkURL(field, u, def string, schemes ...string) (string, error) {
	if u == "" {
		return def, nil
	}
	p, err := url.Parse(u)
	if err != nil {
		return u, fmt.Errorf("binance: Config.%s %q: %w", field, u, err)
	}
	for _, s := range schemes {
		if p.Scheme == s && p.Host != "" {
			return strings.TrimSuffix(u, "/"), nil
		}
	}
	return u, fmt.Errorf("binance: Config.%s %q: want a %s URL with a host", field, u, strings.Join(schemes, " or "))
}

func validSymbol(s string) bool {
	if len(s) == 0 || len(s) > maxSymbolLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < 'A' || c > 'Z') && (c < '0' || c > '9') {
			return false
		}
	}
	return true
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// depthWeight is the REST request weight of a snapshot of the given depth
// (BINANCE.md, "REST snapshot").
func depthWeight(limit int) int {
	switch {
	case limit <= 100:
		return 5
	case limit <= 500:
		return 25
	case limit <= 1000:
		return 50
	}
	return 250
}

// depthStream returns the diff-depth stream name of a lower-case symbol.
func (c *Config) depthStream(lower string) string {
	if c.DepthSpeed == "1000ms" {
		return lower + "@depth"
	}
	return lower + "@depth@" + c.DepthSpeed
}
