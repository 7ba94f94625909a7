package binancetest

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// serveDepth serves GET /api/v3/depth?symbol=X&limit=N (default 100, at most
// 5000), with the faults armed by FailSnapshots and NonBridgingSnapshot.
func (s *Server) serveDepth(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit := 100
	if l := q.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > 5000 {
			binanceError(w, http.StatusBadRequest, -1100, "Illegal characters found in parameter 'limit'.")
			return
		}
		limit = n
	}
	s.mu.Lock()
	b := s.byName[q.Get("symbol")] // Binance wants the symbol in upper case
	if b == nil {
		s.mu.Unlock()
		binanceError(w, http.StatusBadRequest, -1121, "Invalid symbol.")
		return
	}
	b.snapRequests++
	if len(b.failSnaps) > 0 {
		status := b.failSnaps[0]
		b.failSnaps = b.failSnaps[1:]
		s.mu.Unlock()
		if status == http.StatusTooManyRequests || status == http.StatusTeapot {
			w.Header().Set("Retry-After", "1")
		}
		binanceError(w, status, -1003, "Too much request weight used; current limit is 6000 request weight per 1 MINUTE.")
		return
	}
	nonBridging := b.nonBridge > 0
	if nonBridging {
		b.nonBridge--
	}
	body := b.snapshotJSON(limit, nonBridging)
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	_, _ = w.Write(body)
}

func binanceError(w http.ResponseWriter, status, code int, msg string) {
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(`{"code":` + strconv.Itoa(code) + `,"msg":"` + strings.ReplaceAll(msg, `"`, `'`) + `"}`))
}

// serveExchangeInfo serves GET /api/v3/exchangeInfo, ?symbol=X,
// ?symbols=["X","Y"] or neither (every symbol): the symbols with status
// TRADING, or HTTP 400 {"code":-1121,"msg":"Invalid symbol."} when one of
// those asked for is not simulated, as Binance answers.
func (s *Server) serveExchangeInfo(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	var names []string
	switch {
	case q.Has("symbol"):
		names = []string{q.Get("symbol")}
	case q.Has("symbols"):
		if err := json.Unmarshal([]byte(q.Get("symbols")), &names); err != nil {
			binanceError(w, http.StatusBadRequest, -1100, "Illegal characters found in parameter 'symbols'.")
			return
		}
	}
	s.mu.Lock()
	s.infoRequests++
	if names == nil {
		for _, b := range s.books {
			names = append(names, b.name)
		}
	}
	for _, name := range names {
		if s.byName[name] == nil { // Binance wants upper case
			s.mu.Unlock()
			binanceError(w, http.StatusBadRequest, -1121, "Invalid symbol.")
			return
		}
	}
	s.mu.Unlock()
	type symbolJSON struct {
		Symbol string `json:"symbol"`
		Status string `json:"status"`
	}
	body := struct {
		Timezone   string       `json:"timezone"`
		ServerTime int64        `json:"serverTime"`
		RateLimits []any        `json:"rateLimits"`
		Filters    []any        `json:"exchangeFilters"`
		Symbols    []symbolJSON `json:"symbols"`
	}{Timezone: "UTC", ServerTime: time.Now().UnixMilli(), RateLimits: []any{}, Filters: []any{}}
	for _, name := range names {
		body.Symbols = append(body.Symbols, symbolJSON{Symbol: name, Status: "TRADING"})
	}
	b, _ := json.Marshal(body)
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	_, _ = w.Write(b)
}

// ExchangeInfoRequests returns how many exchangeInfo requests came in.
func (s *Server) ExchangeInfoRequests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.infoRequests
}
