package binance

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// exchangeInfoWeight is the REST request weight of GET /api/v3/exchangeInfo.
const exchangeInfoWeight = 20

// codeInvalidSymbol is Binance's error code for a symbol it does not list
// ({"code":-1121,"msg":"Invalid symbol."}).
const codeInvalidSymbol = -1121

// exchangeInfoJSON is the part of GET /api/v3/exchangeInfo the source reads.
type exchangeInfoJSON struct {
	Symbols []struct {
		Symbol string `json:"symbol"`
		Status string `json:"status"`
	} `json:"symbols"`
}

// checkSymbols asks Binance whether it lists every one of syms
// (GET /api/v3/exchangeInfo?symbols=["A","B"]); an error names those it
// does not, or says why it could not ask.
func (f *fetcher) checkSymbols(ctx context.Context, syms []Symbol) error {
	names := make([]string, len(syms))
	for i, s := range syms {
		names[i] = s.Name
	}
	listed, err := f.exchangeInfo(ctx, names)
	if errors.Is(err, errInvalidSymbol) && len(names) > 1 {
		// Binance refuses the whole list for one unknown name: find it.
		listed = map[string]bool{}
		for _, name := range names {
			one, err := f.exchangeInfo(ctx, []string{name})
			if err != nil && !errors.Is(err, errInvalidSymbol) {
				return err
			}
			listed[name] = one[name]
		}
		err = nil
	}
	var unknown []string
	for _, name := range names {
		if !listed[name] {
			unknown = append(unknown, name)
		}
	}
	switch {
	case len(unknown) == 1:
		return fmt.Errorf("binance does not list symbol %s", unknown[0])
	case len(unknown) > 1:
		return fmt.Errorf("binance does not list symbols %s", strings.Join(unknown, ", "))
	}
	return err
}

// errInvalidSymbol is an exchangeInfo request refused for an unknown symbol.
var errInvalidSymbol = errors.New("binance: invalid symbol")

// exchangeInfo returns which of names Binance lists.
func (f *fetcher) exchangeInfo(ctx context.Context, names []string) (map[string]bool, error) {
	if err := f.limiter.WaitN(ctx, min(exchangeInfoWeight, f.limiter.Burst())); err != nil {
		return nil, fmt.Errorf("binance: exchangeInfo: %w", err)
	}
	if wait := time.Until(time.Unix(0, f.notBefore.Load())); wait > 0 {
		if err := sleep(ctx, wait); err != nil {
			return nil, fmt.Errorf("binance: exchangeInfo: %w", err)
		}
	}
	list, err := json.Marshal(names)
	if err != nil {
		return nil, err
	}
	u := f.rest + "/api/v3/exchangeInfo?symbols=" + url.QueryEscape(string(list))
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, fmt.Errorf("binance: exchangeInfo: %w", err)
	}
	resp, err := f.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("binance: exchangeInfo: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		herr := f.httpError(resp)
		var e *HTTPError
		if errors.As(herr, &e) {
			var body struct {
				Code int `json:"code"`
			}
			if json.Unmarshal([]byte(e.Body), &body) == nil && body.Code == codeInvalidSymbol {
				return nil, errInvalidSymbol
			}
		}
		return nil, fmt.Errorf("binance: exchangeInfo: %w", herr)
	}
	var info exchangeInfoJSON
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxSnapshotBytes)).Decode(&info); err != nil {
		return nil, fmt.Errorf("binance: exchangeInfo: %w", err)
	}
	listed := make(map[string]bool, len(info.Symbols))
	for _, s := range info.Symbols {
		listed[s.Symbol] = true
	}
	return listed, nil
}
