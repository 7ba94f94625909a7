package book

import "github.com/tickcast/tickcast/wire"

// Level is one price level: a fixed-point price and the absolute quantity
// resting at it (DESIGN.md, "Market messages", LevelUpdate).
type Level struct {
	Price, Qty int64
}

// Book is a price-level order book. The zero value is an empty book ready to
// use. A Book is not safe for concurrent use: one goroutine owns it. Copy a
// book with [Book.CopyFrom], never by value.
//
// Each side is a slice sorted so that the best level is the last element: bids
// by ascending price, asks by descending price. Market data changes the top
// of the book far more often than the rest, so most updates touch only the end
// of the slice: found by a short backwards scan, inserted or removed with a
// memmove of a few levels. Deeper updates use a binary search.
type Book struct {
	sides [2][]Level // indexed by wire.Side; best level last
	crc   crcScratch // Checksum's chunk buffer, kept here so Checksum does not allocate
}

// linearScan is how many levels from the top Apply compares one by one before
// it falls back to a binary search: updates land overwhelmingly within the
// first few levels, where a scan beats a search.
const linearScan = 8

// sideMask returns the mask that maps a price on side to its sort key,
// price^mask: the price itself for bids, and its bitwise complement for asks
// (^p = -p-1 reverses the order without overflowing). Both sides then ascend
// by key with the best level last.
func sideMask(side wire.Side) int64 { return -int64(side) }

// side returns the levels of side (best last), or nil for a side that is
// neither [wire.Bid] nor [wire.Ask].
func (b *Book) side(side wire.Side) []Level {
	if side > wire.Ask {
		return nil
	}
	return b.sides[side]
}

// Apply sets the quantity at price on side (DESIGN.md, "Market messages",
// LevelUpdate): qty is the absolute quantity now resting at that price, and a
// qty of 0 removes the level. Removing a level that is not there does nothing,
// as does an update for a side other than [wire.Bid] or [wire.Ask].
//
// Apply does not allocate unless the side grows beyond any depth it has had.
func (b *Book) Apply(side wire.Side, price, qty int64) {
	if side > wire.Ask {
		return
	}
	ls := b.sides[side]
	i, found := search(ls, price, sideMask(side))
	switch {
	case found && qty != 0:
		ls[i].Qty = qty
	case found:
		copy(ls[i:], ls[i+1:])
		b.sides[side] = ls[:len(ls)-1]
	case qty != 0:
		ls = append(ls, Level{})
		copy(ls[i+1:], ls[i:])
		ls[i] = Level{Price: price, Qty: qty}
		b.sides[side] = ls
	}
}

// search returns the index of the level at price in ls, sorted ascending by
// price^mask, and true; or, when there is no such level, the index where it
// belongs and false. It scans the last linearScan levels (the top of the book)
// before it binary-searches the rest.
func search(ls []Level, price, mask int64) (int, bool) {
	k := price ^ mask
	n := len(ls)
	hi := n // every level in ls[hi:] has a key above k
	for stop := max(n-linearScan, 0); hi > stop; hi-- {
		if lk := ls[hi-1].Price ^ mask; lk <= k {
			if lk == k {
				return hi - 1, true
			}
			return hi, false
		}
	}
	lo := 0
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if ls[m].Price^mask < k {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo, lo < n && ls[lo].Price^mask == k
}

// Clear removes every level from both sides (DESIGN.md, BookClear), keeping
// the memory for the levels that follow.
func (b *Book) Clear() {
	b.sides[wire.Bid] = b.sides[wire.Bid][:0]
	b.sides[wire.Ask] = b.sides[wire.Ask][:0]
}

// CopyFrom makes b an exact copy of o, reusing b's memory.
func (b *Book) CopyFrom(o *Book) {
	if b == o {
		return
	}
	b.sides[wire.Bid] = append(b.sides[wire.Bid][:0], o.sides[wire.Bid]...)
	b.sides[wire.Ask] = append(b.sides[wire.Ask][:0], o.sides[wire.Ask]...)
}

// Best returns the best level of side (the highest bid or the lowest ask) and
// true, or false when that side is empty. It is O(1).
func (b *Book) Best(side wire.Side) (Level, bool) {
	ls := b.side(side)
	if len(ls) == 0 {
		return Level{}, false
	}
	return ls[len(ls)-1], true
}

// BestBid returns the highest bid and true, or false when there are no bids.
func (b *Book) BestBid() (Level, bool) { return b.Best(wire.Bid) }

// BestAsk returns the lowest ask and true, or false when there are no asks.
func (b *Book) BestAsk() (Level, bool) { return b.Best(wire.Ask) }

// Depth returns the number of levels on side.
func (b *Book) Depth(side wire.Side) int { return len(b.side(side)) }

// Empty reports whether both sides are empty.
func (b *Book) Empty() bool {
	return len(b.sides[wire.Bid]) == 0 && len(b.sides[wire.Ask]) == 0
}
