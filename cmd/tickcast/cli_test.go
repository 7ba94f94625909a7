package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/tickcast/tickcast/internal/mcast/mcasttest"
)

func TestUsage(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run(nil, &out, &errb); code != 0 || !strings.Contains(out.String(), "tickcast demo") {
		t.Fatalf("no args: exit %d, %q", code, out.String())
	}
	if code := run([]string{"frobnicate"}, &out, &errb); code != 2 || !strings.Contains(errb.String(), "unknown command") {
		t.Fatalf("unknown command: exit %d, %q", code, errb.String())
	}
}

func TestBadFlagsExit2(t *testing.T) {
	for _, args := range [][]string{
		{"publish", "--nope"},
		{"publish", "--a", "10.0.0.1:5000"},
		{"publish", "--a", "239.1.1.1"},
		{"publish", "--a", "239.1.1.1:5000", "--b", "239.1.1.1:5000"},
		{"publish", "--ttl", "300"},
		{"publish", "--source", "kafka"},
		{"publish", "--source", "replay"},
		{"publish", "--rate", "-5"},
		{"publish", "--channel", "70000"},
		{"publish", "--max-packet", "9000"},
		{"publish", "--link", "127.0.0.1:0"},
		{"publish", "--a-faults", "drop=2"},
		{"publish", "--retransmit-allow", "not-a-net"},
		{"publish", "--iface", "nosuch0"},
		{"publish", "--log-level", "loud"},
		{"subscribe", "--format", "xml"},
		{"subscribe", "--a", "", "--b", ""},
		{"subscribe", "--link", "127.0.0.1:1"},
		{"subscribe", "--duration", "-1s"},
		{"subscribe", "extra"},
		{"demo", "--duration", "0s"},
		{"demo", "--kill-a-after", "20s", "--duration", "10s"},
		{"demo", "--b-faults", "drop=x"},
		{"certs", "--nope"},
	} {
		var out, errb bytes.Buffer
		code := run(args, &out, &errb)
		if code != 2 {
			t.Errorf("%q: exit %d, want 2; stderr %q", args, code, errb.String())
			continue
		}
		if out.Len() != 0 {
			t.Errorf("%q: a bad flag printed to stdout: %q", args, out.String())
		}
		if lines := strings.Count(strings.TrimSpace(errb.String()), "\n"); lines > 0 && !strings.Contains(errb.String(), "level=") {
			t.Errorf("%q: want one error line, got %q", args, errb.String())
		}
	}
}

// --help explains the flags with their defaults, and the notes.
func TestHelpExplainsFlags(t *testing.T) {
	for cmd, flags := range map[string][]string{
		"publish":   {"-source", "-rate", "-a", "-b", "-iface", "-ttl", "-loopback", "-max-packet", "-retransmit", "-retransmit-allow", "-link", "-cert", "-capture", "-replay", "-symbols"},
		"subscribe": {"-a", "-b", "-retransmit", "-link", "-link-live", "-window", "-busy-poll", "-format", "-stats", "-hgrm", "-duration"},
		"demo":      {"-duration", "-rate", "-instruments", "-kill-a-after", "-a-faults", "-busy-poll"},
		"certs":     {"-dir", "-names", "-hosts"},
	} {
		var out bytes.Buffer
		if code := run([]string{cmd, "--help"}, &out, &out); code != 0 {
			t.Fatalf("%s --help: exit %d", cmd, code)
		}
		help := out.String()
		if !strings.Contains(help, "Usage: tickcast "+cmd) || !strings.Contains(help, "Example") {
			t.Errorf("%s --help lacks the synopsis or examples:\n%s", cmd, help)
		}
		for _, f := range flags {
			if !strings.Contains(help, "  "+f+" ") && !strings.Contains(help, "  "+f+"\n") {
				t.Errorf("%s --help does not explain %s", cmd, f)
			}
		}
	}
}

func TestCerts(t *testing.T) {
	dir := t.TempDir()
	var out, errb bytes.Buffer
	if code := run([]string{"certs", "--dir", dir, "--names", "server,client"}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	for _, f := range []string{"ca.pem", "ca-key.pem", "server.pem", "server-key.pem", "client.pem", "client-key.pem"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Fatal(err)
		}
	}
	// Never overwrites: asking again for the same name fails, the CA stays.
	if code := run([]string{"certs", "--dir", dir, "--names", "server"}, &out, &errb); code != 1 {
		t.Fatalf("reissue: exit %d", code)
	}
}

// The README's first command, short: the whole chain on loopback ends with
// every book matching the publisher's.
func TestDemo(t *testing.T) {
	var out, errb bytes.Buffer
	code := run([]string{"demo", "--duration", "2s", "--rate", "20000", "--instruments", "4", "--kill-a-after", "1s", "--log-level", "error"}, &out, &errb)
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out.String(), errb.String())
	}
	for _, want := range []string{"line A killed", "books match publisher     true", "latency send→handler", "SYN0001"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}

// publish and subscribe as a user runs them: the subscriber's JSON events
// carry the publisher's instruments, and both end cleanly.
func TestPublishSubscribeJSON(t *testing.T) {
	a, b := mcasttest.FreeGroup(t), mcasttest.FreeGroup(t)
	rtx := freeUDP(t)
	dir := t.TempDir()
	if code := run([]string{"certs", "--dir", dir}, &bytes.Buffer{}, &bytes.Buffer{}); code != 0 {
		t.Fatal("certs failed")
	}
	link := freeUDP(t)
	var wg sync.WaitGroup
	var pubOut, pubErr bytes.Buffer
	var pubCode int
	wg.Add(1)
	go func() {
		defer wg.Done()
		pubCode = run([]string{"publish", "--a", a.String(), "--b", b.String(), "--retransmit", rtx,
			"--link", link, "--cert", filepath.Join(dir, "server.pem"), "--key", filepath.Join(dir, "server-key.pem"), "--ca", filepath.Join(dir, "ca.pem"),
			"--instruments", "3", "--levels", "20", "--rate", "5000", "--duration", "3s", "--log-level", "error"}, &pubOut, &pubErr)
	}()
	var subOut, subErr bytes.Buffer
	code := run([]string{"subscribe", "--a", a.String(), "--b", b.String(), "--retransmit", rtx,
		"--link", link, "--cert", filepath.Join(dir, "client.pem"), "--key", filepath.Join(dir, "client-key.pem"), "--ca", filepath.Join(dir, "ca.pem"),
		"--format", "json", "--stats", "--hgrm", filepath.Join(dir, "feed.hgrm"), "--duration", "2s", "--log-level", "error"}, &subOut, &subErr)
	wg.Wait()
	if code != 0 || pubCode != 0 {
		t.Fatalf("subscribe exit %d (%s), publish exit %d (%s)", code, subErr.String(), pubCode, pubErr.String())
	}
	hgrm, err := os.ReadFile(filepath.Join(dir, "feed.hgrm"))
	if err != nil || !strings.Contains(string(hgrm), "Value") || !strings.Contains(string(hgrm), "#[Max") {
		t.Fatalf("--hgrm file: %v %q", err, hgrm)
	}
	if !strings.Contains(subOut.String(), "line A: datagrams") || !strings.Contains(pubOut.String(), "published") {
		t.Fatalf("stats missing:\n%s\n%s", subOut.String(), pubOut.String())
	}
	kinds := map[string]int{}
	symbols := map[string]bool{}
	sc := bufio.NewScanner(&subOut)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "{") {
			continue // the --stats block at the end
		}
		var ev map[string]any
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("not JSON: %q: %v", line, err)
		}
		kinds[fmt.Sprint(ev["kind"])]++
		if s, ok := ev["symbol"].(string); ok {
			symbols[s] = true
		}
	}
	if kinds["level"] == 0 || kinds["consistent"] == 0 || !symbols["SYN0001"] {
		t.Fatalf("events %v symbols %v", kinds, symbols)
	}
}

func freeUDP(t *testing.T) string {
	t.Helper()
	c, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.LocalAddr().String()
}
