package book

import (
	"iter"

	"github.com/tickcast/tickcast/wire"
)

// At returns the level i places from the top of side: At(side, 0) is the best
// level and At(side, Depth(side)-1) the worst. It panics if i is out of range,
// like a slice index. A loop over At is the fastest way to walk a side:
//
//	for i := range b.Depth(side) {
//		l := b.At(side, i)
//		…
//	}
func (b *Book) At(side wire.Side, i int) Level {
	ls := b.side(side)
	return ls[len(ls)-1-i]
}

// Top appends the best n levels of side to dst, best first, and returns the
// extended slice. It appends every level when side has fewer than n, and
// nothing when n <= 0.
func (b *Book) Top(side wire.Side, dst []Level, n int) []Level {
	ls := b.side(side)
	n = min(max(n, 0), len(ls))
	for i := len(ls) - 1; i >= len(ls)-n; i-- {
		dst = append(dst, ls[i])
	}
	return dst
}

// Levels returns an iterator over the levels of side from best to worst. The
// book must not change while the iteration runs.
func (b *Book) Levels(side wire.Side) iter.Seq[Level] {
	ls := b.side(side)
	return func(yield func(Level) bool) {
		for i := len(ls) - 1; i >= 0; i-- {
			if !yield(ls[i]) {
				return
			}
		}
	}
}
