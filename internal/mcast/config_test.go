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
		{RecvConfig{Group: g, Interface: "lo", Source: netip.MustParseAddr("239.1.2.3")}, `RecvConfig.Source 239.1.2.3: not a unicast address (multicast)`},
		{RecvConfig{Group: g, Interface: "lo", Source: netip.MustParseAddr("0.0.0.0")}, `RecvConfig.Source 0.0.0.0: not a unicast address (unspecified)`},
		{RecvConfig{Group: g, Interface: "lo", Source: netip.MustParseAddr("255.255.255.255")}, `RecvConfig.Source 255.255.255.255: not a unicast address (broadcast)`},
		{RecvConfig{Group: g, Interface: "lo", Source: netip.MustParseAddr("::1")}, `RecvConfig.Source ::1: not an IPv4 address`},
		{RecvConfig{Group: g, Interface: "lo", Source: netip.MustParseAddr("fe80::1%lo")}, `RecvConfig.Source fe80::1%lo: not an IPv4 address`},
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
		{SendConfig{Group: g, Interface: "lo", Source: netip.MustParseAddr("239.1.2.3")}, `SendConfig.Source 239.1.2.3: not a unicast address (multicast)`},
		{SendConfig{Group: g, Interface: "lo", Source: netip.MustParseAddr("0.0.0.0")}, `SendConfig.Source 0.0.0.0: not a unicast address (unspecified)`},
		{SendConfig{Group: g, Interface: "lo", Source: netip.MustParseAddr("255.255.255.255")}, `SendConfig.Source 255.255.255.255: not a unicast address (broadcast)`},
		{SendConfig{Group: g, Interface: "lo", Source: netip.MustParseAddr("::1")}, `SendConfig.Source ::1: not an IPv4 address`},
		// Valid, but no address of this host: the bind fails and says so.
		{SendConfig{Group: g, Interface: "lo", Source: netip.MustParseAddr("10.255.255.254")}, `bind source 10.255.255.254`},
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

func TestSourceConfig(t *testing.T) {
	t.Parallel()
	g := mcasttest.Group(t)
	// An IPv4-mapped source is accepted as plain IPv4.
	mapped := netip.AddrFrom16(netip.MustParseAddr("127.0.0.1").As16())
	r := listen(t, g, 0, func(c *RecvConfig) { c.Source = mapped })
	if r.Source() != netip.MustParseAddr("127.0.0.1") {
		t.Fatalf("Source() = %v, want 127.0.0.1", r.Source())
	}
	s, err := Dial(SendConfig{Group: r.LocalAddr(), Interface: "lo", Source: mapped})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.LocalAddr().Addr() != netip.MustParseAddr("127.0.0.1") {
		t.Fatalf("sender LocalAddr %v, want 127.0.0.1", s.LocalAddr())
	}
	// Source wins over an interface given by address.
	s2, err := Dial(SendConfig{Group: r.LocalAddr(), Interface: "127.0.0.1", Source: netip.MustParseAddr("127.0.0.2")})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if s2.LocalAddr().Addr() != netip.MustParseAddr("127.0.0.2") {
		t.Fatalf("sender LocalAddr %v, want 127.0.0.2", s2.LocalAddr())
	}

	// A failed source-specific join names group, source and interface (the
	// kernel refuses the same source twice on one socket).
	err = r.join(g)
	if err == nil {
		t.Fatal("second source-specific join succeeded, want an error")
	}
	want := "mcast: join " + g.String() + " source 127.0.0.1 on lo: "
	if !strings.Contains(err.Error(), want) {
		t.Fatalf("join error %q, want it to say %q", err, want)
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
