package intake

import (
	"context"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/tickcast/tickcast/gap"
	"github.com/tickcast/tickcast/internal/link"
	"github.com/tickcast/tickcast/internal/mcast"
	"github.com/tickcast/tickcast/internal/mcast/mcasttest"
	"github.com/tickcast/tickcast/internal/pki"
	"github.com/tickcast/tickcast/wire"
)

// The test harness: a hand-made feed (packets of Trades, sequenced) sent on
// real multicast lines on lo, served from a real gap.Cache by a real UDP
// gap.Server and by real link.Servers over QUIC on 127.0.0.1.

const testChannel = 5

// testFeed sequences packets, keeps them in a retransmit cache and sends
// them where a test says.
type testFeed struct {
	t       *testing.T
	session uint64
	next    uint64
	cache   *gap.Cache
	groups  []netip.AddrPort
	senders []*mcast.Sender
}

func newFeed(t *testing.T, lines int) *testFeed {
	t.Helper()
	c, err := gap.NewCache(gap.CacheConfig{MaxMessages: 1 << 16, MaxBytes: 8 << 20})
	if err != nil {
		t.Fatal(err)
	}
	f := &testFeed{t: t, session: uint64(time.Now().UnixNano()), next: 1, cache: c}
	for range lines {
		g := mcasttest.FreeGroup(t)
		s, err := mcast.Dial(mcast.SendConfig{Group: g, Interface: mcasttest.Interface, Loopback: true})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		f.groups = append(f.groups, g)
		f.senders = append(f.senders, s)
	}
	return f
}

// lines returns intake Lines for the feed's groups.
func (f *testFeed) lines() []Line {
	var ls []Line
	for i, g := range f.groups {
		ls = append(ls, Line{Name: string(rune('A' + i)), Group: g, Interface: mcasttest.Interface})
	}
	return ls
}

// packet sequences a packet of n Trades and caches it.
func (f *testFeed) packet(n int) []byte {
	pkt := mkPacket(0, f.session, f.next, n)
	f.next += uint64(n)
	p, err := wire.Parse(pkt)
	if err != nil {
		f.t.Fatal(err)
	}
	f.cache.Put(p)
	return pkt
}

// send writes pkt on the given lines.
func (f *testFeed) send(pkt []byte, lines ...int) {
	for _, l := range lines {
		if err := f.senders[l].Write(pkt); err != nil {
			f.t.Errorf("send on line %d: %v", l, err)
		}
	}
}

// heartbeat sends a heartbeat carrying the next sequence on every line:
// it reveals a tail gap.
func (f *testFeed) heartbeat() []byte {
	hb := wire.Header{Flags: wire.FlagHeartbeat, Channel: testChannel, Session: f.session, Seq: f.next, SendTime: time.Now().UnixNano()}.Append(nil)
	for i := range f.senders {
		f.send(hb, i)
	}
	return hb
}

func mkPacket(flags wire.Flags, session, seq uint64, n int) []byte {
	var b wire.Builder
	b.Reset(make([]byte, 0, wire.HeaderLen+n*wire.TradeLen), 1200, wire.Header{Flags: flags, Channel: testChannel, Session: session, Seq: seq})
	for i := range n {
		wire.Add(&b, wire.Trade{Instrument: 7, Price: int64(seq) + int64(i), Qty: 1, TradeID: seq + uint64(i)})
	}
	return b.Finish(time.Now().UnixNano())
}

// udpServer starts a real UDP retransmit server on the feed's cache.
func (f *testFeed) udpServer(t *testing.T) netip.AddrPort {
	t.Helper()
	s, err := gap.NewServer(gap.ServerConfig{Addr: "127.0.0.1:0", Caches: map[uint16]*gap.Cache{testChannel: f.cache}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.Serve(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		s.Close()
		<-done
	})
	return s.LocalAddr()
}

// linkFeed serves retransmissions from the test feed's cache and a
// snapshot that is only a SnapshotEnd, counting the snapshot requests.
type linkFeed struct {
	f         *testFeed
	mu        sync.Mutex
	snapshots int
}

func (lf *linkFeed) Retransmit(channel uint16, session, first uint64, count uint32, maxMsgs, maxBytes int, emit func(pkt []byte) error) (uint32, wire.RejectReason, error) {
	if channel != testChannel {
		return 0, wire.RejectUnknownSession, nil
	}
	sent, reason, err := lf.f.cache.Fetch(session, first, count, maxMsgs, maxBytes, emit)
	if sent > 0 {
		return sent, 0, err
	}
	return 0, reason, err
}

func (lf *linkFeed) Snapshot(_ context.Context, channel uint16, _ uint32, emit func(pkt []byte) error) error {
	lf.mu.Lock()
	lf.snapshots++
	lf.mu.Unlock()
	var b wire.Builder
	b.Reset(make([]byte, 0, 256), 1200, wire.Header{Flags: wire.FlagSnapshot, Channel: channel, Session: lf.f.session, Seq: 0})
	wire.Add(&b, wire.SnapshotEnd{Channel: channel, LastSeq: 42})
	return emit(b.Finish(time.Now().UnixNano()))
}

func (lf *linkFeed) count() int {
	lf.mu.Lock()
	defer lf.mu.Unlock()
	return lf.snapshots
}

// linkServer is a real QUIC link server serving the feed.
type linkServer struct {
	srv    *link.Server
	feed   *linkFeed
	addr   string
	cancel context.CancelFunc
	done   chan struct{}
}

func startLinkServer(t *testing.T, tp *pki.TestPKI, f *testFeed, addr string) *linkServer {
	t.Helper()
	lf := &linkFeed{f: f}
	var (
		s   *link.Server
		err error
	)
	// A restarted server binds the same port: retry briefly in case the
	// kernel has not let it go yet.
	deadline := time.Now().Add(10 * time.Second)
	for {
		s, err = link.NewServer(link.ServerConfig{Addr: addr, TLS: tp.ServerTLS(), Feed: lf})
		if err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ls := &linkServer{srv: s, feed: lf, addr: s.Addr().String(), cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(ls.done)
		s.Serve(ctx)
	}()
	t.Cleanup(ls.stop)
	return ls
}

// stop closes the server and its connections (idempotent).
func (ls *linkServer) stop() {
	ls.cancel()
	ls.srv.Close()
	<-ls.done
}

func (ls *linkServer) publish(pkt []byte) { ls.srv.Publish(testChannel, pkt) }

func newPKI(t *testing.T) *pki.TestPKI {
	t.Helper()
	tp, err := pki.NewTestPKI("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	return tp
}

// recorder is a Consumer checking the stream: every delivery must follow
// the previous one.
type recorder struct {
	mu        sync.Mutex
	next      uint64 // next sequence expected; 0 = nothing yet
	messages  uint64
	outOfSeq  int
	events    []Event
	snapshots []wire.Packet
	lines     map[int]int   // deliveries per line
	block     chan struct{} // if set, Packet waits for it to close
	entered   chan struct{} // if set, closed when Packet first blocks
	enterOnce sync.Once
}

func newRecorder() *recorder { return &recorder{lines: map[int]int{}} }

func (r *recorder) Packet(d *Delivery) {
	if r.block != nil {
		if r.entered != nil {
			r.enterOnce.Do(func() { close(r.entered) })
		}
		<-r.block
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.next != 0 && d.First() != r.next {
		r.outOfSeq++
	}
	n := uint64(d.Packet.Count) - uint64(d.Skip)
	r.next = d.First() + n
	r.messages += n
	r.lines[d.Line]++
}

func (r *recorder) Event(e Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, e)
	if e.Kind == EventJoin {
		r.next = e.Seq
	}
}

func (r *recorder) Snapshot(p wire.Packet, _ int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.snapshots = append(r.snapshots, wire.Packet(p).CopyTo(nil))
}

// delivered returns the next sequence expected.
func (r *recorder) delivered() uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.next
}

func (r *recorder) count(k EventKind) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, e := range r.events {
		if e.Kind == k {
			n++
		}
	}
	return n
}

func (r *recorder) snapshotCount() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.snapshots)
}

func (r *recorder) check(t *testing.T) {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.outOfSeq != 0 {
		t.Fatalf("%d deliveries out of sequence", r.outOfSeq)
	}
	for _, e := range r.events {
		if e.Kind == EventLost || e.Kind == EventReset {
			t.Fatalf("unexpected %v event: %+v", e.Kind, e)
		}
	}
}

// running is an intake under test.
type running struct {
	in     *Intake
	cancel context.CancelFunc
	done   chan error
}

func start(t *testing.T, cfg Config) *running {
	t.Helper()
	in, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{in: in, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- in.Run(ctx) }()
	t.Cleanup(func() { r.stop(t) })
	return r
}

func (r *running) stop(t *testing.T) {
	if r.cancel == nil {
		return
	}
	r.cancel()
	if err := <-r.done; err != nil {
		t.Errorf("Run: %v", err)
	}
	r.cancel = nil
}

// pump sends packets (n messages each) on the given lines, one per
// millisecond, until cond holds; bounded by a generous deadline.
func pump(t *testing.T, what string, cond func() bool, send func()) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		send()
		time.Sleep(time.Millisecond)
	}
}

func freeUDPPort(t testing.TB) uint16 {
	t.Helper()
	c, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return uint16(c.LocalAddr().(*net.UDPAddr).Port)
}

func freeAddr(t *testing.T) string {
	t.Helper()
	return netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), freeUDPPort(t)).String()
}
