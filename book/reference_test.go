package book

import (
	"cmp"
	"hash/crc32"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/tickcast/tickcast/wire"
)

// refBook is the obviously correct book Book is checked against: a map of
// price to quantity per side, sorted when read.
type refBook [2]map[int64]int64

func newRefBook() refBook { return refBook{{}, {}} }

func (r refBook) apply(side wire.Side, price, qty int64) {
	if qty == 0 {
		delete(r[side], price)
		return
	}
	r[side][price] = qty
}

func (r refBook) clear() { clear(r[wire.Bid]); clear(r[wire.Ask]) }

// levels returns side's levels best first: bids descending, asks ascending.
func (r refBook) levels(side wire.Side) []Level {
	ls := make([]Level, 0, len(r[side]))
	for p, q := range r[side] {
		ls = append(ls, Level{p, q})
	}
	slices.SortFunc(ls, func(a, b Level) int {
		if side == wire.Bid {
			return cmp.Compare(b.Price, a.Price)
		}
		return cmp.Compare(a.Price, b.Price)
	})
	return ls
}

// TestAgainstReference drives a Book and a refBook with the same random
// updates, clustered near a drifting mid price with some deep levels and some
// crossing, and compares everything Book exposes after every batch.
func TestAgainstReference(t *testing.T) {
	ops := 30_000
	if testing.Short() {
		ops = 10_000
	}
	for _, seed := range []uint64{1, 2} {
		r := rand.New(rand.NewPCG(seed, 99))
		var b, copied Book
		ref := newRefBook()
		mid := int64(1_000_000)
		for done := 0; done < ops; {
			batch := 1 + r.IntN(30)
			for range batch {
				side := wire.Side(r.IntN(2))
				dir := int64(1) // away from the mid on this side
				if side == wire.Bid {
					dir = -1
				}
				var price int64
				switch x := r.IntN(100); {
				case x < 70: // near the top, sometimes through the mid (crossed)
					price = mid + dir*(r.Int64N(14)-2)
				case x < 95: // deep
					price = mid + dir*r.Int64N(1000)
				default: // far out, either side of the mid
					price = mid + r.Int64N(20_000) - 10_000
				}
				qty := int64(0)
				if r.IntN(100) >= 35 {
					qty = 1 + r.Int64N(1_000_000)
				}
				b.Apply(side, price, qty)
				ref.apply(side, price, qty)
				if r.IntN(50) == 0 {
					mid += r.Int64N(5) - 2
				}
			}
			done += batch
			if r.IntN(3000) == 0 {
				b.Clear()
				ref.clear()
			}
			check(t, &b, ref, r)
			if r.IntN(200) == 0 {
				copied.CopyFrom(&b)
				check(t, &copied, ref, r)
			}
			if t.Failed() {
				t.Fatalf("seed %d: failed after %d operations", seed, done)
			}
		}
	}
}

// check compares b with ref: best levels, depths, Top, Levels, At and the
// checksum.
func check(t *testing.T, b *Book, ref refBook, r *rand.Rand) {
	t.Helper()
	bids, asks := ref.levels(wire.Bid), ref.levels(wire.Ask)
	for side, want := range [][]Level{bids, asks} {
		side := wire.Side(side)
		if got := b.Depth(side); got != len(want) {
			t.Errorf("%v depth = %d, want %d", side, got, len(want))
			return
		}
		best, ok := b.Best(side)
		if ok != (len(want) > 0) || ok && best != want[0] {
			t.Errorf("%v best = %v %v, want %v", side, best, ok, want[:min(1, len(want))])
		}
		n := r.IntN(12)
		if got := b.Top(side, nil, n); !slices.Equal(got, want[:min(n, len(want))]) {
			t.Errorf("%v Top(%d) = %v, want %v", side, n, got, want[:min(n, len(want))])
		}
		if got := slices.Collect(b.Levels(side)); !slices.Equal(got, want) {
			t.Errorf("%v Levels differ from the reference", side)
		}
		for i, l := range want {
			if got := b.At(side, i); got != l {
				t.Errorf("%v At(%d) = %v, want %v", side, i, got, l)
				break
			}
		}
	}
	want := crc32.Checksum(encodeLevels(append(bids, asks...)...), crc32.MakeTable(crc32.Castagnoli))
	if got := b.Checksum(); got != want {
		t.Errorf("Book.Checksum = %#x, want %#x", got, want)
	}
	if got := Checksum(bids, asks); got != want {
		t.Errorf("Checksum(reference levels) = %#x, want %#x", got, want)
	}
}
