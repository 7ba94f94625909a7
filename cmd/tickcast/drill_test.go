package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestDrillBadFlagsExit2(t *testing.T) {
	for _, args := range [][]string{
		{"drill"},
		{"drill", "nosuch"},
		{"drill", "failover", "--nope"},
		{"drill", "failover", "--kill", "c"},
		{"drill", "failover", "--rate", "0"},
		{"drill", "failover", "--rate", "lots"},
		{"drill", "failover", "--duration", "-1s"},
		{"drill", "failover", "--duration", "10s", "--at", "10s"},
		{"drill", "failover", "extra"},
		{"drill", "loss", "--loss-a", "1.5"},
		{"drill", "loss", "--loss-b", "-0.01"},
		{"drill", "loss", "--log-level", "loud"},
		{"drill", "restart", "--duration", "10s", "--at", "5s", "--pause", "5s"},
		{"drill", "restart", "--at", "-1s"},
		{"drill", "restart", "--settle", "0s"},
		{"drill", "loss", "--max-held", "-1"},
		{"drill", "loss", "--max-retries", "-1"},
		{"drill", "loss", "--max-rto", "100us"},
		{"drill", "fanout", "--edges", "0"},
		{"drill", "fanout", "--slow", "-1"},
		{"drill", "fanout", "--slow-share", "1.5"},
		{"drill", "fanout", "--slow", "1", "--duration", "2s"},
		{"drill", "fanout", "--slow", "1", "--processes"},
		{"drill", "late-join", "--subscribers", "-1"},
		{"drill", "late-join", "--recovery-rate", "-5"},
		{"drill", "late-join", "--duration", "2s", "--at", "3s"},
	} {
		var out, errb bytes.Buffer
		if code := run(args, &out, &errb); code != 2 {
			t.Errorf("%q: exit %d, want 2; stderr %q", args, code, errb.String())
			continue
		}
		if !strings.Contains(errb.String(), "tickcast drill:") {
			t.Errorf("%q: stderr %q", args, errb.String())
		}
	}
}

func TestDrillHelpNamesEveryFlag(t *testing.T) {
	for drill, flags := range map[string][]string{
		"failover":  {"--kill", "--at"},
		"loss":      {"--loss-a", "--loss-b"},
		"restart":   {"--at", "--pause"},
		"wan":       {"--loss", "--rtt", "--jitter", "--blackhole-at", "--processes"},
		"fanout":    {"--edges", "--slow", "--slow-share", "--processes"},
		"late-join": {"--at", "--subscribers", "--recovery-rate"},
	} {
		var out, errb bytes.Buffer
		if code := run([]string{"drill", drill, "--help"}, &out, &errb); code != 0 {
			t.Fatalf("%s --help: exit %d", drill, code)
		}
		for _, f := range append(flags, "--rate", "--duration", "--json", "--instruments", "--levels", "--iface", "--line-timeout", "--settle", "--seed", "--quiet", "--log-level", "--max-held", "--max-retries", "--max-rto") {
			if !strings.Contains(out.String(), "  -"+strings.TrimPrefix(f, "--")) {
				t.Errorf("%s --help does not explain %s:\n%s", drill, f, out.String())
			}
		}
		if !strings.Contains(out.String(), "PASS") || !strings.Contains(out.String(), "line_down_detected_ms") {
			t.Errorf("%s --help does not say what PASS and the JSON mean", drill)
		}
	}
	var out bytes.Buffer
	if code := run([]string{"drill", "--help"}, &out, &out); code != 0 || !strings.Contains(out.String(), "restart") || !strings.Contains(out.String(), "late-join") {
		t.Fatalf("drill --help: exit %d\n%s", code, out.String())
	}
}

func TestDrillFailoverWritesJSON(t *testing.T) {
	path := filepath.Join(t.TempDir(), "failover.json")
	var out, errb bytes.Buffer
	code := run([]string{"drill", "failover", "--rate", "10000", "--duration", "2s", "--instruments", "4", "--levels", "20",
		"--kill", "b", "--json", path, "--quiet", "--max-retries", "20", "--max-rto", "1s"}, &out, &errb)
	t.Logf("stdout:\n%s\nstderr:\n%s", out.String(), errb.String())
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	if !strings.Contains(out.String(), "PASS  failover") {
		t.Errorf("no PASS line")
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"sent", "delivered", "lost", "app_gaps", "line_down_detected_ms", "max_latency_us", "books_match"} {
		if _, ok := m[k]; !ok {
			t.Errorf("no %q in %s", k, b)
		}
	}
	if m["books_match"] != true || m["killed_line"] != "B" {
		t.Errorf("JSON %s", b)
	}
}
