package gap

import (
	"net/netip"
	"testing"
	"time"

	"github.com/tickcast/tickcast/wire"
)

func TestPolicyDefaultsAndValidation(t *testing.T) {
	p, err := NewPolicy(PolicyConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if m, b := p.Caps(); m != DefaultServerMessages || b != DefaultServerBytes {
		t.Errorf("caps %d %d", m, b)
	}
	if !p.IsAllowed(netip.MustParseAddr("127.1.2.3")) || !p.IsAllowed(netip.MustParseAddr("::1")) ||
		!p.IsAllowed(netip.MustParseAddr("::ffff:127.0.0.1")) || p.IsAllowed(netip.MustParseAddr("10.0.0.1")) {
		t.Error("default allowlist is not loopback only")
	}
	for name, cfg := range map[string]PolicyConfig{
		"bad prefix":     {Allowed: []netip.Prefix{{}}},
		"small bytes":    {MaxBytes: 1000},
		"negative msgs":  {MaxMessages: -1},
		"negative rate":  {Rate: -1},
		"negative burst": {Burst: -1},
		"negative table": {MaxRequesters: -1},
	} {
		if _, err := NewPolicy(cfg); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestPolicyAdmit(t *testing.T) {
	p, err := NewPolicy(PolicyConfig{
		Allowed:     []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")},
		MaxMessages: 100, Rate: 1000, Burst: 250, MaxRequesters: 2,
	})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1000, 0)
	a, b := netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2")
	if n, r, _ := p.Admit(netip.MustParseAddr("127.0.0.1"), now); n != 0 || r != wire.RejectNotAllowed {
		t.Errorf("outside the allowlist: %d %v", n, r)
	}
	// The per-answer cap, then the bucket.
	for i, want := range []int{100, 100, 50} {
		n, r, _ := p.Admit(a, now)
		if n != want || r != 0 {
			t.Fatalf("admit %d: %d %v, want %d", i, n, r, want)
		}
		p.Charge(a, n, now)
	}
	n, r, retry := p.Admit(a, now)
	if n != 0 || r != wire.RejectRateLimited || retry != 1 {
		t.Errorf("empty bucket: %d %v retry %d, want rate limited after 1 ms", n, r, retry)
	}
	if n, _, _ := p.Admit(a, now.Add(10*time.Millisecond)); n != 10 {
		t.Errorf("after 10 ms: %d, want 10", n)
	}
	// Another requester has its own bucket; a third evicts the oldest.
	if n, _, _ := p.Admit(b, now); n != 100 {
		t.Errorf("second requester: %d", n)
	}
	p.Admit(netip.MustParseAddr("10.0.0.3"), now)
	if p.requesters() != 2 {
		t.Errorf("tracking %d requesters, want 2", p.requesters())
	}
	if n, _, _ := p.Admit(a, now); n != 100 {
		t.Errorf("forgotten requester comes back with a full bucket: %d", n)
	}
}

// One Server answers several channels, which can be added and removed.
func TestServerSeveralChannels(t *testing.T) {
	t.Parallel()
	c1, c2 := testCacheRange(t, 1, 101, 10), testCacheRange(t, 1, 101, 10)
	s := startServer(t, ServerConfig{Caches: map[uint16]*Cache{1: c1}})
	if err := s.Add(2, c2); err != nil {
		t.Fatal(err)
	}
	if err := s.Add(3, nil); err == nil {
		t.Error("Add of a nil cache accepted")
	}
	c, rec := startClient(t, s.LocalAddr())
	request(t, c, 1, testSessionUDP, 1, 10)
	request(t, c, 2, testSessionUDP, 11, 10)
	waitFor(t, "20 messages", func() bool { return rec.messages() >= 20 })
	s.Remove(2)
	request(t, c, 2, testSessionUDP, 1, 10)
	waitFor(t, "a reject", func() bool { return rec.rejectCount() == 1 })
	seqs, rejects, err := rec.snapshot()
	if err != nil {
		t.Fatal(err)
	}
	if len(seqs) != 20 || rejects[0].Reason != wire.RejectUnknownSession || rejects[0].Channel != 2 {
		t.Errorf("seqs %v rejects %+v", seqs, rejects)
	}
}
