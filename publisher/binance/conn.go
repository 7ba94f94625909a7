package binance

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	"golang.org/x/time/rate"
)

const (
	// readIdle is how long a connection may deliver nothing, not even one of
	// Binance's pings (every 20 s), before it is taken for dead.
	readIdle = 2 * time.Minute
	// maxFrame bounds one WebSocket message.
	maxFrame = 16 << 20
	// writeWait bounds a pong or close write.
	writeWait = 5 * time.Second
	// sendsPerSecond caps the messages a connection sends, pongs and
	// SUBSCRIBE/UNSUBSCRIBE requests together: they count towards Binance's 5
	// incoming messages per second (one pong per ping every 20 s is all the
	// pongs need; requests wait for their turn, pongs over the budget are
	// skipped).
	sendsPerSecond = 4
	// framePool is the number of frame buffers of a slot, shared by its readers.
	framePool = 64
)

// frame is one WebSocket message of connection gen, or its end (err != nil).
type frame struct {
	gen uint64
	buf []byte
	err error
}

// wsConn is one WebSocket connection of a slot. Its reader goroutine is the
// only one reading; its request writer (writeRequests) is the only one
// writing data messages; the other writes are pongs (from the reader, inside
// gorilla's control-frame handling) and the final close, both through
// WriteControl, which gorilla serializes with any other write.
type wsConn struct {
	gen    uint64
	ws     *websocket.Conn
	opened time.Time
	cancel context.CancelFunc
	sends  *rate.Limiter // pongs and requests
	c      *connCounters

	// Owned by the slot's goroutine: the streams asked for on this
	// connection (in its URL or by SUBSCRIBE), those confirmed (in its URL
	// or answered), and the requests not answered yet.
	streams map[string]bool
	open    map[string]bool
	pending map[uint64]request

	// Requests for writeRequests.
	reqMu   sync.Mutex
	reqs    [][]byte
	reqWake chan struct{}
}

// newWSConn wraps ws, dialled with streams in its URL, and installs the ping
// handler.
func newWSConn(gen uint64, ws *websocket.Conn, c *connCounters, streams []string) *wsConn {
	wc := &wsConn{
		gen: gen, ws: ws, opened: time.Now(), sends: newSendLimiter(), c: c,
		streams: make(map[string]bool, len(streams)), open: make(map[string]bool, len(streams)),
		pending: map[uint64]request{}, reqWake: make(chan struct{}, 1),
	}
	for _, name := range streams {
		wc.streams[name], wc.open[name] = true, true
	}
	ws.SetReadLimit(maxFrame)
	ws.SetPingHandler(func(payload string) error {
		c.pings.Add(1)
		now := time.Now()
		_ = ws.SetReadDeadline(now.Add(readIdle))
		if !wc.sends.AllowN(now, 1) {
			return nil // Binance waits a minute for a pong: the next ping gets one
		}
		err := ws.WriteControl(websocket.PongMessage, []byte(payload), now.Add(writeWait))
		var ne net.Error
		switch {
		case err == nil:
			c.pongs.Add(1)
		case errors.Is(err, websocket.ErrCloseSent), errors.As(err, &ne) && ne.Timeout():
			err = nil // as gorilla's default handler: not a reason to stop reading
		}
		return err
	})
	return wc
}

// read runs the reader goroutine: it fills buffers from free with whole
// messages and hands them to frames, until the connection fails or ctx ends.
// Reading continuously is also what answers pings: gorilla handles control
// frames inside NextReader.
func (wc *wsConn) read(ctx context.Context, frames chan<- frame, free chan []byte) {
	var err error
	for {
		var buf []byte
		select {
		case buf = <-free:
		case <-ctx.Done():
			return
		}
		if buf, err = wc.readFrame(buf[:0]); err != nil {
			free <- buf
			break
		}
		select {
		case frames <- frame{gen: wc.gen, buf: buf}:
		case <-ctx.Done():
			free <- buf
			return
		}
	}
	select {
	case frames <- frame{gen: wc.gen, err: err}:
	case <-ctx.Done():
	}
}

// readFrame reads the next data message into buf.
func (wc *wsConn) readFrame(buf []byte) ([]byte, error) {
	if err := wc.ws.SetReadDeadline(time.Now().Add(readIdle)); err != nil {
		return buf, err
	}
	_, r, err := wc.ws.NextReader()
	if err != nil {
		return buf, err
	}
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}

// close stops the reader and closes the connection, with a close frame when
// it is still healthy.
func (wc *wsConn) close() {
	wc.cancel()
	_ = wc.ws.WriteControl(websocket.CloseMessage,
		websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
	_ = wc.ws.Close()
}

// newSendLimiter returns the send budget of one connection: sendsPerSecond,
// no burst.
func newSendLimiter() *rate.Limiter { return rate.NewLimiter(sendsPerSecond, 1) }

// dialResult is the outcome of a dial started by a slot.
type dialResult struct {
	gen      uint64
	ws       *websocket.Conn
	err      error
	handover bool     // a replacement for a connection that is still up
	streams  []string // the streams of the URL dialled
}

// dial waits for delay and for the source's connection-attempt budget, then
// dials url and reports to results. It runs on its own goroutine.
func dial(ctx context.Context, wg *sync.WaitGroup, src *Source, c *connCounters, url string, r dialResult, delay time.Duration, results chan<- dialResult) {
	defer wg.Done()
	if err := sleep(ctx, delay); err != nil {
		return
	}
	if err := src.attempts.wait(ctx); err != nil {
		return
	}
	c.dials.Add(1)
	ws, resp, err := src.cfg.Dialer.DialContext(ctx, url, nil)
	if err != nil {
		if resp != nil {
			err = fmt.Errorf("binance: dial: HTTP %d: %w", resp.StatusCode, err)
		} else {
			err = fmt.Errorf("binance: dial: %w", err)
		}
	}
	r.ws, r.err = ws, err
	select {
	case results <- r:
	case <-ctx.Done():
		if ws != nil {
			_ = ws.Close()
		}
	}
}
