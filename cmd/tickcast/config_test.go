package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tickcast/tickcast/internal/link"
	"github.com/tickcast/tickcast/internal/mcast/mcasttest"
	"github.com/tickcast/tickcast/internal/pki"
	"github.com/tickcast/tickcast/internal/testwait"
	"github.com/tickcast/tickcast/wire"
)

func writeFile(t *testing.T, dir, name, text string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestCheckConfig(t *testing.T) {
	dir := t.TempDir()
	good := writeFile(t, dir, "p.toml", "role = \"publish\"\nttl = 1\nrate = 5e4\nretransmit-allow = [\"10.0.0.0/8\"]\nheartbeat = \"50ms\"\nchannel = 7\n")
	var out, errb bytes.Buffer
	if code := run([]string{"check-config", good}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	for _, want := range []string{"ttl = 1 # file", "rate = 50000 # file", `retransmit-allow = "10.0.0.0/8" # file`, `heartbeat = "50ms" # file`, "channel = 7 # file", `source = "synth" # default`} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	// The effective configuration is itself a valid file saying the same.
	again := writeFile(t, dir, "again.toml", out.String())
	var out2 bytes.Buffer
	if code := run([]string{"check-config", again}, &out2, &errb); code != 0 {
		t.Fatalf("the printed configuration does not check: %s", errb.String())
	}
	strip := func(s string) string {
		var b strings.Builder
		for _, l := range strings.Split(s, "\n")[1:] {
			b.WriteString(strings.SplitN(l, " # ", 2)[0] + "\n")
		}
		return b.String()
	}
	if strip(out.String()) != strip(out2.String()) {
		t.Errorf("round trip changed the configuration:\n%s\nvs\n%s", out.String(), out2.String())
	}

	for _, c := range []struct{ file, want string }{
		{"role = \"publish\"\n\nttl = \"one\"\n", `bad.toml:3: key "ttl": want an integer`},
		{"role = \"publish\"\nsoruce = \"synth\"\n", `bad.toml:2: key "soruce": not a setting of "publish"`},
		{"role = \"publish\"\na = \"10.0.0.1\"\n", `bad.toml:2: key "a": want ip:port`},
		{"role = \"relay\"\nrate = 5\n", `bad.toml:2: key "rate": not a setting of "relay"`},
		{"role = \"broker\"\n", `role = "broker": want one of publish, relay, subscribe`},
		{"role = \"publish\"\nsource = \"kafka\"\n", `bad.toml: --source "kafka": want synth, binance or replay`},
		{"role = \"subscribe\"\nlink = \"127.0.0.1:1\"\n", `--link needs --cert, --key and --ca`},
		{"role = \"relay\"\nlink = \"127.0.0.1:1\"\ncert = \"/nonexistent.pem\"\nkey = \"/k.pem\"\nca = \"/ca.pem\"\n", `/nonexistent.pem`},
		{"ttl = 1\n", `bad.toml:1: no role key`},
	} {
		bad := writeFile(t, dir, "bad.toml", c.file)
		var out, errb bytes.Buffer
		code := run([]string{"check-config", bad}, &out, &errb)
		if code == 0 || !strings.Contains(errb.String(), c.want) {
			t.Errorf("%q: exit %d, stderr %q; want it to contain %q", c.file, code, errb.String(), c.want)
		}
		if out.Len() != 0 {
			t.Errorf("%q: printed a configuration for a bad file", c.file)
		}
	}
	if code := run([]string{"check-config", filepath.Join(dir, "missing.toml")}, &out, &errb); code != 1 {
		t.Errorf("missing file: exit %d", code)
	}
	if code := run([]string{"check-config"}, &out, &errb); code != 2 {
		t.Errorf("no file: exit %d", code)
	}
}

// Flags on the command line win over the file; a file of another role is
// refused.
func TestConfigFlagsWin(t *testing.T) {
	dir := t.TempDir()
	f := writeFile(t, dir, "p.toml", "role = \"publish\"\nttl = 1\nrate = 5000\n")
	p, err := preparePublish([]string{"--config", f, "--ttl", "0"}, io.Discard, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if got := p.cfg.Lines[0].TTL; got != 0 {
		t.Errorf("TTL %d: the flag should win over the file's 1", got)
	}
	if got := p.fs.Lookup("rate").Value.String(); got != "5000" {
		t.Errorf("rate %s, want the file's 5000", got)
	}
	if p.d.origin("ttl") != "flag" || p.d.origin("rate") != "file" || p.d.origin("seed") != "default" {
		t.Errorf("origins: ttl %s rate %s seed %s", p.d.origin("ttl"), p.d.origin("rate"), p.d.origin("seed"))
	}
	if _, err := prepareRelay([]string{"--config", f}, io.Discard, io.Discard); err == nil || !strings.Contains(err.Error(), `a "publish" file given to 'tickcast relay'`) {
		t.Errorf("publish file to relay: %v", err)
	}
}

// freeAddr is a TCP address on 127.0.0.1 that was free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// publishFile is a publisher config on private loopback groups.
func publishFile(t *testing.T, dir, admin, extra string) string {
	return publishFileOn(t, dir, admin, mcasttest.FreeGroup(t).String(), mcasttest.FreeGroup(t).String(), extra)
}

func publishFileOn(t *testing.T, dir, admin, a, b, extra string) string {
	return writeFile(t, dir, "publisher.toml", fmt.Sprintf(`role = "publish"
a = %q
b = %q
recovery-a = ""
retransmit = ""
rate = 2000
instruments = 5
stats-every = "0s"
admin = %q
%s`, a, b, admin, extra))
}

// waitHTTP polls url until it answers.
func waitHTTP(t *testing.T, url string) {
	t.Helper()
	testwait.For(t, url+" to answer", func() bool {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
		}
		return err == nil
	})
}

func postReload(t *testing.T, admin string) (int, string) {
	t.Helper()
	resp, err := http.Post("http://"+admin+"/reload", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.TrimSpace(string(b))
}

// POST /reload applies what may change live and refuses the rest by name,
// leaving the running configuration as it was.
func TestReloadOverAdmin(t *testing.T) {
	dir := t.TempDir()
	admin := freeAddr(t)
	path := publishFile(t, dir, admin, "")
	ctx, cancel := context.WithCancel(context.Background())
	var stderr testwait.Log
	done := make(chan error, 1)
	go func() { done <- runPublish(ctx, []string{"--config", path}, io.Discard, &stderr) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("publish: %v", err)
		}
	}()
	waitHTTP(t, "http://"+admin+"/healthz")

	if code, msg := postReload(t, admin); code != 200 || !strings.Contains(msg, "nothing changed") {
		t.Fatalf("unchanged file: %d %q", code, msg)
	}
	text, _ := os.ReadFile(path)
	os.WriteFile(path, append(text, "log-level = \"debug\"\n"...), 0o600)
	if code, msg := postReload(t, admin); code != 200 || !strings.Contains(msg, "applied log-level") {
		t.Fatalf("log level: %d %q", code, msg)
	}
	os.WriteFile(path, append(text, "log-level = \"warn\"\nttl = 1\nheartbeat = \"1s\"\n"...), 0o600)
	code, msg := postReload(t, admin)
	if code != 409 || !strings.Contains(msg, `"heartbeat", "ttl" cannot change while running`) {
		t.Fatalf("fixed keys: %d %q", code, msg)
	}
	// Refused as a whole: the log level did not change either, so putting
	// back the file with only the level changed applies it.
	os.WriteFile(path, append(text, "log-level = \"warn\"\n"...), 0o600)
	if code, msg := postReload(t, admin); code != 200 || !strings.Contains(msg, "applied log-level") {
		t.Fatalf("after a refusal: %d %q", code, msg)
	}
	os.WriteFile(path, append(text, "ttl = \"x\"\n"...), 0o600)
	if code, msg := postReload(t, admin); code != 409 || !strings.Contains(msg, `key "ttl": want an integer`) {
		t.Fatalf("bad file: %d %q", code, msg)
	}
	if resp, err := http.Get("http://" + admin + "/reload"); err != nil || resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET /reload: %v %v", resp.StatusCode, err)
	}
}

// A real daemon process reloads on SIGHUP.
func TestReloadOnSIGHUP(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "tickcast")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	dir := t.TempDir()
	admin := freeAddr(t)
	path := publishFile(t, dir, admin, "")
	var stderr testwait.Log
	cmd := exec.Command(bin, "publish", "--config", path, "--duration", "5m")
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cmd.Process.Signal(syscall.SIGTERM)
		if err := cmd.Wait(); err != nil {
			t.Errorf("publish exited: %v\n%s", err, stderr.String())
		}
	}()
	waitHTTP(t, "http://"+admin+"/healthz")
	text, _ := os.ReadFile(path)
	os.WriteFile(path, append(text, "ttl = 1\n"...), 0o600)
	cmd.Process.Signal(syscall.SIGHUP)
	stderr.Await(t, `ttl\" cannot change while running`)
	os.WriteFile(path, append(text, "log-level = \"debug\"\n"...), 0o600)
	cmd.Process.Signal(syscall.SIGHUP)
	stderr.Await(t, "SIGHUP: reloaded "+path+": applied log-level")
}

// A reload grows and shrinks a running publisher's instruments in the same
// session; a subscriber on the lines sees the new definitions and the
// retired instruments halted.
func TestReloadInstrumentsLive(t *testing.T) {
	dir := t.TempDir()
	admin := freeAddr(t)
	a, b := mcasttest.FreeGroup(t).String(), mcasttest.FreeGroup(t).String()
	path := publishFileOn(t, dir, admin, a, b, "")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var subOut testwait.Log
	subDone := make(chan error, 1)
	go func() {
		subDone <- runSubscribe(ctx, []string{"--a", a, "--b", b, "--retransmit", "", "--recovery-a", "", "--recovery-b", "", "--format", "json"}, &subOut, io.Discard)
	}()
	pubDone := make(chan error, 1)
	go func() { pubDone <- runPublish(ctx, []string{"--config", path}, io.Discard, io.Discard) }()
	defer func() {
		cancel()
		if err := <-pubDone; err != nil {
			t.Errorf("publish: %v", err)
		}
		if err := <-subDone; err != nil {
			t.Errorf("subscribe: %v", err)
		}
	}()
	waitHTTP(t, "http://"+admin+"/healthz")
	subOut.Await(t, `"kind":"level"`)

	text, _ := os.ReadFile(path)
	reload := func(instruments int) {
		t.Helper()
		os.WriteFile(path, []byte(strings.Replace(string(text), "instruments = 5", fmt.Sprintf("instruments = %d", instruments), 1)), 0o600)
		if code, msg := postReload(t, admin); code != 200 || !strings.Contains(msg, "applied instruments") {
			t.Fatalf("instruments = %d: %d %q", instruments, code, msg)
		}
	}
	reload(7)
	subOut.Await(t, `"kind":"definition","seq":`)
	subOut.Await(t, `"instrument":7,"symbol":"SYN0007"`)
	reload(6)
	subOut.Await(t, `"kind":"status"`)
	subOut.Await(t, `"instrument":7,"symbol":"SYN0007","status":"halted"`)
}

// A relay's allow-downstream changes on reload: a name added can connect.
func TestReloadAllowDownstream(t *testing.T) {
	dir := t.TempDir()
	if err := pki.WriteDevCA(dir); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"hub", "edge", "other"} {
		if err := pki.IssueCert(dir, n, []string{"127.0.0.1"}); err != nil {
			t.Fatal(err)
		}
	}
	admin, linkAddr := freeAddr(t), freeUDP(t)
	text := fmt.Sprintf(`role = "relay"
a = %q
link = %q
cert = %q
key = %q
ca = %q
admin = %q
stats-every = "0s"
`, mcasttest.FreeGroup(t), linkAddr, pki.CertFile(dir, "hub"), pki.KeyFile(dir, "hub"), pki.CertFile(dir, "ca"), admin)
	path := writeFile(t, dir, "relay.toml", text+"allow-downstream = [\"edge\"]\n")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- runRelay(ctx, []string{"--config", path}, io.Discard, io.Discard) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("relay: %v", err)
		}
	}()
	waitHTTP(t, "http://"+admin+"/metrics")
	dial := func(name string) error {
		tlsCfg, err := pki.ClientTLS(pki.CertFile(dir, name), pki.KeyFile(dir, name), pki.CertFile(dir, "ca"))
		if err != nil {
			t.Fatal(err)
		}
		dctx, dcancel := context.WithTimeout(ctx, 30*time.Second)
		defer dcancel()
		c, err := link.Dial(dctx, link.ClientConfig{Addr: linkAddr, TLS: tlsCfg,
			Subscriptions: []wire.Subscribe{{Channel: 1, Mode: wire.SubscribeLive}}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		if err != nil {
			return err
		}
		c.Close()
		return nil
	}
	if err := dial("edge"); err != nil {
		t.Fatalf("allowed edge: %v", err)
	}
	if err := dial("other"); err == nil || !strings.Contains(err.Error(), "not allowed") {
		t.Fatalf("other before the reload: %v", err)
	}
	os.WriteFile(path, []byte(text+"allow-downstream = \"edge,other\"\n"), 0o600)
	if code, msg := postReload(t, admin); code != 200 || !strings.Contains(msg, "applied allow-downstream") {
		t.Fatalf("reload: %d %q", code, msg)
	}
	if err := dial("other"); err != nil {
		t.Fatalf("other after the reload: %v", err)
	}
}
