package binance_test

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"slices"
	"sync"

	"github.com/tickcast/tickcast/publisher/binance/binancetest"
	"github.com/tickcast/tickcast/wire"
)

// testSink decodes every published batch, rebuilds the books and records
// what happened per instrument; it also checks the invariants a subscriber
// relies on and records any violation.
type testSink struct {
	mu         sync.Mutex
	defs       map[uint32]wire.InstrumentDef
	books      map[uint32]*sinkBook
	status     map[uint32]wire.Status
	history    map[uint32][]string // "resyncing", "clear", "ok", "stale", "halted"
	trades     map[uint32][]wire.Trade
	waitClear  map[uint32]bool // resyncing announced, BookClear not seen yet
	retiring   map[uint32]bool // a BookClear without resyncing: InstrumentStatus halted must follow
	halted     map[uint32]bool // removed: only a new InstrumentDef may follow
	violations []string
	batches    int
}

type sinkBook struct{ bids, asks map[int64]int64 }

func newTestSink() *testSink {
	return &testSink{
		defs: map[uint32]wire.InstrumentDef{}, books: map[uint32]*sinkBook{},
		status: map[uint32]wire.Status{}, history: map[uint32][]string{},
		trades: map[uint32][]wire.Trade{}, waitClear: map[uint32]bool{},
		retiring: map[uint32]bool{}, halted: map[uint32]bool{},
	}
}

func (s *testSink) violate(format string, args ...any) {
	if len(s.violations) < 20 {
		s.violations = append(s.violations, fmt.Sprintf(format, args...))
	}
}

// Publish decodes a batch of messages by their 4-byte headers.
func (s *testSink) Publish(b []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.batches++
	var last []byte
	for len(b) > 0 {
		if len(b) < wire.MsgHeaderLen {
			s.violate("truncated message header")
			return nil
		}
		l := int(binary.LittleEndian.Uint16(b))
		if l < wire.MsgHeaderLen || l > len(b) {
			s.violate("bad message length %d", l)
			return nil
		}
		s.message(b[:l])
		last, b = b[:l], b[l:]
	}
	if last == nil {
		s.violate("empty batch")
	} else if wire.Type(last[2]) == wire.TypeLevelUpdate && last[3]&wire.LevelFlagEndOfEvent == 0 {
		s.violate("batch ends inside an event")
	}
	return nil
}

func (s *testSink) message(m []byte) {
	inst := binary.LittleEndian.Uint32(m[4:])
	if _, ok := s.defs[inst]; !ok && wire.Type(m[2]) != wire.TypeInstrumentDef {
		s.violate("%v for instrument %d before its InstrumentDef", wire.Type(m[2]), inst)
	}
	if s.halted[inst] && wire.Type(m[2]) != wire.TypeInstrumentDef {
		s.violate("%v for instrument %d after it was halted (removed)", wire.Type(m[2]), inst)
	}
	if s.retiring[inst] {
		s.retiring[inst] = false
		if wire.Type(m[2]) != wire.TypeInstrumentStatus || wire.Status(m[8]) != wire.StatusHalted {
			s.violate("BookClear for instrument %d without resyncing first (and no halted after it)", inst)
		}
	}
	switch wire.Type(m[2]) {
	case wire.TypeInstrumentDef:
		d, err := wire.DecodeInstrumentDef(m)
		if err != nil {
			s.violate("InstrumentDef: %v", err)
			return
		}
		s.defs[d.Instrument] = d
		s.halted[d.Instrument] = false
		s.books[d.Instrument] = &sinkBook{bids: map[int64]int64{}, asks: map[int64]int64{}}
	case wire.TypeLevelUpdate:
		u, err := wire.DecodeLevelUpdate(m)
		if err != nil {
			s.violate("LevelUpdate: %v", err)
			return
		}
		if s.waitClear[inst] {
			s.violate("LevelUpdate for instrument %d while resyncing", inst)
		}
		side := s.books[inst].bids
		if u.Side == wire.Ask {
			side = s.books[inst].asks
		}
		if u.Qty == 0 {
			delete(side, u.Price)
		} else {
			side[u.Price] = u.Qty
		}
	case wire.TypeTrade:
		t, err := wire.DecodeTrade(m)
		if err != nil {
			s.violate("Trade: %v", err)
			return
		}
		if ts := s.trades[inst]; len(ts) > 0 && ts[len(ts)-1].TradeID >= t.TradeID {
			s.violate("trade %d after trade %d", t.TradeID, ts[len(ts)-1].TradeID)
		}
		s.trades[inst] = append(s.trades[inst], t)
	case wire.TypeBookClear:
		if !s.waitClear[inst] {
			s.retiring[inst] = true // a removal, if halted follows
		}
		s.waitClear[inst] = false
		s.books[inst] = &sinkBook{bids: map[int64]int64{}, asks: map[int64]int64{}}
		s.history[inst] = append(s.history[inst], "clear")
	case wire.TypeInstrumentStatus:
		st, err := wire.DecodeInstrumentStatus(m)
		if err != nil {
			s.violate("InstrumentStatus: %v", err)
			return
		}
		if st.Status == wire.StatusResyncing {
			s.waitClear[inst] = true
		}
		if st.Status == wire.StatusHalted {
			s.halted[inst] = true
			s.waitClear[inst] = false
		}
		if st.Status == wire.StatusOK && s.waitClear[inst] {
			s.violate("ok for instrument %d before its BookClear", inst)
		}
		s.status[inst] = st.Status
		s.history[inst] = append(s.history[inst], st.Status.String())
	default:
		s.violate("unexpected message type %v", wire.Type(m[2]))
	}
}

// book returns instrument's rebuilt book in the emulator's form.
func (s *testSink) book(inst uint32) binancetest.Book {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out binancetest.Book
	b := s.books[inst]
	if b == nil {
		return out
	}
	for p, q := range b.bids {
		out.Bids = append(out.Bids, binancetest.Level{Price: p, Qty: q})
	}
	for p, q := range b.asks {
		out.Asks = append(out.Asks, binancetest.Level{Price: p, Qty: q})
	}
	slices.SortFunc(out.Bids, func(a, b binancetest.Level) int { return cmp.Compare(b.Price, a.Price) })
	slices.SortFunc(out.Asks, func(a, b binancetest.Level) int { return cmp.Compare(a.Price, b.Price) })
	return out
}

func (s *testSink) statusOf(inst uint32) wire.Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.status[inst]
}

func (s *testSink) historyOf(inst uint32) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.history[inst])
}

func (s *testSink) tradesOf(inst uint32) []wire.Trade {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.trades[inst])
}

func (s *testSink) problems() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.violations)
}

// count returns how many times event appears in instrument's history.
func (s *testSink) count(inst uint32, event string) int {
	n := 0
	for _, h := range s.historyOf(inst) {
		if h == event {
			n++
		}
	}
	return n
}
