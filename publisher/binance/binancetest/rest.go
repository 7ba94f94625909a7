package binancetest

import (
	"net/http"
	"strconv"
	"strings"
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
