package gap

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/tickcast/tickcast/wire"
)

const testSessionUDP = 5

// testCacheRange returns a cache holding channel 1, session 5, sequences
// [from, to) in packets of per messages.
func testCacheRange(tb testing.TB, from, to uint64, per int) *Cache {
	tb.Helper()
	c := newTestCache(tb, CacheConfig{MaxMessages: 1 << 16, MaxBytes: 4 << 20})
	putRun(tb, c, testSessionUDP, from, to, per)
	return c
}

// startServer starts a retransmit server on 127.0.0.1 until the test ends.
func startServer(tb testing.TB, cfg ServerConfig) *Server {
	tb.Helper()
	if cfg.Addr == "" {
		cfg.Addr = "127.0.0.1:0"
	}
	cfg.Logger = slog.New(slog.DiscardHandler)
	s, err := NewServer(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx) }()
	tb.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			tb.Errorf("Serve: %v", err)
		}
	})
	return s
}

// recorder is a ClientHandler that checks and keeps what it gets.
type recorder struct {
	mu      sync.Mutex
	seqs    []uint64 // messages in arrival order
	packets []wire.Header
	rejects []wire.RetransmitReject
	err     error
}

func (r *recorder) Retransmission(p wire.Packet, rxTime int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !p.Has(wire.FlagRetransmission) || rxTime == 0 {
		r.err = fmt.Errorf("retransmission flags %#x rx %d", p.Flags, rxTime)
	}
	it := p.Messages()
	for it.Next() {
		if got, want := it.Message().LevelUpdate().Price, testPrice(p.Session, it.Seq()); got != want {
			r.err = fmt.Errorf("seq %d: price %d, want %d", it.Seq(), got, want)
		}
		r.seqs = append(r.seqs, it.Seq())
	}
	r.packets = append(r.packets, p.Header)
}

func (r *recorder) Reject(x wire.RetransmitReject) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.rejects = append(r.rejects, x)
}

func (r *recorder) messages() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.seqs)
}

func (r *recorder) snapshot() ([]uint64, []wire.RetransmitReject, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]uint64(nil), r.seqs...), append([]wire.RetransmitReject(nil), r.rejects...), r.err
}

func (r *recorder) rejectCount() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.rejects)
}

// startClient starts a client of addr, reading until the test ends, and
// waits until the server has validated it (it holds a token).
func startClient(tb testing.TB, addr netip.AddrPort) (*Client, *recorder) {
	tb.Helper()
	c, rec := runClient(tb, addr)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := c.WaitValidated(ctx); err != nil {
		tb.Fatal(err)
	}
	return c, rec
}

// runClient starts a client of addr, reading until the test ends, without
// waiting for its validation.
func runClient(tb testing.TB, addr netip.AddrPort) (*Client, *recorder) {
	tb.Helper()
	c, err := NewClient(ClientConfig{Server: addr, Local: "127.0.0.1:0", Channel: 1, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		tb.Fatal(err)
	}
	rec := &recorder{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx, rec) }()
	tb.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			tb.Errorf("Run: %v", err)
		}
		if err := c.Close(); err != nil {
			tb.Errorf("Close: %v", err)
		}
	})
	return c, rec
}

// tokenPacketLen is the size of a server's token answer.
const tokenPacketLen = wire.HeaderLen + wire.RetransmitTokenLen

// validated returns how many requests st counts from validated requesters
// (not the validation probes, nor any other request without the token).
func validated(st ServerStats) uint64 { return st.Requests - st.Unvalidated - st.RejectedNotAllowed }

// dataBytes returns the bytes st counts as sent, less the token answers.
func dataBytes(st ServerStats) uint64 { return st.Bytes - st.TokensSent*tokenPacketLen }

// waitFor polls cond until it holds, failing after a generous deadline.
func waitFor(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func request(tb testing.TB, c *Client, channel uint16, session, first uint64, count uint32) {
	tb.Helper()
	if err := c.Request(wire.RetransmitRequest{Channel: channel, Session: session, FirstSeq: first, Count: count}); err != nil {
		tb.Fatal(err)
	}
}

// checkRun fails unless seqs is exactly first, first+1, … first+n-1.
func checkRun(tb testing.TB, seqs []uint64, first uint64, n int) {
	tb.Helper()
	if len(seqs) != n {
		tb.Fatalf("got %d messages, want %d", len(seqs), n)
	}
	for i, s := range seqs {
		if s != first+uint64(i) {
			tb.Fatalf("message %d is seq %d, want %d", i, s, first+uint64(i))
		}
	}
}

func TestServerConfigValidation(t *testing.T) {
	cache := testCacheRange(t, 1, 2, 1)
	ok := func() ServerConfig {
		return ServerConfig{Addr: "127.0.0.1:0", Caches: map[uint16]*Cache{1: cache}}
	}
	for name, mod := range map[string]func(*ServerConfig){
		"no addr":        func(c *ServerConfig) { c.Addr = "" },
		"bad addr":       func(c *ServerConfig) { c.Addr = "nowhere:x" },
		"no caches":      func(c *ServerConfig) { c.Caches = nil },
		"nil cache":      func(c *ServerConfig) { c.Caches[2] = nil },
		"bad prefix":     func(c *ServerConfig) { c.Policy.Allowed = []netip.Prefix{{}} },
		"small bytes":    func(c *ServerConfig) { c.Policy.MaxBytes = 1000 },
		"negative msgs":  func(c *ServerConfig) { c.Policy.MaxMessages = -1 },
		"negative rate":  func(c *ServerConfig) { c.Policy.Rate = -1 },
		"infinite rate":  func(c *ServerConfig) { c.Policy.Rate = math.Inf(1) },
		"negative burst": func(c *ServerConfig) { c.Policy.Burst = -1 },
		"negative table": func(c *ServerConfig) { c.Policy.MaxRequesters = -1 },
	} {
		cfg := ok()
		mod(&cfg)
		if s, err := NewServer(cfg); err == nil {
			s.Close()
			t.Errorf("%s: accepted", name)
		}
	}
	s, err := NewServer(ok())
	if err != nil {
		t.Fatal(err)
	}
	if s.policy.maxMsgs != DefaultServerMessages || s.policy.maxByte != DefaultServerBytes || len(s.policy.allowed) != 2 || !s.LocalAddr().IsValid() {
		t.Errorf("defaults: %+v allowed %v", s.cfg, s.policy.allowed)
	}
	if err := s.Close(); err != nil || s.Close() != err {
		t.Errorf("Close: %v", err)
	}
}

func TestServerAnswersRange(t *testing.T) {
	t.Parallel()
	s := startServer(t, ServerConfig{Caches: map[uint16]*Cache{1: testCacheRange(t, 1, 1001, 29)}})
	c, rec := startClient(t, s.LocalAddr())

	// 45–144 starts and ends mid-packet: 45–58, 59–87, 88–116, 117–144.
	request(t, c, 1, testSessionUDP, 45, 100)
	waitFor(t, "100 messages", func() bool { return rec.messages() >= 100 })
	waitFor(t, "server stats", func() bool { return s.Stats().Answered == 100 })
	seqs, rejects, err := rec.snapshot()
	if err != nil {
		t.Fatal(err)
	}
	checkRun(t, seqs, 45, 100)
	st := s.Stats()
	if len(rejects) != 0 || validated(st) != 1 || st.AnsweredPackets != 4 || dataBytes(st) != 4*wire.HeaderLen+100*wire.LevelUpdateLen {
		t.Errorf("rejects %v stats %+v", rejects, st)
	}
	if cs := c.Stats(); cs.Requests != 1 || cs.Packets != 4 || cs.Malformed != 0 {
		t.Errorf("client stats %+v", cs)
	}
}

func TestServerRejects(t *testing.T) {
	t.Parallel()
	cache := testCacheRange(t, 100, 200, 10)
	putRun(t, cache, testSessionUDP, 300, 400, 10) // hole 200..299
	s := startServer(t, ServerConfig{Caches: map[uint16]*Cache{1: cache}})
	c, rec := startClient(t, s.LocalAddr())

	cases := []struct {
		channel        uint16
		session, first uint64
		want           wire.RejectReason
	}{
		{1, testSessionUDP, 50, wire.RejectTooOld},
		{1, testSessionUDP, 250, wire.RejectTooOld},
		{1, testSessionUDP, 400, wire.RejectNotYetSent},
		{1, testSessionUDP + 1, 150, wire.RejectUnknownSession},
		{9, testSessionUDP, 150, wire.RejectUnknownSession}, // channel not served
	}
	for i, tc := range cases {
		request(t, c, tc.channel, tc.session, tc.first, 10)
		waitFor(t, "a reject", func() bool { return rec.rejectCount() > i })
		_, rejects, _ := rec.snapshot()
		got := rejects[i]
		want := wire.RetransmitReject{Channel: tc.channel, Reason: tc.want, Count: 10, Session: tc.session, FirstSeq: tc.first}
		if got != want {
			t.Errorf("case %d: got %+v, want %+v", i, got, want)
		}
	}
	st := s.Stats()
	if st.RejectedTooOld != 2 || st.RejectedNotYetSent != 1 || st.RejectedUnknownSession != 2 || st.Answered != 0 {
		t.Errorf("stats %+v", st)
	}
	if cs := c.Stats(); cs.Rejects != uint64(len(cases)) {
		t.Errorf("client stats %+v", cs)
	}
}

func TestServerNotAllowed(t *testing.T) {
	t.Parallel()
	s := startServer(t, ServerConfig{
		Caches: map[uint16]*Cache{1: testCacheRange(t, 1, 101, 10)},
		Policy: PolicyConfig{Allowed: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}},
	})
	// A bare socket: a Client's validation probes would be refused too,
	// and take from the same trickle of rejects.
	raw := dialRaw(t, s.LocalAddr())
	req := wire.AppendControl(nil, 1, testSessionUDP, 1, wire.RetransmitRequest{Channel: 1, Count: 10, Session: testSessionUDP, FirstSeq: 1})
	start := time.Now()
	if _, err := raw.Write(req); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 2048)
	raw.SetReadDeadline(time.Now().Add(15 * time.Second))
	n, err := raw.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	p := mustParse(t, buf[:n])
	if rej, err := wire.DecodeRetransmitReject(p.Body()); err != nil || rej.Reason != wire.RejectNotAllowed || rej.RetryAfterMs != 0 {
		t.Errorf("reject %+v (%v)", rej, err)
	}
	// The rejects themselves are rate-limited.
	const n0 = 200
	for i := range n0 {
		if _, err := raw.Write(req); err != nil {
			t.Fatal(err)
		}
		if i%20 == 19 {
			waitFor(t, "requests handled", func() bool { return s.Stats().Requests >= uint64(i+2) })
		}
	}
	waitFor(t, "requests handled", func() bool { return s.Stats().RejectedNotAllowed == n0+1 })
	elapsed := time.Since(start)
	st := s.Stats()
	if st.Answered != 0 || st.TokensSent != 0 {
		t.Errorf("answered a disallowed source: %+v", st)
	}
	if limit := notAllowedBurst + notAllowedRate*elapsed.Seconds(); float64(st.Bytes)/64 > limit {
		t.Errorf("%d rejects sent in %v, limit %.0f", st.Bytes/64, elapsed, limit)
	}
}

// dialRaw returns a bare UDP socket connected to addr, closed when the test
// ends.
func dialRaw(tb testing.TB, addr netip.AddrPort) *net.UDPConn {
	tb.Helper()
	raw, err := net.DialUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)}, net.UDPAddrFromAddrPort(addr))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { raw.Close() })
	return raw
}

func TestServerCaps(t *testing.T) {
	t.Parallel()
	cache := testCacheRange(t, 1, 5001, 10) // 432-byte packets
	t.Run("messages", func(t *testing.T) {
		t.Parallel()
		s := startServer(t, ServerConfig{Caches: map[uint16]*Cache{1: cache}, Policy: PolicyConfig{MaxMessages: 55}})
		c, rec := startClient(t, s.LocalAddr())
		request(t, c, 1, testSessionUDP, 3, 1000)
		waitFor(t, "55 messages", func() bool { return rec.messages() >= 55 })
		waitFor(t, "stats", func() bool { return s.Stats().Answered == 55 })
		seqs, _, _ := rec.snapshot()
		checkRun(t, seqs, 3, 55)
		// Asking again for the rest continues where the answer stopped.
		request(t, c, 1, testSessionUDP, 58, 1000-55)
		waitFor(t, "110 messages", func() bool { return rec.messages() >= 110 })
		seqs, _, _ = rec.snapshot()
		checkRun(t, seqs, 3, 110)
	})
	t.Run("bytes", func(t *testing.T) {
		t.Parallel()
		s := startServer(t, ServerConfig{Caches: map[uint16]*Cache{1: cache}, Policy: PolicyConfig{MaxBytes: 8192}})
		c, rec := startClient(t, s.LocalAddr())
		// 18 whole packets (7776 bytes) and 9 messages of the 19th (392).
		request(t, c, 1, testSessionUDP, 1, 1000)
		waitFor(t, "189 messages", func() bool { return rec.messages() >= 189 })
		waitFor(t, "stats", func() bool { return s.Stats().Answered == 189 })
		seqs, _, _ := rec.snapshot()
		checkRun(t, seqs, 1, 189)
		if st := s.Stats(); dataBytes(st) > 8192 || st.AnsweredPackets != 19 {
			t.Errorf("stats %+v", st)
		}
	})
	t.Run("huge count", func(t *testing.T) {
		t.Parallel()
		s := startServer(t, ServerConfig{Caches: map[uint16]*Cache{1: cache}})
		c, rec := startClient(t, s.LocalAddr())
		request(t, c, 1, testSessionUDP, 4990, math.MaxUint32) // only 11 held
		waitFor(t, "answers", func() bool { return rec.messages() >= 11 && rec.rejectCount() >= 1 })
		request(t, c, 1, testSessionUDP, math.MaxUint64, math.MaxUint32)
		waitFor(t, "answers", func() bool { return rec.rejectCount() >= 2 })
		seqs, rejects, _ := rec.snapshot()
		checkRun(t, seqs, 4990, 11)
		// The rest of the first range, then all of the second.
		want := []wire.RetransmitReject{
			{Channel: 1, Reason: wire.RejectNotYetSent, Count: math.MaxUint32 - 11, Session: testSessionUDP, FirstSeq: 5001},
			{Channel: 1, Reason: wire.RejectNotYetSent, Count: math.MaxUint32, Session: testSessionUDP, FirstSeq: math.MaxUint64},
		}
		if len(rejects) != 2 || rejects[0] != want[0] || rejects[1] != want[1] {
			t.Errorf("rejects %+v, want %+v", rejects, want)
		}
	})
}

func TestServerRateLimitsFlood(t *testing.T) {
	t.Parallel()
	const (
		rate  = 2000
		burst = 300
		ask   = 100
	)
	s := startServer(t, ServerConfig{Caches: map[uint16]*Cache{1: testCacheRange(t, 1, 1001, 20)}, Policy: PolicyConfig{Rate: rate, Burst: burst}})
	c, rec := startClient(t, s.LocalAddr())
	start := time.Now()
	sent := 0
	// Thousands of requests as fast as the server reads them (in batches,
	// so no request is lost to a full socket buffer).
	for sent < 3000 && time.Since(start) < 10*time.Second {
		for range 30 {
			request(t, c, 1, testSessionUDP, 1+uint64(sent%900), ask)
			sent++
		}
		waitFor(t, "requests handled", func() bool { return validated(s.Stats()) >= uint64(sent) })
	}
	elapsed := time.Since(start)
	st := s.Stats()
	if limit := rate*elapsed.Seconds() + burst; float64(st.Answered) > limit {
		t.Errorf("answered %d messages in %v: more than rate×time+burst = %.0f", st.Answered, elapsed, limit)
	}
	if st.Answered < burst || st.RejectedRateLimited == 0 {
		t.Errorf("stats %+v", st)
	}
	if st.Answered > uint64(sent)*ask {
		t.Errorf("answered %d messages for %d requests of %d", st.Answered, sent, ask)
	}
	waitFor(t, "a rate-limited reject", func() bool {
		_, rejects, _ := rec.snapshot()
		for _, r := range rejects {
			if r.Reason == wire.RejectRateLimited && r.RetryAfterMs > 0 && r.Count == ask {
				return true
			}
		}
		return false
	})
	if n := s.policy.requesters(); n != 1 {
		t.Errorf("tracks %d requesters", n)
	}
}

func TestServerGarbage(t *testing.T) {
	t.Parallel()
	s := startServer(t, ServerConfig{Caches: map[uint16]*Cache{1: testCacheRange(t, 1, 101, 10)}})
	raw := dialRaw(t, s.LocalAddr())
	garbage := garbageRequests(t)
	for _, g := range garbage {
		if _, err := raw.Write(g); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "garbage counted", func() bool { return s.Stats().Malformed == uint64(len(garbage)) })
	// No answer came back to the sender of garbage: a valid request's answer
	// (its token, it has none yet) is the first thing it reads.
	req := wire.RetransmitRequest{Channel: 1, Count: 3, Session: testSessionUDP, FirstSeq: 7}
	if _, err := raw.Write(wire.AppendControl(nil, 1, testSessionUDP, 1, req)); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 2048)
	raw.SetReadDeadline(time.Now().Add(15 * time.Second))
	n, err := raw.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := wire.DecodeRetransmitToken(mustParse(t, buf[:n]).Body())
	if err != nil || tok.Channel != 1 || tok.Token == 0 {
		t.Fatalf("first answer % x: %+v, %v", buf[:n], tok, err)
	}
	req.Token = tok.Token
	if _, err := raw.Write(wire.AppendControl(nil, 1, testSessionUDP, 1, req)); err != nil {
		t.Fatal(err)
	}
	if n, err = raw.Read(buf); err != nil {
		t.Fatal(err)
	}
	p := mustParse(t, buf[:n])
	if !p.Has(wire.FlagRetransmission) || p.Seq != 7 || p.Count != 3 {
		t.Errorf("answer with the token %+v", p.Header)
	}
	// The server counts an answer once it has sent it: the datagram may be
	// read first.
	waitFor(t, "the answer counted", func() bool { return s.Stats().Answered == 3 })
	if st := s.Stats(); st.Requests != 2 || st.Unvalidated != 1 || st.TokensSent != 1 || st.Answered != 3 {
		t.Errorf("stats %+v", st)
	}
}

// garbageRequests returns datagrams a server must count as malformed.
func garbageRequests(tb testing.TB) [][]byte {
	valid := wire.AppendControl(nil, 1, testSessionUDP, 1, wire.RetransmitRequest{Channel: 1, Count: 3, Session: testSessionUDP, FirstSeq: 7})
	wrongMagic := append([]byte(nil), valid...)
	wrongMagic[0] = 'X'
	wrongVersion := append([]byte(nil), valid...)
	wrongVersion[2] = 2
	flagged := append([]byte(nil), valid...)
	wire.SetFlags(flagged, wire.FlagHeartbeat)
	sequenced := append([]byte(nil), valid...)
	wire.SetSeq(sequenced, 7)
	g := [][]byte{
		{},
		{0x54},
		valid[:wire.HeaderLen],
		valid[:len(valid)-1],
		append(append([]byte(nil), valid...), 0),
		wrongMagic,
		wrongVersion,
		flagged,
		sequenced,
		wire.AppendControl(nil, 1, testSessionUDP, 1, wire.RetransmitRequest{Channel: 1, Count: 0, Session: testSessionUDP, FirstSeq: 7}),
		wire.AppendControl(nil, 1, 0, 1, wire.SnapshotRequest{Channel: 1}),
		wire.AppendControl(nil, 1, 0, 1, wire.RetransmitReject{Channel: 1, Count: 3, Reason: wire.RejectTooOld}),
		testPacket(tb, 1, testSessionUDP, 7, 3),
	}
	rng := rand.New(rand.NewPCG(9, 9))
	for range 20 {
		b := make([]byte, rng.IntN(200))
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		g = append(g, b)
	}
	return g
}

func TestServerHandleAllocs(t *testing.T) {
	s, err := newServer(ServerConfig{Addr: "x", Caches: map[uint16]*Cache{1: testCacheRange(t, 1, 1001, 29)}})
	if err != nil {
		t.Fatal(err)
	}
	from := netip.MustParseAddrPort("127.0.0.1:5000")
	r := wire.RetransmitRequest{Channel: 1, Count: 100, Session: testSessionUDP, FirstSeq: 45}
	unvalidated := wire.AppendControl(nil, 1, testSessionUDP, 1, r)
	r.Token = s.token(from.Addr())
	req := wire.AppendControl(nil, 1, testSessionUDP, 1, r)
	send := func([]byte, netip.AddrPort) error { return nil }
	s.handle(req, from, time.Now(), send) // the requester's bucket
	if n := testing.AllocsPerRun(100, func() { s.handle(req, from, time.Now(), send) }); n != 0 {
		t.Errorf("handle: %v allocs", n)
	}
	if n := testing.AllocsPerRun(100, func() { s.handle(unvalidated, from, time.Now(), send) }); n != 0 {
		t.Errorf("handle without a token: %v allocs", n)
	}
	if st := s.Stats(); st.Answered == 0 || st.TokensSent == 0 {
		t.Errorf("stats %+v", st)
	}
}

func TestRequesterLimitsEvictsOldest(t *testing.T) {
	l := newRequesterLimits(1, 5, 3)
	a := func(i byte) netip.Addr { return netip.AddrFrom4([4]byte{127, 0, 0, i}) }
	first := l.get(a(1))
	first.AllowN(time.Now(), 5)
	l.get(a(2))
	l.get(a(3))
	l.get(a(1)) // most recent again
	l.get(a(4)) // evicts 2
	if l.len() != 3 || l.m[a(2)] != nil || l.get(a(1)) != first {
		t.Errorf("table %v", l.m)
	}
	if ms := retryAfterMs(first, time.Now()); ms < 1 || ms > 1000 {
		t.Errorf("retry after %d ms", ms)
	}
}

func FuzzServerRequest(f *testing.F) {
	cache := testCacheRange(f, 1, 3001, 29)
	putRun(f, cache, testSessionUDP, 4000, 5000, 7)
	const maxMsgs, maxBytes = 500, 9000
	s, err := newServer(ServerConfig{Addr: "x", Caches: map[uint16]*Cache{1: cache}, Policy: PolicyConfig{MaxMessages: maxMsgs, MaxBytes: maxBytes, Rate: 1e5, Burst: 2000}})
	if err != nil {
		f.Fatal(err)
	}
	for _, g := range garbageRequests(f) {
		f.Add(g)
	}
	for _, r := range []wire.RetransmitRequest{
		{Channel: 1, Count: 100, Session: testSessionUDP, FirstSeq: 45},
		{Channel: 1, Count: math.MaxUint32, Session: testSessionUDP, FirstSeq: 2990},
		{Channel: 1, Count: 3000, Session: testSessionUDP, FirstSeq: 2900},
		{Channel: 2, Count: 10, Session: testSessionUDP, FirstSeq: 1},
	} {
		f.Add(wire.AppendControl(nil, r.Channel, r.Session, 1, r))
	}
	// A probe, and a request with a token of no server.
	f.Add(wire.AppendControl(nil, 1, 0, 1, wire.RetransmitRequest{Channel: 1, Count: 1}))
	f.Add(wire.AppendControl(nil, 1, testSessionUDP, 1, wire.RetransmitRequest{Channel: 1, Count: 10, Token: 1, Session: testSessionUDP, FirstSeq: 45}))
	from := netip.MustParseAddrPort("127.0.0.1:5000")
	tok := s.token(from.Addr())
	f.Fuzz(func(t *testing.T, b []byte) {
		// As it is, then (when it holds a request) with the requester's
		// token, so the fuzzer reaches the answers past validation.
		checkServerAnswer(t, s, b, from, tok, maxMsgs, maxBytes)
		if _, ok := parseRequest(b); ok {
			b = bytes.Clone(b)
			binary.LittleEndian.PutUint32(b[wire.HeaderLen+12:], tok)
			checkServerAnswer(t, s, b, from, tok, maxMsgs, maxBytes)
		}
	})
}

// checkServerAnswer has s handle b from from and checks its answer: nothing
// for garbage; at most one RetransmitToken holding tok, and nothing else, for
// a request without tok; otherwise retransmissions within the request and the
// caps, and one reject at most: alone, or after data for the rest of the
// range not yet sent.
func checkServerAnswer(t *testing.T, s *Server, b []byte, from netip.AddrPort, tok uint32, maxMsgs, maxBytes int) {
	req, ok := parseRequest(b)
	var msgs, bytes, rejects, tokens int
	var rej wire.RetransmitReject
	s.handle(b, from, time.Now(), func(pkt []byte, to netip.AddrPort) error {
		if !ok {
			t.Fatalf("answered a malformed request")
		}
		if to != from {
			t.Fatalf("answered %v, not the requester", to)
		}
		p, err := wire.Parse(pkt)
		if err != nil {
			t.Fatalf("answer malformed: %v", err)
		}
		if req.Token != tok {
			got, err := wire.DecodeRetransmitToken(p.Body())
			if err != nil || got.Token != tok || got.Channel != req.Channel || len(pkt) >= len(b) || tokens > 0 {
				t.Fatalf("answer to a request without its token: % x (%v)", pkt, err)
			}
			tokens++
			return nil
		}
		if !p.Has(wire.FlagRetransmission) {
			if rej, err = wire.DecodeRetransmitReject(p.Body()); err != nil || rejects > 0 {
				t.Fatalf("answer is neither retransmission nor one reject: %v", err)
			}
			rejects++
			return nil
		}
		if rejects > 0 {
			t.Fatalf("retransmission after a reject")
		}
		if p.Seq != req.FirstSeq+uint64(msgs) || p.End()-req.FirstSeq > uint64(req.Count) {
			t.Fatalf("answered %d+%d for %d+%d after %d messages", p.Seq, p.Count, req.FirstSeq, req.Count, msgs)
		}
		msgs += int(p.Count)
		bytes += len(pkt)
		return nil
	})
	if msgs > int(req.Count) || msgs > maxMsgs || bytes > maxBytes {
		t.Fatalf("request %+v: %d messages, %d bytes, %d rejects", req, msgs, bytes, rejects)
	}
	if msgs > 0 && rejects > 0 {
		want := wire.RetransmitReject{Channel: req.Channel, Reason: wire.RejectNotYetSent, Count: req.Count - uint32(msgs), Session: req.Session, FirstSeq: req.FirstSeq + uint64(msgs)}
		if rej != want {
			t.Fatalf("request %+v: %d messages, then reject %+v, want %+v", req, msgs, rej, want)
		}
	}
}

func BenchmarkServerHandle(b *testing.B) {
	s, err := newServer(ServerConfig{Addr: "x", Caches: map[uint16]*Cache{1: testCacheRange(b, 1, 1<<15, 29)}, Policy: PolicyConfig{Rate: 1e12, Burst: 1 << 30}})
	if err != nil {
		b.Fatal(err)
	}
	from := netip.MustParseAddrPort("127.0.0.1:5000")
	req := wire.AppendControl(nil, 1, testSessionUDP, 1, wire.RetransmitRequest{Channel: 1, Count: 290, Token: s.token(from.Addr()), Session: testSessionUDP, FirstSeq: 1000})
	send := func([]byte, netip.AddrPort) error { return nil }
	b.ReportAllocs()
	for b.Loop() {
		s.handle(req, from, time.Now(), send)
	}
}

// A requester that never shows it receives at its address (DESIGN.md,
// "Security and abuse") gets less than it sent, and never data: its token
// only, whatever it asks for.
func TestServerUnvalidatedAmplification(t *testing.T) {
	t.Parallel()
	s := startServer(t, ServerConfig{Caches: map[uint16]*Cache{1: testCacheRange(t, 1, 5001, 29)}})
	raw := dialRaw(t, s.LocalAddr())
	other := s.token(netip.MustParseAddr("127.0.0.2"))
	const n = 50
	sent := 0
	for i := range n {
		// The most a request may ask, without a token or with another
		// address's.
		r := wire.RetransmitRequest{Channel: 1, Count: math.MaxUint32, Session: testSessionUDP, FirstSeq: 1}
		if i%2 == 1 {
			r.Token = other
		}
		req := wire.AppendControl(nil, 1, testSessionUDP, 1, r)
		if _, err := raw.Write(req); err != nil {
			t.Fatal(err)
		}
		sent += len(req)
		if i%10 == 9 { // in batches: no request lost to a full socket buffer
			waitFor(t, "requests handled", func() bool { return s.Stats().Requests == uint64(i+1) })
		}
	}
	waitFor(t, "every request answered", func() bool { return s.Stats().TokensSent == n })

	// Read everything the server sent: n datagrams, then nothing more.
	got, datagrams := 0, 0
	buf := make([]byte, 1<<16)
	want := s.token(netip.MustParseAddr("127.0.0.1"))
	for {
		wait := 15 * time.Second
		if datagrams == n {
			wait = 100 * time.Millisecond // only to see that nothing else comes
		}
		raw.SetReadDeadline(time.Now().Add(wait))
		k, err := raw.Read(buf)
		if err != nil {
			if datagrams < n {
				t.Fatalf("read %d of %d answers: %v", datagrams, n, err)
			}
			break
		}
		datagrams++
		got += k
		p := mustParse(t, buf[:k])
		tok, err := wire.DecodeRetransmitToken(p.Body())
		if err != nil || p.Flags != 0 || tok.Token != want || tok.Channel != 1 {
			t.Fatalf("answer %d is not the requester's token: %+v % x", datagrams, p.Header, buf[:k])
		}
	}
	st := s.Stats()
	t.Logf("unvalidated requester: sent %d bytes in %d requests, received %d bytes in %d datagrams (%.2f×)",
		sent, n, got, datagrams, float64(got)/float64(sent))
	if got > 3*sent || datagrams != n || got != n*tokenPacketLen {
		t.Errorf("sent %d bytes, received %d bytes in %d datagrams", sent, got, datagrams)
	}
	if st.Answered != 0 || st.AnsweredPackets != 0 || st.Unvalidated != n || st.BytesReceived != uint64(sent) || st.Bytes != uint64(got) {
		t.Errorf("stats %+v", st)
	}

	// The same socket, echoing its token, is answered in full.
	req := wire.AppendControl(nil, 1, testSessionUDP, 1, wire.RetransmitRequest{Channel: 1, Count: 3, Token: want, Session: testSessionUDP, FirstSeq: 7})
	if _, err := raw.Write(req); err != nil {
		t.Fatal(err)
	}
	raw.SetReadDeadline(time.Now().Add(15 * time.Second))
	k, err := raw.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	if p := mustParse(t, buf[:k]); !p.Has(wire.FlagRetransmission) || p.Seq != 7 || p.Count != 3 {
		t.Errorf("answer with the token %+v", p.Header)
	}
}

// The token depends on the address only, never 0; another server's differs.
func TestServerToken(t *testing.T) {
	cache := testCacheRange(t, 1, 2, 1)
	s1, err := newServer(ServerConfig{Addr: "x", Caches: map[uint16]*Cache{1: cache}})
	if err != nil {
		t.Fatal(err)
	}
	s2, err := newServer(ServerConfig{Addr: "x", Caches: map[uint16]*Cache{1: cache}})
	if err != nil {
		t.Fatal(err)
	}
	a := netip.MustParseAddr("127.0.0.1")
	mapped := netip.AddrFrom16(a.As16())
	if s1.token(a) == 0 || s1.token(a) != s1.token(mapped) || s1.token(a) == s1.token(netip.MustParseAddr("127.0.0.2")) {
		t.Errorf("tokens %#x %#x", s1.token(a), s1.token(mapped))
	}
	if s1.token(a) == s2.token(a) {
		t.Errorf("two servers give 127.0.0.1 the same token %#x (1 in 2³² by chance)", s1.token(a))
	}
}

// Token answers are limited across all sources: a flood of spoofed
// requests from many addresses draws tokenBurst of them, then tokenRate a
// second.
func TestServerTokenRateLimit(t *testing.T) {
	s, err := newServer(ServerConfig{Addr: "x", Caches: map[uint16]*Cache{1: testCacheRange(t, 1, 101, 10)}})
	if err != nil {
		t.Fatal(err)
	}
	req := wire.AppendControl(nil, 1, testSessionUDP, 1, wire.RetransmitRequest{Channel: 1, Count: 10, Session: testSessionUDP, FirstSeq: 1})
	now := time.Now()
	sends := 0
	send := func([]byte, netip.AddrPort) error { sends++; return nil }
	for i := range 3 * tokenBurst {
		from := netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 1, byte(i >> 8), byte(i)}), 4000)
		s.handle(req, from, now, send)
	}
	s.handle(req, netip.MustParseAddrPort("127.0.0.1:1"), now.Add(time.Second), send)
	if st := s.Stats(); sends != tokenBurst+1 || st.TokensSent != tokenBurst+1 || st.Unvalidated != 3*tokenBurst+1 || st.Answered != 0 {
		t.Errorf("%d sends, stats %+v", sends, st)
	}
}

// A client validates when it starts; a token of another server (this one
// restarted on the same port with a new key) is refused with the new token,
// which the client adopts, and its next request is answered.
func TestClientRevalidatesAfterRestart(t *testing.T) {
	t.Parallel()
	cache := testCacheRange(t, 1, 1001, 29)
	serve := func(addr string) (*Server, func()) {
		s, err := NewServer(ServerConfig{Addr: addr, Caches: map[uint16]*Cache{1: cache}, Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- s.Serve(ctx) }()
		return s, func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Serve: %v", err)
			}
		}
	}
	s1, stop1 := serve("127.0.0.1:0")
	c, rec := startClient(t, s1.LocalAddr())
	first := c.token.Load()
	if !c.Validated() || first != s1.token(netip.MustParseAddr("127.0.0.1")) {
		t.Fatalf("client token %#x, server's %#x", first, s1.token(netip.MustParseAddr("127.0.0.1")))
	}
	// The server counts a token once its send returned, which may be after
	// the client took it.
	waitFor(t, "the server to count its token", func() bool { return s1.Stats().TokensSent > 0 })
	if cs, st := c.Stats(), s1.Stats(); cs.Tokens == 0 || cs.Probes == 0 || st.TokensSent == 0 || st.Unvalidated < st.TokensSent || st.Answered != 0 {
		t.Errorf("client %+v server %+v", cs, st)
	}
	request(t, c, 1, testSessionUDP, 10, 5)
	waitFor(t, "5 messages", func() bool { return rec.messages() == 5 })
	stop1()

	s2, stop2 := serve(s1.LocalAddr().String())
	defer stop2()
	want := s2.token(netip.MustParseAddr("127.0.0.1"))
	tokens := c.Stats().Tokens
	request(t, c, 1, testSessionUDP, 20, 5) // with s1's token
	waitFor(t, "the new token", func() bool { return c.Stats().Tokens > tokens })
	if got := c.token.Load(); got != want || got == first {
		t.Fatalf("client token %#x, want %#x (the old one %#x)", got, want, first)
	}
	if st := s2.Stats(); st.Unvalidated != 1 || st.Answered != 0 {
		t.Errorf("server %+v", st)
	}
	request(t, c, 1, testSessionUDP, 20, 5) // the retry, with s2's token
	waitFor(t, "10 messages", func() bool { return rec.messages() == 10 })
	seqs, rejects, err := rec.snapshot()
	if err != nil || len(rejects) != 0 {
		t.Fatalf("rejects %v, %v", rejects, err)
	}
	checkRun(t, seqs[5:], 20, 5)
}

// A client whose server is not there waits for its token until ctx ends, and
// WaitValidated ends with Close; Run's probe stops with Run.
func TestClientWaitValidated(t *testing.T) {
	t.Parallel()
	srv := fakeServer(t) // reads nothing, answers nothing
	c, err := NewClient(ClientConfig{Server: srv.LocalAddr().(*net.UDPAddr).AddrPort(), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx, &recorder{}) }()
	waitFor(t, "a probe", func() bool { return c.Stats().Probes > 0 })
	short, cancelShort := context.WithCancel(context.Background())
	cancelShort()
	if err := c.WaitValidated(short); err == nil || c.Validated() {
		t.Errorf("WaitValidated without a server: %v", err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run: %v", err)
	}
	probes := c.Stats().Probes
	c.Close()
	if err := c.WaitValidated(context.Background()); err == nil {
		t.Error("WaitValidated after Close succeeded")
	}
	if c.Stats().Probes != probes {
		t.Error("probes after Run ended")
	}
}

// A range reaching past the newest sequence sent is answered up to it, then
// refused as not yet sent for exactly the rest (a phantom gap's tail).
func TestServerNotYetSentRemainder(t *testing.T) {
	t.Parallel()
	s := startServer(t, ServerConfig{Caches: map[uint16]*Cache{1: testCacheRange(t, 1, 101, 10)}})
	c, rec := startClient(t, s.LocalAddr())
	request(t, c, 1, testSessionUDP, 91, 30) // 91–100 held, 101–120 never sent
	waitFor(t, "the answer and the reject", func() bool { return rec.messages() >= 10 && rec.rejectCount() >= 1 })
	seqs, rejects, err := rec.snapshot()
	if err != nil {
		t.Fatal(err)
	}
	checkRun(t, seqs, 91, 10)
	want := wire.RetransmitReject{Channel: 1, Reason: wire.RejectNotYetSent, Count: 20, Session: testSessionUDP, FirstSeq: 101}
	if len(rejects) != 1 || rejects[0] != want {
		t.Errorf("rejects %+v, want %+v", rejects, want)
	}
	waitFor(t, "stats", func() bool { return s.Stats().RejectedNotYetSent == 1 })
	if st := s.Stats(); st.Answered != 10 || st.RejectedNotYetSent != 1 || dataBytes(st) != wire.HeaderLen+10*wire.LevelUpdateLen+wire.HeaderLen+wire.RetransmitRejectLen {
		t.Errorf("stats %+v", st)
	}
}
