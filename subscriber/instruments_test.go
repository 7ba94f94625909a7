package subscriber

import (
	"net/netip"
	"testing"
	"time"

	"github.com/tickcast/tickcast/internal/mcast/mcasttest"
	"github.com/tickcast/tickcast/internal/testwait"
	"github.com/tickcast/tickcast/wire"
)

// TestInstrumentStatus injects a late join without a link or a recovery
// loop: the books restart empty (resyncing) until the source clears each;
// a halted instrument stays halted; the per-instrument list is capped.
func TestInstrumentStatus(t *testing.T) {
	sub, err := New(Config{
		Channel:           3,
		Lines:             []Line{{Group: netip.AddrPortFrom(mcasttest.Group(t), 40001), Interface: mcasttest.Interface}},
		StaleAfter:        time.Hour, // nothing goes stale here
		InstrumentMetrics: 2,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	seq := uint64(1_000_000) // joined long after the session's start (beyond the backfill)
	inject := func(msgs ...wire.Encoder) {
		var pb wire.Builder
		pb.Reset(make([]byte, 0, 1200), 1200, wire.Header{Channel: 3, Session: 9, Seq: seq})
		for _, m := range msgs {
			if !wire.Add(&pb, m) {
				t.Fatal("packet full")
			}
		}
		seq += uint64(len(msgs))
		sub.in.Inject(0, [][]byte{pb.Finish(time.Now().UnixNano())}, time.Now().UnixNano())
	}
	defs := []wire.Encoder{}
	for id, sym := range map[uint32]string{1: "AAA", 2: "BBB", 3: "CCC"} {
		defs = append(defs, wire.NewInstrumentDef(id, sym, "X", -2, -3))
	}
	inject(append(defs,
		wire.InstrumentStatus{Instrument: 3, Status: wire.StatusHalted},
		wire.LevelUpdate{Instrument: 1, Price: 100, Qty: 1},
		wire.LevelUpdate{Instrument: 2, Price: 100, Qty: 1},
		wire.Trade{Instrument: 2, Price: 100, Qty: 1})...)
	counts, list := sub.Instruments()
	if want := (InstrumentCounts{Resyncing: 2, Halted: 1}); counts != want {
		t.Errorf("after a late join: %+v, want %+v", counts, want)
	}
	if len(list) != 2 {
		t.Fatalf("%d instruments listed, want the first 2: %+v", len(list), list)
	}
	inject(wire.BookClear{Instrument: 1}, wire.LevelUpdate{Instrument: 1, Price: 101, Qty: 2})
	counts, list = sub.Instruments()
	if want := (InstrumentCounts{OK: 1, Resyncing: 1, Halted: 1}); counts != want {
		t.Errorf("after instrument 1's book was cleared: %+v, want %+v", counts, want)
	}
	for _, l := range list {
		want := map[uint32]InstrumentStats{
			1: {Status: wire.StatusOK, Updates: 2},
			2: {Status: wire.StatusResyncing, Updates: 2},
			3: {Status: wire.StatusHalted},
		}[l.ID]
		if l.Status != want.Status || l.Updates != want.Updates || l.Symbol == "" || l.Age < 0 {
			t.Errorf("instrument %d: %+v, want status %v and %d updates", l.ID, l, want.Status, want.Updates)
		}
	}
}

// TestInstrumentsStale: a real feed on lo, two subscribers. Both see every
// instrument OK while the source runs; paused, the one with a short
// StaleAfter reports them stale, the other (the default 10s) not yet.
func TestInstrumentsStale(t *testing.T) {
	f := startFeed(t, feedOpts{instruments: 8})
	cfg := f.config(nil, "", "")
	cfg.InstrumentMetrics = 100
	cfg.StaleAfter = time.Hour
	steady := startSub(t, cfg)
	cfg.InstrumentMetrics = 0
	cfg.StaleAfter = 50 * time.Millisecond
	quick := startSub(t, cfg)
	f.run()
	testwait.For(t, "every instrument OK", func() bool {
		c, list := steady.sub.Instruments()
		if c.OK != 8 || len(list) != 8 {
			return false
		}
		for _, l := range list {
			if l.Updates == 0 || l.Symbol == "" {
				return false
			}
		}
		return true
	})
	if _, list := quick.sub.Instruments(); list != nil {
		t.Errorf("InstrumentMetrics 0 listed %d instruments", len(list))
	}
	f.gate.Pause()
	testwait.For(t, "every instrument stale with StaleAfter 50ms", func() bool {
		c, _ := quick.sub.Instruments()
		return c.Stale == 8
	})
	if c, _ := steady.sub.Instruments(); c.OK != 8 {
		t.Errorf("with StaleAfter an hour: %+v, want all 8 OK", c)
	}
	f.gate.Resume()
	testwait.For(t, "the instruments back to OK", func() bool {
		c, _ := quick.sub.Instruments()
		return c.OK == 8
	})
}
