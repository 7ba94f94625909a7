package main

import (
	"bytes"
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/tickcast/tickcast/internal/testwait"
)

func TestImpairBadFlagsExit2(t *testing.T) {
	for _, args := range [][]string{
		{"impair"},
		{"impair", "--listen", "127.0.0.1:0"},
		{"impair", "--listen", "127.0.0.1:0", "--upstream", "127.0.0.1:1", "--spec", "loss=150%"},
		{"impair", "--listen", "127.0.0.1:0", "--upstream", "127.0.0.1:1", "--up-spec", "drop=1"},
		{"impair", "--listen", "127.0.0.1:0", "--upstream", "127.0.0.1:1", "--down-spec", "rate=10"},
		{"impair", "--listen", "127.0.0.1:0", "--upstream", "127.0.0.1:1", "--duration", "-1s"},
		{"impair", "--listen", "127.0.0.1:0", "--upstream", "127.0.0.1:1", "extra"},
		{"impair", "--nope"},
	} {
		var out, errb bytes.Buffer
		if code := run(args, &out, &errb); code != 2 {
			t.Errorf("%q: exit %d, want 2; stderr %q", args, code, errb.String())
			continue
		}
		if out.Len() != 0 || !strings.HasPrefix(errb.String(), "tickcast impair:") || strings.Count(strings.TrimSpace(errb.String()), "\n") > 0 {
			t.Errorf("%q: want one error line, got stdout %q stderr %q", args, out.String(), errb.String())
		}
	}
}

func TestImpairHelpExplainsFlags(t *testing.T) {
	var out bytes.Buffer
	if code := run([]string{"impair", "--help"}, &out, &out); code != 0 {
		t.Fatalf("exit %d", code)
	}
	for _, want := range []string{"Usage: tickcast impair", "Example", "loss=P", "rate=R", "queue=SIZE",
		"  -listen", "  -upstream", "  -spec", "  -up-spec", "  -down-spec", "  -seed", "  -idle", "  -duration", "  -stats-every", "  -log-level"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("--help lacks %q:\n%s", want, out.String())
		}
	}
}

// The command forwards both ways through its spec, prints progress lines
// and stops when its context ends.
func TestImpairForwards(t *testing.T) {
	echo, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer echo.Close()
	go func() {
		buf := make([]byte, 2048)
		for {
			n, from, err := echo.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			echo.WriteToUDPAddrPort(buf[:n], from)
		}
	}()
	listen := freeUDP(t)
	ctx, cancel := context.WithCancel(context.Background())
	var out, errb testwait.Log
	done := make(chan error, 1)
	go func() {
		done <- runImpair(ctx, []string{"--listen", listen, "--upstream", echo.LocalAddr().String(),
			"--spec", "delay=1ms", "--down-spec", "dup=100%", "--stats-every", "10ms", "--log-level", "error"}, &out, &errb)
	}()
	c, err := net.Dial("udp", listen)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// Send until the echo and its duplicate come back (the proxy may not
	// listen yet at first).
	got := 0
	buf := make([]byte, 64)
	for end := time.Now().Add(30 * time.Second); got < 2; {
		if time.Now().After(end) {
			t.Fatalf("no echo through the proxy; stdout %q stderr %q", out.String(), errb.String())
		}
		if got == 0 {
			c.Write([]byte("ping"))
		}
		c.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
		if n, err := c.Read(buf); err == nil && string(buf[:n]) == "ping" {
			got++
		}
	}
	for end := time.Now().Add(30 * time.Second); !strings.Contains(out.String(), "impair down in 1 out 2 lost 0 dup 1"); {
		if time.Now().After(end) {
			t.Fatalf("no progress line with the duplicate:\n%s", out.String())
		}
		time.Sleep(time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("impair: %v\n%s", err, errb.String())
	}
	if s := out.String(); !strings.Contains(s, "up delay=1ms; down dup=1") || !strings.Contains(s, "impair up   in ") {
		t.Fatalf("output:\n%s", s)
	}
}
