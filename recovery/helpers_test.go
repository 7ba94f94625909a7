package recovery

import (
	"context"
	"sync"
	"testing"

	"github.com/tickcast/tickcast/feed"
	"github.com/tickcast/tickcast/wire"
)

const testChannel = 4

// testFeed is a feed state owned by a mutex: its Capture runs fn locked.
type testFeed struct {
	mu      sync.Mutex
	st      feed.State
	session uint64
	seq     uint64
}

// newTestFeed defines n instruments with levels a side.
func newTestFeed(tb testing.TB, n, levels int) *testFeed {
	f := &testFeed{session: 77}
	for id := uint32(1); id <= uint32(n); id++ {
		f.apply(tb, wire.NewInstrumentDef(id, "SYM", "TEST", -2, -3), wire.BookClear{Instrument: id})
		for l := range levels {
			f.apply(tb,
				wire.LevelUpdate{Instrument: id, Side: wire.Bid, Price: int64(10000 - l), Qty: int64(l + 1), ExchTime: 5},
				wire.LevelUpdate{Instrument: id, Side: wire.Ask, Price: int64(10001 + l), Qty: int64(l + 2), ExchTime: 5})
		}
	}
	return f
}

// apply applies messages as the next sequences.
func (f *testFeed) apply(tb testing.TB, msgs ...wire.Encoder) {
	tb.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, m := range msgs {
		wm, err := wire.ReadMessage(m.Append(nil))
		if err != nil {
			tb.Fatal(err)
		}
		f.st.Apply(wm)
		f.seq++
	}
}

func (f *testFeed) capture(ctx context.Context, fn func(st *feed.State, session, lastSeq uint64)) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	fn(&f.st, f.session, f.seq)
	return nil
}

func (f *testFeed) sums() map[uint32]uint32 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.st.Sums()
}

// encodeBook returns the loop packets of instrument id.
func encodeBook(tb testing.TB, f *testFeed, id uint32, limit int) [][]byte {
	tb.Helper()
	var out [][]byte
	f.capture(context.Background(), func(st *feed.State, session, lastSeq uint64) {
		sn := st.Capture(id, lastSeq)
		sn.Checksums, sn.Total = true, uint32(st.Len())
		err := sn.Encode(wire.Header{Channel: testChannel, Session: session}, limit, func(p []byte) error {
			out = append(out, append([]byte(nil), p...))
			return nil
		})
		if err != nil {
			tb.Fatal(err)
		}
	})
	return out
}
