package subscriber

import (
	"context"
	"github.com/tickcast/tickcast/egress"
	"github.com/tickcast/tickcast/internal/testwait"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/tickcast/tickcast/internal/mcast/mcasttest"
	"github.com/tickcast/tickcast/internal/pki"
	"github.com/tickcast/tickcast/publisher"
	"github.com/tickcast/tickcast/publisher/source"
	"github.com/tickcast/tickcast/publisher/synth"
)

// pubFeed is a real publisher on lo: synthetic source, A and B lines, a UDP
// retransmit server and a QUIC link.
type pubFeed struct {
	t      *testing.T
	pub    *publisher.Publisher
	groupA netip.AddrPort
	groupB netip.AddrPort
	tp     *pki.TestPKI
	cancel context.CancelFunc
	done   chan error
	gate   *source.Gate     // the synthetic source, pausable
	src    *synth.Source    // the source behind the gate
	loop   []netip.AddrPort // the recovery loop's groups, if any
}

type feedOpts struct {
	rate        float64
	instruments int
	seed        int64
	groupA      netip.AddrPort // zero = fresh groups
	groupB      netip.AddrPort
	tp          *pki.TestPKI
	rtxAddr     string // "" = a free port
	linkAddr    string
	loop        bool // send the recovery loop on fresh groups
}

func startFeed(t *testing.T, o feedOpts) *pubFeed {
	t.Helper()
	if o.rate == 0 {
		o.rate = 20_000
	}
	if o.instruments == 0 {
		o.instruments = 8
	}
	f := &pubFeed{t: t, groupA: o.groupA, groupB: o.groupB, tp: o.tp, done: make(chan error, 1)}
	if !f.groupA.IsValid() {
		f.groupA, f.groupB = mcasttest.FreeGroup(t), mcasttest.FreeGroup(t)
	}
	if f.tp == nil {
		var err error
		if f.tp, err = pki.NewTestPKI("127.0.0.1"); err != nil {
			t.Fatal(err)
		}
	}
	src, err := synth.New(synth.Config{Instruments: o.instruments, Levels: 50, Rate: o.rate, Seed: o.seed + 1})
	if err != nil {
		t.Fatal(err)
	}
	var loop publisher.RecoveryLoop
	if o.loop {
		f.loop = []netip.AddrPort{mcasttest.FreeGroup(t), mcasttest.FreeGroup(t)}
		for i, g := range f.loop {
			loop.Lines = append(loop.Lines, egress.Line{Name: []string{"RA", "RB"}[i], Group: g, Interface: mcasttest.Interface, Loopback: true})
		}
	}
	f.pub, err = publisher.New(publisher.Config{
		Recovery: loop,
		Channel:  3,
		Lines: []egress.Line{
			{Name: "A", Group: f.groupA, Interface: mcasttest.Interface, Loopback: true},
			{Name: "B", Group: f.groupB, Interface: mcasttest.Interface, Loopback: true},
		},
		Heartbeat:      20 * time.Millisecond,
		ChecksumEvery:  50 * time.Millisecond,
		RetransmitAddr: or(o.rtxAddr, "127.0.0.1:0"),
		LinkAddr:       or(o.linkAddr, "127.0.0.1:0"),
		LinkTLS:        f.tp.ServerTLS(),
	})
	if err != nil {
		t.Fatal(err)
	}
	f.gate, f.src = source.NewGate(src), src
	t.Cleanup(f.stop)
	return f
}

// run starts publishing (after the subscriber was started, for a clean
// start from sequence 1; before, for a late join).
func (f *pubFeed) run() {
	ctx, cancel := context.WithCancel(context.Background())
	f.cancel = cancel
	go func() { f.done <- f.pub.Run(ctx, f.gate) }()
}

// stop ends the session (idempotent).
func (f *pubFeed) stop() {
	if f.cancel == nil {
		return
	}
	f.cancel()
	if err := <-f.done; err != nil {
		f.t.Errorf("publisher: %v", err)
	}
	f.cancel = nil
}

// config returns a subscriber config for this feed: both lines, NACK over
// UDP, snapshots over the link.
func (f *pubFeed) config(h Handler, faultsA, faultsB string) Config {
	return Config{
		Channel: 3,
		Lines: []Line{
			{Group: f.groupA, Interface: mcasttest.Interface, Faults: faultsA},
			{Group: f.groupB, Interface: mcasttest.Interface, Faults: faultsB},
		},
		RetransmitAddr: netip.MustParseAddrPort(f.pub.RetransmitAddr()),
		Links:          []Link{{Addr: f.pub.LinkAddr(), TLS: f.tp.ClientTLS()}},
		Handler:        h,
	}
}

// loopConfig returns a subscriber config for this feed without a link or a
// retransmit server: both lines and the recovery loop's groups (with
// faults on them).
func (f *pubFeed) loopConfig(h Handler, faultsA, faultsB, loopFaults string) Config {
	cfg := f.config(h, faultsA, faultsB)
	cfg.Links, cfg.RetransmitAddr = nil, netip.AddrPort{}
	for _, g := range f.loop {
		cfg.Recovery = append(cfg.Recovery, Line{Group: g, Interface: mcasttest.Interface, Faults: loopFaults})
	}
	return cfg
}

// running is a subscriber under test.
type running struct {
	sub    *Subscriber
	cancel context.CancelFunc
	done   chan error
}

func startSub(t *testing.T, cfg Config) *running {
	t.Helper()
	sub, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{sub: sub, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- sub.Run(ctx) }()
	t.Cleanup(func() { r.stop(t) })
	return r
}

func (r *running) stop(t *testing.T) {
	if r.cancel == nil {
		return
	}
	r.cancel()
	if err := <-r.done; err != nil {
		t.Errorf("subscriber Run: %v", err)
	}
	r.cancel = nil
}

// recorder is a Handler that keeps the event kinds and resets seen.
type recorder struct {
	mu     sync.Mutex
	kinds  map[EventKind]int
	resets []ResetReason
	seqs   int // Level/Trade events whose sequence did not follow the previous one without a reset between
	last   uint64
}

func newRecorder() *recorder { return &recorder{kinds: map[EventKind]int{}} }

func (r *recorder) HandleEvent(e *Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.kinds[e.Kind]++
	switch e.Kind {
	case EventReset:
		r.resets = append(r.resets, e.Reset)
		r.last = 0
	case EventRecovered:
		r.last = e.Seq
	case EventLevel, EventTrade, EventDefinition, EventStatus:
		if e.Seq <= r.last {
			r.seqs++ // a sequence delivered twice or backwards
		}
		r.last = e.Seq
	}
}

func (r *recorder) count(k EventKind) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.kinds[k]
}

func (r *recorder) resetReasons() []ResetReason {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]ResetReason(nil), r.resets...)
}

// booksMatch pauses the source, waits until the subscriber applied the
// publisher's last sequence (with the publisher still up to answer NACKs
// and snapshot requests for the tail), compares every book with the
// publisher's by checksum, then ends the session.
func booksMatch(t *testing.T, f *pubFeed, r *running) {
	t.Helper()
	f.gate.Pause()
	var (
		pubSums map[uint32]uint32
		pubSeq  uint64
		sums    BookSums
	)
	testwait.For(t, "the subscriber to apply the publisher's last sequence", func() bool {
		var err error
		if pubSums, pubSeq, err = f.pub.BookChecksums(context.Background()); err != nil {
			t.Fatal(err)
		}
		if sums, err = r.sub.BookSums(context.Background()); err != nil {
			t.Fatal(err)
		}
		// The publisher may still sequence BookChecksums: compare a pair
		// taken at the same sequence.
		return !sums.Recovering && sums.Seq == pubSeq
	})
	f.stop()
	if sums.Recovering || sums.Seq != pubSeq {
		t.Fatalf("subscriber at seq %d (recovering %v), publisher at %d", sums.Seq, sums.Recovering, pubSeq)
	}
	if len(sums.Sums) != len(pubSums) {
		t.Fatalf("subscriber has %d books, publisher %d", len(sums.Sums), len(pubSums))
	}
	for id, want := range pubSums {
		if got := sums.Sums[id]; got != want {
			t.Fatalf("instrument %d: subscriber book %08x, publisher %08x; stats %+v", id, got, want, r.sub.Stats())
		}
	}
}

func or(s, def string) string {
	if s != "" {
		return s
	}
	return def
}
