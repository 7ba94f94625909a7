package metrics

import (
	"bufio"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tickcast/tickcast/admin"
	"github.com/tickcast/tickcast/egress"
	"github.com/tickcast/tickcast/internal/mcast/mcasttest"
	"github.com/tickcast/tickcast/internal/testwait"
	"github.com/tickcast/tickcast/publisher"
	"github.com/tickcast/tickcast/publisher/synth"
	"github.com/tickcast/tickcast/subscriber"
)

// TestNamesFollowConventions: every family is under tickcast_ and every
// counter ends in _total.
func TestNamesFollowConventions(t *testing.T) {
	for _, fs := range [][]family{intakeFamilies, subscriberFamilies, publisherFamilies, retransmitFamilies, relayFamilies, downstreamFamilies} {
		for _, f := range fs {
			s := f.desc.String()
			if !strings.Contains(s, `fqName: "tickcast_`) {
				t.Errorf("%s: not under tickcast_", s)
			}
			if f.kind == prometheus.CounterValue && !strings.Contains(s, `_total"`) {
				t.Errorf("%s: a counter without _total", s)
			}
		}
	}
	for _, h := range []histogram{subLatency, hopLatency} {
		if s := h.desc.String(); !strings.Contains(s, `fqName: "tickcast_`) || !strings.Contains(s, `_seconds"`) {
			t.Errorf("%s: a histogram not under tickcast_ or not in seconds", s)
		}
	}
}

// TestScrape: a real publisher and subscriber on lo, their collectors on a
// real admin listener, scraped over HTTP.
func TestScrape(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	ga, gb := mcasttest.FreeGroup(t), mcasttest.FreeGroup(t)
	pub, err := publisher.New(publisher.Config{Channel: 5, Logger: log, Lines: []egress.Line{
		{Name: "A", Group: ga, Interface: mcasttest.Interface, Loopback: true},
		{Name: "B", Group: gb, Interface: mcasttest.Interface, Loopback: true}}})
	if err != nil {
		t.Fatal(err)
	}
	sub, err := subscriber.New(subscriber.Config{Channel: 5, Logger: log, InstrumentMetrics: 2, StaleAfter: time.Hour,
		Lines: []subscriber.Line{{Name: "A", Group: ga, Interface: mcasttest.Interface}, {Name: "B", Group: gb, Interface: mcasttest.Interface}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admin.New(admin.Config{Addr: "0.0.0.0:0"}); err == nil {
		t.Fatal("a non-loopback admin address was accepted")
	}
	srv, err := admin.New(admin.Config{Addr: "127.0.0.1:0", Logger: log,
		Collectors: []prometheus.Collector{Publisher(pub), Subscriber(sub, 5)},
		Ready:      func() error { return errors.Join(pub.Ready(), sub.Ready()) }})
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
	defer func() {
		cancel()
		for range 3 {
			if err := <-done; err != nil {
				t.Error(err)
			}
		}
	}()
	get := func(path string) (int, string) { return adminGet(t, srv, path) }
	// Not ready before either runs: nothing sent, no line up.
	if code, body := get("/healthz"); code != 503 || !strings.Contains(body, "line A: nothing sent yet") || !strings.Contains(body, "no line up (A, B down)") {
		t.Errorf("/healthz before Run: %d %q", code, body)
	}
	go func() { done <- sub.Run(ctx) }()
	go func() { done <- pub.Run(ctx, src) }()
	testwait.For(t, "data on every instrument", func() bool {
		c, list := sub.Instruments()
		return sub.Stats().Messages > 2000 && c.OK == 4 && len(list) == 2 && list[0].Updates > 0 && list[1].Updates > 0
	})
	code, body := get("/metrics")
	if code != 200 {
		t.Fatalf("/metrics: %d", code)
	}
	for _, want := range []string{
		`tickcast_line_packets_total{channel="5",line="A"}`,
		`tickcast_line_up{channel="5",line="B"} 1`,
		`tickcast_messages_lost_total{channel="5"} 0`,
		`tickcast_checksum_mismatches_total{channel="5"} 0`,
		`tickcast_publisher_line_packets_total{channel="5",line="A"}`,
		`go_goroutines`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	// Per line, bytes and the messages it brought first: the two lines
	// together brought every message.
	var lineMsgs float64
	for _, l := range []string{"A", "B"} {
		if n, ok := sample(body, `tickcast_line_bytes_total{channel="5",line="`+l+`"}`); !ok || n <= 0 {
			t.Errorf("line %s bytes %v (found %v), want > 0", l, n, ok)
		}
		n, _ := sample(body, `tickcast_line_messages_total{channel="5",line="`+l+`"}`)
		lineMsgs += n
	}
	if msgs, _ := sample(body, `tickcast_messages_total{channel="5"}`); lineMsgs < msgs {
		t.Errorf("lines brought %v messages, the subscriber applied %v", lineMsgs, msgs)
	}
	for _, kind := range []string{"feed", "network"} {
		series := `tickcast_latency_seconds_count{channel="5",kind="` + kind + `"}`
		n, ok := sample(body, series)
		if !ok || n <= 0 {
			t.Errorf("%s = %v (found %v), want > 0 after traffic", series, n, ok)
		}
		inf, _ := sample(body, `tickcast_latency_seconds_bucket{channel="5",kind="`+kind+`",le="+Inf"}`)
		if inf != n {
			t.Errorf("%s: +Inf bucket %v, count %v", kind, inf, n)
		}
	}
	total := 0.0
	for _, status := range []string{"ok", "stale", "resyncing", "halted"} {
		n, ok := sample(body, `tickcast_instruments{channel="5",status="`+status+`"}`)
		if !ok {
			t.Errorf("no tickcast_instruments for status %s", status)
		}
		total += n
	}
	if total != 4 {
		t.Errorf("tickcast_instruments sums to %v, want the 4 instruments", total)
	}
	for _, family := range []string{"tickcast_instrument_updates_total", "tickcast_instrument_update_age_seconds", "tickcast_instrument_status"} {
		series := seriesOf(body, family)
		if len(series) != 2 {
			t.Errorf("%s: %d series, want 2 (InstrumentMetrics): %v", family, len(series), series)
		}
		for name, v := range series {
			switch {
			case family == "tickcast_instrument_updates_total" && v <= 0,
				family == "tickcast_instrument_status" && v != 1,
				family == "tickcast_instrument_update_age_seconds" && v < 0:
				t.Errorf("%s = %v", name, v)
			}
			if !strings.Contains(name, `instrument="`) || strings.Contains(name, `instrument="#`) {
				t.Errorf("%s: want the symbol as its instrument label", name)
			}
		}
	}
	if code, body := get("/healthz"); code != 200 {
		t.Errorf("/healthz: %d %q", code, body)
	}
	pub.KillLine(0, true)
	pub.KillLine(1, true)
	if err := pub.Ready(); err == nil || !strings.Contains(err.Error(), "every line is killed") {
		t.Errorf("publisher with both lines killed: ready %v", err)
	}
	pub.KillLine(0, false)
	if err := pub.Ready(); err != nil {
		t.Errorf("publisher with line A back: %v", err)
	}
	if code, _ := get("/debug/pprof/"); code != 200 {
		t.Errorf("/debug/pprof/: %d", code)
	}
}

// sample returns the value of series (name and labels, exactly as the text
// format writes them) in a scrape's body.
func sample(body, series string) (float64, bool) {
	sc := bufio.NewScanner(strings.NewReader(body))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), series+" ")
		if !ok {
			continue
		}
		v, err := strconv.ParseFloat(strings.Fields(rest)[0], 64)
		return v, err == nil
	}
	return 0, false
}

// seriesOf returns every series of family (no suffix) in a scrape's body,
// name and labels to value.
func seriesOf(body, family string) map[string]float64 {
	out := map[string]float64{}
	sc := bufio.NewScanner(strings.NewReader(body))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, family+"{") && !strings.HasPrefix(line, family+" ") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err == nil {
			out[line[:i]] = v
		}
	}
	return out
}

// adminGet fetches path from the admin listener: status and body.
func adminGet(t *testing.T, srv *admin.Server, path string) (int, string) {
	t.Helper()
	resp, err := http.Get("http://" + srv.Addr().String() + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}
