package binancetest

import (
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// kind is what a stream carries.
type kind uint8

const (
	kindDepth kind = iota + 1
	kindTrade
)

// sub is one stream of a connection.
type sub struct {
	name string
	book *book
	kind kind
}

// conn is one client WebSocket connection.
type conn struct {
	subs []sub
	send chan []byte
	done chan struct{}
	once sync.Once

	// Guarded by the server's mutex.
	ws         *websocket.Conn
	pings      []string // asked for before the handshake completed
	clientMsgs int
	pongs      int
}

// ConnInfo describes an open stream connection.
type ConnInfo struct {
	Streams        []string // as requested in the URL, then by SUBSCRIBE and UNSUBSCRIBE
	ClientMessages int      // data messages the client sent: its SUBSCRIBE/UNSUBSCRIBE requests and any other
	Pongs          int      // pongs received
}

// sendQueue is how many messages a connection may lag behind before the
// server drops it, as Binance drops slow clients.
const sendQueue = 8192

var upgrader = websocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }}

// kill closes the connection abruptly (no close frame). s.mu is held.
func (c *conn) kill() {
	c.once.Do(func() { close(c.done) })
	if c.ws != nil {
		_ = c.ws.NetConn().Close()
	}
}

func (c *conn) killed() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

func (c *conn) ping(payload string) {
	_ = c.ws.WriteControl(websocket.PingMessage, []byte(payload), time.Now().Add(5*time.Second))
}

// serveStream serves /stream?streams=a/b/c.
func (s *Server) serveStream(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.attempts++
	names := strings.Split(r.URL.Query().Get("streams"), "/")
	c := &conn{send: make(chan []byte, sendQueue), done: make(chan struct{})}
	for _, name := range names {
		sb, ok := s.parseStream(name)
		if !ok {
			s.mu.Unlock()
			http.Error(w, `{"code":-1121,"msg":"Invalid stream name `+name+`"}`, http.StatusBadRequest)
			return
		}
		c.subs = append(c.subs, sb)
	}
	if len(c.subs) > s.cfg.MaxStreamsPerConn {
		s.mu.Unlock()
		http.Error(w, `{"code":-1,"msg":"too many streams"}`, http.StatusBadRequest)
		return
	}
	if s.closed {
		s.mu.Unlock()
		http.Error(w, "closed", http.StatusServiceUnavailable)
		return
	}
	// Subscribed from here on: every event after the handshake reaches it.
	s.conns[c] = struct{}{}
	s.wg.Add(1)
	s.mu.Unlock()
	defer s.wg.Done()

	ws, err := upgrader.Upgrade(w, r, nil)
	s.mu.Lock()
	if err != nil || s.closed || c.killed() {
		delete(s.conns, c)
		c.kill()
		s.mu.Unlock()
		if ws != nil {
			_ = ws.Close()
		}
		return
	}
	ws.SetPongHandler(func(payload string) error {
		s.mu.Lock()
		c.pongs++
		s.pongs[payload]++
		s.mu.Unlock()
		return nil
	})
	c.ws = ws
	for _, p := range c.pings {
		c.ping(p)
	}
	c.pings = nil
	s.mu.Unlock()

	go c.write(ws)
	for {
		_, msg, err := ws.ReadMessage()
		if err != nil {
			break
		}
		s.mu.Lock()
		c.clientMsgs++
		s.requestLocked(c, msg)
		s.mu.Unlock()
	}
	s.mu.Lock()
	delete(s.conns, c)
	c.kill()
	s.mu.Unlock()
	_ = ws.Close()
}

// parseStream resolves <symbol>@depth, <symbol>@depth@100ms,
// <symbol>@depth@1000ms and <symbol>@trade. s.mu is held.
func (s *Server) parseStream(name string) (sub, bool) {
	sym, rest, _ := strings.Cut(name, "@")
	if sym != strings.ToLower(sym) {
		return sub{}, false
	}
	b := s.byName[strings.ToUpper(sym)]
	if b == nil {
		return sub{}, false
	}
	switch rest {
	case "depth", "depth@100ms", "depth@1000ms":
		return sub{name, b, kindDepth}, true
	case "trade":
		return sub{name, b, kindTrade}, true
	}
	return sub{}, false
}

// write sends the queued messages until the connection ends.
func (c *conn) write(ws *websocket.Conn) {
	for {
		select {
		case m := <-c.send:
			_ = ws.SetWriteDeadline(time.Now().Add(10 * time.Second))
			if err := ws.WriteMessage(websocket.TextMessage, m); err != nil {
				_ = ws.NetConn().Close()
				return
			}
		case <-c.done:
			return
		}
	}
}

// wrap returns {"stream":name,"data":data}.
func wrap(name string, data []byte) []byte {
	m := make([]byte, 0, len(name)+len(data)+22)
	m = append(m, `{"stream":"`...)
	m = append(m, name...)
	m = append(m, `","data":`...)
	m = append(m, data...)
	return append(m, '}')
}

// broadcastLocked queues data to every connection subscribed to b's streams
// of kind k, wrapped with each one's stream name. s.mu is held.
func (s *Server) broadcastLocked(b *book, k kind, data []byte) {
	for c := range s.conns {
		for _, sb := range c.subs {
			if sb.book == b && sb.kind == k {
				c.enqueue(wrap(sb.name, data))
			}
		}
	}
}

// enqueue queues m, dropping the connection when it lags too far behind.
func (c *conn) enqueue(m []byte) {
	select {
	case c.send <- m:
	default:
		c.kill()
	}
}

// Inject sends msg, as is, on every connection subscribed to stream, and
// returns how many got it.
func (s *Server) Inject(stream string, msg []byte) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for c := range s.conns {
		for _, sb := range c.subs {
			if sb.name == stream {
				c.enqueue(append([]byte(nil), msg...))
				n++
			}
		}
	}
	return n
}

// SendMalformed sends a truncated depth event on every connection subscribed
// to symbol's depth stream (it consumes no update id) and returns how many
// got it.
func (s *Server) SendMalformed(symbol string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.lookup(symbol)
	n := 0
	for c := range s.conns {
		for _, sb := range c.subs {
			if sb.book == b && sb.kind == kindDepth {
				m := wrap(sb.name, []byte(`{"e":"depthUpdate","E":1,"s":"`+b.name+`","U":`))
				c.enqueue(m[:len(m)-1])
				n++
			}
		}
	}
	return n
}

// DropConnections closes every stream connection abruptly, without a close
// frame, and returns how many there were.
func (s *Server) DropConnections() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for c := range s.conns {
		c.kill()
		n++
	}
	return n
}

// Ping sends a ping with payload on every connection (one still in its
// handshake gets it right after) and returns how many there are.
func (s *Server) Ping(payload string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		if c.ws == nil {
			c.pings = append(c.pings, payload)
		} else {
			c.ping(payload)
		}
	}
	return len(s.conns)
}

// Pongs returns how many pongs echoing payload came back, on all connections.
func (s *Server) Pongs(payload string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.pongs[payload]
}

// Conns describes the open stream connections.
func (s *Server) Conns() []ConnInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []ConnInfo
	for c := range s.conns {
		ci := ConnInfo{ClientMessages: c.clientMsgs, Pongs: c.pongs}
		for _, sb := range c.subs {
			ci.Streams = append(ci.Streams, sb.name)
		}
		out = append(out, ci)
	}
	return out
}
