package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"image/png"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The JSON fields tools read, at the top level and in every peer.
var requiredFields = []string{"scenario", "rate", "duration_s", "sent", "delivered", "lost",
	"duplicates_delivered", "throughput_msgs", "latency_us"}

var percentileFields = []string{"p50", "p90", "p99", "p999", "p9999", "max"}

// checkSeriesJSON checks one series of a report's JSON: every field there,
// and the figures consistent.
func checkSeriesJSON(t *testing.T, name string, m map[string]any, rate float64) {
	t.Helper()
	for _, f := range requiredFields {
		if _, ok := m[f]; !ok {
			t.Errorf("%s: no %q in %v", name, f, m)
		}
	}
	num := func(f string) float64 { v, _ := m[f].(float64); return v }
	if num("rate") != rate {
		t.Errorf("%s: rate %v, want %v", name, num("rate"), rate)
	}
	sent, delivered, lost := num("sent"), num("delivered"), num("lost")
	if sent == 0 || delivered+lost != sent {
		t.Errorf("%s: sent %v, delivered %v, lost %v: want delivered + lost = sent > 0", name, sent, delivered, lost)
	}
	if num("throughput_msgs") <= 0 {
		t.Errorf("%s: throughput_msgs %v", name, num("throughput_msgs"))
	}
	lat, _ := m["latency_us"].(map[string]any)
	prev := 0.0
	for _, f := range percentileFields {
		v, ok := lat[f].(float64)
		if !ok {
			t.Errorf("%s: latency_us has no %q: %v", name, f, lat)
			continue
		}
		if v < prev {
			t.Errorf("%s: latency_us %s = %v below the previous percentile %v", name, f, v, prev)
		}
		prev = v
	}
	if prev <= 0 {
		t.Errorf("%s: max latency %v", name, prev)
	}
}

// reportJSON encodes v and decodes it as a generic object, as a tool would.
func reportJSON(t *testing.T, v any) map[string]any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// noLeaks fails unless every child process has exited and the goroutines
// are back to what they were before.
func noLeaks(t *testing.T, goroutines int) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		kids, n := childPIDs(t), runtime.NumGoroutine()
		if len(kids) == 0 && n <= goroutines {
			return
		}
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("leak: child processes %v, %d goroutines (were %d):\n%s", kids, n, goroutines, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// childPIDs returns the live processes whose parent is this one.
func childPIDs(t *testing.T) []int {
	t.Helper()
	procs, err := filepath.Glob("/proc/[0-9]*/stat")
	if err != nil || len(procs) == 0 {
		t.Skip("no /proc to look for child processes")
	}
	var kids []int
	for _, p := range procs {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		// pid (comm) state ppid …: comm may hold spaces, so split after ')'.
		rest := b[bytes.LastIndexByte(b, ')')+1:]
		f := strings.Fields(string(rest))
		if len(f) > 2 && f[0] != "Z" && f[1] == strconv.Itoa(os.Getpid()) {
			pid, _ := strconv.Atoi(strings.Split(p, "/")[2])
			kids = append(kids, pid)
		}
	}
	return kids
}

func TestLatencyTickcastAndFloor(t *testing.T) {
	before := runtime.NumGoroutine()
	var progress bytes.Buffer
	rep, err := RunLatency(context.Background(), LatencyConfig{
		Rate: 2000, Duration: time.Second, Warmup: 200 * time.Millisecond, Instruments: 5, Levels: 10,
		Runs: 2, Progress: &progress,
	})
	if err != nil {
		t.Fatal(err)
	}
	noLeaks(t, before)
	m := reportJSON(t, rep)
	checkSeriesJSON(t, "tickcast", m, 2000)
	peers, _ := m["peers"].(map[string]any)
	floor, _ := peers["floor"].(map[string]any)
	checkSeriesJSON(t, "floor", floor, 2000)
	if _, ok := peers["nats"]; ok {
		t.Error("a NATS peer without --peer nats")
	}
	if rep.Lost != 0 || rep.Delivered != 2*2000 || rep.DuplicatesDelivered != 0 {
		t.Errorf("tickcast sent %d, delivered %d, lost %d, dups %d; want 2 runs × 2000, all delivered once",
			rep.Sent, rep.Delivered, rep.Lost, rep.DuplicatesDelivered)
	}
	if rep.NetworkUs == nil || rep.Peers[SystemFloor].NetworkUs == nil {
		t.Errorf("no kernel-receive figures: tickcast %v, floor %v", rep.NetworkUs, rep.Peers[SystemFloor].NetworkUs)
	}
	if rep.UncorrectedUs == nil || rep.RangeUs == nil || len(rep.PerRun) != 2 || rep.Ratio[SystemFloor].P50 <= 0 {
		t.Errorf("missing figures: uncorrected %v, range %v, per run %v, ratio %v", rep.UncorrectedUs, rep.RangeUs, rep.PerRun, rep.Ratio)
	}
	if len(rep.Processes) != 4 || rep.Processes[0].PID == rep.Processes[1].PID || rep.Processes[0].PID == os.Getpid() {
		t.Errorf("processes %+v: want a publisher and a subscriber process of their own per run", rep.Processes)
	}
	if n := strings.Count(progress.String(), "\n"); n != 4 {
		t.Errorf("%d progress lines, want 4:\n%s", n, progress.String())
	}
	var table bytes.Buffer
	rep.WriteTable(&table)
	for _, want := range []string{"tickcast", "uncorrected", "to the kernel", "floor (raw UDP)", "tickcast / floor", "range (2 runs)", "noisy", "per run"} {
		if !strings.Contains(table.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, table.String())
		}
	}
	// One .hgrm per series and a plot of them all.
	dir := t.TempDir()
	paths, err := WriteHgrm(dir, rep.All())
	if err != nil || len(paths) != 4 {
		t.Fatalf("WriteHgrm: %v, %v", paths, err)
	}
	b, _ := os.ReadFile(filepath.Join(dir, "tickcast.hgrm"))
	if !strings.Contains(string(b), "1/(1-Percentile)") || !strings.Contains(string(b), "Total count    =         4000") {
		t.Errorf("tickcast.hgrm:\n%s", b)
	}
	plotFile := filepath.Join(dir, "lat.png")
	var series []PlotSeries
	for _, s := range rep.All() {
		series = append(series, PlotSeries{Name: s.System, Recorder: s.Latency})
	}
	if err := PlotPercentiles(plotFile, "test", series); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(plotFile)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	if r := img.Bounds(); r.Dx() < 400 || r.Dy() < 300 {
		t.Errorf("plot of %v", r)
	}
}

func TestLatencyNATSPeer(t *testing.T) {
	before := runtime.NumGoroutine()
	rep, err := RunLatency(context.Background(), LatencyConfig{
		Rate: 2000, Duration: time.Second, Warmup: 200 * time.Millisecond, Instruments: 5, Levels: 10,
		Lines: "a", Peers: []string{SystemNATS}, BusyPoll: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	noLeaks(t, before)
	m := reportJSON(t, rep)
	checkSeriesJSON(t, "tickcast", m, 2000)
	peers, _ := m["peers"].(map[string]any)
	for _, name := range []string{"nats", "floor"} {
		p, ok := peers[name].(map[string]any)
		if !ok {
			t.Fatalf("no %s peer in %v", name, peers)
		}
		checkSeriesJSON(t, name, p, 2000)
	}
	nats := rep.Peers[SystemNATS]
	if nats.Delivered != 2000 || nats.Lost != 0 || nats.DuplicatesDelivered != 0 {
		t.Errorf("nats: delivered %d, lost %d, dups %d", nats.Delivered, nats.Lost, nats.DuplicatesDelivered)
	}
	if rep.Ratio[SystemNATS].P50 <= 0 || nats.Ratio[SystemFloor].P50 <= 0 {
		t.Errorf("ratios: tickcast %v, nats %v", rep.Ratio, nats.Ratio)
	}
	if len(nats.Processes) != 3 || !rep.BusyPoll || rep.Lines != "a" {
		t.Errorf("nats processes %+v, busy poll %v, lines %q", nats.Processes, rep.BusyPoll, rep.Lines)
	}
}

func TestThroughputSearch(t *testing.T) {
	before := runtime.NumGoroutine()
	rep, err := RunThroughput(context.Background(), ThroughputConfig{
		Start: 2000, Max: 8000, Step: 0.3, Duration: 500 * time.Millisecond, Warmup: 100 * time.Millisecond,
		Instruments: 5, Levels: 10,
	})
	if err != nil {
		t.Fatal(err)
	}
	noLeaks(t, before)
	if len(rep.Trials) == 0 {
		t.Fatal("no trials")
	}
	for _, tr := range rep.Trials {
		if tr.Delivered+tr.Lost != tr.Sent || tr.Sent == 0 || (tr.OK && tr.Lost != 0) || (tr.OK != (tr.Why == "")) {
			t.Errorf("trial %+v is inconsistent", tr)
		}
	}
	if rep.Rate == 0 {
		t.Skipf("no rate sustained on this machine right now: %+v", rep.Trials) // noisy VM: not a bug by itself
	}
	m := reportJSON(t, rep)
	checkSeriesJSON(t, "throughput", m, rep.Rate)
	if m["scenario"] != "throughput" || rep.PacketsPerS <= 0 || rep.DatagramsPerS < rep.PacketsPerS {
		t.Errorf("scenario %v, packets/s %v, datagrams/s %v", m["scenario"], rep.PacketsPerS, rep.DatagramsPerS)
	}
	var table bytes.Buffer
	rep.WriteTable(&table)
	if !strings.Contains(table.String(), "highest sustained rate") {
		t.Errorf("table:\n%s", table.String())
	}
}

func TestChildStopsWithItsParent(t *testing.T) {
	exe, err := defaultExec()
	if err != nil {
		t.Fatal(err)
	}
	groups, err := freeGroups(2)
	if err != nil {
		t.Fatal(err)
	}
	// A subscriber child set up for an hour-long run: closing its stdin
	// (what the parent's death does) must end it, without a kill.
	p, err := startChild(exe, childConfig{
		Role: "sub", Groups: groups, Interface: "lo",
		Feed:       feedConfig{Rate: 1000, Instruments: 1, Levels: 1, Duration: time.Hour},
		DeadlineNs: time.Now().Add(time.Hour).UnixNano(),
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := p.waitReady(ctx); err != nil {
		p.stop()
		t.Fatal(err)
	}
	p.stdin.Close()
	select {
	case <-p.exited:
	case <-time.After(30 * time.Second):
		p.stop()
		t.Fatal("the child did not exit after its stdin closed")
	}
	if ps := p.cmd.ProcessState; ps == nil || !ps.Exited() {
		t.Errorf("child ended by %v, want an exit of its own", ps)
	}
	noLeaks(t, runtime.NumGoroutine())
}

func TestRunLatencyRejects(t *testing.T) {
	for _, c := range []LatencyConfig{
		{Rate: -1}, {Rate: 2 * MaxRate}, {Lines: "b"}, {Peers: []string{"kafka"}}, {Runs: -1}, {Duration: -time.Second},
	} {
		if _, err := RunLatency(context.Background(), c); err == nil {
			t.Errorf("RunLatency(%+v) accepted", c)
		}
	}
	for _, c := range []ThroughputConfig{{Start: 10, Max: 5}, {Step: 2}, {Max: 2 * MaxRate}} {
		if _, err := RunThroughput(context.Background(), c); err == nil {
			t.Errorf("RunThroughput(%+v) accepted", c)
		}
	}
}

// --via relay runs the relay path (publisher, hub, edge and subscriber
// processes, with certificates made for the run) in the same run as the
// direct path: everything delivered once, both hops measured, and their
// processes reported.
func TestLatencyViaRelay(t *testing.T) {
	before := runtime.NumGoroutine()
	rep, err := RunLatency(context.Background(), LatencyConfig{
		Rate: 2000, Duration: time.Second, Warmup: 200 * time.Millisecond, Instruments: 5, Levels: 10,
		ViaRelay: true, NoFloor: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	noLeaks(t, before)
	m := reportJSON(t, rep)
	peers, _ := m["peers"].(map[string]any)
	rel, ok := peers["relay"].(map[string]any)
	if !ok {
		t.Fatalf("no relay series in %v", peers)
	}
	checkSeriesJSON(t, "relay", rel, 2000)
	rs := rep.Peers[SystemRelay]
	if rs.Delivered != 2000 || rs.Lost != 0 || rs.DuplicatesDelivered != 0 {
		t.Errorf("relay path: delivered %d, lost %d, dups %d", rs.Delivered, rs.Lost, rs.DuplicatesDelivered)
	}
	if len(rs.Hops) != 2 || rs.Hops[0].Hop != "hub" || rs.Hops[1].Hop != "edge" || rs.Hops[1].LatencyUs.P50 < rs.Hops[0].LatencyUs.P50 {
		t.Errorf("hops %+v", rs.Hops)
	}
	if len(rs.Processes) != 4 {
		t.Errorf("processes %+v, want publisher, subscriber, hub and edge", rs.Processes)
	}
	var table bytes.Buffer
	rep.WriteTable(&table)
	if !strings.Contains(table.String(), "two relays add") {
		t.Errorf("the table does not show the relay path:\n%s", table.String())
	}
}

// --via relay in the throughput search: every trial runs through the hub
// and the edge, and the report says so.
func TestThroughputViaRelay(t *testing.T) {
	before := runtime.NumGoroutine()
	rep, err := RunThroughput(context.Background(), ThroughputConfig{
		ViaRelay: true, Start: 2000, Max: 2000, Duration: 500 * time.Millisecond, Warmup: 100 * time.Millisecond,
		Instruments: 5, Levels: 10, MaxP99: time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	noLeaks(t, before)
	if len(rep.Trials) == 0 || rep.Rate != 2000 || !rep.Ceiling {
		t.Fatalf("rate %v (ceiling %v), trials %+v: 2000 msg/s through two relays not sustained", rep.Rate, rep.Ceiling, rep.Trials)
	}
	if rep.System != SystemRelay || len(rep.Hops) != 2 || rep.Lost != 0 {
		t.Errorf("system %q, hops %+v, lost %d", rep.System, rep.Hops, rep.Lost)
	}
}
