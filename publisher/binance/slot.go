package binance

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/tickcast/tickcast/wire"
)

// overlapGrace is how long a replacement connection overlaps the old one at
// most: the switch happens as soon as the new connection carries every synced
// symbol's next update, or after this grace for symbols that stay quiet.
const overlapGrace = 5 * time.Second

// slot is one combined-stream connection and the symbols it carries. One
// goroutine, run, owns all of its state (DESIGN.md, "Single writer"): readers,
// dials and snapshot fetches hand their results to it over channels, and
// [Source.SetSymbols] hands it symbol changes (queued in cmds).
type slot struct {
	src *Source
	idx int
	dec decoder
	c   connCounters
	log *slog.Logger

	// syms and url change only on the owner's goroutine (or before run
	// starts), under mu, so that Stats and StreamURL may read them.
	mu   sync.RWMutex
	syms []*symState
	url  string

	// Symbol changes queued for run by SetSymbols.
	cmdMu   sync.Mutex
	cmds    []slotCmd
	cmdWake chan struct{}
	// announce: run publishes its symbols' InstrumentDef and status first
	// (a slot SetSymbols opened while the source runs).
	announce bool
	started  bool // run was started (guarded by the source's mu)

	// Owned by run's goroutine.
	ctx          context.Context
	wg           sync.WaitGroup // readers, writers, dials and fetches
	frames       chan frame
	free         chan []byte
	snaps        chan snapResult
	dials        chan dialResult
	gen          uint64  // last connection generation handed out
	active, next *wsConn // next: a replacement overlapping active
	hadConn      bool
	dialing      bool
	attempt      int // consecutive failed or short-lived connections
	ageTimer     *time.Timer
	graceTimer   *time.Timer
	now          time.Time  // when the frame being handled was taken
	out          []byte     // the batch being built, published by flush
	ev           []byte     // one normalized event
	scratch      eventQueue // events being replayed
	warnedStream bool
	warnedCtrl   bool
	reqID        uint64              // last SUBSCRIBE/UNSUBSCRIBE id
	gone         map[string]struct{} // streams unsubscribed live: their late frames are dropped
}

// slotCmd is one SetSymbols change for a slot: symbols to drop (by name),
// then symbols to add (normalized, instruments assigned).
type slotCmd struct {
	remove []string
	add    []Symbol
	done   chan struct{} // closed once applied, when queued
}

func newSlot(src *Source, idx int, syms []Symbol) *slot {
	sl := &slot{
		src: src, idx: idx, log: src.cfg.Logger.With("source", "binance", "conn", idx),
		cmdWake: make(chan struct{}, 1), gone: map[string]struct{}{},
	}
	sl.dec.routes = make(map[string]route, 2*len(syms))
	sl.edit(slotCmd{add: syms})
	return sl
}

// edit changes the slot's symbols (structure only: the owner publishes and
// subscribes) and returns the states of the removed and added ones. It runs
// on the owner's goroutine, or before run starts.
func (sl *slot) edit(c slotCmd) (removed, added []*symState) {
	sl.mu.Lock()
	defer sl.mu.Unlock()
	drop := make(map[string]bool, len(c.remove))
	for _, name := range c.remove {
		drop[name] = true
	}
	kept := sl.syms[:0]
	for _, st := range sl.syms {
		if drop[st.name] {
			removed = append(removed, st)
			depth, trade := sl.src.streamNames(st.name)
			sl.gone[depth], sl.gone[trade] = struct{}{}, struct{}{}
		} else {
			kept = append(kept, st)
		}
	}
	clear(sl.syms[len(kept):])
	sl.syms = kept
	for _, s := range c.add {
		info := &symInfo{inst: s.Instrument, priceExp: s.PriceExp, qtyExp: s.QtyExp, quotedName: []byte(`"` + s.Name + `"`)}
		st := &symState{name: s.Name, info: info, status: wire.StatusResyncing}
		st.c.status.Store(uint32(wire.StatusResyncing))
		sl.syms = append(sl.syms, st)
		added = append(added, st)
		depth, trade := sl.src.streamNames(s.Name)
		delete(sl.gone, depth)
		delete(sl.gone, trade)
	}
	// Routes index syms: rebuild them.
	clear(sl.dec.routes)
	sl.dec.syms = sl.dec.syms[:0]
	streams := sl.streams()
	for i, st := range sl.syms {
		sl.dec.syms = append(sl.dec.syms, st.info)
		sl.dec.routes[streams[2*i]] = route{sym: i, kind: kindDepth}
		sl.dec.routes[streams[2*i+1]] = route{sym: i, kind: kindTrade}
	}
	sl.url = sl.src.cfg.WSURL + "/stream?streams=" + strings.Join(streams, "/")
	return removed, added
}

// streams returns the stream names of the slot's symbols: each symbol's
// depth stream, then its trade stream.
func (sl *slot) streams() []string {
	out := make([]string, 0, 2*len(sl.syms))
	for _, st := range sl.syms {
		depth, trade := sl.src.streamNames(st.name)
		out = append(out, depth, trade)
	}
	return out
}

// queue hands c to the running owner.
func (sl *slot) queue(c slotCmd) {
	sl.cmdMu.Lock()
	sl.cmds = append(sl.cmds, c)
	sl.cmdMu.Unlock()
	select {
	case sl.cmdWake <- struct{}{}:
	default:
	}
}

// run connects, keeps the slot's symbols in sync and reconnects until ctx
// ends (nil) or the sink fails (its error).
func (sl *slot) run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	sl.ctx = ctx
	sl.frames = make(chan frame, framePool)
	sl.free = make(chan []byte, framePool)
	for range framePool {
		sl.free <- make([]byte, 0, 4096)
	}
	sl.snaps = make(chan snapResult, len(sl.syms))
	sl.dials = make(chan dialResult, 1)
	sl.ageTimer = stoppedTimer()
	sl.graceTimer = stoppedTimer()
	staleTick := time.NewTicker(max(sl.src.cfg.StaleAfter/4, time.Millisecond))
	defer func() {
		cancel()
		for _, c := range []*wsConn{sl.active, sl.next} {
			if c != nil {
				c.close()
			}
		}
		sl.c.connected.Store(false)
		staleTick.Stop()
		sl.ageTimer.Stop()
		sl.graceTimer.Stop()
		sl.wg.Wait()
	}()

	if sl.announce {
		for _, st := range sl.syms {
			sl.out = sl.src.appendIntro(sl.out, st)
		}
		if err := sl.flush(); err != nil {
			return err
		}
	}
	if len(sl.syms) > 0 {
		sl.startDial(0, false)
	}
	for {
		var err error
		select {
		case <-ctx.Done():
			return nil
		case <-sl.cmdWake:
			sl.runCmds()
		case f := <-sl.frames:
			err = sl.onFrame(f)
		case r := <-sl.snaps:
			sl.onSnapshot(r)
		case r := <-sl.dials:
			sl.onDial(r)
		case <-sl.ageTimer.C:
			sl.startHandover()
		case <-sl.graceTimer.C:
			sl.switchOver()
		case now := <-staleTick.C:
			sl.checkStale(now)
		}
		if err == nil {
			err = sl.flush()
		}
		if err != nil {
			return err
		}
	}
}

func stoppedTimer() *time.Timer {
	t := time.NewTimer(time.Hour)
	t.Stop()
	return t
}

// flush publishes the batch built while handling one input.
func (sl *slot) flush() error {
	if len(sl.out) == 0 {
		return nil
	}
	err := sl.src.publish(sl.out)
	sl.out = sl.out[:0]
	return err
}

// startDial dials a connection after delay, for the slot's streams of now;
// handover marks a replacement for a connection that is still up.
func (sl *slot) startDial(delay time.Duration, handover bool) {
	sl.gen++
	sl.dialing = true
	sl.wg.Add(1)
	r := dialResult{gen: sl.gen, handover: handover, streams: sl.streams()}
	go dial(sl.ctx, &sl.wg, sl.src, &sl.c, sl.url, r, delay, sl.dials)
}

// retryDelay returns the next reconnect backoff.
func (sl *slot) retryDelay() time.Duration {
	d := backoff(sl.attempt, sl.src.cfg.ReconnectMin, sl.src.cfg.ReconnectMax)
	sl.attempt++
	return d
}

func (sl *slot) onDial(r dialResult) {
	sl.dialing = false
	if r.err != nil {
		sl.c.dialErrors.Add(1)
		sl.log.Warn("connect failed", "err", r.err, "attempt", sl.attempt+1)
		switch {
		case len(sl.syms) == 0: // every symbol was removed meanwhile
		case sl.active != nil:
			sl.ageTimer.Reset(sl.retryDelay()) // try the replacement again later
		default:
			sl.startDial(sl.retryDelay(), false)
		}
		return
	}
	if len(sl.syms) == 0 { // every symbol was removed meanwhile
		_ = r.ws.Close()
		return
	}
	wc := newWSConn(r.gen, r.ws, &sl.c, r.streams)
	ctx, cancel := context.WithCancel(sl.ctx)
	wc.cancel = cancel
	sl.wg.Add(2)
	go func() {
		defer sl.wg.Done()
		wc.read(ctx, sl.frames, sl.free)
	}()
	go func() {
		defer sl.wg.Done()
		wc.writeRequests(ctx)
	}()
	// Symbols added or removed while it was dialled.
	sl.reconcile(wc)

	if sl.active != nil { // a replacement: overlap until it carries everything
		sl.next = wc
		for _, s := range sl.syms {
			s.next.reset()
			s.nextTrades = s.nextTrades[:0]
			s.covered = false
		}
		sl.graceTimer.Reset(overlapGrace)
		return
	}
	sl.active = wc
	sl.c.connected.Store(true)
	if sl.hadConn {
		sl.c.reconnects.Add(1)
	}
	sl.hadConn = true
	sl.ageTimer.Reset(sl.src.cfg.MaxConnAge)
	sl.startFetches() // step 1 is done: the streams are open
}

// startFetches starts the snapshot of every symbol that needs one and has
// none on the way, once the active connection carries its depth stream
// (from its URL, or confirmed by a SUBSCRIBE reply).
func (sl *slot) startFetches() {
	if sl.active == nil {
		return
	}
	for _, s := range sl.syms {
		if !s.synced && s.cancelFetch == nil {
			if depth, _ := sl.src.streamNames(s.name); sl.active.open[depth] {
				sl.fetch(s, sl.snapDelay(s))
			}
		}
	}
}

func (sl *slot) onFrame(f frame) error {
	if f.err != nil {
		switch {
		case sl.active != nil && f.gen == sl.active.gen:
			sl.onConnLost(f.err)
		case sl.next != nil && f.gen == sl.next.gen:
			sl.onNextLost(f.err)
		}
		return nil
	}
	defer func() { sl.free <- f.buf }()
	sl.c.messages.Add(1)
	sl.now = time.Now()
	if !bytes.HasPrefix(f.buf, framePrefix) && sl.onReply(f) {
		return nil
	}
	if sl.next != nil && f.gen == sl.next.gen {
		sl.bufferNext(f.buf)
		return nil
	}
	// Frames of the active connection, and those a replaced connection
	// delivered before it was closed: update ids and trade ids make them safe.
	r, known, err := sl.dec.decode(f.buf)
	if !known {
		sl.unknownFrame(f.buf, err)
		return nil
	}
	s := sl.syms[r.sym]
	if r.kind == kindDepth {
		sl.onDepth(s, err)
	} else {
		sl.onTrade(s, err)
	}
	if sl.next != nil && !s.covered && sl.isCovered(s) {
		s.covered = true
		sl.maybeSwitch()
	}
	return nil
}

// unknownFrame drops a frame that cannot be charged to a symbol: silently
// when its stream was unsubscribed live (frames already on their way), else
// counted as malformed.
func (sl *slot) unknownFrame(buf []byte, err error) {
	if name, ok := frameStream(buf); ok {
		if _, gone := sl.gone[string(name)]; gone {
			sl.c.unsubscribed.Add(1)
			return
		}
	}
	sl.malformedFrame(err)
}

// malformedFrame counts a frame that cannot be charged to a symbol.
func (sl *slot) malformedFrame(err error) {
	if err == nil {
		return
	}
	sl.c.malformed.Add(1)
	if !sl.warnedStream {
		sl.warnedStream = true
		sl.log.Warn("malformed frame (logged once per connection slot)", "err", err)
	}
}

// onConnLost handles the end of the active connection: a replacement takes
// over at once; otherwise every symbol goes resyncing and the slot redials.
func (sl *slot) onConnLost(err error) {
	old := sl.active
	if sl.ctx.Err() != nil {
		return
	}
	sl.log.Warn("connection lost", "err", err, "age", time.Since(old.opened).Round(time.Millisecond))
	if sl.next != nil {
		sl.switchOver()
		return
	}
	old.close()
	sl.active = nil
	sl.c.connected.Store(false)
	sl.ageTimer.Stop()
	if time.Since(old.opened) >= sl.src.cfg.ReconnectMax {
		sl.attempt = 0 // it was healthy: come back fast
	}
	for _, s := range sl.syms {
		sl.lose(s)
	}
	if !sl.dialing {
		sl.startDial(sl.retryDelay(), false)
	}
}

// onNextLost drops a replacement that failed during the overlap.
func (sl *slot) onNextLost(err error) {
	sl.log.Warn("replacement connection lost", "err", err)
	sl.next.close()
	sl.next = nil
	sl.graceTimer.Stop()
	for _, s := range sl.syms {
		s.next.reset()
		s.nextTrades = s.nextTrades[:0]
	}
	sl.ageTimer.Reset(sl.retryDelay())
}

// startHandover dials the replacement of a connection nearing MaxConnAge.
func (sl *slot) startHandover() {
	if sl.active == nil || sl.next != nil || sl.dialing {
		return
	}
	sl.startDial(0, true)
}

// bufferNext holds a replacement connection's frame until the switch.
func (sl *slot) bufferNext(buf []byte) {
	r, known, err := sl.dec.decode(buf)
	if !known {
		sl.unknownFrame(buf, err)
		return
	}
	s := sl.syms[r.sym]
	if err == nil {
		if r.kind == kindDepth {
			if sl.ev, err = sl.dec.appendDepth(sl.ev[:0], s.info); err == nil {
				s.next.push(sl.dec.depth.First, sl.dec.depth.Final, sl.ev)
			}
		} else if len(s.nextTrades) < maxQueuedBytes {
			s.nextTrades, err = sl.dec.appendTrade(s.nextTrades, s.info)
		}
	}
	if err != nil {
		s.c.malformed.Add(1) // the old connection still carries the symbol
		return
	}
	if !s.covered && sl.isCovered(s) {
		s.covered = true
		sl.maybeSwitch()
	}
}

// isCovered reports whether the replacement connection alone can carry s from
// here: its buffered events reach back to the update after the last applied.
func (sl *slot) isCovered(s *symState) bool {
	if !s.synced {
		return true
	}
	first, ok := s.next.first()
	return ok && first <= s.lastU+1
}

// maybeSwitch switches to the replacement once it covers every symbol.
func (sl *slot) maybeSwitch() {
	for _, s := range sl.syms {
		if !sl.isCovered(s) {
			return
		}
	}
	sl.switchOver()
}

// switchOver makes the replacement connection the active one, closes the old
// one and replays what the replacement buffered: update ids and trade ids
// skip what the old connection delivered already, and a symbol whose data do
// not join up resyncs.
func (sl *slot) switchOver() {
	sl.graceTimer.Stop()
	if sl.next == nil {
		return
	}
	old := sl.active
	sl.active, sl.next = sl.next, nil
	if old != nil {
		old.close()
	}
	sl.c.handovers.Add(1)
	sl.c.connected.Store(true)
	sl.ageTimer.Reset(sl.src.cfg.MaxConnAge)
	defer sl.startFetches() // symbols added during the overlap
	for _, s := range sl.syms {
		sl.scratch, s.next = s.next, sl.scratch
		s.next.reset()
		sl.scratch.each(func(first, final uint64, msgs []byte) bool {
			sl.applyDepth(s, first, final, msgs)
			return true
		})
		sl.scratch.reset()
		for b := s.nextTrades; len(b) >= wire.TradeLen; b = b[wire.TradeLen:] {
			sl.applyTrade(s, b[:wire.TradeLen])
		}
		s.nextTrades = s.nextTrades[:0]
		s.covered = false
	}
}

// checkStale reports synced symbols without any event for StaleAfter.
func (sl *slot) checkStale(now time.Time) {
	for _, s := range sl.syms {
		if s.status == wire.StatusOK && now.Sub(s.lastEvent) > sl.src.cfg.StaleAfter {
			s.c.stale.Add(1)
			sl.setStatus(s, wire.StatusStale)
		}
	}
	if sl.next != nil {
		sl.maybeSwitch()
	}
}
