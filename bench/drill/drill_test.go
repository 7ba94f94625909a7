package drill

import (
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"runtime"
	"runtime/pprof"
	"strings"
	"testing"
	"time"

	"github.com/tickcast/tickcast/intake"
	"github.com/tickcast/tickcast/publisher"
)

// The drills end to end, at low rates for a few seconds each: a real
// publisher and subscriber on lo, real multicast, real UDP NACKs and a real
// QUIC link. The tests check what each drill reports and that its JSON is
// complete and consistent; never how fast anything was.

// testFeed is a small, short feed whose logs go to the test log.
//
// Its subscriber gets a generous NACK budget: a hole may take about ten
// seconds of retries and a large backlog before it is given up. The
// library's default budget (six NACKs, at most 50ms apart) is wall-clock
// time, and this shared VM, running the race detector, sometimes starves
// the process for longer than that; "lost 0" must not depend on timing.
func testFeed(t *testing.T) Feed {
	return Feed{
		Gap:         intake.Tuning{MaxRetries: 20, MaxRTO: time.Second, MaxHeldPackets: 16384},
		Rate:        20_000,
		Duration:    3 * time.Second,
		Instruments: 8,
		Levels:      50,
		Settle:      60 * time.Second, // generous: this VM stalls at random
		Logger:      slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn})),
		Progress:    testWriter{t},
	}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// fields marshals r and returns its JSON object, failing if a key is missing.
func fields(t *testing.T, r any, keys ...string) map[string]any {
	t.Helper()
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range append([]string{"sent", "delivered", "lost", "app_gaps", "line_down_detected_ms", "max_latency_us", "books_match"}, keys...) {
		if _, ok := m[k]; !ok {
			t.Errorf("JSON has no %q: %s", k, b)
		}
	}
	t.Logf("%s", b)
	return m
}

// consistent checks what every drill promises.
func consistent(t *testing.T, rep Report, r *Result) {
	t.Helper()
	var text strings.Builder
	if err := rep.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	t.Logf("\n%s", text.String())
	if r.Sent == 0 || r.Delivered == 0 || r.Delivered > r.Sent {
		t.Errorf("sent %d, delivered %d", r.Sent, r.Delivered)
	}
	if !r.BooksMatch || r.Mismatch != "" {
		t.Errorf("books do not match: %s", r.Mismatch)
	}
	if r.Lost != 0 {
		t.Errorf("lost %d", r.Lost)
	}
	if r.Latency.Count == 0 || r.MaxLatencyUs != r.Latency.Max || r.Latency.P50 > r.Latency.P99 || r.Latency.P99 > r.Latency.Max {
		t.Errorf("latency %+v, max %v", r.Latency, r.MaxLatencyUs)
	}
	if d := r.Diagnostics; len(d.LineSent) != 2 || len(d.LineReceived) != 2 || d.LineSent[0] == 0 || d.LineReceived[1] == 0 {
		t.Errorf("diagnostics %+v", d)
	}
	if f := rep.Failures(); len(f) != 0 {
		t.Errorf("failures %q", f)
	}
	if !strings.Contains(text.String(), "PASS  "+r.Drill) {
		t.Errorf("no PASS line:\n%s", text.String())
	}
}

func TestFailoverLineB(t *testing.T) {
	t.Parallel()
	cfg := FailoverConfig{Feed: testFeed(t), Line: publisher.LineB, At: time.Second}
	r, err := Failover(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	m := fields(t, r, "killed_line", "killed_at_ms")
	consistent(t, r, &r.Result)
	if r.Delivered != r.Sent {
		t.Errorf("a dead line lost nothing, yet delivered %d of %d", r.Delivered, r.Sent)
	}
	if r.AppGaps != 0 {
		t.Errorf("app gaps %d", r.AppGaps)
	}
	if r.LineDownDetectedMs == nil || *r.LineDownDetectedMs <= 0 || m["line_down_detected_ms"] == nil {
		t.Errorf("line B down not detected: %v", m["line_down_detected_ms"])
	}
	if r.Line != "B" || r.LineDowns[1] == 0 {
		t.Errorf("line %s, downs %v", r.Line, r.LineDowns)
	}
}

func TestLossFivePercent(t *testing.T) {
	t.Parallel()
	cfg := LossConfig{Feed: testFeed(t), LossA: 0.05, LossB: 0.05}
	cfg.Duration = 4 * time.Second
	r, err := Loss(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	m := fields(t, r, "nacks", "retransmitted", "recovery_us")
	consistent(t, r, &r.Result)
	if r.AppGaps != 0 {
		t.Errorf("app gaps %d", r.AppGaps)
	}
	if r.Gaps == 0 || r.Nacks == 0 || r.Retransmitted == 0 {
		t.Errorf("5%% loss on both lines, yet gaps %d, NACKs %d, retransmitted %d", r.Gaps, r.Nacks, r.Retransmitted)
	}
	rec, _ := m["recovery_us"].(map[string]any)
	for _, k := range []string{"p50", "p99", "max"} {
		if _, ok := rec[k].(float64); !ok {
			t.Errorf("recovery_us has no %s: %v", k, rec)
		}
	}
	for name, p := range map[string]Percentiles{"recovery": r.RecoveryUs, "nack recovery": r.NackRecoveryUs} {
		if p.Count == 0 || p.P50 > p.P99 || p.P99 > p.P999 || p.P999 > p.Max {
			t.Errorf("%s percentiles out of order: %+v", name, p)
		}
	}
	if r.NackRecoveryUs.Count > r.RecoveryUs.Count {
		t.Errorf("more holes repaired by NACK (%d) than in all (%d)", r.NackRecoveryUs.Count, r.RecoveryUs.Count)
	}
}

func TestRestartNewSession(t *testing.T) {
	t.Parallel()
	cfg := RestartConfig{Feed: testFeed(t), At: 1500 * time.Millisecond, Pause: 500 * time.Millisecond}
	cfg.Duration = 4 * time.Second
	r, err := Restart(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	fields(t, r, "sessions", "resync_ms")
	consistent(t, r, &r.Result)
	if r.Sessions != 2 {
		t.Errorf("sessions %d, want 2", r.Sessions)
	}
	if r.ResyncMs == nil || *r.ResyncMs < 500 {
		t.Errorf("resync %v: the new session started after a 500ms pause", r.ResyncMs)
	}
	if r.Resets["new session"] != 1 {
		t.Errorf("resets %v, want one new session", r.Resets)
	}
}

func TestRestartAfterCrash(t *testing.T) {
	t.Parallel()
	cfg := RestartConfig{Feed: testFeed(t), At: 1500 * time.Millisecond, Crash: true}
	cfg.Duration = 4 * time.Second
	r, err := Restart(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	consistent(t, r, &r.Result)
	if f := r.Failures(); len(f) != 0 {
		t.Errorf("failures %v", f)
	}
	if r.Resets["new session"] != 1 {
		t.Errorf("resets %v, want one new session", r.Resets)
	}
	// The new session starts at once, but the old one is not abandoned
	// before it has been silent for the line-down interval (300ms; its
	// last packets may still have been on their way at the crash).
	if r.ResyncMs == nil || *r.ResyncMs < 200 {
		t.Errorf("resync %v: the old session was abandoned before it fell silent", r.ResyncMs)
	}
}

// TestNoGoroutineLeft runs alone (not parallel) so that the goroutine count
// means something.
func TestNoGoroutineLeft(t *testing.T) {
	base := runtime.NumGoroutine()
	cfg := FailoverConfig{Feed: testFeed(t)}
	cfg.Duration = time.Second
	if _, err := Failover(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for runtime.NumGoroutine() > base {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("%d goroutines left, %d before:\n%s", runtime.NumGoroutine(), base, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestCancelStopsTheDrill(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	cfg := LossConfig{Feed: testFeed(t), LossA: 0.01}
	cfg.Duration = time.Hour
	if _, err := Loss(ctx, cfg); err != context.DeadlineExceeded {
		t.Fatalf("err %v, want the context's", err)
	}
}

func TestConfigErrors(t *testing.T) {
	ctx := context.Background()
	f := Feed{Duration: time.Second}
	for name, run := range map[string]func() error{
		"negative rate": func() error { _, err := Failover(ctx, FailoverConfig{Feed: Feed{Rate: -1}}); return err },
		"line C":        func() error { _, err := Failover(ctx, FailoverConfig{Feed: f, Line: 2}); return err },
		"kill after end": func() error {
			_, err := Failover(ctx, FailoverConfig{Feed: f, At: 2 * time.Second})
			return err
		},
		"loss above 1":  func() error { _, err := Loss(ctx, LossConfig{Feed: f, LossB: 1.5}); return err },
		"negative loss": func() error { _, err := Loss(ctx, LossConfig{Feed: f, LossA: -0.1}); return err },
		"pause past end": func() error {
			_, err := Restart(ctx, RestartConfig{Feed: f, At: 500 * time.Millisecond, Pause: time.Second})
			return err
		},
		"negative settle": func() error { _, err := Restart(ctx, RestartConfig{Feed: Feed{Settle: -1}}); return err },
		"negative late joiners": func() error {
			_, err := LateJoin(ctx, LateJoinConfig{Feed: f, Subscribers: -1})
			return err
		},
		"join after end": func() error {
			_, err := LateJoin(ctx, LateJoinConfig{Feed: f, At: 2 * time.Second})
			return err
		},
		"negative recovery rate": func() error {
			_, err := LateJoin(ctx, LateJoinConfig{Feed: f, RecoveryRate: -1})
			return err
		},
		"negative retries": func() error {
			_, err := Loss(ctx, LossConfig{Feed: Feed{Gap: intake.Tuning{MaxRetries: -1}}})
			return err
		},
	} {
		if err := run(); err == nil || !strings.HasPrefix(err.Error(), "drill: ") {
			t.Errorf("%s: err %v", name, err)
		}
	}
}

// TestWANBlackholeA: 0.3 % loss each way on both WAN paths, 30 ms RTT, and
// the A path blackholed mid-run: the edge's subscriber loses nothing, its
// books match, and the edge saw path A down.
func TestWANBlackholeA(t *testing.T) {
	t.Parallel()
	cfg := WANConfig{Feed: testFeed(t), Loss: 0.003, RTT: 30 * time.Millisecond, Jitter: time.Millisecond, BlackholeAt: 2 * time.Second}
	cfg.Duration = 4 * time.Second
	r, err := WAN(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	fields(t, r, "hops", "path_a_down", "edge_nacks", "wan_datagrams_lost")
	consistent(t, r, &r.Result)
	if r.AppGaps != 0 {
		t.Errorf("app gaps %d", r.AppGaps)
	}
	if !r.PathADown {
		t.Error("the edge did not see the blackholed A path down")
	}
	if r.EdgeNacks == 0 || r.ProxyLost == 0 {
		t.Errorf("WAN loss and a blackhole, yet the edge sent %d NACKs and the paths lost %d datagrams", r.EdgeNacks, r.ProxyLost)
	}
	if len(r.Hops) != 3 || r.Hops[1].Cumulative.Count == 0 {
		t.Errorf("hops %+v", r.Hops)
	}
}

// TestFanout: a hub feeding four edges and one slow edge behind a cap at a
// tenth of the feed: every healthy edge's books equal the publisher's and
// it gives nothing up, the slow edge is shown losing or cut off, and the
// arrival spread is measured over every packet.
func TestFanout(t *testing.T) {
	t.Parallel()
	cfg := FanoutConfig{Feed: testFeed(t), Edges: 4, Slow: 1}
	cfg.Duration = 5 * time.Second
	r, err := Fanout(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	fields(t, r, "edges", "edges_books_match", "arrival_spread_us", "edge_latency_us", "slow_edges", "hub_datagrams")
	consistent(t, r, &r.Result)
	if r.BooksMatch != 4 || r.EdgesLost != 0 {
		t.Errorf("books match on %d of 4 edges (%v), %d messages given up", r.BooksMatch, r.Mismatches, r.EdgesLost)
	}
	if len(r.Slow) != 1 || (!r.Slow[0].CutOff && r.Slow[0].MaxLoss < 0.5) {
		t.Errorf("slow edges %+v", r.Slow)
	}
	// A packet repaired by a trimmed retransmission starts at another
	// sequence on one edge: it then counts for the latency, not the spread.
	if r.Spread.Count == 0 || r.Spread.Count > r.EdgeLatency.Count/4 {
		t.Errorf("arrival spread over %d packets, edge latency over %d samples (4 per packet at most)", r.Spread.Count, r.EdgeLatency.Count)
	}
	if r.HubDatagrams < 4*r.HubPackets {
		t.Errorf("the hub sent %d datagrams for %d packets to 4 edges", r.HubDatagrams, r.HubPackets)
	}
}

// TestWANProcesses: the WAN drill with the hub and the edge as child
// processes, 0.3 % loss each way, 30 ms RTT: nothing lost, books match,
// both relays report their latency and their process.
func TestWANProcesses(t *testing.T) {
	t.Parallel()
	cfg := WANConfig{Feed: testFeed(t), Loss: 0.003, RTT: 30 * time.Millisecond, Processes: true}
	cfg.Duration = 3 * time.Second
	r, err := WAN(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	fields(t, r, "hops", "relay_processes", "edge_nacks")
	consistent(t, r, &r.Result)
	if len(r.Relays) != 2 || r.Relays[0].PID == r.Relays[1].PID || r.Relays[0].PID == os.Getpid() {
		t.Errorf("relay processes %+v", r.Relays)
	}
	if len(r.Hops) != 3 || r.Hops[0].Cumulative.Count == 0 || r.Hops[1].Cumulative.Count == 0 {
		t.Errorf("hops %+v", r.Hops)
	}
	for _, p := range r.Relays {
		if p.UserS+p.SysS == 0 {
			t.Errorf("relay process %+v reports no CPU", p)
		}
	}
}

// TestFanoutHubProcess: the hub as a child process feeding three edges in
// this process: every edge's books match and the hub's CPU is its own.
func TestFanoutHubProcess(t *testing.T) {
	t.Parallel()
	cfg := FanoutConfig{Feed: testFeed(t), Edges: 3, Processes: true}
	r, err := Fanout(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	fields(t, r, "hub_process", "hub_datagrams")
	consistent(t, r, &r.Result)
	if r.BooksMatch != 3 || r.EdgesLost != 0 {
		t.Errorf("books match on %d of 3 edges (%v), %d messages given up", r.BooksMatch, r.Mismatches, r.EdgesLost)
	}
	if p := r.HubProcess; p == nil || p.PID == os.Getpid() || p.UserS+p.SysS == 0 {
		t.Errorf("hub process %+v", r.HubProcess)
	}
	if r.HubPackets == 0 || r.HubDatagrams < 3*r.HubPackets {
		t.Errorf("the hub forwarded %d packets and sent %d datagrams to 3 edges", r.HubPackets, r.HubDatagrams)
	}
}

// TestLateJoin: two subscribers start without a link a second into the
// feed; each rebuilds every book from the recovery loop, leaves its groups,
// loses nothing and ends with the publisher's books.
func TestLateJoin(t *testing.T) {
	t.Parallel()
	cfg := LateJoinConfig{Feed: testFeed(t), At: time.Second, Subscribers: 2}
	r, err := LateJoin(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	m := fields(t, r, "subscribers", "whole", "whole_p50_ms", "whole_max_ms", "joiners", "loop_cycle_ms", "loop_cycle_max_ms",
		"loop_bytes_per_s", "live_bytes_per_s", "loop_share_of_live", "books_bytes", "process_cpu_cores", "publisher_cpu_cores", "goal_ms", "goals_missed")
	consistent(t, r, &r.Result)
	if r.Subscribers != 2 || r.Whole != 2 || len(r.Joiners) != 2 || m["whole_max_ms"] == nil {
		t.Errorf("subscribers %d, whole %d, joiners %+v", r.Subscribers, r.Whole, r.Joiners)
	}
	for i, j := range r.Joiners {
		if j.WholeMs == nil || !j.Left || j.Joins != 1 || j.LoopBooks < 8 || j.Announced < 8 || !j.BooksMatch || j.Resets["late join"] != 1 {
			t.Errorf("late joiner #%d: %+v", i, j)
		}
	}
	if r.LoopCycles == 0 || r.LoopBytesPerS <= 0 || r.LiveBytesPerS <= 0 || r.BooksBytes <= 0 || r.LoopCycleMs <= 0 {
		t.Errorf("loop: %d cycles of %vms, %v B/s (live %v B/s), books %v B", r.LoopCycles, r.LoopCycleMs, r.LoopBytesPerS, r.LiveBytesPerS, r.BooksBytes)
	}
	if r.ProcessCores.Run <= 0 {
		t.Errorf("process CPU %+v", r.ProcessCores)
	}
}

// TestLateJoinNoSubscribers: only the loop runs; nothing joins, and the
// drill still passes on the publisher's figures.
func TestLateJoinNoSubscribers(t *testing.T) {
	t.Parallel()
	cfg := LateJoinConfig{Feed: testFeed(t)}
	cfg.Duration = 2 * time.Second
	r, err := LateJoin(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	fields(t, r, "subscribers", "loop_cycles", "publisher_cpu_cores")
	if f := r.Failures(); len(f) != 0 || r.Subscribers != 0 || r.Sent == 0 || r.LoopCycles == 0 || r.WholeMaxMs != nil {
		t.Errorf("failures %q, subscribers %d, sent %d, cycles %d", f, r.Subscribers, r.Sent, r.LoopCycles)
	}
}

// TestCPUByLabel: a labelled busy loop shows in the profile under its label.
func TestCPUByLabel(t *testing.T) {
	p, err := startLabelProfile()
	if err != nil {
		t.Skipf("cannot profile: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	pprof.Do(ctx, publisherLabel, func(ctx context.Context) {
		for x := 0; ctx.Err() == nil; x++ {
			_ = x * x
		}
	})
	byRole, wall, err := p.stop()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%v over %v", byRole, wall)
	if byRole["publisher"] <= 0 {
		t.Errorf("no CPU under the label: %v", byRole)
	}
}
