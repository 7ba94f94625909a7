package link

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/tickcast/tickcast/internal/pki"
	"github.com/tickcast/tickcast/wire"
)

// waitFor polls cond until it holds or a generous deadline passes (the VM
// stalls at random: never assert on speed).
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// newPKI returns a fresh in-memory PKI.
func newPKI(t testing.TB) *pki.TestPKI {
	t.Helper()
	p, err := pki.NewTestPKI()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// mkPacket builds a packet of n Trade messages starting at seq.
func mkPacket(flags wire.Flags, channel uint16, session, seq uint64, n int) []byte {
	var b wire.Builder
	b.Reset(make([]byte, 0, wire.HeaderLen+n*wire.TradeLen), wire.MaxMessages*wire.TradeLen, wire.Header{Flags: flags, Channel: channel, Session: session, Seq: seq})
	for i := range n {
		wire.Add(&b, wire.Trade{Instrument: 7, Price: int64(seq) + int64(i), Qty: 1, TradeID: seq + uint64(i)})
	}
	return b.Finish(time.Now().UnixNano())
}

// fakeFeed serves retransmissions from packets of 3 messages per sequence
// block, and a snapshot of two packets plus SnapshotEnd.
type fakeFeed struct {
	session uint64
	last    uint64 // last sequence the feed knows

	mu        sync.Mutex
	requests  []wire.RetransmitRequest
	snapshots int
}

const fakeMsgsPerPacket = 3

// packet returns the feed's packet holding seq (aligned blocks of 3 from 1).
func (f *fakeFeed) packetAt(channel uint16, seq uint64) []byte {
	start := (seq-1)/fakeMsgsPerPacket*fakeMsgsPerPacket + 1
	n := min(fakeMsgsPerPacket, int(f.last-start+1))
	return mkPacket(wire.FlagRetransmission, channel, f.session, start, n)
}

func (f *fakeFeed) Retransmit(channel uint16, session, first uint64, count uint32, maxMsgs, maxBytes int, emit func([]byte) error) (uint32, wire.RejectReason, error) {
	f.mu.Lock()
	f.requests = append(f.requests, wire.RetransmitRequest{Channel: channel, Session: session, FirstSeq: first, Count: count})
	f.mu.Unlock()
	switch {
	case session != f.session:
		return 0, wire.RejectUnknownSession, nil
	case first == 0 || first > f.last:
		return 0, wire.RejectNotYetSent, nil
	}
	end := min(first+uint64(count), f.last+1)
	sent := uint32(0)
	for seq := first; seq < end; {
		p := f.packetAt(channel, seq)
		if h, _ := wire.ParseHeader(p); sent > 0 && int(sent)+int(h.End()-seq) > maxMsgs {
			break // whole packets only, like the cache, within the cap
		}
		if err := emit(p); err != nil {
			return sent, 0, err
		}
		h, _ := wire.ParseHeader(p)
		sent += uint32(h.End() - seq)
		seq = h.End()
	}
	if first+uint64(count) > f.last+1 && first+uint64(sent) == f.last+1 {
		return sent, wire.RejectNotYetSent, nil // like gap.Cache: the rest is not sent yet
	}
	return sent, 0, nil
}

func (f *fakeFeed) Snapshot(ctx context.Context, channel uint16, instrument uint32, emit func([]byte) error) error {
	f.mu.Lock()
	f.snapshots++
	f.mu.Unlock()
	for _, p := range snapshotPackets(channel, f.session, f.last) {
		if err := emit(p); err != nil {
			return err
		}
	}
	return nil
}

// snapshotPackets is the fake feed's snapshot: two packets of definitions and
// levels, then the SnapshotEnd packet.
func snapshotPackets(channel uint16, session, last uint64) [][]byte {
	var out [][]byte
	for i := range 2 {
		var b wire.Builder
		b.Reset(make([]byte, 0, 256), wire.DefaultMaxPacket, wire.Header{Flags: wire.FlagSnapshot, Channel: channel, Session: session, Seq: last})
		wire.Add(&b, wire.NewInstrumentDef(uint32(i+1), fmt.Sprintf("SYM%d", i), "TEST", -2, -3))
		wire.Add(&b, wire.BookClear{Instrument: uint32(i + 1)})
		wire.Add(&b, wire.LevelUpdate{Instrument: uint32(i + 1), Price: 100, Qty: 5})
		out = append(out, b.Finish(1))
	}
	var b wire.Builder
	b.Reset(make([]byte, 0, 64), wire.DefaultMaxPacket, wire.Header{Flags: wire.FlagSnapshot, Channel: channel, Session: session, Seq: last})
	wire.Add(&b, wire.SnapshotEnd{Channel: channel, Instruments: 2, LastSeq: last})
	return append(out, b.Finish(1))
}

// recorder is a Handler keeping a copy of every packet.
type recorder struct {
	mu   sync.Mutex
	pkts []recorded
}

type recorded struct {
	h     wire.Header
	bytes []byte
}

func (r *recorder) Packet(p wire.Packet, _ int64) {
	r.mu.Lock()
	r.pkts = append(r.pkts, recorded{p.Header, bytes.Clone(p.Bytes())})
	r.mu.Unlock()
}

// matching returns the recorded packets for which keep is true.
func (r *recorder) matching(keep func(recorded) bool) []recorded {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []recorded
	for _, p := range r.pkts {
		if keep(p) {
			out = append(out, p)
		}
	}
	return out
}

func (r *recorder) count(keep func(recorded) bool) int { return len(r.matching(keep)) }

func live(p recorded) bool { return p.h.Flags == 0 }

// testServer starts a server with feed and returns it; the cleanup cancels
// Serve and checks that it returned nil.
func testServer(t testing.TB, p *pki.TestPKI, feed Feed, mod func(*ServerConfig)) *Server {
	t.Helper()
	cfg := ServerConfig{Addr: "127.0.0.1:0", TLS: p.ServerTLS(), Feed: feed, Logger: quietLog()}
	if mod != nil {
		mod(&cfg)
	}
	s, err := NewServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return s
}

// testClient dials s and runs the client with h until the test ends.
func testClient(t testing.TB, s *Server, cfg ClientConfig, h Handler) *Client {
	t.Helper()
	c := dial(t, s.Addr().String(), cfg)
	runUntilCleanup(t, c, h)
	return c
}

// dial connects a client to addr.
func dial(t testing.TB, addr string, cfg ClientConfig) *Client {
	t.Helper()
	cfg.Addr = addr
	if cfg.Logger == nil {
		cfg.Logger = quietLog()
	}
	if cfg.NACKCopies == 0 {
		cfg.NACKCopies = 1 // the tests count one answer per NACK; TestNACKCopies checks more
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := Dial(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// runUntilCleanup runs c with h until the test ends, then checks that Run
// returned nil.
func runUntilCleanup(t testing.TB, c *Client, h Handler) {
	t.Helper()
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx, h) }()
	t.Cleanup(func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
}

func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }
