package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// metricsURL turns stat's argument into the URL of a /metrics page: a bare
// host:port (the daemon's --admin) gets http:// and /metrics, a URL without
// a path gets /metrics.
func metricsURL(arg string) (string, error) {
	if arg == "" {
		return "", errors.New("empty address")
	}
	if !strings.Contains(arg, "://") {
		arg = "http://" + arg
	}
	u, err := url.Parse(arg)
	if err != nil {
		return "", err
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return "", fmt.Errorf("scheme %q: want http or https", u.Scheme)
	}
	if u.Host == "" {
		return "", errors.New("no host")
	}
	if u.Path == "" || u.Path == "/" {
		u.Path = "/metrics"
	}
	return u.String(), nil
}

// sample is one series of a scrape: histograms come as their _bucket (with
// le), _sum and _count series.
type sample struct {
	name   string
	labels map[string]string // without the name
	key    string            // name and labels, canonical
	value  float64
}

// label returns the value of one label ("" if absent).
func (s sample) label(name string) string { return s.labels[name] }

// scrape is one read of a daemon's /metrics.
type scrape struct {
	at     time.Time
	byName map[string][]sample // each name's series, sorted by key
	byKey  map[string]float64
}

// seriesKey is the canonical form of a series: name{k="v",…}, labels sorted.
func seriesKey(name string, labels map[string]string) string {
	ks := make([]string, 0, len(labels))
	for k := range labels {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	var b strings.Builder
	b.WriteString(name)
	b.WriteByte('{')
	for i, k := range ks {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "%s=%q", k, labels[k])
	}
	b.WriteByte('}')
	return b.String()
}

// parseScrape parses a /metrics page in the Prometheus text format, read at
// at. It refuses a page without any tickcast_ family: the address is some
// other exporter (or a web page that happens to parse).
func parseScrape(r io.Reader, at time.Time) (*scrape, error) {
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(r)
	if err != nil {
		return nil, fmt.Errorf("not Prometheus metrics: %w", err)
	}
	s := &scrape{at: at, byName: map[string][]sample{}, byKey: map[string]float64{}}
	var others []string
	for name, f := range fams {
		if !strings.HasPrefix(name, "tickcast_") {
			others = append(others, name)
			continue
		}
		vec, err := expfmt.ExtractSamples(&expfmt.DecodeOptions{Timestamp: model.TimeFromUnixNano(at.UnixNano())}, f)
		if err != nil {
			return nil, fmt.Errorf("family %s: %w", name, err)
		}
		for _, v := range vec {
			sm := sample{labels: map[string]string{}, value: float64(v.Value)}
			for k, lv := range v.Metric {
				if k == model.MetricNameLabel {
					sm.name = string(lv)
					continue
				}
				sm.labels[string(k)] = string(lv)
			}
			sm.key = seriesKey(sm.name, sm.labels)
			s.byName[sm.name] = append(s.byName[sm.name], sm)
			s.byKey[sm.key] = sm.value
		}
	}
	if len(s.byName) == 0 {
		sort.Strings(others)
		if len(others) > 3 {
			others = append(others[:3], "…")
		}
		return nil, fmt.Errorf("no tickcast_ metrics among its %d families (%s): not a tickcast admin listener", len(fams), strings.Join(others, ", "))
	}
	for name := range s.byName {
		slices.SortFunc(s.byName[name], func(a, b sample) int { return strings.Compare(a.key, b.key) })
	}
	return s, nil
}

// has reports whether the scrape has a series of the name.
func (s *scrape) has(name string) bool { return len(s.byName[name]) > 0 }

// all returns the series of a name whose labels include every pair of kv
// (name, value, name, value, …).
func (s *scrape) all(name string, kv ...string) []sample {
	var out []sample
next:
	for _, sm := range s.byName[name] {
		for i := 0; i+1 < len(kv); i += 2 {
			if sm.labels[kv[i]] != kv[i+1] {
				continue next
			}
		}
		out = append(out, sm)
	}
	return out
}

// sum adds the values of the series all returns.
func (s *scrape) sum(name string, kv ...string) float64 {
	var t float64
	for _, sm := range s.all(name, kv...) {
		t += sm.value
	}
	return t
}

// labelValues returns the distinct values of one label over the series of
// the names, sorted (numerically when they are all numbers, as channels are).
func (s *scrape) labelValues(label string, names ...string) []string {
	seen := map[string]bool{}
	var out []string
	for _, n := range names {
		for _, sm := range s.byName[n] {
			if v, ok := sm.labels[label]; ok && !seen[v] {
				seen[v] = true
				out = append(out, v)
			}
		}
	}
	slices.SortFunc(out, compareNumeric)
	return out
}

// compareNumeric orders numbers by value (shorter first), then text.
func compareNumeric(a, b string) int {
	if len(a) != len(b) && isDigits(a) && isDigits(b) {
		return len(a) - len(b)
	}
	return strings.Compare(a, b)
}

func isDigits(s string) bool {
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return s != ""
}

// scraper reads one daemon's /metrics.
type scraper struct {
	url    string
	client *http.Client
	now    func() time.Time
}

// scrape reads and parses the page once. Its errors say what is wrong in
// the operator's terms: not reachable, not a /metrics page, not tickcast's.
func (sc *scraper) scrape(ctx context.Context) (*scrape, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, sc.url, nil)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", sc.url, err)
	}
	// The text format: promhttp would otherwise pick by the Accept header.
	req.Header.Set("Accept", "text/plain;version=0.0.4")
	resp, err := sc.client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // without the method and URL, said below
		}
		var op *net.OpError
		if errors.As(err, &op) && op.Op == "dial" {
			return nil, fmt.Errorf("cannot reach %s: %w (is the daemon running with --admin on that address?)", sc.url, err)
		}
		return nil, fmt.Errorf("cannot read %s: %w", sc.url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: HTTP %s: not a tickcast /metrics page", sc.url, resp.Status)
	}
	s, err := parseScrape(resp.Body, sc.now())
	if err != nil {
		return nil, fmt.Errorf("%s: %w", sc.url, err)
	}
	return s, nil
}
