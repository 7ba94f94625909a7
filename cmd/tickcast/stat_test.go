package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tickcast/tickcast/admin"
	"github.com/tickcast/tickcast/egress"
	"github.com/tickcast/tickcast/internal/mcast/mcasttest"
	"github.com/tickcast/tickcast/internal/testwait"
	"github.com/tickcast/tickcast/metrics"
	"github.com/tickcast/tickcast/publisher"
	"github.com/tickcast/tickcast/publisher/synth"
	"github.com/tickcast/tickcast/subscriber"
)

// Recorded /metrics pages: an edge relay two seconds apart, in which line B
// and upstream link B go down, 120 messages are lost and downstream
// sub-slow lags, drops and is cut off while sub-fast keeps up.
const (
	edgeBefore = `# TYPE tickcast_relay_messages_total counter
tickcast_relay_messages_total{channel="1"} 100000
tickcast_relay_books_whole{channel="1"} 1
tickcast_relay_recoveries_total{channel="1"} 1
tickcast_relay_nacks_total{channel="1",outcome="served"} 10
tickcast_relay_snapshots_served_total{channel="1"} 2
tickcast_line_packets_total{channel="1",line="A"} 10000
tickcast_line_packets_total{channel="1",line="B"} 9000
tickcast_line_first_arrivals_total{channel="1",line="A"} 6000
tickcast_line_first_arrivals_total{channel="1",line="B"} 4000
tickcast_line_up{channel="1",line="A"} 1
tickcast_line_up{channel="1",line="B"} 1
tickcast_line_downs_total{channel="1",line="A"} 0
tickcast_line_downs_total{channel="1",line="B"} 0
tickcast_gaps_total{channel="1"} 5
tickcast_messages_lost_total{channel="1"} 0
tickcast_nacks_sent_total{channel="1"} 5
tickcast_upstream_link_up{channel="1",link="A"} 1
tickcast_upstream_link_up{channel="1",link="B"} 1
# TYPE tickcast_hop_latency_seconds histogram
tickcast_hop_latency_seconds_bucket{channel="1",le="0.0001"} 0
tickcast_hop_latency_seconds_bucket{channel="1",le="0.001"} 0
tickcast_hop_latency_seconds_bucket{channel="1",le="+Inf"} 0
tickcast_hop_latency_seconds_sum{channel="1"} 0
tickcast_hop_latency_seconds_count{channel="1"} 0
tickcast_downstream_queued_packets{name="sub-fast"} 0
tickcast_downstream_queued_packets{name="sub-slow"} 8000
tickcast_downstream_datagrams_total{name="sub-fast"} 10000
tickcast_downstream_datagrams_total{name="sub-slow"} 5000
tickcast_downstream_dropped_packets_total{name="sub-fast"} 0
tickcast_downstream_dropped_packets_total{name="sub-slow"} 100
tickcast_downstream_loss_ratio{name="sub-fast"} 0
tickcast_downstream_loss_ratio{name="sub-slow"} 0.3
tickcast_downstream_cutoffs_total{name="sub-slow"} 0
tickcast_downstream_lag_seconds{name="sub-fast"} 0.0005
tickcast_downstream_lag_seconds{name="sub-slow"} 0.9
`
	edgeAfter = `# TYPE tickcast_relay_messages_total counter
tickcast_relay_messages_total{channel="1"} 120000
tickcast_relay_books_whole{channel="1"} 1
tickcast_relay_recoveries_total{channel="1"} 1
tickcast_relay_nacks_total{channel="1",outcome="served"} 30
tickcast_relay_snapshots_served_total{channel="1"} 2
tickcast_line_packets_total{channel="1",line="A"} 12000
tickcast_line_packets_total{channel="1",line="B"} 10800
tickcast_line_first_arrivals_total{channel="1",line="A"} 7500
tickcast_line_first_arrivals_total{channel="1",line="B"} 4500
tickcast_line_up{channel="1",line="A"} 1
tickcast_line_up{channel="1",line="B"} 0
tickcast_line_downs_total{channel="1",line="A"} 0
tickcast_line_downs_total{channel="1",line="B"} 1
tickcast_gaps_total{channel="1"} 15
tickcast_messages_lost_total{channel="1"} 120
tickcast_nacks_sent_total{channel="1"} 9
tickcast_upstream_link_up{channel="1",link="A"} 1
tickcast_upstream_link_up{channel="1",link="B"} 0
# TYPE tickcast_hop_latency_seconds histogram
tickcast_hop_latency_seconds_bucket{channel="1",le="0.0001"} 50
tickcast_hop_latency_seconds_bucket{channel="1",le="0.001"} 100
tickcast_hop_latency_seconds_bucket{channel="1",le="+Inf"} 100
tickcast_hop_latency_seconds_sum{channel="1"} 0.03
tickcast_hop_latency_seconds_count{channel="1"} 100
tickcast_downstream_queued_packets{name="sub-fast"} 0
tickcast_downstream_queued_packets{name="sub-slow"} 8192
tickcast_downstream_datagrams_total{name="sub-fast"} 14000
tickcast_downstream_datagrams_total{name="sub-slow"} 6000
tickcast_downstream_dropped_packets_total{name="sub-fast"} 0
tickcast_downstream_dropped_packets_total{name="sub-slow"} 500
tickcast_downstream_loss_ratio{name="sub-fast"} 0
tickcast_downstream_loss_ratio{name="sub-slow"} 0.5
tickcast_downstream_cutoffs_total{name="sub-slow"} 1
tickcast_downstream_lag_seconds{name="sub-fast"} 0.0005
tickcast_downstream_lag_seconds{name="sub-slow"} 1.5
`
)

// A subscriber one second apart: two checksum mismatches, three stale
// instruments, latency by kind.
const (
	subBefore = `tickcast_messages_total{channel="7"} 50000
tickcast_checksum_checks_total{channel="7"} 100
tickcast_checksum_mismatches_total{channel="7"} 0
tickcast_snapshots_total{channel="7"} 1
tickcast_queue_drops_total{channel="7"} 0
tickcast_recovering{channel="7"} 0
tickcast_line_packets_total{channel="7",line="A"} 5000
tickcast_line_packets_total{channel="7",line="B"} 5000
tickcast_line_first_arrivals_total{channel="7",line="A"} 2500
tickcast_line_first_arrivals_total{channel="7",line="B"} 2500
tickcast_line_up{channel="7",line="A"} 1
tickcast_line_up{channel="7",line="B"} 1
tickcast_line_downs_total{channel="7",line="A"} 2
tickcast_line_downs_total{channel="7",line="B"} 0
tickcast_gaps_total{channel="7"} 0
tickcast_messages_lost_total{channel="7"} 40
tickcast_nacks_sent_total{channel="7"} 0
tickcast_instruments{channel="7",status="ok"} 95
tickcast_instruments{channel="7",status="stale"} 0
tickcast_instruments{channel="7",status="resyncing"} 5
tickcast_instruments{channel="7",status="halted"} 0
# TYPE tickcast_latency_seconds histogram
tickcast_latency_seconds_bucket{channel="7",kind="feed",le="0.0001"} 0
tickcast_latency_seconds_bucket{channel="7",kind="feed",le="0.001"} 0
tickcast_latency_seconds_bucket{channel="7",kind="feed",le="+Inf"} 0
tickcast_latency_seconds_sum{channel="7",kind="feed"} 0
tickcast_latency_seconds_count{channel="7",kind="feed"} 0
tickcast_latency_seconds_bucket{channel="7",kind="network",le="0.0001"} 0
tickcast_latency_seconds_bucket{channel="7",kind="network",le="0.001"} 0
tickcast_latency_seconds_bucket{channel="7",kind="network",le="+Inf"} 0
tickcast_latency_seconds_sum{channel="7",kind="network"} 0
tickcast_latency_seconds_count{channel="7",kind="network"} 0
`
	subAfter = `tickcast_messages_total{channel="7"} 70000
tickcast_checksum_checks_total{channel="7"} 110
tickcast_checksum_mismatches_total{channel="7"} 2
tickcast_snapshots_total{channel="7"} 2
tickcast_queue_drops_total{channel="7"} 0
tickcast_recovering{channel="7"} 0
tickcast_line_packets_total{channel="7",line="A"} 7000
tickcast_line_packets_total{channel="7",line="B"} 7000
tickcast_line_first_arrivals_total{channel="7",line="A"} 2500
tickcast_line_first_arrivals_total{channel="7",line="B"} 4500
tickcast_line_up{channel="7",line="A"} 1
tickcast_line_up{channel="7",line="B"} 1
tickcast_line_downs_total{channel="7",line="A"} 2
tickcast_line_downs_total{channel="7",line="B"} 0
tickcast_gaps_total{channel="7"} 0
tickcast_messages_lost_total{channel="7"} 40
tickcast_nacks_sent_total{channel="7"} 0
tickcast_instruments{channel="7",status="ok"} 95
tickcast_instruments{channel="7",status="stale"} 3
tickcast_instruments{channel="7",status="resyncing"} 2
tickcast_instruments{channel="7",status="halted"} 0
# TYPE tickcast_latency_seconds histogram
tickcast_latency_seconds_bucket{channel="7",kind="feed",le="0.0001"} 0
tickcast_latency_seconds_bucket{channel="7",kind="feed",le="0.001"} 200
tickcast_latency_seconds_bucket{channel="7",kind="feed",le="+Inf"} 200
tickcast_latency_seconds_sum{channel="7",kind="feed"} 0.1
tickcast_latency_seconds_count{channel="7",kind="feed"} 200
tickcast_latency_seconds_bucket{channel="7",kind="network",le="0.0001"} 200
tickcast_latency_seconds_bucket{channel="7",kind="network",le="0.001"} 200
tickcast_latency_seconds_bucket{channel="7",kind="network",le="+Inf"} 200
tickcast_latency_seconds_sum{channel="7",kind="network"} 0.01
tickcast_latency_seconds_count{channel="7",kind="network"} 200
`
)

var t0 = time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)

func mustScrape(t *testing.T, page string, at time.Time) *scrape {
	t.Helper()
	s, err := parseScrape(strings.NewReader(page), at)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// squeeze collapses runs of spaces so tabwriter's alignment does not matter.
func squeeze(s string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = strings.Join(strings.Fields(l), " ")
	}
	return strings.Join(lines, "\n")
}

// frameOf renders the frame of two recorded pages dt apart.
func frameOf(t *testing.T, before, after string, dt time.Duration) string {
	t.Helper()
	run := newStatRun("http://127.0.0.1:9311/metrics", 250*time.Millisecond, mustScrape(t, before, t0))
	var b bytes.Buffer
	run.write(&b, mustScrape(t, after, t0.Add(dt)))
	return b.String()
}

func wantLines(t *testing.T, out string, want ...string) {
	t.Helper()
	got := squeeze(out)
	for _, w := range want {
		if !strings.Contains("\n"+got+"\n", "\n"+w+"\n") {
			t.Errorf("no line %q in:\n%s", w, out)
		}
	}
}

// anomalies returns the lines of the frame's ANOMALIES block.
func anomalies(out string) []string {
	_, block, ok := strings.Cut(out, "ANOMALIES\n")
	if !ok {
		return nil
	}
	var as []string
	for _, l := range strings.Split(strings.TrimRight(block, "\n"), "\n") {
		as = append(as, strings.TrimSpace(l))
	}
	return as
}

// TestStatRelayFrame: the rates between two recorded scrapes of an edge,
// its lines, upstream links and downstreams, and exactly the anomalies.
func TestStatRelayFrame(t *testing.T) {
	out := frameOf(t, edgeBefore, edgeAfter, 2*time.Second)
	wantLines(t, out,
		"tickcast stat http://127.0.0.1:9311/metrics 12:00:02 rates over 2.00s, counts (+n) since 2s ago relay",
		"RELAY channel 1: 10,000 msg/s forwarded, gaps 5.0/s, lost 120 (+120), NACKs 2.0/s sent, 10.0/s answered downstream, books whole yes, recoveries 1 (+0), snapshots served 2",
		"upstream links: A up, B DOWN",
		"hop latency (publisher send → sent on): p50 100µs p99 982µs",
		"line state packets/s first downs",
		"A up 1,000 75% 0 (+0)",
		"B DOWN 900 25% 1 (+1)",
		"name queued lag datagrams/s drops/s dropped loss cutoffs",
		"sub-fast 0 500µs 2,000 0.0 0 (+0) 0% 0 (+0)",
		"sub-slow 8,192 1.50s 500 200 500 (+400) 50% 1 (+1)",
	)
	want := []string{
		"channel 1 upstream link B down",
		"channel 1: 120 messages lost since start",
		"channel 1 line B down",
		"downstream sub-slow slow: lag 1.50s, 400 packets dropped since start, 1 cutoff since start",
	}
	if got := anomalies(out); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("anomalies:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestStatSubscriberFrame: a subscriber's rates, instruments, latency by
// kind, and its anomalies (mismatches and stale instruments since start;
// the losses from before stat started are not).
func TestStatSubscriberFrame(t *testing.T) {
	out := frameOf(t, subBefore, subAfter, time.Second)
	wantLines(t, out,
		"SUBSCRIBER channel 7: 20,000 msg/s, gaps 0.0/s, lost 40 (+0), NACKs 0.0/s, snapshots 2 (+1), checksums 110 checked, 2 (+2) mismatched, queue drops 0 (+0)",
		"instruments: 95 ok, 3 stale, 2 resyncing, 0 halted",
		"latency (publisher send →): feed p50 550µs p99 991µs | network p50 50.0µs p99 99.0µs",
		"A up 2,000 0% 2 (+0)",
		"B up 2,000 100% 0 (+0)",
	)
	want := []string{"channel 7: 2 checksum mismatches since start", "channel 7: 3 instruments stale"}
	if got := anomalies(out); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("anomalies:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// Nothing new between two equal scrapes: no rate, no anomaly, and the
	// first-arrival share falls back to the totals.
	calm := frameOf(t, subBefore, subBefore, time.Second)
	wantLines(t, calm, "A up 0.0 50% (all) 2 (+0)")
	if got := anomalies(calm); len(got) != 1 || got[0] != "none" {
		t.Errorf("a healthy subscriber has anomalies: %q", got)
	}
}

// TestStatSinceStartAcrossRestart: a counter that goes backwards (the
// daemon restarted) counts from zero, and losses add up across frames.
func TestStatSinceStartAcrossRestart(t *testing.T) {
	page := func(lost int) string {
		return strings.ReplaceAll(subBefore, `tickcast_messages_lost_total{channel="7"} 40`, `tickcast_messages_lost_total{channel="7"} `+strconv.Itoa(lost))
	}
	run := newStatRun("u", time.Second, mustScrape(t, page(40), t0))
	var b bytes.Buffer
	for i, lost := range []int{50, 5, 7} { // +10, restart (+5), +2
		b.Reset()
		run.write(&b, mustScrape(t, page(lost), t0.Add(time.Duration(i+1)*time.Second)))
	}
	wantLines(t, b.String(), "channel 7: 17 messages lost since start")
}

func TestBucketQuantile(t *testing.T) {
	inf := math.Inf(1)
	for _, c := range []struct {
		q        float64
		les, cum []float64
		want     float64
		ok       bool
	}{
		{0.5, []float64{1, 2, inf}, []float64{10, 20, 20}, 1, true},
		{0.75, []float64{1, 2, inf}, []float64{10, 20, 20}, 1.5, true},
		{0.99, []float64{1, 2, inf}, []float64{10, 10, 20}, 2, true}, // in +Inf: the largest finite bound
		{0.5, []float64{1, inf}, []float64{0, 0}, 0, false},          // nothing observed
		{0.5, []float64{1, 2}, []float64{1, 2}, 0, false},            // no +Inf bucket
	} {
		got, ok := bucketQuantile(c.q, c.les, c.cum)
		if ok != c.ok || (ok && got != c.want) {
			t.Errorf("q %v of %v/%v: %v %v, want %v %v", c.q, c.les, c.cum, got, ok, c.want, c.ok)
		}
	}
}

func TestStatFormats(t *testing.T) {
	for v, want := range map[float64]string{0.0005: "500µs", 0.000982: "982µs", 1.5: "1.50s", 0.9996: "1.00s", 12.34: "12.3s", 0.00005: "50.0µs", 2: "2.00s"} {
		if got := secs(v); got != want {
			t.Errorf("secs(%v) = %q, want %q", v, got, want)
		}
	}
	for v, want := range map[float64]string{0: "0", 999: "999", 1000: "1,000", 1234567: "1,234,567", -1500: "-1,500"} {
		if got := count(v); got != want {
			t.Errorf("count(%v) = %q, want %q", v, got, want)
		}
	}
	for arg, want := range map[string]string{
		"127.0.0.1:9310":                 "http://127.0.0.1:9310/metrics",
		"http://127.0.0.1:9310":          "http://127.0.0.1:9310/metrics",
		"http://127.0.0.1:9310/":         "http://127.0.0.1:9310/metrics",
		"http://127.0.0.1:9310/metrics":  "http://127.0.0.1:9310/metrics",
		"https://edge1.mgmt:9311/custom": "https://edge1.mgmt:9311/custom",
	} {
		if got, err := metricsURL(arg); err != nil || got != want {
			t.Errorf("metricsURL(%q) = %q, %v; want %q", arg, got, err, want)
		}
	}
	if got := (&scrape{byName: map[string][]sample{"x": {{labels: map[string]string{"channel": "10"}}, {labels: map[string]string{"channel": "2"}}}}}).labelValues("channel", "x"); strings.Join(got, ",") != "2,10" {
		t.Errorf("channels sorted %q, want 2,10", got)
	}
}

func TestStatHelpExplains(t *testing.T) {
	var out bytes.Buffer
	if code := run([]string{"stat", "--help"}, &out, &out); code != 0 {
		t.Fatalf("exit %d", code)
	}
	for _, want := range []string{"Usage: tickcast stat [flags] URL", "  -every", "  -once", "  -count", "  -lag",
		"--admin 127.0.0.1:9310", "first (the share", "ANOMALIES", "terminal", "Examples:", "tickcast stat 127.0.0.1:9310"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("stat --help lacks %q:\n%s", want, out.String())
		}
	}
	out.Reset()
	run([]string{"--help"}, &out, &out)
	if !strings.Contains(out.String(), "  stat ") {
		t.Errorf("tickcast --help does not list stat:\n%s", out.String())
	}
}

func TestStatBadArgsExit2(t *testing.T) {
	for _, args := range [][]string{
		{"stat"},
		{"stat", "127.0.0.1:1", "127.0.0.1:2"},
		{"stat", "--every", "0s", "127.0.0.1:1"},
		{"stat", "--count", "-1", "127.0.0.1:1"},
		{"stat", "ftp://127.0.0.1:1/metrics"},
		{"stat", "--nope", "127.0.0.1:1"},
	} {
		var out, errb bytes.Buffer
		if code := run(args, &out, &errb); code != 2 || out.Len() != 0 || !strings.HasPrefix(errb.String(), "tickcast stat:") ||
			strings.Count(strings.TrimSpace(errb.String()), "\n") > 0 {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want exit 2 and one error line", args, code, out.String(), errb.String())
		}
	}
}

// TestStatClearErrors: an address nobody listens on, a page that is not
// Prometheus metrics, metrics that are not tickcast's, an HTTP error: exit
// 1 with one line saying which.
func TestStatClearErrors(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/html":
			io.WriteString(w, "<html><body>hello</body></html>\n")
		case "/other":
			io.WriteString(w, "# TYPE go_goroutines gauge\ngo_goroutines 7\nnode_load1 0.5\n")
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	for arg, want := range map[string]string{
		closed:              "cannot reach http://" + closed + "/metrics: dial tcp",
		srv.URL + "/html":   "not Prometheus metrics",
		srv.URL + "/other":  "no tickcast_ metrics among its 2 families (go_goroutines, node_load1): not a tickcast admin listener",
		srv.URL + "/nosuch": "HTTP 404 Not Found: not a tickcast /metrics page",
	} {
		var out, errb bytes.Buffer
		code := run([]string{"stat", "--once", arg}, &out, &errb)
		if code != 1 || !strings.Contains(errb.String(), want) || strings.Count(strings.TrimSpace(errb.String()), "\n") > 0 {
			t.Errorf("%s: exit %d, stderr %q; want exit 1 and one line with %q", arg, code, errb.String(), want)
		}
	}
}

// pages serves recorded /metrics pages one per request, then HTTP 500.
type pages struct {
	mu   sync.Mutex
	list []string
}

func (p *pages) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.list) == 0 {
		http.Error(w, "gone", http.StatusInternalServerError)
		return
	}
	io.WriteString(w, p.list[0])
	p.list = p.list[1:]
}

// TestStatCountOverHTTP: --count N prints N plain blocks (not a terminal:
// no escape codes) over HTTP; a scrape failing under --count ends stat with
// the error.
func TestStatCountOverHTTP(t *testing.T) {
	srv := httptest.NewServer(&pages{list: []string{subBefore, subAfter, subAfter}})
	defer srv.Close()
	var out, errb bytes.Buffer
	if code := run([]string{"stat", "--every", "10ms", "--count", "2", srv.URL}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	if n := strings.Count(out.String(), "ANOMALIES\n"); n != 2 {
		t.Errorf("%d blocks, want 2:\n%s", n, out.String())
	}
	if strings.Contains(out.String(), "\x1b") {
		t.Error("escape codes written to a non-terminal")
	}
	// The second block compares two equal pages: the anomalies are the
	// first one's, counted since start.
	wantLines(t, out.String(), "channel 7: 2 checksum mismatches since start", "channel 7: 3 instruments stale")

	srv2 := httptest.NewServer(&pages{list: []string{subBefore, subAfter}})
	defer srv2.Close()
	out.Reset()
	errb.Reset()
	if code := run([]string{"stat", "--every", "10ms", "--count", "3", srv2.URL}, &out, &errb); code != 1 || !strings.Contains(errb.String(), "HTTP 500") {
		t.Errorf("a failed scrape under --count: exit %d, stderr %q", code, errb.String())
	}
}

// TestStatRealDaemons: a real publisher and a real subscriber (lines A and
// B, and a line C nobody sends on) on lo, their collectors on a real admin
// listener; stat --once over HTTP shows both roles, live rates, and line C
// down among the anomalies.
func TestStatRealDaemons(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	ga, gb, gc := mcasttest.FreeGroup(t), mcasttest.FreeGroup(t), mcasttest.FreeGroup(t)
	pub, err := publisher.New(publisher.Config{Channel: 5, Logger: log, Lines: []egress.Line{
		{Name: "A", Group: ga, Interface: mcasttest.Interface, Loopback: true},
		{Name: "B", Group: gb, Interface: mcasttest.Interface, Loopback: true}}})
	if err != nil {
		t.Fatal(err)
	}
	sub, err := subscriber.New(subscriber.Config{Channel: 5, Logger: log, Lines: []subscriber.Line{
		{Name: "A", Group: ga, Interface: mcasttest.Interface}, {Name: "B", Group: gb, Interface: mcasttest.Interface},
		{Name: "C", Group: gc, Interface: mcasttest.Interface}}})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := admin.New(admin.Config{Addr: "127.0.0.1:0", Logger: log,
		Collectors: []prometheus.Collector{metrics.Publisher(pub), metrics.Subscriber(sub, 5)}})
	if err != nil {
		t.Fatal(err)
	}
	src, err := synth.New(synth.Config{Instruments: 4, Levels: 10, Rate: 20000, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 3)
	go func() { done <- srv.Serve(ctx) }()
	go func() { done <- sub.Run(ctx) }()
	go func() { done <- pub.Run(ctx, src) }()
	defer func() {
		cancel()
		for range 3 {
			if err := <-done; err != nil {
				t.Error(err)
			}
		}
	}()
	testwait.For(t, "data", func() bool { return sub.Stats().Messages > 2000 })

	var out, errb bytes.Buffer
	if code := run([]string{"stat", "--once", srv.Addr().String()}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	got := squeeze(out.String())
	if !strings.Contains(got, " publisher, subscriber\n") {
		t.Errorf("roles not detected:\n%s", out.String())
	}
	for _, re := range []string{
		`PUBLISHER channel 5: ([0-9,]+) msg/s`,
		`SUBSCRIBER channel 5: ([0-9,]+) msg/s`,
		`\nA \w+ ([0-9,.]+) \d+%`,               // the subscriber's line A: packets/s and its first-arrival share
		`\nA ([0-9,]+) [0-9.]+ \w+/s 0 \(\+0\)`, // the publisher's line A: packets/s, bytes/s, no errors
	} {
		m := regexp.MustCompile(re).FindStringSubmatch(got)
		if m == nil {
			t.Errorf("no %s in:\n%s", re, out.String())
			continue
		}
		if v, _ := strconv.ParseFloat(strings.ReplaceAll(m[1], ",", ""), 64); v <= 0 {
			t.Errorf("%s: rate %s, want > 0 (the feed runs at 20,000 msg/s)", re, m[1])
		}
	}
	if !regexp.MustCompile(`\nC DOWN 0\.0 0% \d+ \(\+\d+\)\n`).MatchString(got) {
		t.Errorf("line C (no sender) not shown down:\n%s", out.String())
	}
	wantLines(t, out.String(), "channel 5 line C down")
}
