package subscriber

import (
	"context"
	"fmt"
	"maps"
	"sync"
	"testing"

	"github.com/tickcast/tickcast/internal/testwait"
	"github.com/tickcast/tickcast/wire"
)

// statusRecorder keeps each instrument's last status and definition count
// and notes any market data about an instrument after it was halted.
type statusRecorder struct {
	mu         sync.Mutex
	status     map[uint32]wire.Status
	defs       map[uint32]int
	afterHalt  []string
	books      map[uint32]int // levels in the book at its last event
	recoveries int
	resets     int
}

func newStatusRecorder() *statusRecorder {
	return &statusRecorder{status: map[uint32]wire.Status{}, defs: map[uint32]int{}, books: map[uint32]int{}}
}

func (r *statusRecorder) HandleEvent(e *Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch e.Kind {
	case EventDefinition:
		r.defs[e.Instrument]++
		r.status[e.Instrument] = wire.StatusOK
	case EventStatus:
		r.status[e.Instrument] = e.Status
	case EventLevel, EventTrade:
		if r.status[e.Instrument] == wire.StatusHalted {
			r.afterHalt = append(r.afterHalt, fmt.Sprintf("%v about halted instrument %d at seq %d", e.Kind, e.Instrument, e.Seq))
		}
	case EventRecovered:
		r.recoveries++
	case EventReset:
		r.resets++
	}
	if e.Book != nil {
		r.books[e.Instrument] = e.Book.Depth(wire.Bid) + e.Book.Depth(wire.Ask)
	}
}

func (r *statusRecorder) get(id uint32) (wire.Status, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.status[id], r.defs[id]
}

// TestLiveInstruments: the synthetic source grows and shrinks while a
// publisher and a subscriber run, in one session. The subscriber sees the
// new instruments defined and trading and the removed ones halted and
// silent; a subscriber joining afterwards (by snapshot over the link) has
// the same books; both equal the publisher's, the halted ones empty.
func TestLiveInstruments(t *testing.T) {
	f := startFeed(t, feedOpts{instruments: 4, rate: 10_000})
	rec := newStatusRecorder()
	r := startSub(t, f.config(rec, "", ""))
	f.run()
	testwait.For(t, "4 instruments", func() bool { _, n := rec.get(4); return n == 1 })

	if err := f.src.SetInstruments(7); err != nil {
		t.Fatal(err)
	}
	testwait.For(t, "instruments 5..7 defined with books", func() bool {
		rec.mu.Lock()
		defer rec.mu.Unlock()
		for id := uint32(5); id <= 7; id++ {
			if rec.defs[id] != 1 || rec.status[id] != wire.StatusOK || rec.books[id] == 0 {
				return false
			}
		}
		return true
	})
	if err := f.src.SetInstruments(2); err != nil {
		t.Fatal(err)
	}
	testwait.For(t, "instruments 3..7 halted", func() bool {
		for id := uint32(3); id <= 7; id++ {
			if st, _ := rec.get(id); st != wire.StatusHalted {
				return false
			}
		}
		return true
	})
	late := startSub(t, f.config(newRecorder(), "", ""))

	// Both subscribers and the publisher agree on every book at one
	// sequence: the halted ones are empty everywhere.
	f.gate.Pause()
	var pubSums map[uint32]uint32
	testwait.For(t, "both subscribers at the publisher's last sequence", func() bool {
		sums, seq, err := f.pub.BookChecksums(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		pubSums = sums
		for _, s := range []*running{r, late} {
			got, err := s.sub.BookSums(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if got.Recovering || got.Seq != seq || !maps.Equal(got.Sums, sums) {
				return false
			}
		}
		return true
	})
	if len(pubSums) != 7 {
		t.Fatalf("the publisher has %d books, want 7 (2 live, 5 halted)", len(pubSums))
	}
	for id := uint32(3); id <= 7; id++ {
		if pubSums[id] != pubSums[3] {
			t.Fatalf("halted instrument %d's book differs from halted instrument 3's: not both empty", id)
		}
	}
	if pubSums[1] == pubSums[3] {
		t.Fatal("a live book checksums as an empty one")
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if rec.resets != 0 {
		t.Fatalf("the subscriber reset %d times: the changes should need none", rec.resets)
	}
	if len(rec.afterHalt) > 0 {
		t.Fatalf("market data after a halt: %q", rec.afterHalt)
	}
	if st := r.sub.Stats(); st.Gap.Lost != 0 {
		t.Fatalf("the subscriber lost messages: %+v", st.Gap)
	}
}
