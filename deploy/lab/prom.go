package lab

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// scrapeInterval is Prometheus's scrape interval in the lab: short, so a
// few seconds of outage are several samples.
const scrapeInterval = time.Second

// prometheus is a real Prometheus (the machine's binary) in a namespace of
// the lab, scraping every daemon's admin listener, queried over its HTTP
// API.
type prometheus struct {
	proc   *Proc
	base   string // http://addr
	client *http.Client
}

// promConfig is the configuration: one job per daemon, named after it
// (job="hub" is the hub's admin listener).
func promConfig(targets map[string]string, order []string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "global:\n  scrape_interval: %s\n  scrape_timeout: %s\n  evaluation_interval: 10s\nscrape_configs:\n",
		scrapeInterval, scrapeInterval*4/5)
	for _, job := range order {
		fmt.Fprintf(&b, "  - job_name: %q\n    static_configs:\n      - targets: [%q]\n", job, targets[job])
	}
	return b.String()
}

// startPrometheus writes the configuration into dir, starts bin in
// namespace ns listening on listen with its storage in dir/data, and waits
// until it is ready.
func startPrometheus(ctx context.Context, bin, ns, dir, listen string, targets map[string]string, order []string, client *http.Client) (*prometheus, error) {
	cfg := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfg, []byte(promConfig(targets, order)), 0o644); err != nil {
		return nil, err
	}
	proc, err := startIn(ns, "prometheus", dir, bin,
		"--config.file="+cfg,
		"--storage.tsdb.path="+filepath.Join(dir, "prometheus-data"),
		"--storage.tsdb.retention.time=1d",
		"--web.listen-address="+listen,
		"--log.level=warn")
	if err != nil {
		return nil, err
	}
	p := &prometheus{proc: proc, base: "http://" + listen, client: client}
	deadline := time.Now().Add(60 * time.Second)
	for {
		if ok, err := p.get(ctx, "/-/ready"); err == nil && ok {
			return p, nil
		}
		if done, err := proc.Exited(); done {
			return nil, fmt.Errorf("prometheus exited: %v\n%s", err, proc.Tail(20))
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			proc.Stop(5 * time.Second)
			return nil, fmt.Errorf("prometheus not ready after 60s\n%s", proc.Tail(20))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func (p *prometheus) get(ctx context.Context, path string) (bool, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.base+path, nil)
	if err != nil {
		return false, err
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return false, err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK, nil
}

// series is one series of a query's answer: its labels and its samples.
type series struct {
	Metric map[string]string
	Points []point
}

type point struct {
	T time.Time
	V float64
}

// apiResponse is the part of Prometheus's HTTP API answer the lab reads.
type apiResponse struct {
	Status string `json:"status"`
	Error  string `json:"error"`
	Data   struct {
		ResultType string `json:"resultType"`
		Result     []struct {
			Metric map[string]string `json:"metric"`
			Value  []any             `json:"value"`  // instant: [t, "v"]
			Values [][]any           `json:"values"` // range: [[t, "v"], …]
		} `json:"result"`
	} `json:"data"`
}

// queryRange runs /api/v1/query_range.
func (p *prometheus) queryRange(ctx context.Context, expr string, start, end time.Time, step time.Duration) ([]series, error) {
	v := url.Values{"query": {expr}, "start": {unixTime(start)}, "end": {unixTime(end)}, "step": {strconv.FormatFloat(step.Seconds(), 'f', -1, 64)}}
	return p.api(ctx, "/api/v1/query_range", v)
}

// query runs /api/v1/query at time at.
func (p *prometheus) query(ctx context.Context, expr string, at time.Time) ([]series, error) {
	return p.api(ctx, "/api/v1/query", url.Values{"query": {expr}, "time": {unixTime(at)}})
}

func unixTime(t time.Time) string { return strconv.FormatFloat(float64(t.UnixNano())/1e9, 'f', 3, 64) }

func (p *prometheus) api(ctx context.Context, path string, v url.Values) ([]series, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.base+path+"?"+v.Encode(), nil)
	if err != nil {
		return nil, err
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("prometheus %s: %w", path, err)
	}
	defer resp.Body.Close()
	var r apiResponse
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		return nil, fmt.Errorf("prometheus %s: %s: %w", path, resp.Status, err)
	}
	if r.Status != "success" {
		return nil, fmt.Errorf("prometheus %s %q: %s", path, v.Get("query"), r.Error)
	}
	var out []series
	for _, res := range r.Data.Result {
		s := series{Metric: res.Metric}
		vals := res.Values
		if res.Value != nil {
			vals = [][]any{res.Value}
		}
		for _, pv := range vals {
			if pt, ok := parsePoint(pv); ok {
				s.Points = append(s.Points, pt)
			}
		}
		out = append(out, s)
	}
	return out, nil
}

func parsePoint(pv []any) (point, bool) {
	if len(pv) != 2 {
		return point{}, false
	}
	ts, ok1 := pv[0].(float64)
	vs, ok2 := pv[1].(string)
	if !ok1 || !ok2 {
		return point{}, false
	}
	v, err := strconv.ParseFloat(vs, 64)
	if err != nil {
		return point{}, false
	}
	return point{T: time.Unix(0, int64(ts*1e9)), V: v}, true
}
