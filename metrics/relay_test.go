package metrics

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/tickcast/tickcast/admin"
	"github.com/tickcast/tickcast/egress"
	"github.com/tickcast/tickcast/intake"
	"github.com/tickcast/tickcast/internal/mcast/mcasttest"
	"github.com/tickcast/tickcast/internal/pki"
	"github.com/tickcast/tickcast/internal/testwait"
	"github.com/tickcast/tickcast/publisher"
	"github.com/tickcast/tickcast/publisher/synth"
	"github.com/tickcast/tickcast/relay"
	"github.com/tickcast/tickcast/subscriber"
)

// TestRelayScrape: a real publisher on lo, a relay joining its lines with
// a link to it for snapshots, and a downstream over the relay's QUIC link
// (certificate "edge1") that then leaves; the relay's collector on a real
// admin listener, scraped over HTTP before and after.
func TestRelayScrape(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	tp, err := pki.NewTestPKI("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	ga, gb := mcasttest.FreeGroup(t), mcasttest.FreeGroup(t)
	pub, err := publisher.New(publisher.Config{Channel: 6, Logger: log, LinkAddr: "127.0.0.1:0", LinkTLS: tp.ServerTLS(),
		Lines: []egress.Line{
			{Name: "A", Group: ga, Interface: mcasttest.Interface, Loopback: true},
			{Name: "B", Group: gb, Interface: mcasttest.Interface, Loopback: true}}})
	if err != nil {
		t.Fatal(err)
	}
	upTLS, _ := tp.NamedClientTLS("hub")
	r, err := relay.New(relay.Config{Logger: log, LinkAddr: "127.0.0.1:0", LinkTLS: tp.ServerTLS(),
		Channels: []relay.Channel{{ID: 6,
			Lines:     []intake.Line{{Name: "A", Group: ga, Interface: mcasttest.Interface}, {Name: "B", Group: gb, Interface: mcasttest.Interface}},
			Upstreams: []intake.Link{{Name: "up", Addr: pub.LinkAddr(), TLS: upTLS}},
		}}})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := admin.New(admin.Config{Addr: "127.0.0.1:0", Logger: log, Collectors: []prometheus.Collector{Relay(r)}, Ready: r.Ready})
	if err != nil {
		t.Fatal(err)
	}
	src, err := synth.New(synth.Config{Instruments: 4, Levels: 10, Rate: 20000, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	downTLS, _ := tp.NamedClientTLS("edge1")
	down, err := subscriber.New(subscriber.Config{Channel: 6, Logger: log,
		Links: []subscriber.Link{{Name: "relay", Addr: r.LinkAddr(), TLS: downTLS, Live: true}}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 3)
	go func() { done <- srv.Serve(ctx) }()
	go func() { done <- r.Run(ctx) }()
	go func() { done <- pub.Run(ctx, src) }()
	defer func() {
		cancel()
		for range 3 {
			if err := <-done; err != nil {
				t.Error(err)
			}
		}
	}()
	get := func(path string) (int, string) { return adminGet(t, srv, path) }
	dctx, stopDown := context.WithCancel(ctx)
	downDone := make(chan error, 1)
	go func() { downDone <- down.Run(dctx) }()
	testwait.For(t, "the downstream fed through the relay", func() bool { return down.Stats().Messages > 2000 })
	testwait.For(t, "the relay's upstream link up", func() bool {
		st := r.Stats()
		return len(st.Channels[0].Intake.Links) == 1 && st.Channels[0].Intake.Links[0].Connected
	})

	code, body := get("/metrics")
	if code != 200 {
		t.Fatalf("/metrics: %d", code)
	}
	if n, ok := sample(body, `tickcast_hop_latency_seconds_count{channel="6"}`); !ok || n <= 0 {
		t.Errorf("hop latency count %v (found %v), want > 0", n, ok)
	}
	if v, ok := sample(body, `tickcast_upstream_link_up{channel="6",link="up"}`); !ok || v != 1 {
		t.Errorf("upstream_link_up %v (found %v), want 1", v, ok)
	}
	if v, ok := sample(body, `tickcast_downstream_lag_seconds{name="edge1"}`); !ok || v < 0 {
		t.Errorf("downstream lag %v (found %v)", v, ok)
	}
	for _, reason := range []string{"closed", "slow", "timeout", "protocol", "error", "shutdown"} {
		if v, ok := sample(body, `tickcast_downstream_disconnects_total{name="edge1",reason="`+reason+`"}`); !ok || v != 0 {
			t.Errorf("disconnects %s while connected: %v (found %v), want 0", reason, v, ok)
		}
	}
	if v, ok := sample(body, `tickcast_downstream_disconnects_total{name="",reason="refused"}`); !ok || v != 0 {
		t.Errorf("refused: %v (found %v), want 0", v, ok)
	}
	if code, body := get("/healthz"); code != 200 {
		t.Errorf("/healthz: %d %q", code, body)
	}
	// The publisher's link server names the relay ("hub") the same way; a
	// pedantic registry checks every collector's samples against what it
	// describes.
	for what, c := range map[string]prometheus.Collector{"publisher": Publisher(pub), "relay": Relay(r), "subscriber": Subscriber(down, 6)} {
		reg := prometheus.NewPedanticRegistry()
		reg.MustRegister(c)
		if _, err := reg.Gather(); err != nil {
			t.Errorf("%s: %v", what, err)
		}
	}
	pubBody := gatherText(t, Publisher(pub))
	if v, ok := sample(pubBody, `tickcast_downstream_lag_seconds{name="hub"}`); !ok || v < 0 {
		t.Errorf("publisher: downstream lag of the relay %v (found %v)", v, ok)
	}

	// The downstream leaves: counted once, as closed by the peer.
	stopDown()
	if err := <-downDone; err != nil {
		t.Error(err)
	}
	testwait.For(t, "the relay to count the downstream gone", func() bool {
		return r.Stats().Disconnects[relay.Disconnect{Name: "edge1", Reason: "closed"}] == 1
	})
	_, body = get("/metrics")
	if v, _ := sample(body, `tickcast_downstream_disconnects_total{name="edge1",reason="closed"}`); v != 1 {
		t.Errorf("disconnects closed after the downstream left: %v, want 1", v)
	}
	if strings.Contains(body, `tickcast_downstream_lag_seconds{name="edge1"}`) {
		t.Error("lag still exported for a downstream gone")
	}
}

// gatherText returns c's samples in the text format, as a scrape shows them.
func gatherText(t *testing.T, c prometheus.Collector) string {
	t.Helper()
	reg := prometheus.NewRegistry()
	reg.MustRegister(c)
	w := httptest.NewRecorder()
	promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorHandling: promhttp.PanicOnError}).ServeHTTP(w, httptest.NewRequest("GET", "/metrics", nil))
	return w.Body.String()
}
