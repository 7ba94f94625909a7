package synth

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"strings"
	"testing"

	feedstate "github.com/tickcast/tickcast/feed"
	"github.com/tickcast/tickcast/wire"
)

// live returns the ids of f's instruments that are defined and not retired.
func (f *feed) live() []uint32 {
	var ids []uint32
	for id := range f.books {
		if !f.halted[id] {
			ids = append(ids, id)
		}
	}
	return ids
}

// TestGeneratorSetInstruments grows and shrinks an unpaced generator: the new
// instruments are introduced as the first ones were and then trade, the
// retired ones are cleared and halted and never mentioned again, a
// re-grown one gets a fresh definition, and the same seed and calls give the
// same bytes.
func TestGeneratorSetInstruments(t *testing.T) {
	run := func(t *testing.T, seed int64) []byte {
		g, err := NewGenerator(Config{Instruments: 5, Levels: 20, Seed: seed, FirstInstrument: 10})
		if err != nil {
			t.Fatal(err)
		}
		f := newFeed(t, 20)
		all := g.Definitions(nil)
		f.apply(all)
		step := func(n int) {
			t.Helper()
			from := len(f.live())
			b, err := g.SetInstruments(nil, n)
			if err != nil {
				t.Fatalf("SetInstruments(%d): %v", n, err)
			}
			ms := messages(t, b)
			switch {
			case n > from: // defs of the new ones, then each one's book
				for i, m := range ms[:n-from] {
					if d := m.InstrumentDef(); m.Type() != wire.TypeInstrumentDef || d.Instrument != uint32(10+from+i) ||
						d.SymbolString() != fmt.Sprintf("SYN%04d", 10+from+i) {
						t.Fatalf("grow %d→%d: message %d is %v %+v", from, n, i, m.Type(), d)
					}
				}
				if last := ms[len(ms)-1]; last.Type() != wire.TypeInstrumentStatus || last.InstrumentStatus().Status != wire.StatusOK {
					t.Fatalf("grow %d→%d: ends with %v", from, n, last.Type())
				}
			case n < from: // a BookClear and a halted per retired id
				if len(ms) != 2*(from-n) {
					t.Fatalf("shrink %d→%d: %d messages", from, n, len(ms))
				}
			default:
				if len(ms) != 0 {
					t.Fatalf("no change: %d messages", len(ms))
				}
			}
			retired := f.retired
			f.apply(b)
			if n < from && f.retired-retired != from-n {
				t.Fatalf("shrink %d→%d: %d halted", from, n, f.retired-retired)
			}
			if got := len(f.live()); got != n {
				t.Fatalf("after SetInstruments(%d): %d live instruments", n, got)
			}
			all = append(all, b...)
			// Events: the ref feed fails on any event about a retired id.
			seen := map[uint32]bool{}
			var buf []byte
			for range 200 {
				buf = g.Next(buf[:0], 200, 1)
				f.apply(buf)
				for _, m := range messages(t, buf) {
					id, _ := m.Instrument()
					seen[id] = true
				}
				all = append(all, buf...)
			}
			for _, id := range f.live() {
				if !seen[id] {
					t.Fatalf("after SetInstruments(%d): no event about instrument %d", n, id)
				}
			}
		}
		for _, n := range []int{8, 3, 3, 6, 1, 9} {
			step(n)
		}

		// Bad counts change nothing.
		for _, n := range []int{0, -1, MaxInstruments + 1} {
			b, err := g.SetInstruments(nil, n)
			if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("SetInstruments(%d)", n)) || len(b) != 0 {
				t.Fatalf("SetInstruments(%d): %d bytes, error %v", n, len(b), err)
			}
		}
		if len(g.inst) != 9 {
			t.Fatalf("%d instruments after bad calls, want 9", len(g.inst))
		}
		return all
	}
	a, b, c := run(t, 7), run(t, 7), run(t, 8)
	if !bytes.Equal(a, b) {
		t.Fatal("same seed and calls, different streams")
	}
	if bytes.Equal(a, c) {
		t.Fatal("different seeds, same stream")
	}

	g, _ := NewGenerator(Config{Instruments: 1, FirstInstrument: 1<<32 - 3})
	if _, err := g.SetInstruments(nil, 4); err == nil || !strings.Contains(err.Error(), "overflow") {
		t.Fatalf("SetInstruments past the u32 ids: %v", err)
	}
	if _, err := g.SetInstruments(nil, 3); err != nil {
		t.Fatalf("SetInstruments up to the last u32 id: %v", err)
	}
}

// follower applies what a running source published so far, in order, to the
// reference feed (which checks every event and that retired instruments stay
// silent) and to a feed.State (package feed), the publisher's and subscriber's own.
type follower struct {
	t     *testing.T
	sink  *recorder
	ref   *feed
	state feedstate.State
	done  int // batches applied
	msgs  int // messages applied
}

func (f *follower) catchUp() {
	f.sink.mu.Lock()
	batches := f.sink.batches[f.done:]
	f.done += len(batches)
	f.sink.mu.Unlock()
	for _, b := range batches {
		f.ref.apply(b)
		for _, m := range messages(f.t, b) {
			f.state.Apply(m)
			f.msgs++
		}
	}
}

// TestSourceSetInstruments grows and shrinks a running source, over and over
// (so the change lands inside events of the retired instruments that are not
// yet due): every change is seen in the published feed, the new books are
// whole and receive events, the retired ones are empty and halted and never
// mentioned again, and it stays one feed (the reference accepts it end to end).
func TestSourceSetInstruments(t *testing.T) {
	t.Parallel()
	src, err := New(Config{Instruments: 4, Levels: 10, Rate: 20_000, Seed: 3, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	sink := &recorder{}
	stop := start(t, src, sink)
	f := &follower{t: t, sink: sink, ref: newFeed(t, 10)}
	waitFor(t, "definitions", func() bool { f.catchUp(); return f.state.Len() == 4 })

	for i, n := range []int{7, 2, 5, 1, 6, 3, 8, 4, 2, 9, 1, 5} {
		if err := src.SetInstruments(n); err != nil {
			t.Fatal(err)
		}
		from := f.msgs
		seen := map[uint32]int{}
		waitFor(t, fmt.Sprintf("change %d: %d instruments with events", i, n), func() bool {
			at := f.msgs
			f.catchUp()
			if at == f.msgs {
				return false
			}
			seen = map[uint32]int{}
			for _, b := range sink.snapshotFrom(from) {
				for _, m := range messages(t, b) {
					if m.Type() == wire.TypeLevelUpdate {
						id, _ := m.Instrument()
						seen[id]++
					}
				}
			}
			if len(f.ref.live()) != n {
				return false
			}
			for _, id := range f.ref.live() {
				if seen[id] < 100 { // the book and some data events
					return false
				}
			}
			return true
		})
		if st := src.Stats(); st.Instruments != n {
			t.Fatalf("Stats.Instruments %d after SetInstruments(%d)", st.Instruments, n)
		}
		for _, in := range f.state.All() {
			id := in.Def.Instrument
			live := id <= uint32(n)
			switch {
			case live && (in.Status != wire.StatusOK || in.Book.Depth(wire.Bid) == 0 || in.Book.Depth(wire.Ask) == 0):
				t.Fatalf("change %d: live instrument %d: status %v, %d×%d levels", i, id, in.Status,
					in.Book.Depth(wire.Bid), in.Book.Depth(wire.Ask))
			case !live && (in.Status != wire.StatusHalted || !in.Book.Empty()):
				t.Fatalf("change %d: retired instrument %d: status %v, empty %v", i, id, in.Status, in.Book.Empty())
			}
		}
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	f.catchUp()
	if st := src.Stats(); st.Messages != uint64(f.msgs) {
		t.Fatalf("Stats.Messages %d, %d published", st.Messages, f.msgs)
	}
}

// snapshotFrom returns the batches holding messages from index from on
// (whole batches: the first may start earlier).
func (r *recorder) snapshotFrom(from int) [][]byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for i, b := range r.batches {
		c := 0
		for off := 0; off < len(b); off += int(binary.LittleEndian.Uint16(b[off:])) {
			c++
		}
		if n+c > from {
			return append([][]byte(nil), r.batches[i:]...)
		}
		n += c
	}
	return nil
}

// TestSourceSetInstrumentsBeforeRun: a count set before Run decides which
// instruments Run introduces; bad counts are refused and change nothing.
func TestSourceSetInstrumentsBeforeRun(t *testing.T) {
	t.Parallel()
	for _, n := range []int{6, 2} {
		src, _ := New(Config{Instruments: 4, Levels: 5, Rate: 1000, Logger: quiet})
		for _, bad := range []int{0, -3, MaxInstruments + 1} {
			if err := src.SetInstruments(bad); err == nil || !strings.Contains(err.Error(), fmt.Sprintf("SetInstruments(%d)", bad)) {
				t.Fatalf("SetInstruments(%d): %v", bad, err)
			}
		}
		if err := src.SetInstruments(n); err != nil {
			t.Fatal(err)
		}
		sink := &recorder{}
		stop := start(t, src, sink)
		f := &follower{t: t, sink: sink, ref: newFeed(t, 5)}
		waitFor(t, "data", func() bool { f.catchUp(); return f.msgs > n*(1+2*5+2)+50 })
		if err := stop(); err != nil {
			t.Fatal(err)
		}
		if f.state.Len() != n || f.ref.retired != 0 {
			t.Fatalf("SetInstruments(%d) before Run: %d instruments, %d retired", n, f.state.Len(), f.ref.retired)
		}
	}
}

// TestSourceSetInstrumentsWakes: a change is applied at once even when the
// next tick is far away (one message every 100 s).
func TestSourceSetInstrumentsWakes(t *testing.T) {
	t.Parallel()
	src, _ := New(Config{Instruments: 2, Levels: 5, Rate: 0.01, Logger: quiet})
	sink := &recorder{}
	start(t, src, sink)
	f := &follower{t: t, sink: sink, ref: newFeed(t, 5)}
	waitFor(t, "definitions", func() bool { f.catchUp(); return f.state.Len() == 2 })
	if err := src.SetInstruments(3); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "instrument 3", func() bool { f.catchUp(); in := f.state.Lookup(3); return in != nil && !in.Book.Empty() })
	if err := src.SetInstruments(1); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "2 retired", func() bool { f.catchUp(); return f.ref.retired == 2 })
}
