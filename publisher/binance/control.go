package binance

import (
	"bytes"
	"context"
	"encoding/json"
	"slices"
	"time"

	"github.com/gorilla/websocket"

	"github.com/tickcast/tickcast/wire"
)

// maxParams bounds the streams of one SUBSCRIBE or UNSUBSCRIBE request.
// Binance documents no such limit; requests of at most 100 streams stay a
// few kB, and at sendsPerSecond a full connection (1024 streams) is asked
// for in under 3 seconds.
const maxParams = 100

// request is a SUBSCRIBE or UNSUBSCRIBE sent on a connection, waiting for its
// answer (BINANCE.md, "Live subscribe").
type request struct {
	method  string
	streams []string
}

// requestJSON is Binance's live subscription request:
// {"method":"SUBSCRIBE","params":["btcusdt@depth@100ms"],"id":1}.
type requestJSON struct {
	Method string   `json:"method"`
	Params []string `json:"params"`
	ID     uint64   `json:"id"`
}

// replyJSON is Binance's answer to a request: {"result":null,"id":1} on
// success; an error carries a code and a message, at the top level
// ({"code":2,"msg":"Invalid request: …","id":1}) or, in some of Binance's
// services, under "error".
type replyJSON struct {
	Result json.RawMessage `json:"result"`
	ID     *uint64         `json:"id"`
	Code   *int            `json:"code"`
	Msg    string          `json:"msg"`
	Error  *struct {
		Code int    `json:"code"`
		Msg  string `json:"msg"`
	} `json:"error"`
}

// request asks wc for streams with method ("SUBSCRIBE" or "UNSUBSCRIBE"),
// in requests of at most maxParams streams, and notes them as asked for
// (an unsubscribed stream is no longer open at once).
func (sl *slot) request(wc *wsConn, method string, streams []string) {
	for len(streams) > 0 {
		n := min(len(streams), maxParams)
		part := slices.Clone(streams[:n])
		streams = streams[n:]
		sl.reqID++
		for _, name := range part {
			if method == "SUBSCRIBE" {
				wc.streams[name] = true
			} else {
				delete(wc.streams, name)
				delete(wc.open, name)
			}
		}
		wc.pending[sl.reqID] = request{method: method, streams: part}
		msg, err := json.Marshal(requestJSON{Method: method, Params: part, ID: sl.reqID})
		if err != nil {
			panic(err) // strings only: cannot fail
		}
		wc.reqMu.Lock()
		wc.reqs = append(wc.reqs, msg)
		wc.reqMu.Unlock()
		select {
		case wc.reqWake <- struct{}{}:
		default:
		}
	}
}

// writeRequests sends wc's requests in order, within its send budget, until
// ctx ends or a write fails (it then closes the connection, which its reader
// reports).
func (wc *wsConn) writeRequests(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-wc.reqWake:
		}
		for {
			wc.reqMu.Lock()
			if len(wc.reqs) == 0 {
				wc.reqMu.Unlock()
				break
			}
			msg := wc.reqs[0]
			wc.reqs = wc.reqs[1:]
			wc.reqMu.Unlock()
			if wc.sends.Wait(ctx) != nil {
				return
			}
			_ = wc.ws.SetWriteDeadline(time.Now().Add(writeWait))
			if err := wc.ws.WriteMessage(websocket.TextMessage, msg); err != nil {
				_ = wc.ws.NetConn().Close()
				return
			}
			wc.c.requests.Add(1)
		}
	}
}

// reconcile asks wc for the slot's streams: UNSUBSCRIBE what it carries
// that the slot no longer wants, then SUBSCRIBE what it lacks (in this
// order, so it never holds more streams than the slot's cap).
func (sl *slot) reconcile(wc *wsConn) {
	want := sl.streams()
	wanted := make(map[string]bool, len(want))
	var sub, unsub []string
	for _, name := range want {
		wanted[name] = true
		if !wc.streams[name] {
			sub = append(sub, name)
		}
	}
	for name := range wc.streams {
		if !wanted[name] {
			unsub = append(unsub, name)
		}
	}
	slices.Sort(unsub)
	sl.request(wc, "UNSUBSCRIBE", unsub)
	sl.request(wc, "SUBSCRIBE", sub)
}

// onReply handles a frame that is not a stream event; it reports whether it
// was an answer to a request. A SUBSCRIBE answered on the active connection
// opens its streams: their symbols' snapshots start (step 2 after step 1).
// A refused SUBSCRIBE leaves its symbols resyncing (the next change or
// connection asks again).
func (sl *slot) onReply(f frame) bool {
	var r replyJSON
	if json.Unmarshal(f.buf, &r) != nil || r.ID == nil {
		return false
	}
	var wc *wsConn
	for _, c := range []*wsConn{sl.active, sl.next} {
		if c != nil && c.gen == f.gen {
			wc = c
		}
	}
	if wc == nil {
		return true // a connection closed meanwhile
	}
	req, ok := wc.pending[*r.ID]
	if !ok {
		sl.malformedFrame(errUnknownReply)
		return true
	}
	delete(wc.pending, *r.ID)
	code, msg := r.Code, r.Msg
	if r.Error != nil {
		code, msg = &r.Error.Code, r.Error.Msg
	}
	if code != nil {
		sl.c.requestErrors.Add(1)
		if !sl.warnedCtrl {
			sl.warnedCtrl = true
			sl.log.Warn("request refused (logged once per connection slot)", "method", req.method,
				"streams", req.streams, "code", *code, "msg", msg)
		}
		if req.method == "SUBSCRIBE" {
			for _, name := range req.streams {
				delete(wc.streams, name)
			}
		}
		return true
	}
	if req.method == "SUBSCRIBE" {
		for _, name := range req.streams {
			if wc.streams[name] {
				wc.open[name] = true
			}
		}
		if wc == sl.active {
			sl.startFetches()
		}
	}
	return true
}

// frameStream returns the stream a frame names, if it can be found.
func frameStream(frame []byte) ([]byte, bool) {
	if name, _, ok := splitFrame(frame); ok {
		return name, true
	}
	i := bytes.Index(frame, streamKey)
	if i < 0 {
		return nil, false
	}
	name := frame[i+len(streamKey):]
	end := bytes.IndexByte(name, '"')
	if end < 0 {
		return nil, false
	}
	return name[:end], true
}

// runCmds applies the symbol changes SetSymbols queued.
func (sl *slot) runCmds() {
	sl.cmdMu.Lock()
	cmds := sl.cmds
	sl.cmds = nil
	sl.cmdMu.Unlock()
	for _, c := range cmds {
		sl.apply(c)
		close(c.done)
	}
}

// apply applies one symbol change while the slot runs. A removed symbol's
// fetch is abandoned and it is published as BookClear and InstrumentStatus
// halted, after which nothing is published about it; an added one is
// introduced (InstrumentDef, InstrumentStatus resyncing) and synced as
// usual once its streams are open. The connections are then asked for the
// new set of streams (reconcile); a slot left without symbols closes them,
// and one that had none dials.
func (sl *slot) apply(c slotCmd) {
	removed, added := sl.edit(c)
	now := uint64(time.Now().UnixNano())
	for _, s := range removed {
		sl.cancelFetch(s)
		sl.out = wire.BookClear{Instrument: s.info.inst, ExchTime: now}.Append(sl.out)
		s.status = wire.StatusHalted
		s.c.status.Store(uint32(wire.StatusHalted))
		sl.out = wire.InstrumentStatus{Instrument: s.info.inst, Status: wire.StatusHalted}.Append(sl.out)
	}
	for _, s := range added {
		sl.out = sl.src.appendIntro(sl.out, s)
	}
	if len(removed)+len(added) > 0 {
		sl.log.Info("symbols changed", "removed", len(removed), "added", len(added), "symbols", len(sl.syms))
	}
	switch {
	case len(sl.syms) == 0:
		sl.goIdle()
	case sl.active == nil && !sl.dialing:
		sl.startDial(0, false)
	default:
		for _, wc := range []*wsConn{sl.active, sl.next} {
			if wc != nil {
				sl.reconcile(wc)
			}
		}
		if sl.next != nil {
			sl.maybeSwitch()
		}
	}
}

// goIdle closes the connections of a slot left without symbols; it dials
// again when symbols are added to it.
func (sl *slot) goIdle() {
	for _, wc := range []*wsConn{sl.active, sl.next} {
		if wc != nil {
			wc.close()
		}
	}
	sl.active, sl.next = nil, nil
	sl.c.connected.Store(false)
	sl.ageTimer.Stop()
	sl.graceTimer.Stop()
	sl.attempt = 0
}
