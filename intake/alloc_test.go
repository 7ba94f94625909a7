package intake

import (
	"net/netip"
	"testing"

	"github.com/tickcast/tickcast/internal/mcast/mcasttest"
	"github.com/tickcast/tickcast/wire"
)

// countingConsumer counts what it gets and keeps nothing.
type countingConsumer struct{ packets, events int }

func (c *countingConsumer) Packet(*Delivery)            { c.packets++ }
func (c *countingConsumer) Event(Event)                 { c.events++ }
func (c *countingConsumer) Snapshot(wire.Packet, int64) {}

// The receive path short of the socket (validation, A/B arbitration with
// each packet on both lines, the ordered hand-off, the consumer call)
// allocates nothing per packet in steady state.
func TestIntakeAllocs(t *testing.T) {
	c := &countingConsumer{}
	in, err := New(Config{
		Channel: 3,
		Lines: []Line{
			{Name: "A", Group: netip.AddrPortFrom(mcasttest.Group(t), 40011), Interface: mcasttest.Interface},
			{Name: "B", Group: netip.AddrPortFrom(mcasttest.Group(t), 40012), Interface: mcasttest.Interface},
		},
		Consumer: c,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	var pb wire.Builder
	buf := make([]byte, 0, 1200)
	seq := uint64(1)
	dg := [][]byte{nil}
	step := func() {
		pb.Reset(buf, 1200, wire.Header{Channel: 3, Session: 9, Seq: seq})
		for i := range 10 {
			wire.Add(&pb, wire.Trade{Instrument: 1, Price: 100, Qty: 1, TradeID: seq + uint64(i)})
		}
		raw := pb.Finish(1)
		seq += 10
		dg[0] = raw
		in.Inject(0, dg, 1)
		in.Inject(1, dg, 1)
	}
	for range 4096 {
		step() // warm up: every queue item's buffer grown
	}
	if n := testing.AllocsPerRun(1000, step); n != 0 {
		t.Fatalf("%v allocs per packet, want 0", n)
	}
	if c.packets < 5000 {
		t.Fatalf("the consumer got %d packets", c.packets)
	}
}

// TestHoldAndReleaseWithinPacket: a consumer that holds a delivery and
// releases it before its Packet call returns (the subscriber ending a
// recovery releases its ring, the current delivery in it) does not put the
// item on the free list twice: two later deliveries would share it.
func TestHoldAndReleaseWithinPacket(t *testing.T) {
	q := newQueue(16)
	for range 100 {
		it := q.get()
		it.kind = itemPacket
		it.held = true // Intake.Hold
		q.release(it)  // Intake.Release, within the call
		if !(it.held || it.free) {
			t.Fatal("handle would release the item again")
		}
		q.release(it) // what a careless caller might do: ignored
	}
	seen := map[*item]bool{}
	for len(q.free) > 0 {
		it := q.get()
		if seen[it] {
			t.Fatal("an item is twice on the free list")
		}
		seen[it] = true
	}
	if len(seen) != 16 {
		t.Fatalf("%d items, want 16", len(seen))
	}
}
