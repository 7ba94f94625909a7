package binancetest

import (
	"cmp"
	"math/rand/v2"
	"slices"
	"strconv"
)

// Exp is the exponent of every price and quantity mantissa of the emulator:
// Binance spot strings carry 8 decimals.
const Exp = -8

const (
	one  = 100_000_000 // 1.0 as a mantissa
	tick = 1_000_000   // the price step, 0.01
)

// Level is one price level: mantissas with exponent [Exp].
type Level struct {
	Price, Qty int64
}

// Book is a copy of a symbol's book.
type Book struct {
	LastUpdateID uint64  // the final update id u of the last event (BINANCE.md)
	Bids         []Level // best (highest) first
	Asks         []Level // best (lowest) first
}

// Trade is one trade the emulator published.
type Trade struct {
	ID         uint64
	Price, Qty int64 // mantissas with exponent [Exp]
	Time       int64 // ms since the Unix epoch
	BuyerMaker bool  // "m": the buyer is the maker, so the aggressor sold
}

// change is one level set by an event.
type change struct {
	price, qty int64
}

// book is one simulated symbol; its server's mutex guards it.
type book struct {
	name, lower string
	mid         int64
	span        int // price levels a side may reach
	bids, asks  map[int64]int64
	lastU       uint64
	nextTrade   uint64
	trades      []Trade

	stalled      bool
	skip         int   // events to apply without sending (gaps)
	failSnaps    []int // HTTP statuses for the next snapshot requests
	nonBridge    int   // snapshots to serve that do not bridge
	snapRequests int

	bidCh, askCh []change // the event being built
}

func newBook(name, lower string, i, levels int, rng *rand.Rand) *book {
	b := &book{
		name: name, lower: lower,
		mid:   int64(100+37*i) * one,
		span:  4 * levels,
		bids:  map[int64]int64{},
		asks:  map[int64]int64{},
		lastU: uint64(1_000_000 + 1000*i),
		// trade ids of real symbols are large and increasing
		nextTrade: uint64(5_000_000 + 1000*i),
	}
	for k := 1; k <= levels; k++ {
		b.bids[b.mid-int64(k)*tick] = randQty(rng)
		b.asks[b.mid+int64(k-1)*tick] = randQty(rng)
	}
	return b
}

func randQty(rng *rand.Rand) int64 { return 1 + rng.Int64N(100*one) }

// step changes 1 to 4 levels and returns the event's update ids.
func (b *book) step(rng *rand.Rand) (first, final uint64) {
	b.bidCh, b.askCh = b.bidCh[:0], b.askCh[:0]
	n := 1 + rng.IntN(4)
	for range n {
		k := int64(1 + rng.IntN(b.span))
		side, ch, price := b.bids, &b.bidCh, b.mid-k*tick
		if rng.IntN(2) == 1 {
			side, ch, price = b.asks, &b.askCh, b.mid+(k-1)*tick
		}
		var qty int64
		if rng.IntN(10) >= 3 { // else remove, present or not
			qty = randQty(rng)
		}
		if qty == 0 {
			delete(side, price)
		} else {
			side[price] = qty
		}
		*ch = setChange(*ch, price, qty)
	}
	first = b.lastU + 1
	b.lastU += uint64(1 + rng.IntN(n))
	return first, b.lastU
}

// setChange records price's final quantity in the event.
func setChange(ch []change, price, qty int64) []change {
	for i := range ch {
		if ch[i].price == price {
			ch[i].qty = qty
			return ch
		}
	}
	return append(ch, change{price, qty})
}

// trade makes a trade at the best price on a random side.
func (b *book) trade(rng *rand.Rand, ms int64) (Trade, bool) {
	t := Trade{ID: b.nextTrade, Qty: 1 + rng.Int64N(one), Time: ms, BuyerMaker: rng.IntN(2) == 1}
	var ok bool
	if t.BuyerMaker { // a seller hit the best bid
		t.Price, ok = best(b.bids, true)
	} else {
		t.Price, ok = best(b.asks, false)
	}
	if !ok {
		return t, false
	}
	b.nextTrade++
	b.trades = append(b.trades, t)
	return t, true
}

func best(side map[int64]int64, high bool) (int64, bool) {
	var p int64
	found := false
	for price := range side {
		if !found || (high && price > p) || (!high && price < p) {
			p, found = price, true
		}
	}
	return p, found
}

// levels returns a side sorted best first, at most limit levels (0: all).
func levels(side map[int64]int64, bids bool, limit int) []Level {
	out := make([]Level, 0, len(side))
	for p, q := range side {
		out = append(out, Level{p, q})
	}
	slices.SortFunc(out, func(a, b Level) int {
		if bids {
			return cmp.Compare(b.Price, a.Price)
		}
		return cmp.Compare(a.Price, b.Price)
	})
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out
}

func (b *book) copy() Book {
	return Book{LastUpdateID: b.lastU, Bids: levels(b.bids, true, 0), Asks: levels(b.asks, false, 0)}
}

// AppendDecimal appends mantissa m (exponent [Exp]) as Binance writes it:
// 8 decimals, "4.00000200".
func AppendDecimal(b []byte, m int64) []byte {
	if m < 0 {
		b = append(b, '-')
		m = -m
	}
	b = strconv.AppendInt(b, m/one, 10)
	b = append(b, '.')
	frac := m % one
	for d := int64(one / 10); d > 0; d /= 10 {
		b = append(b, byte('0'+frac/d%10))
	}
	return b
}

// appendLevels appends [["p","q"],…].
func appendLevels(b []byte, ls []Level) []byte {
	b = append(b, '[')
	for i, l := range ls {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `["`...)
		b = AppendDecimal(b, l.Price)
		b = append(b, `","`...)
		b = AppendDecimal(b, l.Qty)
		b = append(b, `"]`...)
	}
	return append(b, ']')
}

func appendChanges(b []byte, ch []change) []byte {
	b = append(b, '[')
	for i, c := range ch {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `["`...)
		b = AppendDecimal(b, c.price)
		b = append(b, `","`...)
		b = AppendDecimal(b, c.qty)
		b = append(b, `"]`...)
	}
	return append(b, ']')
}

// depthData returns the data of the event just built by step.
func (b *book) depthData(first, final uint64, ms int64) []byte {
	d := []byte(`{"e":"depthUpdate","E":`)
	d = strconv.AppendInt(d, ms, 10)
	d = append(d, `,"s":"`...)
	d = append(d, b.name...)
	d = append(d, `","U":`...)
	d = strconv.AppendUint(d, first, 10)
	d = append(d, `,"u":`...)
	d = strconv.AppendUint(d, final, 10)
	d = append(d, `,"b":`...)
	d = appendChanges(d, b.bidCh)
	d = append(d, `,"a":`...)
	d = appendChanges(d, b.askCh)
	return append(d, '}')
}

// tradeData returns the data of a trade event.
func (b *book) tradeData(t Trade) []byte {
	d := []byte(`{"e":"trade","E":`)
	d = strconv.AppendInt(d, t.Time, 10)
	d = append(d, `,"s":"`...)
	d = append(d, b.name...)
	d = append(d, `","t":`...)
	d = strconv.AppendUint(d, t.ID, 10)
	d = append(d, `,"p":"`...)
	d = AppendDecimal(d, t.Price)
	d = append(d, `","q":"`...)
	d = AppendDecimal(d, t.Qty)
	d = append(d, `","T":`...)
	d = strconv.AppendInt(d, t.Time, 10)
	d = append(d, `,"m":`...)
	d = strconv.AppendBool(d, t.BuyerMaker)
	return append(d, `,"M":true}`...)
}

// snapshotJSON returns the REST snapshot body of the book's top limit levels.
func (b *book) snapshotJSON(limit int, nonBridging bool) []byte {
	bids, asks, lid := levels(b.bids, true, limit), levels(b.asks, false, limit), b.lastU
	if nonBridging {
		// Older than any event a client can hold, and poisoned with a level
		// that never exists, so a client that wrongly applies it shows it.
		lid = 1
		bids = append(bids, Level{Price: 1, Qty: 1})
	}
	d := []byte(`{"lastUpdateId":`)
	d = strconv.AppendUint(d, lid, 10)
	d = append(d, `,"bids":`...)
	d = appendLevels(d, bids)
	d = append(d, `,"asks":`...)
	d = appendLevels(d, asks)
	return append(d, '}')
}
