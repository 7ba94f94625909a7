package metrics

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"testing"

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
	for _, fs := range [][]family{intakeFamilies, subscriberFamilies, publisherFamilies, retransmitFamilies, relayFamilies} {
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
	sub, err := subscriber.New(subscriber.Config{Channel: 5, Logger: log, Lines: []subscriber.Line{
		{Name: "A", Group: ga, Interface: mcasttest.Interface}, {Name: "B", Group: gb, Interface: mcasttest.Interface}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admin.New(admin.Config{Addr: "0.0.0.0:0"}); err == nil {
		t.Fatal("a non-loopback admin address was accepted")
	}
	srv, err := admin.New(admin.Config{Addr: "127.0.0.1:0", Logger: log,
		Collectors: []prometheus.Collector{Publisher(pub), Subscriber(sub, 5)}})
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
	get := func(path string) (int, string) {
		resp, err := http.Get("http://" + srv.Addr().String() + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
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
	if code, _ := get("/healthz"); code != 200 {
		t.Errorf("/healthz: %d", code)
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
