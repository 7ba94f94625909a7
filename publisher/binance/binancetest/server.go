package binancetest

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// Config configures a [Server].
type Config struct {
	// Symbols to simulate, e.g. "BTCUSDT" (case-insensitive); at least one.
	Symbols []string
	// Seed seeds the books' random walk; 0 = 1.
	Seed uint64
	// Interval is the time between two depth events of a symbol; 0 = 10ms.
	Interval time.Duration
	// Levels is the number of levels a side at start; 0 = 20. A side ranges
	// over 4×Levels prices, so a snapshot of depth 5000 holds the whole book.
	Levels int
	// TradeEvery makes a symbol trade on average once every TradeEvery
	// intervals; 0 = 3.
	TradeEvery int
	// MaxStreamsPerConn refuses connections asking for more streams;
	// 0 = 1024 (Binance's limit).
	MaxStreamsPerConn int
}

// Server is an in-process Binance. Its methods are safe for concurrent use.
type Server struct {
	cfg  Config
	http *httptest.Server
	stop chan struct{}
	wg   sync.WaitGroup // generator and connection handlers

	mu       sync.Mutex
	rng      *rand.Rand
	books    []*book
	byName   map[string]*book // upper-case name
	conns    map[*conn]struct{}
	paused   bool
	closed   bool
	attempts int
	pongs    map[string]int

	requests, subscribes, unsubscribes int
	infoRequests                       int
}

// New starts a server on 127.0.0.1.
func New(cfg Config) (*Server, error) {
	if len(cfg.Symbols) == 0 {
		return nil, errors.New("binancetest: Config.Symbols is empty")
	}
	if cfg.Seed == 0 {
		cfg.Seed = 1
	}
	if cfg.Interval <= 0 {
		cfg.Interval = 10 * time.Millisecond
	}
	if cfg.Levels <= 0 {
		cfg.Levels = 20
	}
	if cfg.TradeEvery <= 0 {
		cfg.TradeEvery = 3
	}
	if cfg.MaxStreamsPerConn <= 0 {
		cfg.MaxStreamsPerConn = 1024
	}
	s := &Server{
		cfg:    cfg,
		stop:   make(chan struct{}),
		rng:    rand.New(rand.NewPCG(cfg.Seed, 0x62696e616e6365)),
		byName: map[string]*book{},
		conns:  map[*conn]struct{}{},
		pongs:  map[string]int{},
	}
	for i, name := range cfg.Symbols {
		upper := strings.ToUpper(name)
		if _, dup := s.byName[upper]; dup || upper == "" {
			return nil, fmt.Errorf("binancetest: Config.Symbols[%d] %q is empty or a duplicate", i, name)
		}
		b := newBook(upper, strings.ToLower(name), i, cfg.Levels, s.rng)
		s.books = append(s.books, b)
		s.byName[upper] = b
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v3/depth", s.serveDepth)
	mux.HandleFunc("GET /api/v3/exchangeInfo", s.serveExchangeInfo)
	mux.HandleFunc("GET /stream", s.serveStream)
	s.http = httptest.NewServer(mux)
	s.wg.Add(1)
	go s.generate()
	return s, nil
}

// Start starts a server for a test and closes it when the test ends.
func Start(tb testing.TB, cfg Config) *Server {
	tb.Helper()
	s, err := New(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(s.Close)
	return s
}

// WSURL returns the WebSocket base, "ws://127.0.0.1:port" (the combined
// stream is at WSURL()+"/stream?streams=…").
func (s *Server) WSURL() string { return "ws" + strings.TrimPrefix(s.http.URL, "http") }

// RESTURL returns the REST base, "http://127.0.0.1:port".
func (s *Server) RESTURL() string { return s.http.URL }

// Close drops every connection and stops the server. It is idempotent.
func (s *Server) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	close(s.stop)
	for c := range s.conns {
		c.kill()
	}
	s.mu.Unlock()
	s.http.Close()
	s.wg.Wait()
}

// generate evolves the books every Interval and publishes the events.
func (s *Server) generate() {
	defer s.wg.Done()
	t := time.NewTicker(s.cfg.Interval)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
		}
		s.mu.Lock()
		if !s.paused {
			ms := time.Now().UnixMilli()
			for _, b := range s.books {
				if !b.stalled {
					s.stepLocked(b, ms)
				}
			}
		}
		s.mu.Unlock()
	}
}

// stepLocked makes one depth event (and maybe a trade) of b. s.mu is held.
func (s *Server) stepLocked(b *book, ms int64) {
	first, final := b.step(s.rng)
	if b.skip > 0 {
		b.skip--
	} else {
		s.broadcastLocked(b, kindDepth, b.depthData(first, final, ms))
	}
	if s.rng.IntN(s.cfg.TradeEvery) == 0 {
		if t, ok := b.trade(s.rng, ms); ok {
			s.broadcastLocked(b, kindTrade, b.tradeData(t))
		}
	}
}

// Pause stops the books from changing (no events, no trades) until Resume.
func (s *Server) Pause() {
	s.mu.Lock()
	s.paused = true
	s.mu.Unlock()
}

// Resume undoes Pause.
func (s *Server) Resume() {
	s.mu.Lock()
	s.paused = false
	s.mu.Unlock()
}

func (s *Server) lookup(symbol string) *book {
	b := s.byName[strings.ToUpper(symbol)]
	if b == nil {
		panic(fmt.Sprintf("binancetest: unknown symbol %q", symbol))
	}
	return b
}

// Book returns a copy of symbol's current book and its last update id. It
// panics on an unknown symbol, like every method taking a symbol.
func (s *Server) Book(symbol string) Book {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lookup(symbol).copy()
}

// Trades returns the trades of symbol so far, oldest first.
func (s *Server) Trades(symbol string) []Trade {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Trade(nil), s.lookup(symbol).trades...)
}

// SnapshotRequests returns how many snapshot requests symbol received.
func (s *Server) SnapshotRequests(symbol string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lookup(symbol).snapRequests
}

// ConnAttempts returns how many stream connections were requested.
func (s *Server) ConnAttempts() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.attempts
}

// SkipUpdate makes symbol's next event change the book without being sent:
// its update ids are lost, a gap.
func (s *Server) SkipUpdate(symbol string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lookup(symbol).skip++
}

// Stall stops (true) or restarts (false) symbol's events and trades; its book
// holds still meanwhile, so its update ids resume without a gap.
func (s *Server) Stall(symbol string, stalled bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lookup(symbol).stalled = stalled
}

// FailSnapshots answers symbol's next n snapshot requests with HTTP status
// (a 429 or 418 carries "Retry-After: 1").
func (s *Server) FailSnapshots(symbol string, status, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.lookup(symbol)
	for range n {
		b.failSnaps = append(b.failSnaps, status)
	}
}

// NonBridgingSnapshot serves symbol's next snapshot with a lastUpdateId older
// than any event a client can hold, and a level (price 0.00000001) that is
// never in the book: a client must discard it.
func (s *Server) NonBridgingSnapshot(symbol string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lookup(symbol).nonBridge++
}
