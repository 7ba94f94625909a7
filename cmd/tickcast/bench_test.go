package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tickcast/tickcast/bench"
)

// TestMain runs the benchmark's child processes: 'tickcast bench' starts its
// own executable again, which under go test is this test binary.
func TestMain(m *testing.M) {
	if bench.IsChild() {
		os.Exit(bench.ChildMain())
	}
	os.Exit(m.Run())
}

func TestBenchBadFlagsExit2(t *testing.T) {
	for _, args := range [][]string{
		{"bench"},
		{"bench", "nosuch"},
		{"bench", "child"}, // only for the benchmark's own children
		{"bench", "latency", "--nope"},
		{"bench", "latency", "--rate", "0"},
		{"bench", "latency", "--rate", "fast"},
		{"bench", "latency", "--duration", "0s"},
		{"bench", "latency", "--warmup", "-1s"},
		{"bench", "latency", "--lines", "b"},
		{"bench", "latency", "--peer", "kafka"},
		{"bench", "latency", "--runs", "0"},
		{"bench", "latency", "--plot", "x.jpg"},
		{"bench", "latency", "--instruments", "0"},
		{"bench", "latency", "--max-packet", "9000"},
		{"bench", "latency", "--log-level", "loud"},
		{"bench", "latency", "extra"},
		{"bench", "latency", "--via", "hub"},
		{"bench", "throughput", "--via", "edge"},
		{"bench", "throughput", "--start", "5000000", "--max", "1000000"},
		{"bench", "throughput", "--step", "1"},
		{"bench", "throughput", "--trial", "0s"},
		{"bench", "throughput", "--retries", "-1"},
		{"bench", "throughput", "--max-p99", "0s"},
	} {
		var out, errb bytes.Buffer
		if code := run(args, &out, &errb); code != 2 {
			t.Errorf("%q: exit %d, want 2; stderr %q", args, code, errb.String())
			continue
		}
		if !strings.Contains(errb.String(), "tickcast bench:") {
			t.Errorf("%q: stderr %q", args, errb.String())
		}
	}
}

func TestBenchHelpExplainsEveryFlag(t *testing.T) {
	var out bytes.Buffer
	if code := run([]string{"bench", "--help"}, &out, &out); code != 0 || !strings.Contains(out.String(), "latency|throughput") {
		t.Errorf("bench --help: exit %d:\n%s", code, out.String())
	}
	for bm, flags := range map[string][]string{
		"latency": {"rate", "duration", "warmup", "tick", "peer", "floor", "runs", "hgrm", "plot", "lines", "instruments",
			"levels", "busy-poll", "pin", "max-packet", "iface", "json", "log-level", "quiet", "cpuprofile", "via"},
		"throughput": {"start", "max", "step", "trial", "warmup", "retries", "max-p99", "tick", "lines", "busy-poll", "json", "cpuprofile", "via"},
	} {
		out.Reset()
		if code := run([]string{"bench", bm, "--help"}, &out, &out); code != 0 {
			t.Errorf("bench %s --help: exit %d", bm, code)
		}
		for _, f := range flags {
			if !strings.Contains(out.String(), "  -"+f+" ") && !strings.Contains(out.String(), "  -"+f+"\n") {
				t.Errorf("bench %s --help does not explain --%s:\n%s", bm, f, out.String())
			}
		}
		if !strings.Contains(out.String(), "Example") {
			t.Errorf("bench %s --help has no example", bm)
		}
	}
}

func TestBenchLatencyWritesJSON(t *testing.T) {
	dir := t.TempDir()
	jsonFile, plotFile := filepath.Join(dir, "lat.json"), filepath.Join(dir, "lat.png")
	var out, errb bytes.Buffer
	code := run([]string{"bench", "latency", "--rate", "2000", "--duration", "1s", "--warmup", "200ms",
		"--instruments", "5", "--levels", "10", "--peer", "nats", "--quiet",
		"--json", jsonFile, "--hgrm", dir, "--plot", plotFile}, &out, &errb)
	if code != 0 {
		t.Fatalf("exit %d; stderr:\n%s", code, errb.String())
	}
	if errb.Len() != 0 {
		t.Errorf("--quiet printed %q", errb.String())
	}
	for _, want := range []string{"tickcast", "floor (raw UDP)", "nats", "tickcast / nats", "wrote"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	b, err := os.ReadFile(jsonFile)
	if err != nil {
		t.Fatal(err)
	}
	var rep struct {
		Scenario  string             `json:"scenario"`
		Sent      uint64             `json:"sent"`
		Delivered uint64             `json:"delivered"`
		Lost      uint64             `json:"lost"`
		LatencyUs map[string]float64 `json:"latency_us"`
		Peers     map[string]struct {
			Sent, Delivered, Lost uint64
			LatencyUs             map[string]float64 `json:"latency_us"`
		} `json:"peers"`
	}
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Scenario != "latency" || rep.Sent != 2000 || rep.Delivered+rep.Lost != rep.Sent || len(rep.LatencyUs) != 6 {
		t.Errorf("JSON %s", b)
	}
	if n := rep.Peers["nats"]; n.Sent != 2000 || len(n.LatencyUs) != 6 {
		t.Errorf("nats peer %+v", n)
	}
	for _, f := range []string{"tickcast.hgrm", "nats.hgrm", "floor.hgrm", "lat.png"} {
		if st, err := os.Stat(filepath.Join(dir, f)); err != nil || st.Size() == 0 {
			t.Errorf("%s: %v", f, err)
		}
	}
}
