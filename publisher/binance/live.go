package binance

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"
)

// checkTimeout bounds SetSymbols' question to Binance about new symbols.
const checkTimeout = 30 * time.Second

// SetSymbols changes the symbols the source serves to syms, while it runs
// (issue 14: live reconfiguration) or before; it is safe from any goroutine.
// syms is the whole new list, in the form of [Config.Symbols]:
//
//   - A symbol that stays keeps its instrument id and its connection; its
//     Instrument must be 0 or its current id, and its exponents (0 = -8)
//     their current values: neither changes live.
//   - A new symbol gets Symbol.Instrument if given (it must not be the id of
//     a symbol served now, including one this call removes); otherwise an id
//     above every id the source has used so far, in the order of syms (the
//     position-based default is [New]'s alone). A symbol removed and added
//     again is new: it gets a new id unless its old one is given.
//     The feed sees its InstrumentDef and InstrumentStatus resyncing, then
//     the usual sync: a REST snapshot bridged with the diff stream, BookClear,
//     the levels, InstrumentStatus ok.
//   - A removed symbol is unsubscribed and published as BookClear then
//     InstrumentStatus halted; nothing is published about it afterwards.
//
// New symbols join the first connection with room (MaxStreamsPerConn/2
// symbols each) by Binance's live SUBSCRIBE on that connection; removed
// ones leave by UNSUBSCRIBE. Subscribing on a connection that has room
// costs no connection attempt (Binance allows 300 per 5 minutes per IP), no
// handshake, and leaves the other symbols on it undisturbed, whereas a new
// connection per change would multiply connections for a few streams each.
// Only when every connection is full (1024 streams by default) does a new
// connection open for the new symbols, as [New] splits them. A connection
// left without symbols is closed, and reused first by later additions.
// Requests share each connection's budget with its pongs (4 messages per
// second, under Binance's 5).
//
// Bad input is refused with an error naming the symbol, and then nothing
// changes: an invalid or duplicate name, bad exponents, an id that is
// taken or would change, an empty list, and a name Binance does not know.
// That last check asks Binance's REST exchangeInfo about the new names
// (weight 20, from the snapshot budget), so a call that adds symbols
// fails when Binance cannot be asked (bounded by 30 s). SetSymbols
// returns once the change is applied ([Source.Stats] shows it; what it
// publishes is on its way to the sink, and the new symbols' sync follows).
// After Run has returned it fails.
func (s *Source) SetSymbols(syms []Symbol) error {
	s.setMu.Lock()
	defer s.setMu.Unlock()
	if len(syms) == 0 {
		return errors.New("binance: SetSymbols: no symbols: a source serves at least one")
	}
	s.mu.Lock()
	table := make(map[string]tableEntry, len(s.table))
	for k, v := range s.table {
		table[k] = v
	}
	used := make(map[uint32]string, len(s.table))
	for _, e := range s.table {
		used[e.sym.Instrument] = e.sym.Name
	}
	maxInst, state := s.maxInst, s.state
	s.mu.Unlock()
	if state == stateDone {
		return errors.New("binance: SetSymbols: the source has stopped")
	}

	// Validate everything first: nothing changes on an error.
	names := make(map[string]int, len(syms))
	explicit := make(map[uint32]int)
	var added []Symbol
	for i, sym := range syms {
		name := strings.ToUpper(sym.Name)
		if !validSymbol(name) {
			return fmt.Errorf("binance: SetSymbols: symbol %q (syms[%d]): want 1 to %d ASCII letters and digits", sym.Name, i, maxSymbolLen)
		}
		if j, dup := names[name]; dup {
			return fmt.Errorf("binance: SetSymbols: symbol %s (syms[%d]) duplicates syms[%d]", name, i, j)
		}
		names[name] = i
		sym.Name = name
		var err error
		if sym.PriceExp, err = checkExp(sym.PriceExp); err != nil {
			return fmt.Errorf("binance: SetSymbols: symbol %s: PriceExp %d: %w", name, sym.PriceExp, err)
		}
		if sym.QtyExp, err = checkExp(sym.QtyExp); err != nil {
			return fmt.Errorf("binance: SetSymbols: symbol %s: QtyExp %d: %w", name, sym.QtyExp, err)
		}
		if cur, stays := table[name]; stays {
			switch {
			case sym.Instrument != 0 && sym.Instrument != cur.sym.Instrument:
				return fmt.Errorf("binance: SetSymbols: symbol %s: instrument %d cannot change live (it is %d; remove the symbol first)",
					name, sym.Instrument, cur.sym.Instrument)
			case sym.PriceExp != cur.sym.PriceExp || sym.QtyExp != cur.sym.QtyExp:
				return fmt.Errorf("binance: SetSymbols: symbol %s: exponents %d/%d cannot change live (they are %d/%d; remove the symbol first)",
					name, sym.PriceExp, sym.QtyExp, cur.sym.PriceExp, cur.sym.QtyExp)
			}
			continue
		}
		if id := sym.Instrument; id != 0 {
			if other, taken := used[id]; taken {
				return fmt.Errorf("binance: SetSymbols: symbol %s: instrument %d is %s's", name, id, other)
			}
			if j, dup := explicit[id]; dup {
				return fmt.Errorf("binance: SetSymbols: symbol %s: instrument %d duplicates the instrument of syms[%d] (%s)",
					name, id, j, strings.ToUpper(syms[j].Name))
			}
			explicit[id] = i
		}
		added = append(added, sym)
	}
	for _, sym := range added {
		maxInst = max(maxInst, sym.Instrument)
	}
	for i := range added {
		if added[i].Instrument != 0 {
			continue
		}
		if maxInst == math.MaxUint32 {
			return fmt.Errorf("binance: SetSymbols: symbol %s: no instrument id left above %d", added[i].Name, maxInst)
		}
		maxInst++
		added[i].Instrument = maxInst
	}
	var removed []string
	for name := range table {
		if _, stays := names[name]; !stays {
			removed = append(removed, name)
		}
	}
	if len(added) > 0 {
		ctx, cancel := context.WithTimeout(context.Background(), checkTimeout)
		err := s.snaps.checkSymbols(ctx, added)
		cancel()
		if err != nil {
			return fmt.Errorf("binance: SetSymbols: %w", err)
		}
	}

	s.mu.Lock()
	if s.state == stateDone {
		s.mu.Unlock()
		return errors.New("binance: SetSymbols: the source has stopped")
	}
	queued := s.placeLocked(removed, added)
	s.maxInst = maxInst
	s.mu.Unlock()
	for _, done := range queued {
		select {
		case <-done:
		case <-s.done: // Run returned: the change no longer matters
		}
	}
	return nil
}

// placeLocked removes and adds symbols: each slot gets its removals and the
// new symbols that fit (first slot with room first), and new slots take the
// rest. Before Run the slots are edited directly; while Run runs they are
// handed the change, and placeLocked returns what is closed once they have
// applied it. s.mu is held.
func (s *Source) placeLocked(removed []string, added []Symbol) (queued []chan struct{}) {
	cmds := make([]slotCmd, len(s.slots))
	count := make([]int, len(s.slots))
	for _, e := range s.table {
		count[e.slot]++
	}
	for _, name := range removed {
		e := s.table[name]
		cmds[e.slot].remove = append(cmds[e.slot].remove, name)
		count[e.slot]--
		delete(s.table, name)
	}
	per := s.perSlot()
	i := 0
	for _, sym := range added {
		for i < len(s.slots) && count[i] >= per {
			i++
		}
		if i == len(s.slots) {
			sl := newSlot(s, len(s.slots), nil)
			sl.announce = s.state != stateNew
			s.slots = append(s.slots, sl)
			cmds = append(cmds, slotCmd{})
			count = append(count, 0)
		}
		cmds[i].add = append(cmds[i].add, sym)
		count[i]++
		s.table[sym.Name] = tableEntry{sym: sym, slot: i}
	}
	for i, sl := range s.slots {
		c := cmds[i]
		switch {
		case len(c.remove)+len(c.add) == 0:
		case s.state == stateNew || (sl.announce && !sl.started):
			sl.edit(c) // nothing runs it yet: its run introduces its symbols
		default:
			c.done = make(chan struct{})
			queued = append(queued, c.done)
			sl.queue(c)
		}
		if s.runCtx != nil {
			s.startSlotLocked(sl)
		}
	}
	return queued
}
