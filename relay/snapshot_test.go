package relay

import (
	"log/slog"
	"maps"
	"testing"
	"time"

	"github.com/tickcast/tickcast/feed"
	"github.com/tickcast/tickcast/wire"
)

// snapshotPackets builds books for n instruments (levels set from seed)
// and returns their snapshot at lastSeq as packets, and their sums.
func snapshotPackets(t *testing.T, session uint64, n int, seed int64, lastSeq uint64) ([]wire.Packet, map[uint32]uint32) {
	t.Helper()
	var st feed.State
	apply := func(e wire.Encoder) {
		m, err := wire.ReadMessage(e.Append(nil))
		if err != nil {
			t.Fatal(err)
		}
		st.Apply(m)
	}
	for id := uint32(1); id <= uint32(n); id++ {
		def := wire.InstrumentDef{Instrument: id, PriceExp: -2, QtyExp: 0}
		copy(def.Symbol[:], "SYM")
		apply(def)
		for k := int64(1); k <= 12; k++ {
			apply(wire.LevelUpdate{Instrument: id, Price: 1000 - k - seed, Qty: k + seed, Side: wire.Bid})
			apply(wire.LevelUpdate{Instrument: id, Price: 1000 + k + seed, Qty: k * seed, Side: wire.Ask, EndOfEvent: k == 12})
		}
	}
	sn := st.Capture(0, lastSeq)
	var pkts []wire.Packet
	h := wire.Header{Channel: testChannel, Session: session}
	if err := sn.Encode(h, feed.MinSnapshotPacket, func(b []byte) error {
		p, err := wire.Parse(append([]byte(nil), b...))
		pkts = append(pkts, p)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return pkts, sn.Sums()
}

func recoveringChannel(session uint64) *channel {
	c := newChannel(Channel{ID: testChannel, Heartbeat: 100 * time.Millisecond}, slog.New(slog.DiscardHandler))
	c.session, c.applied = session, 50
	c.pending = &feed.State{}
	return c
}

// Two snapshot answers arriving at once (an earlier request's answer still
// on its stream) are never mixed into one set of books: the first answer to
// arrive is taken whole, the other's packets are dropped.
func TestSnapshotAnswersNotMixed(t *testing.T) {
	const session = 99
	a, sumsA := snapshotPackets(t, session, 8, 1, 100)
	b, sumsB := snapshotPackets(t, session, 8, 2, 200)
	if len(a) < 4 || maps.Equal(sumsA, sumsB) {
		t.Fatalf("%d packets; the two snapshots must differ", len(a))
	}
	c := recoveringChannel(session)
	for i := range max(len(a), len(b)) {
		if i < len(a) {
			c.Snapshot(a[i], 0)
		}
		if i < len(b) {
			c.Snapshot(b[i], 0)
		}
	}
	sums, seq, whole := c.state.Sums(), c.booksSeq, c.whole
	if !whole || seq != 100 || !maps.Equal(sums, sumsA) {
		t.Fatalf("whole %v at %d: books equal A %v, B %v", whole, seq, maps.Equal(sums, sumsA), maps.Equal(sums, sumsB))
	}
	if c.stats.snapshotsMixed.Load() == 0 {
		t.Error("the other answer's packets were not counted as dropped")
	}
}

// An answer joined after its start (its first packets went to an earlier
// request) is incomplete: dropped, and the next one is taken.
func TestSnapshotJoinedLateIsDropped(t *testing.T) {
	const session = 99
	a, _ := snapshotPackets(t, session, 8, 1, 100)
	b, sumsB := snapshotPackets(t, session, 8, 2, 200)
	c := recoveringChannel(session)
	for _, p := range a[2:] {
		c.Snapshot(p, 0)
	}
	if c.whole || c.snapDue.IsZero() {
		t.Fatalf("an incomplete answer was installed (whole %v) or not asked again", c.whole)
	}
	c.pending, c.pendingSeq = &feed.State{}, 0 // what askSnapshot does on the retry
	for _, p := range b {
		c.Snapshot(p, 0)
	}
	if !c.whole || c.booksSeq != 200 || !maps.Equal(c.state.Sums(), sumsB) {
		t.Fatalf("whole %v at %d, books equal B %v", c.whole, c.booksSeq, maps.Equal(c.state.Sums(), sumsB))
	}
}
