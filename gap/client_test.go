package gap

import (
	"context"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/tickcast/tickcast/internal/testwait"
	"github.com/tickcast/tickcast/wire"
)

func TestClientConfigValidation(t *testing.T) {
	for _, cfg := range []ClientConfig{
		{},
		{Server: netip.MustParseAddrPort("127.0.0.1:0")},
		{Server: netip.MustParseAddrPort("127.0.0.1:9"), Local: "nowhere:x"},
	} {
		if c, err := NewClient(cfg); err == nil {
			c.Close()
			t.Errorf("NewClient(%+v) accepted", cfg)
		}
	}
}

func TestClientConcurrentRequests(t *testing.T) {
	t.Parallel()
	s := startServer(t, ServerConfig{Caches: map[uint16]*Cache{1: testCacheRange(t, 1, 1001, 10)}})
	c, rec := startClient(t, s.LocalAddr())
	const workers, each = 4, 50
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				if err := c.Request(wire.RetransmitRequest{Channel: 1, Session: testSessionUDP, FirstSeq: uint64(1 + 4*(w*each+i)), Count: 2}); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	waitFor(t, "every request answered", func() bool { return rec.messages() == 2*workers*each })
	if st, cs := s.Stats(), c.Stats(); validated(st) != workers*each || cs.Requests != workers*each || cs.Packets != workers*each {
		t.Errorf("server %+v client %+v", st, cs)
	}
}

// fakeServer is a bare UDP socket standing in for a retransmit server.
func fakeServer(t testing.TB) *net.UDPConn {
	t.Helper()
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// validateFake reads the client's validation probe on srv, checks it and
// answers it with tok; it returns the client's address.
func validateFake(t *testing.T, srv *net.UDPConn, c *Client, tok uint32) netip.AddrPort {
	t.Helper()
	buf := make([]byte, 256)
	n, from, err := srv.ReadFromUDPAddrPort(buf)
	if err != nil {
		t.Fatal(err)
	}
	if got, ok := parseRequest(buf[:n]); !ok || got != probeRequest(1) || got != (wire.RetransmitRequest{Channel: 1, Count: 1}) {
		t.Fatalf("probe on the wire %+v, want %+v", got, probeRequest(1))
	}
	if _, err := srv.WriteToUDPAddrPort(wire.AppendControl(nil, 1, 0, 1, wire.RetransmitToken{Channel: 1, Token: tok}), from); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := c.WaitValidated(ctx); err != nil {
		t.Fatal(err)
	}
	return from
}

// readRequest returns the next request srv receives that is not a probe.
func readRequest(t *testing.T, srv *net.UDPConn) wire.RetransmitRequest {
	t.Helper()
	buf := make([]byte, 256)
	for {
		n, _, err := srv.ReadFromUDPAddrPort(buf)
		if err != nil {
			t.Fatal(err)
		}
		if r, ok := parseRequest(buf[:n]); ok && r != probeRequest(1) {
			return r
		}
	}
}

func TestClientDropsMalformedAnswers(t *testing.T) {
	t.Parallel()
	srv := fakeServer(t)
	c, rec := runClient(t, srv.LocalAddr().(*net.UDPAddr).AddrPort())
	from := validateFake(t, srv, c, 0xabcd1234)
	request(t, c, 1, testSessionUDP, 7, 3)
	if got, want := readRequest(t, srv), (wire.RetransmitRequest{Channel: 1, Token: 0xabcd1234, Session: testSessionUDP, FirstSeq: 7, Count: 3}); got != want {
		t.Fatalf("request on the wire %+v, want %+v", got, want)
	}
	bad := garbageAnswers(t)
	for _, b := range bad {
		if _, err := srv.WriteToUDPAddrPort(b, from); err != nil {
			t.Fatal(err)
		}
	}
	good := testPacket(t, 1, testSessionUDP, 7, 3)
	wire.SetFlags(good, wire.FlagRetransmission)
	reject := wire.AppendControl(nil, 1, testSessionUDP, 1, wire.RetransmitReject{Channel: 1, Reason: wire.RejectTooOld, Count: 3, Session: testSessionUDP, FirstSeq: 7})
	for _, b := range [][]byte{good, reject} {
		if _, err := srv.WriteToUDPAddrPort(b, from); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "answers", func() bool {
		st := c.Stats()
		return st.Packets+st.Rejects+st.Malformed == uint64(len(bad)+2)
	})
	if st := c.Stats(); st.Packets != 1 || st.Rejects != 1 || st.Tokens != 1 || st.Malformed != uint64(len(bad)) {
		t.Errorf("stats %+v", st)
	}
	seqs, rejects, err := rec.snapshot()
	if err != nil {
		t.Fatal(err)
	}
	checkRun(t, seqs, 7, 3)
	if len(rejects) != 1 || rejects[0].Reason != wire.RejectTooOld {
		t.Errorf("rejects %+v", rejects)
	}
}

// garbageAnswers returns datagrams a client must count as malformed.
func garbageAnswers(tb testing.TB) [][]byte {
	live := testPacket(tb, 1, testSessionUDP, 7, 3) // not flagged retransmission
	hb := wire.Header{Flags: wire.FlagHeartbeat | wire.FlagRetransmission, Channel: 1, Session: testSessionUDP, Seq: 10}.Append(nil)
	empty := wire.Header{Flags: wire.FlagRetransmission, Channel: 1, Session: testSessionUDP, Seq: 10}.Append(nil)
	snap := append([]byte(nil), live...)
	wire.SetFlags(snap, wire.FlagRetransmission|wire.FlagSnapshot)
	truncated := append([]byte(nil), live...)
	wire.SetFlags(truncated, wire.FlagRetransmission)
	flaggedReject := wire.AppendControl(nil, 1, testSessionUDP, 1, wire.RetransmitReject{Channel: 1, Reason: wire.RejectTooOld, Count: 3})
	wire.SetFlags(flaggedReject, wire.FlagRetransmission)
	flaggedToken := wire.AppendControl(nil, 1, 0, 1, wire.RetransmitToken{Channel: 1, Token: 9})
	wire.SetFlags(flaggedToken, wire.FlagRetransmission)
	return [][]byte{
		{},
		[]byte("hello"),
		live,
		hb,
		empty,
		snap,
		truncated[:len(truncated)-1],
		flaggedReject,
		wire.AppendControl(nil, 1, testSessionUDP, 1, wire.RetransmitRequest{Channel: 1, Count: 3, Session: testSessionUDP, FirstSeq: 7}),
		wire.AppendControl(nil, 1, 0, 1, wire.SnapshotEnd{Channel: 1}),
		wire.AppendControl(nil, 1, 0, 1, wire.RetransmitToken{Channel: 1}), // token 0: none
		flaggedToken,
		append(wire.AppendControl(nil, 1, 0, 1, wire.RetransmitToken{Channel: 1, Token: 9}), 0), // a byte past the message
	}
}

func TestClientCloseEndsRun(t *testing.T) {
	t.Parallel()
	srv := fakeServer(t)
	c, err := NewClient(ClientConfig{Server: srv.LocalAddr().(*net.UDPAddr).AddrPort(), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	if !c.LocalAddr().IsValid() {
		t.Errorf("LocalAddr %v", c.LocalAddr())
	}
	done := make(chan error, 1)
	go func() { done <- c.Run(context.Background(), &recorder{}) }()
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Errorf("Run after Close: %v", err)
	}
	if err := c.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if c.Request(wire.RetransmitRequest{Channel: 1, Count: 1, Session: 1, FirstSeq: 1}) == nil {
		t.Error("Request after Close succeeded")
	}
}

// checkingHandler fails the test on anything a Client must not hand over.
type checkingHandler struct{ t *testing.T }

func (h checkingHandler) Retransmission(p wire.Packet, rxTime int64) {
	q, err := wire.Parse(p.Bytes())
	if err != nil || q.Header != p.Header || !p.Has(wire.FlagRetransmission) || !p.Sequenced() || p.Count == 0 {
		h.t.Fatalf("handed %+v (%v)", p.Header, err)
	}
	it := p.Messages()
	for it.Next() {
		_ = it.Message().Type()
	}
}

func (h checkingHandler) Reject(r wire.RetransmitReject) {}

func FuzzClientAnswer(f *testing.F) {
	for _, b := range garbageAnswers(f) {
		f.Add(b)
	}
	good := testPacket(f, 1, testSessionUDP, 7, 3)
	wire.SetFlags(good, wire.FlagRetransmission)
	f.Add(good)
	f.Add(wire.AppendControl(nil, 1, testSessionUDP, 1, wire.RetransmitReject{Channel: 1, Reason: wire.RejectRateLimited, Count: 3, RetryAfterMs: 5}))
	f.Add(wire.AppendControl(nil, 1, 0, 1, wire.RetransmitReject{Channel: 1, Reason: wire.RejectNotAllowed, Count: 1})) // the probe's
	f.Add(wire.AppendControl(nil, 1, 0, 1, wire.RetransmitToken{Channel: 1, Token: 0xabcd1234}))
	srv := fakeServer(f)
	c, err := NewClient(ClientConfig{Server: srv.LocalAddr().(*net.UDPAddr).AddrPort(), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { c.Close() })
	f.Fuzz(func(t *testing.T, b []byte) {
		before := c.Stats()
		c.handle(b, 1, checkingHandler{t})
		after := c.Stats()
		if after.Packets+after.Rejects+after.Tokens+after.Malformed != before.Packets+before.Rejects+before.Tokens+before.Malformed+1 {
			t.Fatalf("datagram counted %+v → %+v", before, after)
		}
		if after.Tokens > before.Tokens {
			if tok, err := wire.DecodeRetransmitToken(b[wire.HeaderLen:]); err != nil || c.token.Load() != tok.Token || !c.Validated() {
				t.Fatalf("token %+v (%v) kept as %#x", tok, err, c.token.Load())
			}
		}
	})
}

func TestClientRequestAllocs(t *testing.T) {
	srv := fakeServer(t)
	c, err := NewClient(ClientConfig{Server: srv.LocalAddr().(*net.UDPAddr).AddrPort(), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r := wire.RetransmitRequest{Channel: 1, Count: 10, Session: 5, FirstSeq: 100}
	if n := testing.AllocsPerRun(100, func() {
		if err := c.Request(r); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("Request: %v allocs", n)
	}
}

// TestClientBeforeItsServer: a client started before its server (a
// subscriber before its publisher) counts the port unreachable reports of
// its probes and validates once the server is up.
func TestClientBeforeItsServer(t *testing.T) {
	// A port nobody listens on, then a server bound to it.
	probe, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	addr := probe.LocalAddr().(*net.UDPAddr).AddrPort()
	probe.Close()
	c, _ := runClient(t, addr)
	testwait.For(t, "a port unreachable", func() bool { return c.Stats().Unreachable > 0 })
	if c.Validated() {
		t.Fatal("validated with no server")
	}
	startServer(t, ServerConfig{Addr: addr.String(), Caches: map[uint16]*Cache{1: testCacheRange(t, 1, 10, 3)}})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := c.WaitValidated(ctx); err != nil {
		t.Fatal(err)
	}
}
