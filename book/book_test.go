package book

import (
	"slices"
	"testing"

	"github.com/tickcast/tickcast/wire"
)

// levels returns every level of side, best first, through the iterator.
func levels(b *Book, side wire.Side) []Level {
	return slices.Collect(b.Levels(side))
}

func TestZeroValueIsEmpty(t *testing.T) {
	var b Book
	if !b.Empty() || b.Depth(wire.Bid) != 0 || b.Depth(wire.Ask) != 0 {
		t.Fatalf("zero book not empty: %d bids, %d asks", b.Depth(wire.Bid), b.Depth(wire.Ask))
	}
	if _, ok := b.BestBid(); ok {
		t.Error("BestBid on an empty book reported a level")
	}
	if _, ok := b.BestAsk(); ok {
		t.Error("BestAsk on an empty book reported a level")
	}
	if got := b.Top(wire.Bid, nil, 5); len(got) != 0 {
		t.Errorf("Top on an empty book = %v", got)
	}
	for l := range b.Levels(wire.Ask) {
		t.Errorf("Levels on an empty book yielded %v", l)
	}
	if got := b.Checksum(); got != 0 {
		t.Errorf("empty book checksum = %#x, want 0", got)
	}
}

func TestApplyOrdersBothSides(t *testing.T) {
	var b Book
	for _, p := range []int64{100, 103, 101, 99, 102} {
		b.Apply(wire.Bid, p, p*10)
		b.Apply(wire.Ask, p+10, p)
	}
	wantBids := []Level{{103, 1030}, {102, 1020}, {101, 1010}, {100, 1000}, {99, 990}}
	wantAsks := []Level{{109, 99}, {110, 100}, {111, 101}, {112, 102}, {113, 103}}
	if got := levels(&b, wire.Bid); !slices.Equal(got, wantBids) {
		t.Errorf("bids = %v, want %v", got, wantBids)
	}
	if got := levels(&b, wire.Ask); !slices.Equal(got, wantAsks) {
		t.Errorf("asks = %v, want %v", got, wantAsks)
	}
	if l, ok := b.BestBid(); !ok || l != wantBids[0] {
		t.Errorf("BestBid = %v %v, want %v", l, ok, wantBids[0])
	}
	if l, ok := b.BestAsk(); !ok || l != wantAsks[0] {
		t.Errorf("BestAsk = %v %v, want %v", l, ok, wantAsks[0])
	}
	for i, want := range wantAsks {
		if got := b.At(wire.Ask, i); got != want {
			t.Errorf("At(ask, %d) = %v, want %v", i, got, want)
		}
	}
}

func TestApplyModifyRemove(t *testing.T) {
	var b Book
	b.Apply(wire.Bid, 100, 5)
	b.Apply(wire.Bid, 101, 6)
	b.Apply(wire.Bid, 100, 7) // modify
	if got, want := levels(&b, wire.Bid), []Level{{101, 6}, {100, 7}}; !slices.Equal(got, want) {
		t.Fatalf("after modify: %v, want %v", got, want)
	}
	b.Apply(wire.Bid, 101, 0) // remove the best
	if l, _ := b.BestBid(); l != (Level{100, 7}) {
		t.Fatalf("best after removing the top = %v", l)
	}
	b.Apply(wire.Bid, 50, 0)  // absent: no-op
	b.Apply(wire.Ask, 100, 0) // absent on the other side: no-op
	if b.Depth(wire.Bid) != 1 || b.Depth(wire.Ask) != 0 {
		t.Fatalf("removing absent levels changed the book: %d bids, %d asks", b.Depth(wire.Bid), b.Depth(wire.Ask))
	}
	b.Apply(wire.Bid, 100, -3) // the book does not judge
	if l, _ := b.BestBid(); l != (Level{100, -3}) {
		t.Fatalf("negative quantity not stored: %v", l)
	}
}

func TestUnknownSideIgnored(t *testing.T) {
	var b Book
	b.Apply(wire.Side(2), 100, 1)
	b.Apply(wire.Side(255), 100, 1)
	if !b.Empty() || b.Depth(2) != 0 {
		t.Fatal("an update for an unknown side changed the book")
	}
	if _, ok := b.Best(7); ok {
		t.Error("Best on an unknown side reported a level")
	}
	if got := b.Top(9, nil, 3); len(got) != 0 {
		t.Errorf("Top on an unknown side = %v", got)
	}
}

func TestCrossedBookKept(t *testing.T) {
	var b Book
	b.Apply(wire.Bid, 105, 1)
	b.Apply(wire.Ask, 100, 2)
	bid, _ := b.BestBid()
	ask, _ := b.BestAsk()
	if bid.Price != 105 || ask.Price != 100 {
		t.Fatalf("crossed book changed: bid %v ask %v", bid, ask)
	}
}

func TestExtremePrices(t *testing.T) {
	var b Book
	prices := []int64{-1 << 63, -1, 0, 1, 1<<63 - 1}
	for _, p := range prices {
		b.Apply(wire.Bid, p, 1)
		b.Apply(wire.Ask, p, 1)
	}
	var bids, asks []int64
	for l := range b.Levels(wire.Bid) {
		bids = append(bids, l.Price)
	}
	for l := range b.Levels(wire.Ask) {
		asks = append(asks, l.Price)
	}
	if want := []int64{1<<63 - 1, 1, 0, -1, -1 << 63}; !slices.Equal(bids, want) {
		t.Errorf("bids = %v, want %v", bids, want)
	}
	if !slices.Equal(asks, prices) {
		t.Errorf("asks = %v, want %v", asks, prices)
	}
}

func TestTop(t *testing.T) {
	var b Book
	for p := int64(1); p <= 20; p++ {
		b.Apply(wire.Ask, p, p)
	}
	prefix := []Level{{-1, -1}}
	got := b.Top(wire.Ask, prefix, 3)
	if want := []Level{{-1, -1}, {1, 1}, {2, 2}, {3, 3}}; !slices.Equal(got, want) {
		t.Errorf("Top(3) = %v, want %v", got, want)
	}
	if got := b.Top(wire.Ask, nil, 100); len(got) != 20 || got[19] != (Level{20, 20}) {
		t.Errorf("Top(100) on 20 levels = %v", got)
	}
	if got := b.Top(wire.Ask, nil, 0); len(got) != 0 {
		t.Errorf("Top(0) = %v", got)
	}
	if got := b.Top(wire.Ask, nil, -1); len(got) != 0 {
		t.Errorf("Top(-1) = %v", got)
	}
}

func TestLevelsStopsEarly(t *testing.T) {
	var b Book
	for p := int64(1); p <= 10; p++ {
		b.Apply(wire.Bid, p, 1)
	}
	var seen []int64
	for l := range b.Levels(wire.Bid) {
		if len(seen) == 3 {
			break
		}
		seen = append(seen, l.Price)
	}
	if want := []int64{10, 9, 8}; !slices.Equal(seen, want) {
		t.Errorf("first three bids = %v, want %v", seen, want)
	}
}

func TestClearKeepsCapacity(t *testing.T) {
	var b Book
	for p := int64(0); p < 100; p++ {
		b.Apply(wire.Bid, p, 1)
		b.Apply(wire.Ask, 1000+p, 1)
	}
	b.Clear()
	if !b.Empty() {
		t.Fatal("Clear left levels behind")
	}
	allocs := testing.AllocsPerRun(10, func() {
		for p := int64(0); p < 100; p++ {
			b.Apply(wire.Bid, p, 1)
			b.Apply(wire.Ask, 1000+p, 1)
		}
		b.Clear()
	})
	if allocs != 0 {
		t.Errorf("refilling a cleared book allocated %v times", allocs)
	}
}

func TestCopyFrom(t *testing.T) {
	var src, dst Book
	for p := int64(0); p < 50; p++ {
		src.Apply(wire.Bid, p, p+1)
		src.Apply(wire.Ask, 100+p, p+2)
	}
	for p := int64(0); p < 80; p++ {
		dst.Apply(wire.Ask, 7*p, 1) // different contents, more capacity
	}
	allocs := testing.AllocsPerRun(5, func() { dst.CopyFrom(&src) })
	if allocs != 0 {
		t.Errorf("CopyFrom into a large enough book allocated %v times", allocs)
	}
	if src.Checksum() != dst.Checksum() || !slices.Equal(levels(&src, wire.Ask), levels(&dst, wire.Ask)) ||
		!slices.Equal(levels(&src, wire.Bid), levels(&dst, wire.Bid)) {
		t.Fatal("copy differs from its source")
	}
	dst.Apply(wire.Bid, 49, 0) // the copy is independent
	if l, _ := src.BestBid(); l != (Level{49, 50}) {
		t.Fatalf("changing the copy changed the source: best bid %v", l)
	}
	dst.CopyFrom(&dst)
	if dst.Depth(wire.Bid) != 49 {
		t.Fatalf("CopyFrom itself changed the book")
	}
}

// TestApplyAllocsSteadyState guards the hot path: once a book has reached its
// depth, inserts, modifications and removals do not allocate.
func TestApplyAllocsSteadyState(t *testing.T) {
	var b Book
	for p := int64(0); p < 1000; p++ {
		b.Apply(wire.Bid, 10_000-p, 5)
		b.Apply(wire.Ask, 10_001+p, 5)
	}
	allocs := testing.AllocsPerRun(100, func() {
		for i := int64(0); i < 10; i++ {
			b.Apply(wire.Bid, 10_000-i, 0)    // remove near the top
			b.Apply(wire.Ask, 10_001+i*37, 9) // modify, deeper
			b.Apply(wire.Bid, 10_000-i, 7)    // insert back
			b.Apply(wire.Ask, 5_000, 1)       // insert at the top (crossing)
			b.Apply(wire.Ask, 5_000, 0)       // and remove it
		}
	})
	if allocs != 0 {
		t.Errorf("Apply in steady state allocated %v times per run", allocs)
	}
}
