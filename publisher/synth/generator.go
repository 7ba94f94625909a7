package synth

import (
	"fmt"
	"math"
	"math/bits"

	"github.com/tickcast/tickcast/wire"
)

// The event mix: of the events that are not trades, modifyShare change
// quantities near the top, depthShare add or remove a level and the rest move
// the mid price.
const (
	modifyShare = 0.75
	depthShare  = 0.13
	maxSpread   = 3 // ticks between the best bid and the best ask after a mid move
)

// Bounds of one event, for sizing buffers.
const (
	// MaxEventMessages bounds the messages of one event.
	MaxEventMessages = 64
	// MaxEventBytes bounds the encoded size of one event.
	MaxEventBytes = MaxEventMessages * wire.TradeLen
)

// Generator is the unpaced core of the synthetic source: it keeps a book per
// instrument and appends random, consistent book events as wire messages.
// A Generator is not safe for concurrent use.
type Generator struct {
	inst     []instrument // the live instruments: ids first, first+1, ...
	rng      rng
	levels   int // target depth per side
	maxDepth int // hard bound of the depth per side
	first    uint32
	venue    string
	ring     int // ring size of each side

	// Thresholds on a uniform u64 choosing the event kind.
	tradeCut, modifyCut, depthCut uint64

	// Exchange time stamping: unpaced messages get now; when sched is set,
	// message idx gets base + sched.at(idx) (see Source.Run).
	now   uint64
	sched *schedule
	base  uint64
	idx   int64

	tradeID uint64
	msgs    uint64 // messages generated
}

// NewGenerator returns a generator with books filled to cfg.Levels levels a
// side. Only cfg.Instruments, Levels, TradeRatio, Seed, FirstInstrument and
// Venue matter to it; the whole cfg is validated.
func NewGenerator(cfg Config) (*Generator, error) {
	cfg, err := cfg.normalize()
	if err != nil {
		return nil, err
	}
	return newGenerator(cfg), nil
}

// newGenerator returns a generator for a normalized cfg.
func newGenerator(cfg Config) *Generator {
	g := &Generator{
		rng:      rng{s: uint64(cfg.Seed)},
		levels:   cfg.Levels,
		maxDepth: cfg.Levels + cfg.Levels/8 + 4,
		first:    cfg.FirstInstrument,
		venue:    cfg.Venue,
	}
	rest := 1 - cfg.TradeRatio
	g.tradeCut = fraction(cfg.TradeRatio)
	g.modifyCut = fraction(cfg.TradeRatio + rest*modifyShare)
	g.depthCut = fraction(cfg.TradeRatio + rest*(modifyShare+depthShare))
	g.ring = 1 << bits.Len(uint(2*g.maxDepth))
	g.grow(cfg.Instruments)
	return g
}

// grow adds instruments up to n in all, each with a fresh definition and
// book drawn from the generator's random stream, and returns the previous
// count. It does nothing when there are already n or more.
func (g *Generator) grow(n int) int {
	old := len(g.inst)
	for i := old; i < n; i++ {
		g.inst = append(g.inst, instrument{})
		g.initInstrument(&g.inst[i], g.first+uint32(i), g.venue, g.ring)
	}
	return old
}

// fraction maps x in [0, 1] to a threshold on a uniform u64.
func fraction(x float64) uint64 {
	if x >= 1 {
		return math.MaxUint64
	}
	return uint64(x * (1 << 64))
}

// Per-instrument variety, drawn from the seed.
var (
	priceExps = [...]int8{-2, -2, -2, -3, -4, -1}
	tickSizes = [...]int64{1, 1, 1, 5, 10} // price mantissa units per tick
	lotSizes  = [...]int64{1, 100, 100, 10000}
)

// initInstrument defines an instrument and fills its book: a mid between 10 000
// and 1 000 000 ticks, a spread of 1 to maxSpread ticks and g.levels
// contiguous levels a side.
func (g *Generator) initInstrument(in *instrument, id uint32, venue string, size int) {
	r := g.rng.next()
	in.id = id
	in.tick = tickSizes[int(r%uint64(len(tickSizes)))]
	in.lot = lotSizes[int(r>>8%uint64(len(lotSizes)))]
	in.def = wire.NewInstrumentDef(id, fmt.Sprintf("SYN%04d", id), venue,
		priceExps[int(r>>16%uint64(len(priceExps)))], -4)
	in.initMid = 10_000 + g.rng.intn(990_000)
	in.bids = newSide(size, wire.Bid)
	in.asks = newSide(size, wire.Ask)
	bid := in.initMid
	ask := bid + 1 + g.rng.intn(maxSpread)
	for d := range int64(g.levels) {
		in.bids.set(bid-d, g.newLots())
		in.asks.set(ask+d, g.newLots())
	}
}

// Definitions appends an InstrumentDef for every instrument, then for each
// instrument its current state: a BookClear, the whole book as LevelUpdates
// (bids best to worst, then asks best to worst, the last with the end-of-event
// flag) and an InstrumentStatus ok. Time-stamped messages carry the exchange
// time of the last Next call (0 before any). Call it first, and again whenever
// consumers must rebuild their books.
func (g *Generator) Definitions(dst []byte) []byte {
	for i := range g.inst {
		dst = g.inst[i].def.Append(dst)
		g.msgs++
	}
	for i := range g.inst {
		dst = g.appendBook(dst, &g.inst[i])
	}
	return dst
}

// appendBook appends BookClear, the book and InstrumentStatus ok for in.
func (g *Generator) appendBook(dst []byte, in *instrument) []byte {
	dst = wire.BookClear{Instrument: in.id, ExchTime: g.stamp()}.Append(dst)
	g.msgs++
	for _, s := range [2]*side{&in.bids, &in.asks} {
		for d := range s.span() + 1 {
			p := s.at(d)
			if l := s.get(p); l != 0 {
				dst = g.appendLevel(dst, in, s, p, l)
			}
		}
	}
	dst[len(dst)-wire.LevelUpdateLen+3] |= wire.LevelFlagEndOfEvent
	g.msgs++
	return wire.InstrumentStatus{Instrument: in.id, Status: wire.StatusOK}.Append(dst)
}

// SetInstruments changes the number of instruments to n, valid as
// Config.Instruments is but never 0 (1..MaxInstruments, within the u32 ids
// from Config.FirstInstrument), and appends what consumers need to follow:
// growing appends an InstrumentDef for each new instrument, then each one's
// book as [Generator.Definitions] does (BookClear, levels, InstrumentStatus
// ok); shrinking retires the highest ids, appending for each a BookClear and
// an InstrumentStatus halted, and no event is about them again. A retired
// instrument that comes back gets a fresh definition and book. The new books
// are drawn from the generator's random stream, so the same seed and the
// same sequence of Next and SetInstruments calls give the same messages.
// Time-stamped messages carry the exchange time of the last Next call. On an
// error nothing changes.
func (g *Generator) SetInstruments(dst []byte, n int) ([]byte, error) {
	if err := checkInstruments("SetInstruments", n, g.first); err != nil {
		return dst, err
	}
	if n < len(g.inst) {
		return g.retire(dst, n), nil
	}
	old := g.grow(n)
	for i := old; i < n; i++ {
		dst = g.inst[i].def.Append(dst)
		g.msgs++
	}
	for i := old; i < n; i++ {
		dst = g.appendBook(dst, &g.inst[i])
	}
	return dst, nil
}

// retire drops the instruments from index n on and appends a BookClear and
// an InstrumentStatus halted for each.
func (g *Generator) retire(dst []byte, n int) []byte {
	for i := n; i < len(g.inst); i++ {
		dst = g.appendRetire(dst, g.inst[i].id)
	}
	g.inst = g.inst[:n]
	return dst
}

// appendRetire appends a BookClear and an InstrumentStatus halted for id.
func (g *Generator) appendRetire(dst []byte, id uint32) []byte {
	dst = wire.BookClear{Instrument: id, ExchTime: g.stamp()}.Append(dst)
	g.msgs += 2
	return wire.InstrumentStatus{Instrument: id, Status: wire.StatusHalted}.Append(dst)
}

// Next appends whole events until it has appended at least n messages (at most
// MaxEventMessages-1 more) and returns the extended buffer. Every message carries
// exchTime. It does not allocate when dst has room for n+MaxEventMessages
// messages (MaxEventBytes per event).
func (g *Generator) Next(dst []byte, n int, exchTime uint64) []byte {
	g.now = exchTime
	for start := g.msgs; g.msgs-start < uint64(max(n, 0)); {
		dst = g.event(dst)
	}
	return dst
}

// stamp returns the exchange time of the next message.
func (g *Generator) stamp() uint64 {
	if g.sched == nil {
		return g.now
	}
	t := g.base + uint64(g.sched.at(g.idx))
	g.idx++
	return t
}

// event appends one random event, closed by a LevelUpdate with the
// end-of-event flag.
func (g *Generator) event(dst []byte) []byte {
	in := g.pick()
	r := g.rng.next()
	switch {
	case r < g.tradeCut:
		dst = g.trade(dst, in, r)
	case r < g.modifyCut:
		dst = g.modify(dst, in, r)
	case r < g.depthCut:
		dst = g.addRemove(dst, in, r)
	default:
		dst = g.move(dst, in, r)
	}
	dst[len(dst)-wire.LevelUpdateLen+3] |= wire.LevelFlagEndOfEvent
	return dst
}

// pick returns a random instrument, lower indices more often (the minimum of
// two uniform draws: instrument i is chosen with weight n-i).
func (g *Generator) pick() *instrument {
	r := g.rng.next()
	n := uint64(len(g.inst))
	a, b := (r>>32)*n>>32, (r&math.MaxUint32)*n>>32
	return &g.inst[min(a, b)]
}

// sides returns the side an event acts on and the other one, by bit 0 of r.
func (in *instrument) sides(r uint64) (s, o *side) {
	if r&1 == 0 {
		return &in.bids, &in.asks
	}
	return &in.asks, &in.bids
}

// newLots returns a random level size: 1 to 100 lots, 10× that one time in 32.
func (g *Generator) newLots() uint32 {
	r := g.rng.next()
	l := 1 + uint32((r>>32)*100>>32)
	if r&31 == 0 {
		l *= 10
	}
	return l
}

// depth returns a random depth in [0, span], skewed towards the top: mostly the
// sum of two geometric draws (mean 2), one time in 16 uniform.
func (g *Generator) depth(span int64) int64 {
	r := g.rng.next()
	if r&15 == 0 {
		return int64((r >> 32) * uint64(span+1) >> 32)
	}
	d := int64(bits.TrailingZeros64(r>>4|1<<40) + bits.TrailingZeros64(r>>44|1<<19))
	return min(d, span)
}

// appendLevel appends a LevelUpdate for price p (in ticks) of s with l lots.
func (g *Generator) appendLevel(dst []byte, in *instrument, s *side, p int64, l uint32) []byte {
	g.msgs++
	return wire.LevelUpdate{
		Instrument: in.id,
		Price:      p * in.tick,
		Qty:        int64(l) * in.lot,
		ExchTime:   g.stamp(),
		Side:       s.wside,
	}.Append(dst)
}

// put sets the level at p to l lots (0 removes it) and appends the update. A
// new level first makes room: the side never holds more than maxDepth levels
// nor spans its ring, so the worst levels go first when needed. A new level
// behind the worst must lie within the ring (the caller checks).
func (g *Generator) put(dst []byte, in *instrument, s *side, p int64, l uint32) []byte {
	if l != 0 && s.get(p) == 0 {
		for s.n > 0 && (s.n >= g.maxDepth || (s.better(p, s.best) && (p-s.worst)*s.dir >= s.size())) {
			dst = g.appendLevel(dst, in, s, s.worst, 0)
			s.set(s.worst, 0)
		}
	}
	s.set(p, l)
	return g.appendLevel(dst, in, s, p, l)
}

// modify changes the quantity of 1 to 4 levels near the top of one side (a
// price without a level gets one).
func (g *Generator) modify(dst []byte, in *instrument, r uint64) []byte {
	s, _ := in.sides(r)
	k := 1
	if r>>1&7 == 0 {
		k = 2 + int(r>>4&1) + int(r>>5&1)
	}
	for range k {
		p := s.at(g.depth(s.span()))
		l := g.newLots()
		if l == s.get(p) {
			l++
		}
		dst = g.put(dst, in, s, p, l)
	}
	return dst
}

// addRemove adds a level to one side when it is short of the target depth (or
// at it, half the time) and removes one otherwise, never the last. Additions sometimes improve
// the best price inside a wide spread.
func (g *Generator) addRemove(dst []byte, in *instrument, r uint64) []byte {
	s, o := in.sides(r)
	if s.n < g.levels || s.n == 1 || (s.n == g.levels && r>>1&1 == 0) {
		if spread := (o.best - s.best) * s.dir; spread > 1 && r>>2&3 == 0 {
			return g.put(dst, in, s, s.best+s.dir, g.newLots())
		}
		return g.put(dst, in, s, g.free(s), g.newLots())
	}
	p := s.at(g.rng.intn(s.span() + 1))
	if s.get(p) == 0 {
		p = s.worst
	}
	return g.put(dst, in, s, p, 0)
}

// free returns a price behind the best of s without a level: a random hole, or
// the tick behind the worst level, or the first hole from the top when the ring
// is full.
func (g *Generator) free(s *side) int64 {
	span := s.span()
	if d := 1 + g.rng.intn(span+1); d <= span && s.get(s.at(d)) == 0 {
		return s.at(d)
	}
	if span+1 < s.size() {
		return s.at(span + 1)
	}
	d := int64(1)
	for s.get(s.at(d)) != 0 {
		d++
	}
	return s.at(d)
}

// move walks the mid price 1 to 3 ticks: the side it moves towards retreats
// (its levels better than the new price go), the other side advances with new
// levels, and both get back towards the target depth at their far ends. The
// walk reverts when the mid strays 2× from where it started.
func (g *Generator) move(dst []byte, in *instrument, r uint64) []byte {
	up := r&1 == 0
	if mid := (in.bids.best + in.asks.best) / 2; mid < in.initMid/2 {
		up = true
	} else if mid > in.initMid*2 {
		up = false
	}
	s, o := &in.bids, &in.asks // s advances, o retreats
	if !up {
		s, o = o, s
	}
	m := 1 + min(int64(bits.TrailingZeros64(r>>1|1<<8)), 2)
	sp := 1 + int64((r>>12&0xffff)*maxSpread>>16)
	newBest := s.best + s.dir*m
	newOpp := newBest + s.dir*sp

	removed := false
	for o.n > 0 && o.better(o.best, newOpp) {
		dst = g.put(dst, in, o, o.best, 0)
		removed = true
	}
	if (removed || o.n == 0) && o.get(newOpp) == 0 {
		dst = g.put(dst, in, o, newOpp, g.newLots())
	}
	for p := s.best + s.dir; ; p += s.dir {
		dst = g.put(dst, in, s, p, g.newLots())
		if p == newBest {
			break
		}
	}
	for i := int64(0); i < m && s.n > g.levels; i++ {
		dst = g.put(dst, in, s, s.worst, 0)
	}
	for i := int64(0); i < m+sp && o.n < g.levels && o.span()+1 < o.size(); i++ {
		dst = g.put(dst, in, o, o.at(o.span()+1), g.newLots())
	}
	return dst
}

// trade appends a Trade at the best price of one side (a buy lifts the best
// ask, a sell hits the best bid) for part or, one time in four, all of the
// level, then the LevelUpdate it caused. A side left short of the target depth
// gets a new level behind its worst, as a depth-limited exchange feed shows.
func (g *Generator) trade(dst []byte, in *instrument, r uint64) []byte {
	s, aggressor := &in.asks, wire.AggressorBuy
	if r&1 != 0 {
		s, aggressor = &in.bids, wire.AggressorSell
	}
	p := s.best
	have := s.get(p)
	take := have
	if r>>1&3 != 0 {
		take = 1 + uint32(g.rng.intn(int64(have)))
	}
	g.tradeID++
	g.msgs++
	dst = wire.Trade{
		Instrument: in.id,
		Price:      p * in.tick,
		Qty:        int64(take) * in.lot,
		ExchTime:   g.stamp(),
		TradeID:    g.tradeID,
		Aggressor:  aggressor,
	}.Append(dst)
	dst = g.put(dst, in, s, p, have-take)
	switch {
	case s.n == 0:
		dst = g.put(dst, in, s, p-s.dir, g.newLots())
	case s.n < g.levels && s.span()+1 < s.size():
		dst = g.put(dst, in, s, s.at(s.span()+1), g.newLots())
	}
	return dst
}
