package synth

import "github.com/tickcast/tickcast/wire"

// side is one side of a synthetic book. Levels live in a ring indexed by their
// absolute price in ticks, so shifting the book moves no memory; the levels
// always span fewer ticks than the ring holds, so no two share a slot.
type side struct {
	lots  []uint32 // lots[price&mask]; 0 = no level
	mask  int64
	dir   int64 // +1 for bids (better = higher price), -1 for asks (better = lower)
	wside wire.Side
	best  int64 // best price in ticks; valid when n > 0
	worst int64 // worst price in ticks; valid when n > 0
	n     int   // number of levels
}

func newSide(size int, s wire.Side) side {
	dir := int64(1)
	if s == wire.Ask {
		dir = -1
	}
	return side{lots: make([]uint32, size), mask: int64(size - 1), dir: dir, wside: s}
}

// size returns the ring size: every level lies within size-1 ticks of the best.
func (s *side) size() int64 { return s.mask + 1 }

// get returns the lots at price p (0 = no level).
func (s *side) get(p int64) uint32 { return s.lots[p&s.mask] }

// better reports whether price a is better than price b on this side.
func (s *side) better(a, b int64) bool { return (a-b)*s.dir > 0 }

// span returns how many ticks the worst level lies behind the best.
func (s *side) span() int64 { return (s.best - s.worst) * s.dir }

// at returns the price d ticks behind the best.
func (s *side) at(d int64) int64 { return s.best - d*s.dir }

// set sets the level at price p to l lots (0 removes it) and keeps best, worst
// and n up to date. The caller keeps every level within size-1 ticks of the
// best.
func (s *side) set(p int64, l uint32) {
	i := p & s.mask
	old := s.lots[i]
	s.lots[i] = l
	switch {
	case old == 0 && l != 0:
		if s.n == 0 {
			s.best, s.worst = p, p
		} else if s.better(p, s.best) {
			s.best = p
		} else if s.better(s.worst, p) {
			s.worst = p
		}
		s.n++
	case old != 0 && l == 0:
		s.n--
		if s.n == 0 {
			return
		}
		if p == s.best {
			q := p - s.dir
			for s.get(q) == 0 {
				q -= s.dir
			}
			s.best = q
		} else if p == s.worst {
			q := p + s.dir
			for s.get(q) == 0 {
				q += s.dir
			}
			s.worst = q
		}
	}
}

// instrument is one synthetic instrument and its book.
type instrument struct {
	def     wire.InstrumentDef
	id      uint32
	tick    int64 // price mantissa units per tick
	lot     int64 // quantity mantissa units per lot
	initMid int64 // initial mid in ticks: the walk reverts when it strays 2× away
	bids    side
	asks    side
}
