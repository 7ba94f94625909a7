package recovery

import (
	"context"
	"log/slog"
	"net/netip"
	"testing"

	"github.com/tickcast/tickcast/egress"
	"github.com/tickcast/tickcast/feed"
	"github.com/tickcast/tickcast/internal/mcast"
	"github.com/tickcast/tickcast/internal/mcast/mcasttest"
	"github.com/tickcast/tickcast/wire"
)

// startLoop runs a loop of f on fresh groups A and B until the test ends.
func startLoop(t *testing.T, capture Capture, rate float64) (*Loop, []netip.AddrPort) {
	t.Helper()
	groups := []netip.AddrPort{mcasttest.FreeGroup(t), mcasttest.FreeGroup(t)}
	var lines []egress.Line
	for _, g := range groups {
		lines = append(lines, egress.Line{Group: g, Interface: mcasttest.Interface, Loopback: true})
	}
	l, err := NewLoop(LoopConfig{Channel: testChannel, Lines: lines, Rate: rate, Capture: capture, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- l.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	return l, groups
}

func TestLoopCarriesEveryBook(t *testing.T) {
	f := newTestFeed(t, 20, 100)
	want := f.sums()
	loop, groups := startLoop(t, f.capture, 8<<20)
	for _, g := range groups {
		r, err := mcast.Listen(mcast.RecvConfig{Group: g, Interface: mcasttest.Interface})
		if err != nil {
			t.Fatal(err)
		}
		a := NewAssembler(testChannel)
		got := map[uint32]uint32{}
		for len(got) < len(want) {
			dgs, err := r.ReadBatch()
			if err != nil {
				t.Fatal(err)
			}
			for _, d := range dgs {
				p, err := wire.Parse(d.Data)
				if err != nil {
					t.Fatal(err)
				}
				a.Packet(p, func(b *Book) {
					if b.Total != uint32(len(want)) || b.Session != f.session {
						t.Fatalf("book %+v", b)
					}
					got[b.Instrument.Def.Instrument] = b.Instrument.Book.Checksum()
				})
			}
		}
		r.Close()
		for id, sum := range want {
			if got[id] != sum {
				t.Fatalf("group %s: instrument %d: book %08x, want %08x", g, id, got[id], sum)
			}
		}
	}
	if st := loop.Stats(); st.Books == 0 || st.Packets == 0 {
		t.Fatalf("stats %+v", st)
	}
}

func TestLoopGivesBusyBooksMoreTurns(t *testing.T) {
	f := newTestFeed(t, 10, 20)
	// Instrument 7 changes before every book the loop picks; the others
	// never change.
	exch := uint64(10)
	busy := func(ctx context.Context, fn func(st *feed.State, session, lastSeq uint64)) error {
		exch++
		f.apply(t, wire.LevelUpdate{Instrument: 7, Side: wire.Bid, Price: 9000, Qty: int64(exch), ExchTime: exch})
		return f.capture(ctx, fn)
	}
	loop, groups := startLoop(t, busy, 2<<20)
	r, err := mcast.Listen(mcast.RecvConfig{Group: groups[0], Interface: mcasttest.Interface})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	a := NewAssembler(testChannel)
	counts := map[uint32]int{}
	for counts[7] < 30 {
		dgs, err := r.ReadBatch()
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range dgs {
			p, _ := wire.Parse(d.Data)
			a.Packet(p, func(b *Book) { counts[b.Instrument.Def.Instrument]++ })
		}
	}
	// Every other slot goes to the busy book: it comes round about once
	// per two books, an idle one once per round of ten.
	for id, n := range counts {
		if id != 7 && n*4 > counts[7] {
			t.Fatalf("instrument %d came round %d times, the busy one %d: %v", id, n, counts[7], counts)
		}
	}
	if loop.Stats().Hot == 0 {
		t.Fatalf("stats %+v", loop.Stats())
	}
}

func TestLoopConfigErrors(t *testing.T) {
	f := newTestFeed(t, 1, 1)
	for name, cfg := range map[string]LoopConfig{
		"no capture":    {Lines: []egress.Line{{Group: netip.MustParseAddrPort("239.1.1.1:5000"), Interface: "lo"}}},
		"no lines":      {Capture: f.capture},
		"negative rate": {Capture: f.capture, Rate: -1, Lines: []egress.Line{{Group: netip.MustParseAddrPort("239.1.1.1:5000"), Interface: "lo"}}},
		"tiny packets":  {Capture: f.capture, MaxPacket: 10, Lines: []egress.Line{{Group: netip.MustParseAddrPort("239.1.1.1:5000"), Interface: "lo"}}},
		"bad group":     {Capture: f.capture, Lines: []egress.Line{{Group: netip.MustParseAddrPort("10.1.1.1:5000"), Interface: "lo"}}},
	} {
		if _, err := NewLoop(cfg); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}
