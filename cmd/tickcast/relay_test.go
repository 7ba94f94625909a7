package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestRelayBadFlagsExit2(t *testing.T) {
	for _, args := range [][]string{
		{"relay"},                          // no upstream
		{"relay", "--a", "239.1.2.3:4000"}, // nowhere to send
		{"relay", "--up-a", "127.0.0.1:1", "--out-a", "239.1.2.3:1"}, // a link without certificates
		{"relay", "--a", "239.1.2.3:4000", "--out-a", "not-a-group"},
		{"relay", "--a", "239.1.2.3:4000", "--out-a", "239.1.2.4:4000", "--ttl", "300"},
		{"relay", "--a", "239.1.2.3:4000", "--out-a", "239.1.2.4:4000", "--duration", "-1s"},
		{"relay", "--a", "239.1.2.3:4000", "--out-a", "239.1.2.4:4000", "extra"},
		{"relay", "--a", "239.1.2.3:4000", "--out-a", "239.1.2.4:4000", "--slow-loss", "1.5"},
		{"relay", "--nope"},
	} {
		var out, errb bytes.Buffer
		if code := run(args, &out, &errb); code != 2 {
			t.Errorf("%q: exit %d, want 2; stderr %q", args, code, errb.String())
			continue
		}
		if out.Len() != 0 || !strings.HasPrefix(errb.String(), "tickcast relay:") || strings.Count(strings.TrimSpace(errb.String()), "\n") > 0 {
			t.Errorf("%q: want one error line, got stdout %q stderr %q", args, out.String(), errb.String())
		}
	}
}

func TestRelayHelpExplainsFlags(t *testing.T) {
	var out bytes.Buffer
	if code := run([]string{"relay", "--help"}, &out, &out); code != 0 {
		t.Fatalf("exit %d", code)
	}
	for _, want := range []string{"Usage: tickcast relay", "Example", "up-a", "out-a", "upstream-retransmit", "slow-cutoff", "slow-loss", "link-queue"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("help lacks %q:\n%s", want, out.String())
		}
	}
}
