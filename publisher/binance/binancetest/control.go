package binancetest

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
)

// requestJSON is a live subscription request (BINANCE.md, "Live
// subscribe"): {"method":"SUBSCRIBE","params":["btcusdt@depth@100ms"],"id":1}.
type requestJSON struct {
	Method string          `json:"method"`
	Params json.RawMessage `json:"params"`
	ID     json.RawMessage `json:"id"`
}

// requestLocked answers one message a client sent, as Binance does:
// SUBSCRIBE and UNSUBSCRIBE change the connection's streams and are
// answered {"result":null,"id":N}; LIST_SUBSCRIPTIONS is answered with the
// streams, {"result":["btcusdt@trade"],"id":N}. Anything else is answered
// with an error in Binance's documented form, {"code":2,"msg":"Invalid
// request: …","id":N} (code 3 for a message that is not JSON), and changes
// nothing; so does a SUBSCRIBE naming a stream the server does not serve
// or taking the connection past MaxStreamsPerConn. The answer is queued
// behind the events already sent, and the events of a new stream follow
// it. s.mu is held.
func (s *Server) requestLocked(c *conn, msg []byte) {
	s.requests++
	var r requestJSON
	if err := json.Unmarshal(msg, &r); err != nil {
		c.enqueue(errorReply(3, "Invalid JSON: "+err.Error(), nil))
		return
	}
	id := r.ID
	if _, err := strconv.ParseUint(string(id), 10, 64); err != nil {
		c.enqueue(errorReply(2, "Invalid request: request ID must be an unsigned integer", nil))
		return
	}
	var params []string
	if r.Method == "SUBSCRIBE" || r.Method == "UNSUBSCRIBE" {
		if err := json.Unmarshal(r.Params, &params); err != nil {
			c.enqueue(errorReply(2, "Invalid request: params must be an array of stream names", id))
			return
		}
	}
	switch r.Method {
	case "SUBSCRIBE":
		subs := slices.Clone(c.subs)
		for _, name := range params {
			sb, ok := s.parseStream(name)
			if !ok {
				c.enqueue(errorReply(2, fmt.Sprintf("Invalid request: invalid stream name %s", name), id))
				return
			}
			if !slices.ContainsFunc(subs, func(o sub) bool { return o.name == name }) {
				subs = append(subs, sb)
			}
		}
		if len(subs) > s.cfg.MaxStreamsPerConn {
			c.enqueue(errorReply(2, fmt.Sprintf("Invalid request: more than %d streams on one connection", s.cfg.MaxStreamsPerConn), id))
			return
		}
		c.subs = subs
		s.subscribes++
	case "UNSUBSCRIBE":
		drop := map[string]bool{}
		for _, name := range params {
			drop[name] = true
		}
		var subs []sub
		for _, sb := range c.subs {
			if !drop[sb.name] {
				subs = append(subs, sb)
			}
		}
		c.subs = subs
		s.unsubscribes++
	case "LIST_SUBSCRIPTIONS":
		names := []string{}
		for _, sb := range c.subs {
			names = append(names, sb.name)
		}
		list, _ := json.Marshal(names)
		c.enqueue([]byte(`{"result":` + string(list) + `,"id":` + string(id) + `}`))
		return
	default:
		c.enqueue(errorReply(2, fmt.Sprintf("Invalid request: unknown variant %q, expected one of SUBSCRIBE, UNSUBSCRIBE, LIST_SUBSCRIPTIONS", r.Method), id))
		return
	}
	c.enqueue([]byte(`{"result":null,"id":` + string(id) + `}`))
}

// errorReply returns Binance's error answer to a request; a nil id is
// answered as null.
func errorReply(code int, msg string, id json.RawMessage) []byte {
	if id == nil {
		id = json.RawMessage("null")
	}
	m, _ := json.Marshal(msg)
	return []byte(`{"code":` + strconv.Itoa(code) + `,"msg":` + string(m) + `,"id":` + string(id) + `}`)
}

// Requests returns how many messages clients sent on stream connections,
// and how many of them were SUBSCRIBE and UNSUBSCRIBE requests carried out.
func (s *Server) Requests() (all, subscribes, unsubscribes int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests, s.subscribes, s.unsubscribes
}
