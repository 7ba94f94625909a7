package gap

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tickcast/tickcast/wire"
)

// testPacket builds a sequenced packet of n LevelUpdates whose prices encode
// their session and sequence (see testPrice), so any copy can be checked.
func testPacket(tb testing.TB, channel uint16, session, seq uint64, n int) []byte {
	tb.Helper()
	var pb wire.Builder
	pb.Reset(make([]byte, 0, wire.MaxJumboPacket), wire.MaxJumboPacket,
		wire.Header{Channel: channel, Session: session, Seq: seq})
	for i := range n {
		if !wire.Add(&pb, wire.LevelUpdate{Instrument: 7, Price: testPrice(session, seq+uint64(i)), Qty: 1}) {
			tb.Fatalf("testPacket: %d messages do not fit", n)
		}
	}
	return pb.Finish(int64(seq) * 1000)
}

func testPrice(session, seq uint64) int64 { return int64(session<<40 | seq) }

func mustParse(tb testing.TB, b []byte) wire.Packet {
	tb.Helper()
	p, err := wire.Parse(b)
	if err != nil {
		tb.Fatalf("parse: %v", err)
	}
	return p
}

func newTestCache(tb testing.TB, cfg CacheConfig) *Cache {
	tb.Helper()
	c, err := NewCache(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

// putRun puts packets of per messages covering [from, to).
func putRun(tb testing.TB, c *Cache, session, from, to uint64, per int) {
	tb.Helper()
	for s := from; s < to; s += uint64(per) {
		c.Put(mustParse(tb, testPacket(tb, 1, session, s, int(min(uint64(per), to-s)))))
	}
}

// fetched is what a Fetch emitted, checked packet by packet.
type fetched struct {
	seqs    []uint64 // every message's sequence, in order
	packets []wire.Header
	bytes   int
}

// emit returns an emit func that validates every packet (parses, flagged
// retransmission, session, contiguous, prices match sequences) and records it.
func (f *fetched) emit(session uint64) func([]byte) error {
	return func(b []byte) error {
		p, err := wire.Parse(b)
		if err != nil {
			return fmt.Errorf("emitted packet malformed: %w", err)
		}
		if !p.Has(wire.FlagRetransmission) || !p.Sequenced() {
			return fmt.Errorf("emitted packet flags %#x", p.Flags)
		}
		if p.Session != session || p.Channel != 1 || p.SendTime == 0 {
			return fmt.Errorf("emitted header %+v", p.Header)
		}
		it := p.Messages()
		for it.Next() {
			m := it.Message()
			if m.Type() != wire.TypeLevelUpdate {
				return fmt.Errorf("emitted message type %v", m.Type())
			}
			if got, want := m.LevelUpdate().Price, testPrice(session, it.Seq()); got != want {
				return fmt.Errorf("seq %d: price %d, want %d", it.Seq(), got, want)
			}
			if n := len(f.seqs); n > 0 && f.seqs[n-1]+1 != it.Seq() {
				return fmt.Errorf("seq %d after %d", it.Seq(), f.seqs[n-1])
			}
			f.seqs = append(f.seqs, it.Seq())
		}
		f.packets = append(f.packets, p.Header)
		f.bytes += len(b)
		return nil
	}
}

func fetch(tb testing.TB, c *Cache, session, first uint64, count uint32, maxMsgs, maxBytes int) (fetched, uint32, wire.RejectReason) {
	tb.Helper()
	var f fetched
	sent, reason, err := c.Fetch(session, first, count, maxMsgs, maxBytes, f.emit(session))
	if err != nil {
		tb.Fatal(err)
	}
	if int(sent) != len(f.seqs) {
		tb.Fatalf("Fetch says %d sent, emitted %d", sent, len(f.seqs))
	}
	if sent > 0 && f.seqs[0] != first {
		tb.Fatalf("Fetch from %d started at %d", first, f.seqs[0])
	}
	if sent > count {
		tb.Fatalf("Fetch sent %d > %d asked", sent, count)
	}
	return f, sent, reason
}

func TestCacheConfigValidation(t *testing.T) {
	for _, cfg := range []CacheConfig{
		{MaxMessages: -1},
		{MaxBytes: -1},
		{MaxBytes: 100},
		{MaxMessages: maxCacheMessages + 1},
	} {
		if _, err := NewCache(cfg); err == nil {
			t.Errorf("NewCache(%+v) accepted", cfg)
		}
	}
	c := newTestCache(t, CacheConfig{MaxMessages: 1000, MaxBytes: 1 << 16})
	if len(c.index) != 1024 || len(c.data) != 1<<16 {
		t.Errorf("index %d data %d", len(c.index), len(c.data))
	}
}

func TestCacheFetchRange(t *testing.T) {
	c := newTestCache(t, CacheConfig{MaxMessages: 4096, MaxBytes: 1 << 20})
	putRun(t, c, 5, 1, 101, 10)
	if first, next := c.Bounds(); first != 1 || next != 101 || c.Session() != 5 {
		t.Fatalf("bounds %d..%d session %d", first, next, c.Session())
	}

	// Whole packets, untouched but for the flag.
	f, sent, reason := fetch(t, c, 5, 1, 100, 0, 0)
	if sent != 100 || reason != 0 || len(f.packets) != 10 {
		t.Fatalf("sent %d reason %v packets %d", sent, reason, len(f.packets))
	}
	if h := f.packets[3]; h.Seq != 31 || h.Count != 10 || h.SendTime != 31000 {
		t.Errorf("packet 3 header %+v", h)
	}

	// Starting and ending mid-packet: 15–26 is 15–20 then 21–26.
	f, sent, _ = fetch(t, c, 5, 15, 12, 0, 0)
	if sent != 12 || len(f.packets) != 2 {
		t.Fatalf("sent %d in %d packets", sent, len(f.packets))
	}
	if h := f.packets[0]; h.Seq != 15 || h.Count != 6 || h.SendTime != 11000 {
		t.Errorf("first trimmed header %+v", h)
	}
	if h := f.packets[1]; h.Seq != 21 || h.Count != 6 {
		t.Errorf("last trimmed header %+v", h)
	}
	if f.bytes != 2*wire.HeaderLen+12*wire.LevelUpdateLen {
		t.Errorf("bytes %d", f.bytes)
	}

	// Inside one packet.
	if f, sent, _ = fetch(t, c, 5, 43, 3, 0, 0); sent != 3 || len(f.packets) != 1 {
		t.Errorf("inside one packet: sent %d packets %d", sent, len(f.packets))
	}

	// A range running past next is served up to next, and says the rest
	// was not sent yet.
	if _, sent, reason = fetch(t, c, 5, 95, 10, 0, 0); sent != 6 || reason != wire.RejectNotYetSent {
		t.Errorf("past next: sent %d reason %v", sent, reason)
	}
	// A count that overflows the sequence space.
	if _, sent, reason = fetch(t, c, 5, 99, math.MaxUint32, 0, 0); sent != 2 || reason != wire.RejectNotYetSent {
		t.Errorf("huge count: sent %d reason %v", sent, reason)
	}
	// Ending exactly at next: all of it, no reason.
	if _, sent, reason = fetch(t, c, 5, 95, 6, 0, 0); sent != 6 || reason != 0 {
		t.Errorf("up to next: sent %d reason %v", sent, reason)
	}
	// Capped before next: no reason, even though the range runs past next.
	if _, sent, reason = fetch(t, c, 5, 95, 10, 3, 0); sent != 3 || reason != 0 {
		t.Errorf("message cap: sent %d reason %v", sent, reason)
	}
	if _, sent, reason = fetch(t, c, 5, 95, 10, 0, wire.HeaderLen+2*wire.LevelUpdateLen); sent != 2 || reason != 0 {
		t.Errorf("byte cap: sent %d reason %v", sent, reason)
	}
	// The message cap reached exactly at next: the cap stopped it.
	if _, sent, reason = fetch(t, c, 5, 95, 10, 6, 0); sent != 6 || reason != 0 {
		t.Errorf("cap at next: sent %d reason %v", sent, reason)
	}
}

func TestCacheFetchCaps(t *testing.T) {
	c := newTestCache(t, CacheConfig{MaxMessages: 4096, MaxBytes: 1 << 20})
	putRun(t, c, 5, 1, 101, 10)

	f, sent, reason := fetch(t, c, 5, 3, 50, 13, 0)
	if sent != 13 || reason != 0 || f.seqs[12] != 15 {
		t.Errorf("message cap: sent %d reason %v", sent, reason)
	}
	// 200 bytes hold a header and 4 messages.
	f, sent, _ = fetch(t, c, 5, 3, 50, 0, 200)
	if sent != 4 || f.bytes > 200 {
		t.Errorf("byte cap 200: sent %d in %d bytes", sent, f.bytes)
	}
	// 1000 bytes: 3–10 (8 msgs, 352 bytes), 11–20 (432), then 5 of 21–30 (232 > 216 left: 4).
	f, sent, _ = fetch(t, c, 5, 3, 50, 0, 1000)
	if sent != 8+10+4 || f.bytes > 1000 {
		t.Errorf("byte cap 1000: sent %d in %d bytes", sent, f.bytes)
	}
	// A budget below one message serves nothing and gives no reason.
	if _, sent, reason = fetch(t, c, 5, 3, 50, 0, wire.HeaderLen+wire.LevelUpdateLen-1); sent != 0 || reason != 0 {
		t.Errorf("tiny budget: sent %d reason %v", sent, reason)
	}
}

func TestCacheRejectReasons(t *testing.T) {
	c := newTestCache(t, CacheConfig{MaxMessages: 4096, MaxBytes: 1 << 20})
	if _, _, reason := fetch(t, c, 0, 1, 1, 0, 0); reason != wire.RejectUnknownSession {
		t.Errorf("empty cache: %v", reason)
	}
	putRun(t, c, 5, 100, 200, 10)
	putRun(t, c, 5, 300, 400, 10) // hole 200..299
	for _, tc := range []struct {
		session, first uint64
		want           wire.RejectReason
	}{
		{6, 150, wire.RejectUnknownSession},
		{0, 150, wire.RejectUnknownSession},
		{5, 0, wire.RejectTooOld},
		{5, 99, wire.RejectTooOld},
		{5, 200, wire.RejectTooOld},
		{5, 299, wire.RejectTooOld},
		{5, 400, wire.RejectNotYetSent},
		{5, math.MaxUint64, wire.RejectNotYetSent},
	} {
		if _, sent, reason := fetch(t, c, tc.session, tc.first, 10, 0, 0); sent != 0 || reason != tc.want {
			t.Errorf("session %d first %d: sent %d reason %v, want %v", tc.session, tc.first, sent, reason, tc.want)
		}
	}
	// Count 0 asks for nothing.
	if _, sent, reason := fetch(t, c, 5, 150, 0, 0, 0); sent != 0 || reason != 0 {
		t.Errorf("count 0: sent %d reason %v", sent, reason)
	}
	// A range running into the hole is served up to it; the rest is too old.
	if _, sent, reason := fetch(t, c, 5, 195, 20, 0, 0); sent != 5 || reason != 0 {
		t.Errorf("into the hole: sent %d reason %v", sent, reason)
	}
}

func TestCacheEvictByCount(t *testing.T) {
	c := newTestCache(t, CacheConfig{MaxMessages: 50, MaxBytes: 1 << 20})
	putRun(t, c, 5, 1, 101, 10)
	if first, next := c.Bounds(); first != 51 || next != 101 {
		t.Fatalf("bounds %d..%d, want 51..101", first, next)
	}
	if _, _, reason := fetch(t, c, 5, 50, 1, 0, 0); reason != wire.RejectTooOld {
		t.Errorf("evicted: %v", reason)
	}
	if _, sent, _ := fetch(t, c, 5, 51, 50, 0, 0); sent != 50 {
		t.Errorf("held: sent %d", sent)
	}
	// The span counts holes: after a jump of 45, nothing held before fits
	// within 50 of the new packet's end.
	putRun(t, c, 5, 146, 156, 10)
	if first, next := c.Bounds(); first != 146 || next != 156 {
		t.Errorf("after jump: bounds %d..%d", first, next)
	}
	// A packet with more messages than the cache holds leaves a hole.
	c2 := newTestCache(t, CacheConfig{MaxMessages: 8, MaxBytes: 1 << 20})
	putRun(t, c2, 5, 1, 9, 4)
	putRun(t, c2, 5, 9, 19, 10)
	if first, next := c2.Bounds(); first != 19 || next != 19 {
		t.Errorf("oversized packet: bounds %d..%d", first, next)
	}
	if _, _, reason := fetch(t, c2, 5, 9, 1, 0, 0); reason != wire.RejectTooOld {
		t.Errorf("oversized packet: %v", reason)
	}
}

// heldBytes sums the bytes of the live packets.
func (c *Cache) heldBytes() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	n := 0
	for pn := c.head; pn != c.tail; pn++ {
		n += int(c.slots[pn&c.slotMask].n)
	}
	return n
}

func TestCacheEvictByBytes(t *testing.T) {
	// Packets of 10 LevelUpdates are 432 bytes: a 1200-byte ring holds two.
	c := newTestCache(t, CacheConfig{MaxMessages: 1000, MaxBytes: 1200})
	for i, want := range []uint64{1, 1, 11, 21, 31, 41} {
		putRun(t, c, 5, uint64(1+10*i), uint64(11+10*i), 10)
		if first, _ := c.Bounds(); first != want {
			t.Errorf("after packet %d: first %d, want %d", i, first, want)
		}
		if n := c.heldBytes(); n > 1200 {
			t.Errorf("holds %d bytes", n)
		}
	}
	if _, sent, _ := fetch(t, c, 5, 41, 20, 0, 0); sent != 20 {
		t.Errorf("sent %d", sent)
	}
	// A packet bigger than the ring is not held and evicts nothing before it
	// beyond what the span needs.
	big := testPacket(t, 1, 5, 61, 40) // 1632 bytes
	c.Put(mustParse(t, big))
	if first, next := c.Bounds(); first != 41 || next != 101 {
		t.Errorf("after oversized packet: bounds %d..%d", first, next)
	}
	if _, _, reason := fetch(t, c, 5, 61, 1, 0, 0); reason != wire.RejectTooOld {
		t.Errorf("oversized packet: %v", reason)
	}
}

func TestCacheSessionReset(t *testing.T) {
	c := newTestCache(t, CacheConfig{MaxMessages: 1000, MaxBytes: 1 << 16})
	putRun(t, c, 5, 1000, 1100, 10)
	putRun(t, c, 6, 1, 21, 10)
	if first, next := c.Bounds(); first != 1 || next != 21 || c.Session() != 6 {
		t.Fatalf("bounds %d..%d session %d", first, next, c.Session())
	}
	if _, _, reason := fetch(t, c, 5, 1050, 1, 0, 0); reason != wire.RejectUnknownSession {
		t.Errorf("old session: %v", reason)
	}
	if _, sent, _ := fetch(t, c, 6, 1, 20, 0, 0); sent != 20 {
		t.Errorf("new session: sent %d", sent)
	}
}

func TestCacheOverlapAndOld(t *testing.T) {
	c := newTestCache(t, CacheConfig{MaxMessages: 1000, MaxBytes: 1 << 16})
	putRun(t, c, 5, 1, 11, 10)
	c.Put(mustParse(t, testPacket(t, 1, 5, 3, 5)))  // entirely old
	c.Put(mustParse(t, testPacket(t, 1, 5, 6, 10))) // 6..15: keeps 11..15
	if first, next := c.Bounds(); first != 1 || next != 16 {
		t.Fatalf("bounds %d..%d", first, next)
	}
	f, sent, _ := fetch(t, c, 5, 1, 100, 0, 0)
	if sent != 15 || len(f.packets) != 2 || f.packets[1].Seq != 11 || f.packets[1].Count != 5 {
		t.Errorf("sent %d packets %+v", sent, f.packets)
	}
	// Non-sequenced packets are ignored.
	hb := wire.Header{Flags: wire.FlagHeartbeat, Channel: 1, Session: 5, Seq: 16}.Append(nil)
	c.Put(mustParse(t, hb))
	c.Put(wire.Packet{})
	if _, next := c.Bounds(); next != 16 {
		t.Errorf("heartbeat moved next to %d", next)
	}
}

func TestCacheWrapsSequenceIndex(t *testing.T) {
	// Many laps of a small index and a small ring of packet slots.
	c := newTestCache(t, CacheConfig{MaxMessages: 64, MaxBytes: 4096})
	rng := rand.New(rand.NewPCG(1, 2))
	seq := uint64(1)
	for range 5000 {
		n := 1 + rng.IntN(12)
		c.Put(mustParse(t, testPacket(t, 1, 5, seq, n)))
		first, next := c.Bounds()
		if next-first > 64 || c.heldBytes() > 4096 {
			t.Fatalf("bounds %d..%d hold %d bytes", first, next, c.heldBytes())
		}
		if _, sent, _ := fetch(t, c, 5, seq, uint32(n), 0, 0); sent != uint32(n) {
			t.Fatalf("newest packet: sent %d of %d", sent, n)
		}
		seq += uint64(n)
		if rng.IntN(50) == 0 {
			seq += uint64(rng.IntN(100)) // a hole
		}
	}
}

// cacheModel is the reference for the property test: every message put in
// the current session, by sequence. Eviction is FIFO, so the cache must serve
// every modelled sequence at or after its Bounds first.
type cacheModel struct {
	session uint64
	held    map[uint64]bool
}

// runCacheModel drives a cache and the model from a stream of operations
// decoded from ops, failing on any disagreement.
func runCacheModel(t *testing.T, cfg CacheConfig, ops []byte) {
	c := newTestCache(t, cfg)
	m := cacheModel{session: 1, held: map[uint64]bool{1: true}}
	c.Put(mustParse(t, testPacket(t, 1, 1, 1, 1)))
	seq, session := uint64(2), uint64(1)
	next := func() byte {
		if len(ops) == 0 {
			return 0
		}
		b := ops[0]
		ops = ops[1:]
		return b
	}
	for len(ops) > 0 {
		op := next()
		switch op % 4 {
		case 0, 1: // put a packet, maybe overlapping or after a hole
			n := 1 + int(next()%29)
			at := seq
			switch v := next(); {
			case v < 16:
				at = seq + uint64(v) // hole
			case v < 32 && seq > uint64(v-16):
				at = seq - uint64(v-16) // overlap or entirely old
			}
			if at == 0 {
				at = 1
			}
			c.Put(mustParse(t, testPacket(t, 1, session, at, n)))
			for s := max(at, seq); s < at+uint64(n); s++ {
				m.held[s] = true // what was below seq is ignored: old or a hole
			}
			seq = max(seq, at+uint64(n))
		case 2: // fetch
			first := seq - uint64(next())*uint64(next()%4)
			count := uint32(next())
			maxMsgs := int(next() % 64)
			maxBytes := 0
			if b := next(); b < 64 {
				maxBytes = wire.HeaderLen + wire.LevelUpdateLen*(1+int(b))
			}
			checkCacheModel(t, c, &m, session+uint64(next()%8/7), first, count, maxMsgs, maxBytes)
		case 3:
			if next() < 8 { // a new session, starting with one packet
				session++
				n := 1 + int(next()%29)
				c.Put(mustParse(t, testPacket(t, 1, session, 1, n)))
				m = cacheModel{session: session, held: map[uint64]bool{}}
				for s := range uint64(n) {
					m.held[1+s] = true
				}
				seq = 1 + uint64(n)
			}
		}
		m.session = session
	}
}

func checkCacheModel(t *testing.T, c *Cache, m *cacheModel, session, first uint64, count uint32, maxMsgs, maxBytes int) {
	t.Helper()
	lo, hi := c.Bounds()
	if hi-lo > c.maxMsgs {
		t.Fatalf("span %d..%d over %d", lo, hi, c.maxMsgs)
	}
	if n := c.heldBytes(); n > len(c.data) {
		t.Fatalf("holds %d bytes", n)
	}
	f, sent, reason := fetch(t, c, session, first, count, maxMsgs, maxBytes)
	if maxBytes > 0 && f.bytes > maxBytes {
		t.Fatalf("%d bytes over the %d cap", f.bytes, maxBytes)
	}
	if maxMsgs > 0 && int(sent) > maxMsgs {
		t.Fatalf("%d messages over the %d cap", sent, maxMsgs)
	}
	// The model's answer: the run of held sequences from first.
	run := uint32(0)
	if session == m.session && first >= lo {
		for uint64(run) < uint64(count) && first+uint64(run) < hi && m.held[first+uint64(run)] {
			run++
		}
	}
	want := wire.RejectReason(0)
	switch {
	case count == 0:
	case session != m.session:
		want = wire.RejectUnknownSession
	case first >= hi:
		want = wire.RejectNotYetSent
	case run == 0:
		want = wire.RejectTooOld
	case sent > 0 && first+uint64(sent) == hi && uint64(sent) < uint64(count) && (maxMsgs == 0 || int(sent) < maxMsgs):
		// Served up to next and not stopped by the message cap: the rest
		// is not sent yet.
		want = wire.RejectNotYetSent
	}
	if reason != want {
		t.Fatalf("fetch s%d %d+%d (bounds %d..%d): reason %v, want %v", session, first, count, lo, hi, reason, want)
	}
	capped := run
	if maxMsgs > 0 {
		capped = min(capped, uint32(maxMsgs))
	}
	if maxBytes == 0 && sent != capped {
		t.Fatalf("fetch %d+%d cap %d (bounds %d..%d): sent %d, want %d", first, count, maxMsgs, lo, hi, sent, capped)
	}
	if maxBytes > 0 && (sent > capped || capped > 0 && sent == 0) {
		t.Fatalf("fetch %d+%d cap %d/%dB: sent %d of %d", first, count, maxMsgs, maxBytes, sent, capped)
	}
}

func TestCacheModel(t *testing.T) {
	for i, cfg := range []CacheConfig{
		{MaxMessages: 100, MaxBytes: 1 << 16},
		{MaxMessages: 10000, MaxBytes: 2000},
		{MaxMessages: 300, MaxBytes: 5000},
	} {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(uint64(i), 7))
			ops := make([]byte, 50000)
			for j := range ops {
				ops[j] = byte(rng.Uint32())
			}
			runCacheModel(t, cfg, ops)
		})
	}
}

func FuzzCacheModel(f *testing.F) {
	f.Add([]byte{0, 5, 100, 2, 10, 20, 30, 200})
	f.Add([]byte{0, 28, 3, 1, 10, 20, 2, 3, 1, 5, 10, 255, 3, 0, 0, 4, 40})
	f.Fuzz(func(t *testing.T, ops []byte) {
		runCacheModel(t, CacheConfig{MaxMessages: 64, MaxBytes: 1500}, ops)
	})
}

func TestCacheConcurrentPutFetch(t *testing.T) {
	c := newTestCache(t, CacheConfig{MaxMessages: 2000, MaxBytes: 1 << 16})
	var (
		done    atomic.Bool
		newest  atomic.Uint64
		wg      sync.WaitGroup
		served  atomic.Uint64
		packets [][]byte
	)
	for s := uint64(1); s < 20*29; s += 29 {
		packets = append(packets, testPacket(t, 1, 5, s, 29))
	}
	deadline := time.Now().Add(500 * time.Millisecond)
	wg.Add(1)
	go func() { // the one writer: re-sequences the same packets, lap after lap
		defer wg.Done()
		defer done.Store(true)
		buf := make([]byte, 0, 2048)
		for seq := uint64(1); time.Now().Before(deadline); {
			for _, p := range packets {
				buf = append(buf[:0], p...)
				wire.SetSeq(buf, seq)
				p, _ := wire.Parse(buf)
				it := p.Messages()
				for it.Next() { // rewrite prices to match the new sequences
					binary.LittleEndian.PutUint64(it.Message().Bytes()[8:], uint64(testPrice(5, it.Seq())))
				}
				c.Put(p)
				seq += 29
				newest.Store(seq)
			}
		}
	}()
	for r := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(r), 3))
			for !done.Load() {
				n := newest.Load()
				first := n - min(n-1, uint64(rng.IntN(3000)))
				var f fetched
				sent, _, err := c.Fetch(5, first, uint32(rng.IntN(500)), 0, 0, f.emit(5))
				if err != nil || int(sent) != len(f.seqs) {
					t.Errorf("sent %d emitted %d: %v", sent, len(f.seqs), err)
					return
				}
				served.Add(uint64(sent))
			}
		}()
	}
	wg.Wait()
	if served.Load() == 0 {
		t.Error("readers were never served")
	}
}

func TestCacheAllocs(t *testing.T) {
	c := newTestCache(t, CacheConfig{MaxMessages: 1 << 12, MaxBytes: 1 << 16})
	pkt := testPacket(t, 1, 5, 1, 29)
	seq := uint64(1)
	put := func() {
		wire.SetSeq(pkt, seq)
		c.Put(mustParse(t, pkt))
		seq += 29
	}
	if n := testing.AllocsPerRun(1000, put); n != 0 {
		t.Errorf("Put: %v allocs", n)
	}
	emit := func([]byte) error { return nil }
	if n := testing.AllocsPerRun(1000, func() {
		if sent, _, _ := c.Fetch(5, seq-100, 90, 0, 0, emit); sent != 90 {
			t.Fatalf("sent %d", sent)
		}
	}); n != 0 {
		t.Errorf("Fetch: %v allocs", n)
	}
}

func BenchmarkCachePut(b *testing.B) {
	c := newTestCache(b, CacheConfig{})
	pkt := testPacket(b, 1, 5, 1, 29) // 1192 bytes
	seq := uint64(1)
	b.SetBytes(int64(len(pkt)))
	b.ReportAllocs()
	for b.Loop() {
		wire.SetSeq(pkt, seq)
		p, _ := wire.Parse(pkt)
		c.Put(p)
		seq += 29
	}
}

func BenchmarkCacheFetch(b *testing.B) {
	c := newTestCache(b, CacheConfig{})
	pkt := testPacket(b, 1, 5, 1, 29)
	const held = 1 << 16
	for seq := uint64(1); seq < held; seq += 29 {
		wire.SetSeq(pkt, seq)
		c.Put(mustParse(b, pkt))
	}
	emit := func([]byte) error { return nil }
	rng := rand.New(rand.NewPCG(1, 1))
	const count = 290 // ten packets' worth, starting mid-packet
	b.SetBytes(count * wire.LevelUpdateLen)
	b.ReportAllocs()
	for b.Loop() {
		first := 1 + rng.Uint64N(held-1000)
		if sent, _, _ := c.Fetch(5, first, count, 0, 0, emit); sent != count {
			b.Fatalf("sent %d", sent)
		}
	}
}

// BenchmarkCachePutWithReader measures Put while another goroutine fetches
// recent ranges without pause (the server answering a NACK storm).
func BenchmarkCachePutWithReader(b *testing.B) {
	c := newTestCache(b, CacheConfig{})
	pkt := testPacket(b, 1, 5, 1, 29)
	seq := uint64(1)
	for ; seq < 1<<16; seq += 29 {
		wire.SetSeq(pkt, seq)
		c.Put(mustParse(b, pkt))
	}
	var newest atomic.Uint64
	newest.Store(seq)
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		emit := func([]byte) error { return nil }
		for {
			select {
			case <-stop:
				return
			default:
			}
			c.Fetch(5, newest.Load()-5000, 290, 0, 0, emit)
		}
	}()
	b.SetBytes(int64(len(pkt)))
	b.ReportAllocs()
	for b.Loop() {
		wire.SetSeq(pkt, seq)
		p, _ := wire.Parse(pkt)
		c.Put(p)
		seq += 29
		newest.Store(seq)
	}
	b.StopTimer()
	close(stop)
	<-done
}
