package publisher_test

import (
	"context"
	"errors"
	"github.com/tickcast/tickcast/egress"
	"maps"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/tickcast/tickcast/feed"
	"github.com/tickcast/tickcast/gap"
	"github.com/tickcast/tickcast/internal/link"
	"github.com/tickcast/tickcast/internal/mcast"
	"github.com/tickcast/tickcast/internal/mcast/mcasttest"
	"github.com/tickcast/tickcast/internal/pki"
	"github.com/tickcast/tickcast/publisher"
	"github.com/tickcast/tickcast/publisher/source"
	"github.com/tickcast/tickcast/publisher/synth"
	"github.com/tickcast/tickcast/wire"
)

// finiteSource publishes the generator's definitions and a fixed number of
// events, then idles until its context ends: the tail of the feed is then
// heartbeats, then the end of session.
type finiteSource struct {
	gen     *synth.Generator
	batches int
}

func (s finiteSource) Run(ctx context.Context, sink source.Sink) error {
	buf := s.gen.Definitions(nil)
	if err := sink.Publish(buf); err != nil {
		return err
	}
	for i := 0; i < s.batches; i++ {
		buf = s.gen.Next(buf[:0], 50, uint64(time.Now().UnixNano()))
		if err := sink.Publish(buf); err != nil {
			return err
		}
	}
	<-ctx.Done()
	return nil
}

// lineCapture reads one line until it has seen the end of session.
type lineCapture struct {
	pkts map[uint64][]byte // sequenced packets by first seq
	hbs  []wire.Header
	eos  *wire.Header
	bad  int
}

func readLine(t *testing.T, r *mcast.Receiver, c *lineCapture, done chan<- struct{}) {
	defer close(done)
	c.pkts = map[uint64][]byte{}
	for c.eos == nil {
		dgs, err := r.ReadBatch()
		if err != nil {
			if !errors.Is(err, context.Canceled) {
				t.Logf("read: %v", err)
			}
			return
		}
		for _, d := range dgs {
			p, err := wire.Parse(d.Data)
			if err != nil {
				c.bad++
				continue
			}
			switch {
			case p.Has(wire.FlagEndOfSession):
				h := p.Header
				c.eos = &h
			case p.Has(wire.FlagHeartbeat):
				c.hbs = append(c.hbs, p.Header)
			default:
				c.pkts[p.Seq] = append([]byte(nil), d.Data...)
			}
		}
	}
}

func TestPublisherEndToEnd(t *testing.T) {
	recvA, groupA := listen(t)
	recvB, groupB := listen(t)
	tp, err := pki.NewTestPKI("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	gen, err := synth.NewGenerator(synth.Config{Instruments: 5, Levels: 40, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	pub, err := publisher.New(publisher.Config{
		Channel: 7,
		Lines: []egress.Line{
			{Name: "A", Group: groupA, Interface: mcasttest.Interface, TTL: 0, Loopback: true},
			{Name: "B", Group: groupB, Interface: mcasttest.Interface, TTL: 0, Loopback: true},
		},
		Heartbeat:      20 * time.Millisecond,
		ChecksumEvery:  5 * time.Millisecond,
		RetransmitAddr: "127.0.0.1:0",
		LinkAddr:       "127.0.0.1:0",
		LinkTLS:        tp.ServerTLS(),
	})
	if err != nil {
		t.Fatal(err)
	}
	var capA, capB lineCapture
	doneA, doneB := make(chan struct{}), make(chan struct{})
	go readLine(t, recvA, &capA, doneA)
	go readLine(t, recvB, &capB, doneB)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	runErr := make(chan error, 1)
	go func() { runErr <- pub.Run(ctx, finiteSource{gen: gen, batches: 200}) }()

	// Wait until everything was sequenced and a heartbeat announced it.
	waitFor(t, "the source's data to be sent", func() bool {
		st := pub.Stats()
		return st.Batches == 201 && st.Heartbeats > 2
	})
	last := pub.Stats().NextSeq - 1

	// NACK over UDP: ask for a range in the middle, get exactly it back.
	retransmitted := nack(t, pub.RetransmitAddr(), pub.Session(), 100, 250)
	// Snapshot over the QUIC link.
	snap := snapshotOverLink(t, pub.LinkAddr(), tp)
	// The publisher's own books at the end, for the drill comparison.
	sums, sumSeq, err := pub.BookChecksums(ctx)
	if err != nil {
		t.Fatal(err)
	}

	cancel()
	if err := <-runErr; err != nil {
		t.Fatalf("Run: %v", err)
	}
	<-doneA
	<-doneB

	// Both lines carried the same packets, gap-free, and ended the session.
	for name, c := range map[string]*lineCapture{"A": &capA, "B": &capB} {
		if c.eos == nil || c.eos.Seq != last+1 || c.eos.Session != pub.Session() || c.eos.Channel != 7 {
			t.Fatalf("line %s: end of session %+v, want seq %d", name, c.eos, last+1)
		}
		if len(c.hbs) == 0 || c.hbs[len(c.hbs)-1].Seq != last+1 {
			t.Fatalf("line %s: heartbeats %v, want the last announcing %d", name, c.hbs, last+1)
		}
		if c.bad != 0 {
			t.Fatalf("line %s: %d malformed packets", name, c.bad)
		}
	}
	if len(capA.pkts) != len(capB.pkts) {
		t.Fatalf("A has %d packets, B %d", len(capA.pkts), len(capB.pkts))
	}
	msgs := make([][]byte, last+1) // by sequence
	var books feed.State
	checksums := 0
	for seq := uint64(1); seq <= last; {
		a, b := capA.pkts[seq], capB.pkts[seq]
		if a == nil {
			t.Fatalf("no packet starts at seq %d", seq)
		}
		if string(a) != string(b) {
			t.Fatalf("packet at seq %d differs between A and B", seq)
		}
		p, _ := wire.Parse(a)
		if len(a) > wire.DefaultMaxPacket {
			t.Fatalf("packet of %d bytes", len(a))
		}
		it := p.Messages()
		for it.Next() {
			m := it.Message()
			msgs[it.Seq()] = m.Bytes()
			if m.Type() == wire.TypeBookChecksum {
				c := m.BookChecksum()
				checksums++
				if in := books.Get(c.Instrument); !in.Verify(c) {
					t.Fatalf("seq %d: checksum of instrument %d is %+v, the rebuilt book's %+v", it.Seq(), c.Instrument, c, in.Checksum())
				}
			}
			books.Apply(m)
		}
		seq = p.End()
	}
	if checksums == 0 {
		t.Fatal("no BookChecksum on the feed")
	}
	// The retransmission is the original messages.
	for seq := uint64(100); seq < 350; seq++ {
		if string(retransmitted[seq]) != string(msgs[seq]) {
			t.Fatalf("retransmitted seq %d differs from the original", seq)
		}
	}
	// The snapshot rebuilds the books as the stream did at its sequence.
	var atSnap feed.State
	for seq := uint64(1); seq <= snap.lastSeq; seq++ {
		m, _ := wire.ReadMessage(msgs[seq])
		atSnap.Apply(m)
	}
	if snap.end.Instruments != 5 || snap.books.Len() != 5 {
		t.Fatalf("snapshot has %d instruments (SnapshotEnd says %d), want 5", snap.books.Len(), snap.end.Instruments)
	}
	if want, got := atSnap.Sums(), snap.books.Sums(); !maps.Equal(got, want) {
		t.Fatalf("snapshot books %08x, the stream's %08x", got, want)
	}
	// BookChecksums agrees with the books rebuilt from the whole stream.
	if sumSeq != last {
		t.Fatalf("BookChecksums reflects %d, want %d", sumSeq, last)
	}
	if want := books.Sums(); !maps.Equal(sums, want) {
		t.Fatalf("BookChecksums = %08x, rebuilt %08x", sums, want)
	}
	st := pub.Stats()
	if st.Retransmit.Requests == 0 || st.Snapshots == 0 || st.Lines[0].Packets != st.Lines[1].Packets {
		t.Fatalf("stats %+v", st)
	}
}

// nack asks the retransmit server for count messages from first.
func nack(t *testing.T, addr string, session, first uint64, count uint32) map[uint64][]byte {
	t.Helper()
	c, err := gap.NewClient(gap.ClientConfig{Server: netip.MustParseAddrPort(addr)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	got := map[uint64][]byte{}
	var mu sync.Mutex
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	h := &clientHandler{mu: &mu, got: got}
	go c.Run(ctx, h)
	waitFor(t, "the retransmission", func() bool {
		if err := c.Request(wire.RetransmitRequest{Channel: 7, Session: session, FirstSeq: first, Count: count}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond)
		mu.Lock()
		defer mu.Unlock()
		return len(got) == int(count)
	})
	mu.Lock()
	defer mu.Unlock()
	if h.rejects > 0 {
		t.Fatalf("%d rejects", h.rejects)
	}
	return got
}

type clientHandler struct {
	mu      *sync.Mutex
	got     map[uint64][]byte
	rejects int
}

func (h *clientHandler) Retransmission(p wire.Packet, _ int64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	it := p.Messages()
	for it.Next() {
		h.got[it.Seq()] = append([]byte(nil), it.Message().Bytes()...)
	}
}

func (h *clientHandler) Reject(wire.RetransmitReject) {
	h.mu.Lock()
	h.rejects++
	h.mu.Unlock()
}

type snapshotResult struct {
	lastSeq uint64
	end     wire.SnapshotEnd
	books   feed.State
}

// snapshotOverLink fetches a snapshot of all instruments over the QUIC link.
func snapshotOverLink(t *testing.T, addr string, tp *pki.TestPKI) *snapshotResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := link.Dial(ctx, link.ClientConfig{Addr: addr, TLS: tp.ClientTLS(),
		Subscriptions: []wire.Subscribe{{Channel: 7, Mode: wire.SubscribeLive}}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	res := &snapshotResult{}
	done := make(chan struct{})
	var once sync.Once
	go c.Run(ctx, link.HandlerFunc(func(p wire.Packet, _ int64) {
		if !p.Has(wire.FlagSnapshot) {
			return
		}
		if e, ok := res.books.ApplySnapshot(p); ok {
			res.lastSeq, res.end = e.LastSeq, e
			if e.LastSeq != p.Seq {
				t.Errorf("SnapshotEnd.LastSeq %d, packet seq %d", e.LastSeq, p.Seq)
			}
			once.Do(func() { close(done) })
		}
	}))
	if err := c.RequestSnapshot(wire.SnapshotRequest{Channel: 7}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
	case <-ctx.Done():
		t.Fatal("no snapshot within a minute")
	}
	return res
}

// waitFor polls cond with a generous deadline: never a timing assertion.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// listen joins a fresh group on lo at a free port.
func listen(t *testing.T) (*mcast.Receiver, netip.AddrPort) {
	t.Helper()
	r, err := mcast.Listen(mcast.RecvConfig{Group: netip.AddrPortFrom(mcasttest.Group(t), 0), Interface: mcasttest.Interface})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r, r.LocalAddr()
}

// With a linger, a packet that is not full waits for more input, then goes
// out on the linger timer: several small batches share one packet.
func TestLingerPacksSmallBatches(t *testing.T) {
	recv, group := listen(t)
	pub, err := publisher.New(publisher.Config{
		Lines:  []egress.Line{{Name: "A", Group: group, Interface: mcasttest.Interface, Loopback: true}},
		Linger: 50 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- pub.Run(ctx, nil) }()
	for i := 0; i < 5; i++ {
		if err := pub.Publish(wire.Trade{Instrument: 1, Price: int64(i), Qty: 1}.Append(nil)); err != nil {
			t.Fatal(err)
		}
	}
	for {
		dgs, err := recv.ReadBatch()
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range dgs {
			p, err := wire.Parse(d.Data)
			if err != nil || p.Has(wire.FlagHeartbeat) {
				continue
			}
			if p.Count != 5 || p.Seq != 1 {
				t.Fatalf("packet of %d messages from %d, want the 5 batches in one", p.Count, p.Seq)
			}
			cancel()
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			if err := pub.Publish(wire.Trade{Instrument: 1}.Append(nil)); !errors.Is(err, publisher.ErrClosed) {
				t.Fatalf("Publish after the end: %v", err)
			}
			return
		}
	}
}
