package mcast

import (
	"bytes"
	"log/slog"
	"net/netip"
	"strings"
	"testing"

	"github.com/tickcast/tickcast/internal/mcast/mcasttest"
)

func TestConfigErrors(t *testing.T) {
	t.Parallel()
	g := netip.AddrPortFrom(mcasttest.Group(t), 5000)
	recv := []struct {
		cfg  RecvConfig
		want string
	}{
		{RecvConfig{Group: g, Interface: "eth9"}, `interface "eth9": no such network interface`},
		{RecvConfig{Group: g, Interface: "10.255.255.254"}, `interface "10.255.255.254": no network interface has this address`},
		{RecvConfig{Group: g}, `Interface is required`},
		{RecvConfig{Group: netip.MustParseAddrPort("10.0.0.1:5000"), Interface: "lo"}, `group 10.0.0.1: not a multicast address`},
		{RecvConfig{Group: netip.MustParseAddrPort("[ff02::1]:5000"), Interface: "lo"}, `group ff02::1: not an IPv4 address`},
		{RecvConfig{Interface: "lo"}, `group is required`},
		{RecvConfig{Group: g, Interface: "lo", BatchSize: 2000}, `BatchSize 2000: out of range 1..1024`},
		{RecvConfig{Group: g, Interface: "lo", MaxPacket: 10}, `MaxPacket 10: out of range 32..65535`},
		{RecvConfig{Group: g, Interface: "lo", ReadBuffer: -1}, `ReadBuffer -1: out of range`},
	}
	for _, tc := range recv {
		r, err := Listen(tc.cfg)
		if err == nil {
			r.Close()
			t.Errorf("Listen(%+v) succeeded, want %q", tc.cfg, tc.want)
			continue
		}
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Listen(%+v) = %q, want it to say %q", tc.cfg, err, tc.want)
		}
	}
	send := []struct {
		cfg  SendConfig
		want string
	}{
		{SendConfig{Group: g, Interface: "eth9"}, `interface "eth9": no such network interface`},
		{SendConfig{Group: g}, `Interface is required`},
		{SendConfig{Group: netip.MustParseAddrPort("10.0.0.1:5000"), Interface: "lo"}, `group 10.0.0.1: not a multicast address`},
		{SendConfig{Group: netip.AddrPortFrom(g.Addr(), 0), Interface: "lo"}, `port 0`},
		{SendConfig{Group: g, Interface: "lo", TTL: 256}, `TTL 256: out of range 0..255`},
		{SendConfig{Group: g, Interface: "lo", TTL: -1}, `TTL -1: out of range 0..255`},
		{SendConfig{Group: g, Interface: "lo", MaxPacket: 9000}, `MaxPacket 9000: packet size limit out of range 32..8192`},
		{SendConfig{Group: g, Interface: "lo", MaxPacket: -5}, `MaxPacket -5: packet size limit out of range`},
		{SendConfig{Group: g, Interface: "lo", WriteBuffer: -1}, `WriteBuffer -1: out of range`},
	}
	for _, tc := range send {
		s, err := Dial(tc.cfg)
		if err == nil {
			s.Close()
			t.Errorf("Dial(%+v) succeeded, want %q", tc.cfg, tc.want)
			continue
		}
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Dial(%+v) = %q, want it to say %q", tc.cfg, err, tc.want)
		}
	}
}

func TestMappedGroupAccepted(t *testing.T) {
	t.Parallel()
	g := mcasttest.Group(t)
	mapped := netip.AddrFrom16(g.As16())
	r := listen(t, mapped, 0, nil)
	if r.LocalAddr().Addr() != g {
		t.Fatalf("LocalAddr %v, want group %v", r.LocalAddr(), g)
	}
}

func TestBufferCapWarnsOnce(t *testing.T) {
	t.Parallel()
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	// Past what even SO_RCVBUFFORCE grants (INT_MAX/2): always capped.
	const want = 1<<31 - 1
	r := listen(t, mcasttest.Group(t), 0, func(c *RecvConfig) { c.ReadBuffer = want; c.Logger = log })
	if r.ReadBuffer() <= 0 || r.ReadBuffer() >= want {
		t.Fatalf("ReadBuffer() = %d, want a capped positive size", r.ReadBuffer())
	}
	out := logs.String()
	if n := strings.Count(out, "level=WARN"); n != 1 {
		t.Fatalf("%d warnings, want 1:\n%s", n, out)
	}
	for _, s := range []string{"requested=2147483647", "sysctl -w net.core.rmem_max=2147483647", r.LocalAddr().String()} {
		if !strings.Contains(out, s) {
			t.Errorf("warning does not say %q:\n%s", s, out)
		}
	}

	// The default size is granted here or warned about; never an error.
	logs.Reset()
	r2 := listen(t, mcasttest.Group(t), 0, func(c *RecvConfig) { c.Logger = log })
	if r2.ReadBuffer() < DefaultReadBuffer && !strings.Contains(logs.String(), "net.core.rmem_max") {
		t.Fatalf("ReadBuffer %d < %d without a warning", r2.ReadBuffer(), DefaultReadBuffer)
	}
}
