package impair

import (
	"context"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/tickcast/tickcast/internal/fault"
)

// fates replays the loss and duplication decisions a direction seeded
// seed makes for n packets: 0 lost, 1 passed, 2 duplicated.
func fates(t *testing.T, s Spec, seed int64, n int) []int {
	inj, err := fault.New(s.faults(seed))
	if err != nil {
		t.Fatal(err)
	}
	out := make([]int, n)
	for i := range out {
		out[i] = len(inj.Apply(0, [][]byte{{1}}))
	}
	return out
}

// checkBalance checks the accounting identity of DirStats once nothing is
// held.
func checkBalance(t *testing.T, d DirStats) {
	t.Helper()
	if d.In+d.Duplicated != d.Out+d.Lost+d.Blackholed+d.RateDropped+d.Overflow+d.Failed+uint64(d.InFlight) {
		t.Errorf("stats do not add up: %+v", d)
	}
}

func TestLossIsTheSeedsLoss(t *testing.T) {
	checkGoroutines(t)
	const n, seed = 2000, 42
	spec := Spec{Loss: 0.1}
	up := newSink(t, false)
	p := startProxy(t, Config{Upstream: up.addr(), Spec: spec, Seed: seed})
	c := dial(t, p)
	sendSeq(t, c, p, 0, n, 64)
	want := fates(t, spec, seed, n)
	var lost int
	for _, f := range want {
		if f == 0 {
			lost++
		}
	}
	// Plausible for 10%: the binomial's σ is 13.4 packets.
	if lost < 140 || lost > 260 {
		t.Fatalf("seed %d loses %d of %d at 10%%", seed, lost, n)
	}
	eventually(t, "the packets not lost", func() bool { return up.count() == n-lost })
	st := p.Stats()
	if st.Up.In != n || st.Up.Lost != uint64(lost) || st.Up.Out != uint64(n-lost) || st.Sessions != 1 || st.Opened != 1 {
		t.Fatalf("stats %+v, want %d in, %d lost", st, n, lost)
	}
	checkBalance(t, st.Up)
	for _, a := range up.arrivals() {
		if want[a.seq] == 0 {
			t.Fatalf("packet %d arrived; the seed loses it", a.seq)
		}
	}
}

func TestDup(t *testing.T) {
	checkGoroutines(t)
	const n, seed = 1000, 7
	spec := Spec{Dup: 0.05}
	up := newSink(t, false)
	p := startProxy(t, Config{Upstream: up.addr(), Spec: spec, Seed: seed})
	c := dial(t, p)
	sendSeq(t, c, p, 0, n, 16)
	want := fates(t, spec, seed, n)
	dups := 0
	for _, f := range want {
		if f == 2 {
			dups++
		}
	}
	if dups == 0 {
		t.Fatalf("seed %d duplicates nothing", seed)
	}
	eventually(t, "the packets and their duplicates", func() bool { return up.count() == n+dups })
	seen := map[uint32]int{}
	for _, a := range up.arrivals() {
		seen[a.seq]++
	}
	for i, f := range want {
		if seen[uint32(i)] != f {
			t.Fatalf("packet %d arrived %d times, want %d", i, seen[uint32(i)], f)
		}
	}
	if st := p.Stats().Up; st.Duplicated != uint64(dups) || st.Out != uint64(n+dups) {
		t.Fatalf("stats %+v, want %d duplicated", st, dups)
	}
}

// No packet comes back earlier than its delay: through the proxy to an
// echo server and back is at least twice the delay less the jitter. (A
// lower bound on the monotonic clock, not a speed threshold.)
func TestDelayIsNeverEarly(t *testing.T) {
	checkGoroutines(t)
	const delay, jitter = 20 * time.Millisecond, 5 * time.Millisecond
	echo := newSink(t, true)
	p := startProxy(t, Config{Upstream: echo.addr(), Spec: Spec{Delay: delay, Jitter: jitter}, Seed: 1})
	c := dial(t, p)
	buf := make([]byte, 64)
	for i := range 20 {
		binary.BigEndian.PutUint32(buf, uint32(i))
		sent := time.Now()
		if _, err := c.Write(buf); err != nil {
			t.Fatal(err)
		}
		c.SetReadDeadline(time.Now().Add(deadline))
		n, err := c.Read(buf)
		if err != nil {
			t.Fatal(err)
		}
		if rtt := time.Since(sent); rtt < 2*(delay-jitter) {
			t.Fatalf("packet %d back after %v, before twice the delay less the jitter %v", i, rtt, 2*(delay-jitter))
		}
		if got := binary.BigEndian.Uint32(buf[:n]); got != uint32(i) {
			t.Fatalf("packet %d came back as %d", i, got)
		}
	}
	eventually(t, "the stats", func() bool { st := p.Stats(); return st.Up.Out == 20 && st.Down.Out == 20 })
}

func TestReorder(t *testing.T) {
	checkGoroutines(t)
	const n, seed = 100, 3
	// A second's extra delay: the rest of the burst overtakes a reordered
	// packet unless the machine stalls for a second.
	spec := Spec{Reorder: 0.1, ReorderExtra: time.Second}
	up := newSink(t, false)
	p := startProxy(t, Config{Upstream: up.addr(), Spec: spec, Seed: seed})
	c := dial(t, p)
	buf := make([]byte, 16)
	for i := range n {
		binary.BigEndian.PutUint32(buf, uint32(i))
		if _, err := c.Write(buf); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, "every packet", func() bool { return up.count() == n })
	rng := rand.New(rand.NewPCG(uint64(seed), 0x696d70616972))
	want := 0
	for range n {
		if rng.Float64() < spec.Reorder {
			want++
		}
	}
	if st := p.Stats().Up; st.Reordered != uint64(want) || want == 0 {
		t.Fatalf("reordered %d, the seed reorders %d", st.Reordered, want)
	}
	inversions := 0
	got := up.arrivals()
	for i := 1; i < len(got); i++ {
		if got[i].seq < got[i-1].seq {
			inversions++
		}
	}
	if inversions == 0 {
		t.Fatalf("no packet overtook another")
	}
}

func TestBlackhole(t *testing.T) {
	checkGoroutines(t)
	echo := newSink(t, true)
	p := startProxy(t, Config{Upstream: echo.addr(), Seed: 1})
	c := dial(t, p)
	sendSeq(t, c, p, 0, 1, 16) // opens the session
	eventually(t, "the echo", func() bool { return p.Stats().Down.Out == 1 })

	p.SetBlackhole(true)
	if !p.Blackhole() {
		t.Fatal("Blackhole() = false after SetBlackhole(true)")
	}
	sendSeq(t, c, p, 1, 10, 16)
	if st := p.Stats().Up; st.Blackholed != 10 || st.Out != 1 {
		t.Fatalf("blackholed up: %+v", st)
	}
	// Down too: the upstream's packets vanish.
	echo.conn.WriteToUDPAddrPort([]byte("late"), echo.arrivals()[0].from)
	eventually(t, "the down blackhole", func() bool { return p.Stats().Down.Blackholed == 1 })

	p.SetBlackhole(false)
	sendSeq(t, c, p, 11, 10, 16)
	eventually(t, "the echoes after the blackhole", func() bool { return p.Stats().Down.Out == 11 })
	if n := echo.count(); n != 11 {
		t.Fatalf("upstream got %d packets, want 11", n)
	}
}

// Held packets that come due in a blackhole are dropped too.
func TestBlackholeDropsHeld(t *testing.T) {
	checkGoroutines(t)
	up := newSink(t, false)
	p := startProxy(t, Config{Upstream: up.addr(), Spec: Spec{Delay: 2 * time.Second}, Seed: 1})
	c := dial(t, p)
	sendSeq(t, c, p, 0, 5, 16)
	p.SetBlackhole(true)
	eventually(t, "the held packets to come due", func() bool { return p.Stats().Up.Blackholed == 5 })
	if st := p.Stats().Up; st.Out != 0 || st.InFlight != 0 {
		t.Fatalf("stats %+v", st)
	}
}

// The rate cap keeps what fits its queue and drops the rest; counts, not
// times: at 1 byte/s the queue does not drain during the test.
func TestRateCapDropsWhatTheQueueCannotHold(t *testing.T) {
	checkGoroutines(t)
	up := newSink(t, false)
	p := startProxy(t, Config{Upstream: up.addr(), Spec: Spec{Rate: 1, Queue: 1000}, Seed: 1})
	c := dial(t, p)
	sendSeq(t, c, p, 0, 30, 100)
	st := p.Stats().Up
	if st.RateDropped != 20 || st.InFlight != 10 || st.QueuedBytes < 900 || st.QueuedBytes > 1000 || st.Out > 1 {
		t.Fatalf("stats %+v, want 20 rate-dropped, 10 queued", st)
	}
	checkBalance(t, st)

	// A faster cap: what fits the queue all goes through, in order.
	fast, err := ParseSpec("rate=1MB/s,queue=64KiB")
	if err != nil {
		t.Fatal(err)
	}
	if err := p.SetSpec(Up, fast); err != nil {
		t.Fatal(err)
	}
	if p.Spec(Up) != fast || p.Spec(Down) != (Spec{Rate: 1, Queue: 1000}) {
		t.Fatalf("specs %v / %v", p.Spec(Up), p.Spec(Down))
	}
	sendSeq(t, c, p, 100, 32, 1000)
	eventually(t, "the fast packets", func() bool { return up.count() >= 32 })
	got := up.arrivals()
	for i, a := range got[len(got)-32:] {
		if a.seq != uint32(100+i) {
			t.Fatalf("arrival %d is packet %d, want %d", i, a.seq, 100+i)
		}
	}
}

func TestOverflow(t *testing.T) {
	checkGoroutines(t)
	up := newSink(t, false)
	p := startProxy(t, Config{Upstream: up.addr(), Spec: Spec{Delay: 10 * time.Second}, MaxInFlight: 8, Seed: 1})
	c := dial(t, p)
	sendSeq(t, c, p, 0, 20, 16)
	if st := p.Stats().Up; st.Overflow != 12 || st.InFlight != 8 {
		t.Fatalf("stats %+v, want 12 overflow, 8 in flight", st)
	}
}

// Each client has its own upstream socket: replies find their client.
func TestClientsKeepTheirReplies(t *testing.T) {
	checkGoroutines(t)
	echo := newSink(t, true)
	p := startProxy(t, Config{Upstream: echo.addr(), Seed: 1})
	c1, c2 := dial(t, p), dial(t, p)
	for i, c := range []*net.UDPConn{c1, c2} {
		if _, err := c.Write([]byte{0, 0, 0, byte(i)}); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 16)
		c.SetReadDeadline(time.Now().Add(deadline))
		n, err := c.Read(buf)
		if err != nil || n != 4 || buf[3] != byte(i) {
			t.Fatalf("client %d: %v %v", i, buf[:n], err)
		}
	}
	if st := p.Stats(); st.Sessions != 2 || st.Opened != 2 {
		t.Fatalf("stats %+v", st)
	}
	from := map[string]bool{}
	for _, a := range echo.arrivals() {
		from[a.from.String()] = true
	}
	if len(from) != 2 {
		t.Fatalf("upstream saw %v, want two sources", from)
	}
}

func TestIdleSessionsExpire(t *testing.T) {
	checkGoroutines(t)
	up := newSink(t, false)
	p := startProxy(t, Config{Upstream: up.addr(), IdleTimeout: 20 * time.Millisecond, Seed: 1})
	c := dial(t, p)
	sendSeq(t, c, p, 0, 1, 16)
	eventually(t, "the session to expire", func() bool { st := p.Stats(); return st.Expired == 1 && st.Sessions == 0 })
	sendSeq(t, c, p, 1, 1, 16) // a new session
	eventually(t, "the second packet", func() bool { return up.count() == 2 })
	if st := p.Stats(); st.Opened != 2 {
		t.Fatalf("stats %+v", st)
	}
}

func TestMaxSessions(t *testing.T) {
	checkGoroutines(t)
	up := newSink(t, false)
	p := startProxy(t, Config{Upstream: up.addr(), MaxSessions: 1, Seed: 1})
	c1, c2 := dial(t, p), dial(t, p)
	sendSeq(t, c1, p, 0, 1, 16)
	if _, err := c2.Write([]byte("nope")); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the refusal", func() bool { return p.Stats().Refused == 1 })
}

func TestCloseIsIdempotent(t *testing.T) {
	checkGoroutines(t)
	up := newSink(t, false)
	p, err := New(Config{Listen: "127.0.0.1:0", Upstream: up.addr(), Spec: Spec{Delay: time.Second}, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- p.Run(context.Background()) }()
	c := dial(t, p)
	sendSeq(t, c, p, 0, 5, 16) // held when the proxy closes
	if err := p.Run(context.Background()); err == nil || !strings.Contains(err.Error(), "twice") {
		t.Fatalf("second Run: %v", err)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	if err := p.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}

	// Closed before running: Run refuses.
	q, err := New(Config{Listen: "127.0.0.1:0", Upstream: up.addr()})
	if err != nil {
		t.Fatal(err)
	}
	q.Close()
	if err := q.Run(context.Background()); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Run after Close: %v", err)
	}
}

func TestConfigErrors(t *testing.T) {
	bad := Spec{Loss: 2}
	for _, tc := range []struct {
		cfg  Config
		want string
	}{
		{Config{Upstream: "127.0.0.1:1"}, "Listen is required"},
		{Config{Listen: "127.0.0.1:0"}, "Upstream is required"},
		{Config{Listen: "127.0.0.1:0", Upstream: "127.0.0.1:1", Up: &bad}, "Up: impair: loss"},
		{Config{Listen: "127.0.0.1:0", Upstream: "127.0.0.1:1", MaxInFlight: -1}, "MaxInFlight -1"},
		{Config{Listen: "127.0.0.1:0", Upstream: "127.0.0.1:1", IdleTimeout: -1}, "IdleTimeout -1ns"},
		{Config{Listen: "127.0.0.1:0", Upstream: "nohost:x"}, `upstream "nohost:x"`},
	} {
		if _, err := New(tc.cfg); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want %q", tc.cfg, err, tc.want)
		}
	}
	p, err := New(Config{Listen: "127.0.0.1:0", Upstream: "127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if err := p.SetSpec(Both, bad); err == nil {
		t.Error("SetSpec took a bad spec")
	}
	if err := p.SetSpec(Dir(4), Spec{}); err == nil {
		t.Error("SetSpec took a bad direction")
	}
}

// A per-direction spec overrides Spec for its direction only.
func TestPerDirectionSpec(t *testing.T) {
	checkGoroutines(t)
	echo := newSink(t, true)
	all := Spec{Loss: 1}
	p := startProxy(t, Config{Upstream: echo.addr(), Spec: Spec{}, Down: &all, Seed: 1})
	c := dial(t, p)
	sendSeq(t, c, p, 0, 10, 16)
	eventually(t, "the echoes to be lost", func() bool { return p.Stats().Down.Lost == 10 })
	if st := p.Stats(); st.Up.Out != 10 || st.Down.Out != 0 {
		t.Fatalf("stats %+v", st)
	}
}
