package egress_test

import (
	"bytes"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tickcast/tickcast/egress"
	"github.com/tickcast/tickcast/gap"
	"github.com/tickcast/tickcast/internal/mcast"
	"github.com/tickcast/tickcast/internal/mcast/mcasttest"
	"github.com/tickcast/tickcast/wire"
)

const session = 7

// packet returns a data packet of n LevelUpdates (40 bytes each) from seq.
func packet(seq uint64, n int, sendTime int64) []byte {
	var pb wire.Builder
	h := wire.Header{Session: session, Seq: seq, SendTime: sendTime}
	pb.Reset(nil, wire.MaxJumboPacket, h)
	for i := 0; i < n; i++ {
		wire.Add(&pb, wire.LevelUpdate{Instrument: 1, Price: int64(seq) + int64(i), Qty: 1})
	}
	return pb.Finish(sendTime)
}

// batch returns count packets of per messages each, sequences from 1.
func batch(count, per int) [][]byte {
	var pkts [][]byte
	seq := uint64(1)
	for i := 0; i < count; i++ {
		pkts = append(pkts, packet(seq, per, 1234567))
		seq += uint64(per)
	}
	return pkts
}

// recorder is a Sink that keeps copies of what it gets, in order.
type recorder struct {
	mu   sync.Mutex
	pkts [][]byte
}

func (r *recorder) Publish(_ uint16, pkt []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.pkts = append(r.pkts, bytes.Clone(pkt))
}

func listen(t *testing.T, g mcast.RecvConfig) *mcast.Receiver {
	t.Helper()
	r, err := mcast.Listen(g)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// receive reads n datagrams from r (generous deadline), copies.
func receive(t *testing.T, r *mcast.Receiver, n int) [][]byte {
	t.Helper()
	var got [][]byte
	deadline := time.Now().Add(10 * time.Second)
	for len(got) < n {
		r.SetReadDeadline(deadline)
		ds, err := r.ReadBatch()
		if err != nil {
			t.Fatalf("after %d of %d datagrams: %v", len(got), n, err)
		}
		for _, d := range ds {
			got = append(got, bytes.Clone(d.Data))
		}
	}
	return got
}

type rig struct {
	e    *egress.Egress
	recv []*mcast.Receiver
	sink *recorder
}

func newRig(t testing.TB, nlines int, mod func(*egress.Config)) *rig {
	t.Helper()
	r := &rig{sink: &recorder{}}
	cfg := egress.Config{Channel: 3, Sink: r.sink}
	for i := 0; i < nlines; i++ {
		g := mcasttest.FreeGroup(t)
		cfg.Lines = append(cfg.Lines, egress.Line{Name: string(rune('A' + i)), Group: g, Interface: mcasttest.Interface, Loopback: true})
		if tt, ok := t.(*testing.T); ok {
			r.recv = append(r.recv, listen(tt, mcast.RecvConfig{Group: g, Interface: mcasttest.Interface}))
		}
	}
	if mod != nil {
		mod(&cfg)
	}
	e, err := egress.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	r.e = e
	return r
}

func TestSendEveryLineInOrder(t *testing.T) {
	r := newRig(t, 2, nil)
	pkts := batch(40, 5)
	r.e.Send(pkts)
	for i, rc := range r.recv {
		got := receive(t, rc, len(pkts))
		for j := range pkts {
			if !bytes.Equal(got[j], pkts[j]) {
				t.Fatalf("line %d packet %d differs", i, j)
			}
		}
	}
	if len(r.sink.pkts) != len(pkts) {
		t.Fatalf("sink got %d packets, want %d", len(r.sink.pkts), len(pkts))
	}
	st := r.e.Stats()
	for _, l := range st.Lines {
		if l.Packets != uint64(len(pkts)) {
			t.Errorf("line %s: %d packets, want %d", l.Name, l.Packets, len(pkts))
		}
	}
}

// TestInterleaving checks the chunking: the sink sees each chunk after the
// lines sent it, so after the first 16 the lines have 16 each, not all.
func TestInterleaving(t *testing.T) {
	var counts [][2]uint64
	var e *egress.Egress
	sink := sinkFunc(func(uint16, []byte) {
		st := e.Stats()
		counts = append(counts, [2]uint64{st.Lines[0].Packets, st.Lines[1].Packets})
	})
	r := newRig(t, 2, func(c *egress.Config) { c.Sink = sink })
	e = r.e
	r.e.Send(batch(40, 1))
	want := []uint64{16, 32, 40}
	for i, c := range counts {
		w := want[i/16]
		if c[0] != w || c[1] != w {
			t.Fatalf("sink packet %d: lines had sent %v, want %d each", i, c, w)
		}
	}
	if len(counts) != 40 {
		t.Fatalf("sink got %d", len(counts))
	}
}

type sinkFunc func(uint16, []byte)

func (f sinkFunc) Publish(c uint16, p []byte) { f(c, p) }

func TestSplit(t *testing.T) {
	r := newRig(t, 1, func(c *egress.Config) { c.MaxPacket = 200 })
	big := packet(10, 20, 987654321) // 20*40 bytes of messages: split into parts of 4
	r.e.Send([][]byte{big})
	got := receive(t, r.recv[0], 5)
	next := uint64(10)
	for _, b := range got {
		p, err := wire.Parse(b)
		if err != nil {
			t.Fatal(err)
		}
		if len(b) > 200 || p.Seq != next || p.SendTime != 987654321 {
			t.Fatalf("part len %d seq %d sendtime %d, want seq %d", len(b), p.Seq, p.SendTime, next)
		}
		next += uint64(p.Count)
	}
	if next != 30 {
		t.Fatalf("parts cover up to %d, want 30", next)
	}
	if s := r.e.Stats().Split; s != 1 {
		t.Fatalf("Split = %d", s)
	}
}

func TestCacheBeforeWire(t *testing.T) {
	cache, err := gap.NewCache(gap.CacheConfig{})
	if err != nil {
		t.Fatal(err)
	}
	fetched := 0
	var sink sinkFunc = func(_ uint16, pkt []byte) {
		p, _ := wire.Parse(pkt)
		// The lines sent this packet already; the cache must hold it.
		n, _, err := cache.Fetch(session, p.Seq, uint32(p.Count), 0, 0, func([]byte) error { return nil })
		if err != nil || n != uint32(p.Count) {
			t.Errorf("seq %d: fetched %d of %d (%v)", p.Seq, n, p.Count, err)
		}
		fetched++
	}
	r := newRig(t, 1, func(c *egress.Config) { c.Cache = cache; c.Sink = sink })
	r.e.Send(batch(20, 3))
	if fetched != 20 {
		t.Fatalf("checked %d", fetched)
	}
	// A heartbeat is not cached.
	hb := wire.Header{Flags: wire.FlagHeartbeat, Session: session, Seq: 61}.Append(nil)
	r.e.SendControl(hb)
	if _, next := cache.Bounds(); next != 61 {
		t.Fatalf("cache next %d after heartbeat, want 61", next)
	}
}

func TestKillLine(t *testing.T) {
	r := newRig(t, 2, nil)
	r.e.KillLine(0, true)
	r.e.Send(batch(5, 1))
	st := r.e.Stats()
	if st.Lines[0].Packets != 0 || !st.Lines[0].Killed || st.Lines[0].KilledPackets != 5 || st.Lines[1].Packets != 5 {
		t.Fatalf("stats %+v", st.Lines)
	}
	r.e.KillLine(0, false)
	r.e.Send(batch(1, 1))
	got := receive(t, r.recv[0], 1)
	if p, _ := wire.Parse(got[0]); p.Seq != 1 || len(r.sink.pkts) != 6 {
		t.Fatalf("revived line got seq %d first", p.Seq)
	}
}

func TestConfigErrors(t *testing.T) {
	g := mcasttest.FreeGroup(t)
	ok := egress.Line{Group: g, Interface: "lo"}
	for _, c := range []struct {
		cfg  egress.Config
		want string
	}{
		{egress.Config{}, "no Lines and no Sink"},
		{egress.Config{Lines: []egress.Line{{Interface: "lo"}}}, "group is required"},
		{egress.Config{Lines: []egress.Line{{Group: mcasttest.FreeGroup(t), Interface: ""}}}, "interface is required"},
		{egress.Config{Lines: []egress.Line{{Group: g, Interface: "lo", TTL: 256}}}, "TTL 256"},
		{egress.Config{Lines: []egress.Line{ok, ok}}, "same group"},
		{egress.Config{Lines: []egress.Line{{Group: g, Interface: "lo", Faults: "drop=2"}}}, "Faults"},
		{egress.Config{Lines: []egress.Line{ok}, MaxPacket: 100}, "MaxPacket 100"},
	} {
		e, err := egress.New(c.cfg)
		if err == nil {
			e.Close()
			t.Errorf("%+v: no error", c.cfg)
			continue
		}
		if !strings.Contains(err.Error(), c.want) {
			t.Errorf("error %q, want %q", err, c.want)
		}
	}
}

func TestCloseIdempotent(t *testing.T) {
	r := newRig(t, 2, nil)
	if err := r.e.Close(); err != nil {
		t.Fatal(err)
	}
	if err := r.e.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestSendAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are not meaningful under the race detector")
	}
	cache, _ := gap.NewCache(gap.CacheConfig{})
	r := newRig(t, 2, func(c *egress.Config) { c.Cache = cache; c.Sink = nil; c.MaxPacket = 600 })
	pkts := batch(32, 10)
	pkts = append(pkts, packet(321, 25, 1)) // split too
	if n := testing.AllocsPerRun(50, func() { r.e.Send(pkts) }); n != 0 {
		t.Fatalf("Send: %v allocs, want 0", n)
	}
}

func BenchmarkSend(b *testing.B) {
	cache, _ := gap.NewCache(gap.CacheConfig{})
	r := newRig(b, 2, func(c *egress.Config) { c.Cache = cache; c.Sink = nil })
	pkts := batch(64, 29)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		r.e.Send(pkts)
	}
	b.ReportMetric(float64(b.N*len(pkts))/b.Elapsed().Seconds(), "pkts/s")
}
