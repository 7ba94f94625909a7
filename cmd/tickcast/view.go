package main

import (
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"

	"github.com/tickcast/tickcast/book"
	"github.com/tickcast/tickcast/subscriber"
	"github.com/tickcast/tickcast/wire"
)

// view keeps what the terminal shows: per instrument the top of book and the
// last trade, and the resets the application was told about. The
// subscriber's dispatcher writes it; the printer reads it every second.
type view struct {
	mu     sync.Mutex
	insts  map[uint32]*viewInst
	resets []string
	eos    bool
}

type viewInst struct {
	symbol           string
	priceExp, qtyExp int8
	bid, ask         book.Level
	hasBid, hasAsk   bool
	last             wire.Trade
	updates          uint64
}

func newView() *view { return &view{insts: map[uint32]*viewInst{}} }

func (v *view) inst(id uint32) *viewInst {
	in := v.insts[id]
	if in == nil {
		in = &viewInst{symbol: fmt.Sprint(id), priceExp: 0, qtyExp: 0}
		v.insts[id] = in
	}
	return in
}

// HandleEvent implements subscriber.Handler.
func (v *view) HandleEvent(e *subscriber.Event) {
	v.mu.Lock()
	defer v.mu.Unlock()
	switch e.Kind {
	case subscriber.EventDefinition:
		in := v.inst(e.Instrument)
		in.symbol, in.priceExp, in.qtyExp = e.Def.SymbolString(), e.Def.PriceExp, e.Def.QtyExp
	case subscriber.EventConsistent, subscriber.EventSnapshotBook:
		in := v.inst(e.Instrument)
		if e.Def != nil {
			in.symbol, in.priceExp, in.qtyExp = e.Def.SymbolString(), e.Def.PriceExp, e.Def.QtyExp
		}
		in.bid, in.hasBid = e.Book.BestBid()
		in.ask, in.hasAsk = e.Book.BestAsk()
		in.updates++
	case subscriber.EventTrade:
		v.inst(e.Instrument).last = e.Trade
	case subscriber.EventReset:
		v.resets = append(v.resets, e.Reset.String())
	case subscriber.EventEndOfSession:
		v.eos = true
	}
}

// print writes the top of book of up to n instruments (by id).
func (v *view) print(w io.Writer, n int) {
	v.mu.Lock()
	ids := make([]uint32, 0, len(v.insts))
	for id := range v.insts {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "instrument\tbid qty\tbid\task\task qty\tlast\tupdates\t")
	for i, id := range ids {
		if i == n {
			fmt.Fprintf(tw, "… %d more\t\t\t\t\t\t\t\n", len(ids)-n)
			break
		}
		in := v.insts[id]
		bq, bp, ap, aq := "-", "-", "-", "-"
		if in.hasBid {
			bq, bp = formatFixed(in.bid.Qty, in.qtyExp), formatFixed(in.bid.Price, in.priceExp)
		}
		if in.hasAsk {
			ap, aq = formatFixed(in.ask.Price, in.priceExp), formatFixed(in.ask.Qty, in.qtyExp)
		}
		last := "-"
		if in.last.TradeID != 0 || in.last.Qty != 0 {
			last = formatFixed(in.last.Qty, in.qtyExp) + "@" + formatFixed(in.last.Price, in.priceExp)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%d\t\n", in.symbol, bq, bp, ap, aq, last, in.updates)
	}
	v.mu.Unlock()
	tw.Flush()
}

// formatFixed renders mantissa × 10^exp exactly, without floats.
func formatFixed(m int64, exp int8) string {
	neg := m < 0
	u := uint64(m)
	if neg {
		u = -u
	}
	s := strconv.FormatUint(u, 10)
	if exp >= 0 {
		s += strings.Repeat("0", int(exp))
	} else {
		d := int(-exp)
		if len(s) <= d {
			s = strings.Repeat("0", d-len(s)+1) + s
		}
		s = s[:len(s)-d] + "." + s[len(s)-d:]
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	if neg {
		s = "-" + s
	}
	return s
}
