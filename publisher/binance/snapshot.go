package binance

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	"github.com/tickcast/tickcast/wire"
)

// maxSnapshotBytes bounds a snapshot body: 5000 levels a side are ~500 kB.
const maxSnapshotBytes = 64 << 20

// errSnapshotIDs is a snapshot without a lastUpdateId.
var errSnapshotIDs = errors.New("binance: snapshot without lastUpdateId")

// HTTPError is a snapshot request answered with a status other than 200.
type HTTPError struct {
	Status     int
	Body       string        // the start of the body (Binance sends {"code":…,"msg":…})
	RetryAfter time.Duration // from the Retry-After header of a 429 or 418, else 0
}

// Error describes the failed request.
func (e *HTTPError) Error() string {
	return fmt.Sprintf("binance: snapshot: HTTP %d: %s", e.Status, e.Body)
}

// snapshotJSON is the REST depth snapshot (BINANCE.md, "REST snapshot").
type snapshotJSON struct {
	LastUpdateID uint64      `json:"lastUpdateId"`
	Bids         []jsonLevel `json:"bids"`
	Asks         []jsonLevel `json:"asks"`
}

// snapshot is a fetched snapshot, normalized.
type snapshot struct {
	lastUpdateID uint64
	levels       []byte // LevelUpdates, bids then asks, the last one flagged end of event
	at           uint64 // local time of the snapshot, ns
}

// fetcher fetches REST snapshots for every connection of a source, within
// Binance's request weight per minute.
type fetcher struct {
	client    *http.Client
	rest      string // the REST base
	base      string // the snapshot URL, but for the symbol
	weight    int
	limiter   *rate.Limiter
	notBefore atomic.Int64 // unix ns before which no request goes out (Retry-After)
}

func newFetcher(c *Config) *fetcher {
	w := depthWeight(c.DepthLimit)
	perMinute := c.SnapshotWeightPerMinute
	burst := max(perMinute/4, w) // a quarter of the minute's budget at once, at most
	return &fetcher{
		client:  c.HTTPClient,
		rest:    c.RESTURL,
		base:    c.RESTURL + "/api/v3/depth?limit=" + strconv.Itoa(c.DepthLimit) + "&symbol=",
		weight:  w,
		limiter: rate.NewLimiter(rate.Limit(float64(perMinute)/60), burst),
	}
}

// fetch waits for the request weight and any Retry-After, then gets the
// snapshot of symbol and normalizes it with the symbol's exponents.
func (f *fetcher) fetch(ctx context.Context, symbol string, s *symInfo) (snapshot, error) {
	if err := f.limiter.WaitN(ctx, f.weight); err != nil {
		return snapshot{}, err
	}
	for {
		wait := time.Until(time.Unix(0, f.notBefore.Load()))
		if wait <= 0 {
			break
		}
		if err := sleep(ctx, wait); err != nil {
			return snapshot{}, err
		}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, f.base+symbol, nil)
	if err != nil {
		return snapshot{}, err
	}
	resp, err := f.client.Do(req)
	if err != nil {
		return snapshot{}, fmt.Errorf("binance: snapshot %s: %w", symbol, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return snapshot{}, f.httpError(resp)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxSnapshotBytes))
	if err != nil {
		return snapshot{}, fmt.Errorf("binance: snapshot %s: %w", symbol, err)
	}
	at := uint64(time.Now().UnixNano())
	snap, err := parseSnapshot(body, s, at)
	if err != nil {
		return snapshot{}, fmt.Errorf("binance: snapshot %s: %w", symbol, err)
	}
	return snap, nil
}

// httpError builds the error of a failed request; a 429 (rate limited) or 418
// (banned) with a Retry-After holds back every snapshot request until then.
func (f *fetcher) httpError(resp *http.Response) error {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 256))
	e := &HTTPError{Status: resp.StatusCode, Body: string(b)}
	if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusTeapot {
		if secs, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && secs > 0 {
			e.RetryAfter = time.Duration(secs) * time.Second
			until := time.Now().Add(e.RetryAfter).UnixNano()
			for {
				old := f.notBefore.Load()
				if old >= until || f.notBefore.CompareAndSwap(old, until) {
					break
				}
			}
		}
	}
	return e
}

// parseSnapshot decodes a snapshot body and normalizes its levels to
// LevelUpdates stamped with at.
func parseSnapshot(body []byte, s *symInfo, at uint64) (snapshot, error) {
	var j snapshotJSON
	if err := json.Unmarshal(body, &j); err != nil {
		return snapshot{}, err
	}
	if j.LastUpdateID == 0 {
		return snapshot{}, errSnapshotIDs
	}
	n := len(j.Bids) + len(j.Asks)
	snap := snapshot{lastUpdateID: j.LastUpdateID, at: at, levels: make([]byte, 0, n*wire.LevelUpdateLen)}
	u := wire.LevelUpdate{Instrument: s.inst, ExchTime: at}
	for i := range n {
		l, side := j.Bids, wire.Bid
		if i >= len(j.Bids) {
			l, side = j.Asks, wire.Ask
			i -= len(j.Bids)
		}
		var err error
		if u.Price, u.Qty, err = parseLevel(&l[i], s); err != nil {
			return snapshot{}, err
		}
		u.Side = side
		u.EndOfEvent = len(snap.levels) == (n-1)*wire.LevelUpdateLen
		snap.levels = u.Append(snap.levels)
	}
	return snap, nil
}
