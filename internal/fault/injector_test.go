package fault

import (
	"bytes"
	"encoding/binary"
	"math"
	"sync"
	"testing"
	"time"
)

// pkts returns n packets carrying their index, each 16 bytes.
func pkts(n int) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		out[i] = make([]byte, 16)
		binary.LittleEndian.PutUint64(out[i], uint64(i))
		binary.LittleEndian.PutUint64(out[i][8:], ^uint64(i))
	}
	return out
}

func seq(p []byte) uint64 { return binary.LittleEndian.Uint64(p) }

// run passes in through a new injector for cfg in batches of batch packets
// (now advancing 1µs per batch), drains it, and returns copies of
// everything that came out, in order, with the final stats.
func run(t testing.TB, cfg Config, in [][]byte, batch int) ([][]byte, Stats) {
	t.Helper()
	inj, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	var now int64
	for off := 0; off < len(in); off += batch {
		now += int64(time.Microsecond)
		for _, p := range inj.Apply(now, in[off:min(off+batch, len(in))]) {
			out = append(out, bytes.Clone(p))
		}
	}
	for _, p := range inj.Drain(math.MaxInt64) {
		out = append(out, bytes.Clone(p))
	}
	st := inj.Stats()
	checkBalance(t, st)
	if st.Held != 0 {
		t.Fatalf("%d packets still held after Drain(MaxInt64)", st.Held)
	}
	if st.Passed != uint64(len(out)) {
		t.Fatalf("Passed = %d, but %d packets came out", st.Passed, len(out))
	}
	return out, st
}

// checkBalance: every packet is accounted for.
func checkBalance(t testing.TB, st Stats) {
	t.Helper()
	if st.In+st.Duplicated != st.Passed+st.Dropped+st.Held {
		t.Fatalf("stats do not balance: %+v", st)
	}
}

// within fails unless lo <= v <= hi: bands are many standard deviations
// wide, so a fixed seed passing once passes always and a bug still shows.
func within(t *testing.T, what string, v, lo, hi uint64) {
	t.Helper()
	if v < lo || v > hi {
		t.Fatalf("%s = %d, want %d..%d", what, v, lo, hi)
	}
}

func TestNoFaultsLoseNothing(t *testing.T) {
	in := pkts(10_000)
	out, st := run(t, Config{Seed: 1}, in, 64)
	if len(out) != len(in) {
		t.Fatalf("%d of %d packets came out", len(out), len(in))
	}
	for i := range in {
		if !bytes.Equal(out[i], in[i]) {
			t.Fatalf("packet %d changed", i)
		}
	}
	if st.Dropped+st.Duplicated+st.Reordered+st.Delayed != 0 {
		t.Fatalf("faults without a fault configured: %+v", st)
	}
	// Zero rates with explicit depth and length configured change nothing either.
	out, _ = run(t, Config{BurstLen: 5, ReorderDepth: 3}, in, 7)
	if len(out) != len(in) {
		t.Fatalf("%d of %d packets came out", len(out), len(in))
	}
}

func TestDropRate(t *testing.T) {
	const n = 100_000
	out, st := run(t, Config{DropRate: 0.1, Seed: 7}, pkts(n), 64)
	// Binomial(100k, 0.1): mean 10000, sd 95.
	within(t, "Dropped", st.Dropped, 9000, 11000)
	if uint64(len(out)) != n-st.Dropped {
		t.Fatalf("%d came out, %d dropped, of %d", len(out), st.Dropped, n)
	}
	for i := 1; i < len(out); i++ {
		if seq(out[i]) <= seq(out[i-1]) {
			t.Fatalf("loss reordered packets: %d after %d", seq(out[i]), seq(out[i-1]))
		}
	}
}

func TestBurstLoss(t *testing.T) {
	const n, burst = 200_000, 20
	out, st := run(t, Config{BurstRate: 0.001, BurstLen: burst, Seed: 3}, pkts(n), 64)
	// About 1.96% lost, in runs of at least BurstLen (two bursts may touch).
	within(t, "Dropped", st.Dropped, 2000, 6000)
	next := uint64(0)
	for _, p := range out {
		if gap := seq(p) - next; gap != 0 && gap < burst {
			t.Fatalf("a run of %d lost before packet %d, want at least %d", gap, seq(p), burst)
		}
		next = seq(p) + 1
	}
}

func TestDuplicates(t *testing.T) {
	const n = 100_000
	in := pkts(n)
	out, st := run(t, Config{DupRate: 0.05, Seed: 11}, in, 64)
	within(t, "Duplicated", st.Duplicated, 4000, 6000)
	if uint64(len(out)) != n+st.Duplicated {
		t.Fatalf("%d came out, want %d + %d duplicates", len(out), n, st.Duplicated)
	}
	// Each packet in order, its duplicate (an exact copy) right after it.
	k, dups := 0, uint64(0)
	for i := range in {
		if !bytes.Equal(out[k], in[i]) {
			t.Fatalf("output %d is packet %d, want %d", k, seq(out[k]), i)
		}
		k++
		if k < len(out) && bytes.Equal(out[k], in[i]) {
			k++
			dups++
		}
	}
	if dups != st.Duplicated {
		t.Fatalf("%d duplicates seen, Duplicated = %d", dups, st.Duplicated)
	}
}

func TestReorder(t *testing.T) {
	const n, depth = 100_000, 3
	in := pkts(n)
	out, st := run(t, Config{ReorderRate: 0.02, ReorderDepth: depth, Seed: 5}, in, 64)
	within(t, "Reordered", st.Reordered, 1500, 2500)
	if len(out) != n {
		t.Fatalf("%d of %d came out", len(out), n)
	}
	// Every packet comes out once, intact. A reordered packet is overtaken
	// by at most depth later packets, and exactly depth unless some of those
	// were held themselves; no other packet is overtaken.
	seen := make([]bool, n)
	var maxSeen uint64
	var overtaken, exact uint64
	for i, p := range out {
		s := seq(p)
		if seen[s] || !bytes.Equal(p, in[s]) {
			t.Fatalf("output %d: packet %d repeated or changed", i, s)
		}
		seen[s] = true
		if i > 0 && maxSeen > s {
			by := uint64(0)
			for _, q := range out[max(0, i-depth-1):i] {
				if seq(q) > s {
					by++
				}
			}
			if by > depth {
				t.Fatalf("packet %d overtaken by %d, depth is %d", s, by, depth)
			}
			if by == depth {
				exact++
			}
			overtaken++
		}
		maxSeen = max(maxSeen, s)
	}
	if overtaken != st.Reordered {
		t.Fatalf("%d packets overtaken, Reordered = %d", overtaken, st.Reordered)
	}
	if exact < overtaken*9/10 {
		t.Fatalf("only %d of %d reordered packets overtaken by exactly %d", exact, overtaken, depth)
	}
}

func TestReorderedReleasedByDrain(t *testing.T) {
	inj, err := New(Config{ReorderRate: 1, ReorderDepth: 4})
	if err != nil {
		t.Fatal(err)
	}
	in := pkts(3)
	if out := inj.Apply(0, in); len(out) != 0 {
		t.Fatalf("%d packets out, want all 3 held behind 4 that never came", len(out))
	}
	// The input buffers are the caller's: scribbling on them must not
	// change what the injector holds.
	for _, p := range in {
		clear(p)
	}
	if st := inj.Stats(); st.Held != 3 || st.Reordered != 3 {
		t.Fatalf("stats %+v, want 3 held and reordered", st)
	}
	if out := inj.Drain(1 << 62); len(out) != 0 {
		t.Fatalf("a finite Drain released %d reordered packets", len(out))
	}
	out := inj.Drain(math.MaxInt64)
	want := pkts(3)
	if len(out) != 3 {
		t.Fatalf("Drain(MaxInt64) released %d, want 3", len(out))
	}
	for i := range out {
		if !bytes.Equal(out[i], want[i]) {
			t.Fatalf("released packet %d = %x, want %x", i, out[i], want[i])
		}
	}
	checkBalance(t, inj.Stats())
}

func TestDelay(t *testing.T) {
	const ms = int64(time.Millisecond)
	inj, err := New(Config{Delay: 2 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	in := pkts(20)
	if out := inj.Apply(0, in[:10]); len(out) != 0 {
		t.Fatalf("%d out at once, want all delayed", len(out))
	}
	for _, p := range in[:10] {
		clear(p) // the caller reuses its buffers
	}
	if out := inj.Apply(1*ms, in[10:]); len(out) != 0 {
		t.Fatalf("%d out after 1ms, want none due", len(out))
	}
	if due, ok := inj.NextDue(); !ok || due != 2*ms {
		t.Fatalf("NextDue = %d, %v; want 2ms", due, ok)
	}
	want := pkts(20)
	out := inj.Drain(2 * ms)
	if len(out) != 10 {
		t.Fatalf("Drain(2ms) released %d, want the first 10", len(out))
	}
	for i := range out {
		if !bytes.Equal(out[i], want[i]) {
			t.Fatalf("packet %d released as %x, want %x", i, out[i], want[i])
		}
	}
	out = inj.Apply(3*ms, nil)
	if len(out) != 10 || seq(out[0]) != 10 || seq(out[9]) != 19 {
		t.Fatalf("Apply at 3ms released %d packets, want 10..19", len(out))
	}
	if _, ok := inj.NextDue(); ok {
		t.Fatal("NextDue reports a packet with none held")
	}
	st := inj.Stats()
	checkBalance(t, st)
	if st.Delayed != 20 || st.Passed != 20 || st.Held != 0 {
		t.Fatalf("stats %+v", st)
	}
}

func TestKillRevive(t *testing.T) {
	inj, err := New(Config{Delay: time.Millisecond, ReorderRate: 0.5, DupRate: 0.5, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	inj.Apply(0, pkts(100)) // some held for reorder, the rest for delay
	if inj.Stats().Held == 0 {
		t.Fatal("nothing held")
	}
	inj.Kill()
	if !inj.Dead() {
		t.Fatal("Dead() = false after Kill")
	}
	if out := inj.Apply(int64(time.Hour), pkts(50)); len(out) != 0 {
		t.Fatalf("a dead line passed %d packets", len(out))
	}
	if out := inj.Drain(math.MaxInt64); len(out) != 0 {
		t.Fatalf("a dead line drained %d packets", len(out))
	}
	st := inj.Stats()
	checkBalance(t, st)
	if st.Passed != 0 || st.Held != 0 || st.Dropped != st.In+st.Duplicated {
		t.Fatalf("stats after kill %+v, want everything dropped", st)
	}

	inj.Revive()
	if inj.Dead() {
		t.Fatal("Dead() = true after Revive")
	}
	inj.Apply(int64(time.Hour), pkts(100))
	out := inj.Drain(math.MaxInt64)
	if len(out) < 100 {
		t.Fatalf("revived line passed %d of 100 (plus duplicates)", len(out))
	}
	checkBalance(t, inj.Stats())
}

func TestKillFromAnotherGoroutine(t *testing.T) {
	inj, err := New(Config{DropRate: 0.01})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
				inj.Kill()
				inj.Revive()
				_ = inj.Stats()
			}
		}
	})
	in := pkts(64)
	for k := range 2000 {
		inj.Apply(int64(k), in)
	}
	close(stop)
	wg.Wait()
	checkBalance(t, inj.Stats())
}

func TestDeterministic(t *testing.T) {
	cfg := Config{DropRate: 0.05, BurstRate: 0.002, BurstLen: 5, DupRate: 0.05, ReorderRate: 0.05, ReorderDepth: 2, Seed: 42}
	in := pkts(20_000)
	a, _ := run(t, cfg, in, 64)
	// The same seed gives the same faults however the packets are batched.
	for _, batch := range []int{1, 7, 1000} {
		b, _ := run(t, cfg, in, batch)
		if len(a) != len(b) {
			t.Fatalf("batches of %d: %d out, want %d", batch, len(b), len(a))
		}
		for i := range a {
			if !bytes.Equal(a[i], b[i]) {
				t.Fatalf("batches of %d: output %d is packet %d, want %d", batch, i, seq(b[i]), seq(a[i]))
			}
		}
	}
	cfg.Seed = 43
	c, _ := run(t, cfg, in, 64)
	same := len(a) == len(c)
	for i := 0; same && i < len(a); i++ {
		same = bytes.Equal(a[i], c[i])
	}
	if same {
		t.Fatal("seeds 42 and 43 gave identical faults")
	}
}

func TestApplyNoAllocs(t *testing.T) {
	in := pkts(64)
	for _, cfg := range []Config{
		{},
		{DropRate: 0.1, DupRate: 0.1, Seed: 1},
		{DropRate: 0.01, BurstRate: 0.001, BurstLen: 10, DupRate: 0.01, ReorderRate: 0.05, ReorderDepth: 3, Delay: time.Millisecond, Seed: 1},
	} {
		inj, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		var now int64
		step := func() {
			now += int64(50 * time.Microsecond)
			inj.Apply(now, in)
		}
		for range 1000 { // warm up: queues and buffers reach their steady size
			step()
		}
		if a := testing.AllocsPerRun(1000, step); a != 0 {
			t.Errorf("Apply with %v: %v allocs, want 0", cfg, a)
		}
	}
}

func TestNewValidates(t *testing.T) {
	for _, tc := range []struct {
		cfg  Config
		want string
	}{
		{Config{DropRate: 1.5}, "fault: DropRate 1.5: out of range 0..1"},
		{Config{DupRate: -0.1}, "fault: DupRate -0.1: out of range 0..1"},
		{Config{ReorderRate: math.NaN()}, "fault: ReorderRate NaN: out of range 0..1"},
		{Config{BurstRate: 0.1}, "fault: BurstLen 0: must be at least 1 when BurstRate is set"},
		{Config{BurstLen: -1}, "fault: BurstLen -1: must be at least 1 when BurstRate is set"},
		{Config{ReorderDepth: -1}, "fault: ReorderDepth -1: out of range 0..65536"},
		{Config{Delay: -time.Millisecond}, "fault: Delay -1ms: out of range 0..10s"},
		{Config{Delay: time.Minute}, "fault: Delay 1m0s: out of range 0..10s"},
	} {
		if _, err := New(tc.cfg); err == nil || err.Error() != tc.want {
			t.Errorf("New(%+v) = %v, want %q", tc.cfg, err, tc.want)
		}
	}
}

// BenchmarkApply passes batches of 64 packets of 200 bytes.
func BenchmarkApply(b *testing.B) {
	in := make([][]byte, 64)
	for i := range in {
		in[i] = make([]byte, 200)
	}
	for _, bc := range []struct {
		name string
		cfg  Config
	}{
		{"none", Config{}},
		{"drop+dup", Config{DropRate: 0.01, DupRate: 0.01}},
		{"all", Config{DropRate: 0.01, BurstRate: 0.001, BurstLen: 20, DupRate: 0.01, ReorderRate: 0.01, ReorderDepth: 3, Delay: time.Millisecond}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			inj, err := New(bc.cfg)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			var now int64
			for b.Loop() {
				now += int64(10 * time.Microsecond)
				inj.Apply(now, in)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(in)), "ns/packet")
		})
	}
}
