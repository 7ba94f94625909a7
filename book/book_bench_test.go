package book

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/tickcast/tickcast/wire"
)

// benchMid is the price between the two sides of the benchmark books.
const benchMid = 1_000_000

// op is one precomputed update.
type op struct {
	side       wire.Side
	price, qty int64
}

// denseBook returns a book with depth levels a side, one tick apart on both
// sides of benchMid.
func denseBook(depth int) *Book {
	var b Book
	for i := int64(1); i <= int64(depth); i++ {
		b.Apply(wire.Bid, benchMid-i, 100)
		b.Apply(wire.Ask, benchMid+i, 100)
	}
	return &b
}

// randomOps returns n updates on either side at 1 to spread ticks from
// benchMid; a third remove their level, the rest insert or modify it.
func randomOps(n, spread int, seed uint64) []op {
	r := rand.New(rand.NewPCG(seed, 7))
	ops := make([]op, n)
	for i := range ops {
		side := wire.Side(r.IntN(2))
		dist := 1 + r.Int64N(int64(spread))
		price := benchMid + dist
		if side == wire.Bid {
			price = benchMid - dist
		}
		qty := int64(0)
		if r.IntN(3) != 0 {
			qty = 1 + r.Int64N(1000)
		}
		ops[i] = op{side, price, qty}
	}
	return ops
}

func runOps(b *testing.B, book *Book, ops []op) {
	b.ReportAllocs()
	mask := len(ops) - 1 // len(ops) is a power of two
	i := 0
	for b.Loop() {
		o := &ops[i&mask]
		book.Apply(o.side, o.price, o.qty)
		i++
	}
}

// BenchmarkApplyNearTop updates the top 10 levels of a book of a given depth:
// inserts, modifications and removals that keep the depth within 10 levels of
// where it started.
func BenchmarkApplyNearTop(b *testing.B) {
	for _, depth := range []int{100, 1000, 5000} {
		b.Run(fmt.Sprintf("depth=%d", depth), func(b *testing.B) {
			runOps(b, denseBook(depth), randomOps(1<<16, 10, 1))
		})
	}
}

// BenchmarkApplyDeep updates levels anywhere in the book: prices are uniform
// over 1.5×depth ticks a side, which with a third of updates removing keeps
// about depth levels a side.
func BenchmarkApplyDeep(b *testing.B) {
	for _, depth := range []int{1000, 5000} {
		b.Run(fmt.Sprintf("depth=%d", depth), func(b *testing.B) {
			ops := randomOps(1<<16, depth*3/2, 2)
			book := denseBook(depth)
			for _, o := range ops { // settle at the steady-state depth
				book.Apply(o.side, o.price, o.qty)
			}
			runOps(b, book, ops)
		})
	}
}

// BenchmarkChecksum hashes a book of 1000 levels a side (32 KB).
func BenchmarkChecksum(b *testing.B) {
	book := denseBook(1000)
	b.Run("Book", func(b *testing.B) {
		b.SetBytes(2 * 1000 * levelLen)
		b.ReportAllocs()
		for b.Loop() {
			book.Checksum()
		}
	})
	bids, asks := book.Top(wire.Bid, nil, 1000), book.Top(wire.Ask, nil, 1000)
	b.Run("Levels", func(b *testing.B) {
		b.SetBytes(2 * 1000 * levelLen)
		b.ReportAllocs()
		for b.Loop() {
			Checksum(bids, asks)
		}
	})
}

// BenchmarkWalk compares the ways to read every level of a 1000-level side.
func BenchmarkWalk(b *testing.B) {
	book := denseBook(1000)
	var sink int64
	b.Run("Levels", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			for l := range book.Levels(wire.Ask) {
				sink += l.Qty
			}
		}
	})
	b.Run("At", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			for i := range book.Depth(wire.Ask) {
				sink += book.At(wire.Ask, i).Qty
			}
		}
	})
	dst := make([]Level, 0, 1000)
	b.Run("Top", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			dst = book.Top(wire.Ask, dst[:0], 1000)
		}
	})
	_ = sink
}
