package link

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/quic-go/quic-go"
	"github.com/tickcast/tickcast/wire"
)

// Retry-after hints put in rejects the feed returns without one.
const (
	retryAfterRateLimited = 100 // ms
	retryAfterNotYetSent  = 10  // ms
)

// errNoControl: the client did not open its control stream in time.
var errNoControl = errors.New("no control stream")

// serverConn is one authenticated client of a [Server]. Its goroutines: the
// control loop (run's own), the live sender, and up to workersPerClient
// answer workers.
type serverConn struct {
	s      *Server
	conn   *quic.Conn
	remote string
	name   string
	q      *liveQueue
	subs   map[uint16]bool // guarded by s.mu

	ctx  context.Context // the connection's lifetime; set before any goroutine starts
	ctrl *quic.Stream    // control stream, written only by the control loop
	wbuf []byte          // control loop's write scratch
	sem  chan struct{}   // answer workers in flight
	work sync.WaitGroup

	sendPiece func([]byte) error // sender's split callback, bound once

	malformedLogged, dropLogged atomic.Bool

	datagrams, dropped, split, oversize       atomic.Uint64
	nacks, rejects, snapshots, failed, badCtl atomic.Uint64
}

func newServerConn(s *Server, conn *quic.Conn) *serverConn {
	c := &serverConn{
		s:      s,
		conn:   conn,
		remote: conn.RemoteAddr().String(),
		name:   peerName(conn.ConnectionState().TLS),
		q:      newLiveQueue(s.queueLen),
		subs:   make(map[uint16]bool),
		sem:    make(chan struct{}, workersPerClient),
	}
	c.sendPiece = c.sendDatagram
	return c
}

// run serves the client until it leaves, breaks the protocol or ctx ends, and
// returns once every goroutine of the connection has stopped.
func (c *serverConn) run(parent context.Context) {
	ctx, cancel := context.WithCancel(parent)
	defer cancel()
	c.ctx = ctx
	c.s.log.Info("link: client connected", "remote", c.remote, "name", c.name)

	shutdown := make(chan struct{})
	stop := context.AfterFunc(parent, func() {
		c.conn.CloseWithError(codeShutdown, "server shutting down")
		close(shutdown)
	})
	var sender sync.WaitGroup
	sender.Go(func() { c.sendLoop(ctx) })

	err := c.serveControl(ctx)
	cancel()
	c.s.unsubscribeAll(c)
	if stop() {
		var pe protocolError
		switch {
		case errors.As(err, &pe):
			c.conn.CloseWithError(codeProtocol, pe.Error())
		case errors.Is(err, errNoControl):
			c.conn.CloseWithError(codeNoControl, "no control stream")
		default:
			c.conn.CloseWithError(codeOK, "")
		}
	} else {
		<-shutdown
	}
	sender.Wait()
	c.work.Wait()

	reason := "client left"
	if parent.Err() != nil {
		reason = "server stopping"
	} else if err != nil {
		reason = err.Error()
	}
	c.s.log.Info("link: client gone", "remote", c.remote, "name", c.name, "reason", reason,
		"datagrams", c.datagrams.Load(), "dropped", c.dropped.Load(),
		"nacks", c.nacks.Load(), "snapshots", c.snapshots.Load())
}

// serveControl accepts the control stream and handles its requests until the
// stream or the connection ends.
func (c *serverConn) serveControl(ctx context.Context) error {
	actx, acancel := context.WithTimeout(ctx, controlTimeout)
	st, err := c.conn.AcceptStream(actx)
	acancel()
	if err != nil {
		if ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded) {
			return errNoControl
		}
		return err
	}
	c.ctrl = st
	err = readControl(st, c)
	if errors.Is(err, errFrameLength) {
		c.badCtl.Add(1)
		return protocolError{fmt.Errorf("control stream: %w", err)}
	}
	return err
}

// subscribe implements controlHandler: it adds the channel to the client's
// live fan-out, confirms on the control stream, then starts the snapshot or
// retransmission the mode asks for.
func (c *serverConn) subscribe(sub wire.Subscribe) error {
	ch := c.s.subscribe(c, sub.Channel)
	c.wbuf = appendControlFrame(c.wbuf[:0], sub.Channel, sub.Session, time.Now().UnixNano(), sub)
	if _, err := c.ctrl.Write(c.wbuf); err != nil {
		return err
	}
	switch sub.Mode {
	case wire.SubscribeSnapshot:
		return c.answer(func(ctx context.Context) {
			c.sendSnapshot(ctx, wire.SnapshotRequest{Channel: sub.Channel})
		})
	case wire.SubscribeFromSeq:
		// Live delivery is on already; retransmit what came before it.
		next, session := ch.next.Load(), ch.session.Load()
		from := max(sub.FromSeq, 1)
		if next == 0 || (session == sub.Session && from >= next) {
			return nil // nothing published before live took over
		}
		req := wire.RetransmitRequest{Channel: sub.Channel, Session: sub.Session, FirstSeq: from, Count: 1}
		if session != sub.Session {
			c.nacks.Add(1)
			return c.answer(func(ctx context.Context) { c.sendReject(ctx, req, wire.RejectUnknownSession) })
		}
		req.Count = uint32(min(next-from, math.MaxUint32))
		return c.retransmit(req)
	}
	return nil
}

// retransmit implements controlHandler: a NACK answered on a new stream.
func (c *serverConn) retransmit(r wire.RetransmitRequest) error {
	c.nacks.Add(1)
	return c.answer(func(ctx context.Context) { c.sendRetransmit(ctx, r) })
}

// snapshot implements controlHandler: a snapshot sent on a new stream.
func (c *serverConn) snapshot(r wire.SnapshotRequest) error {
	return c.answer(func(ctx context.Context) { c.sendSnapshot(ctx, r) })
}

// malformed implements controlHandler: count, and log the first one.
func (c *serverConn) malformed(err error) {
	c.badCtl.Add(1)
	if !c.malformedLogged.Swap(true) {
		c.s.log.Warn("link: malformed control packet", "remote", c.remote, "name", c.name, "err", err.Error())
	}
}

// answer runs fn on an answer worker, waiting while workersPerClient are
// busy (which in turn stops reading the control stream: back-pressure).
func (c *serverConn) answer(fn func(ctx context.Context)) error {
	select {
	case c.sem <- struct{}{}:
	case <-c.ctx.Done():
		return c.ctx.Err()
	}
	c.work.Go(func() {
		defer func() { <-c.sem }()
		fn(c.ctx)
	})
	return nil
}

// sendRetransmit answers one NACK from the feed on a new stream.
func (c *serverConn) sendRetransmit(ctx context.Context, r wire.RetransmitRequest) {
	w, err := c.openAnswer(ctx)
	if err != nil {
		return
	}
	reason, err := c.s.feed.Retransmit(r.Channel, r.Session, r.FirstSeq, r.Count, w.emit)
	if err == nil && reason != 0 {
		c.rejects.Add(1)
		err = w.emitReject(r, reason)
	}
	c.finishAnswer(w, err)
}

// sendReject answers a request with a RetransmitReject on a new stream.
func (c *serverConn) sendReject(ctx context.Context, r wire.RetransmitRequest, reason wire.RejectReason) {
	w, err := c.openAnswer(ctx)
	if err != nil {
		return
	}
	c.rejects.Add(1)
	c.finishAnswer(w, w.emitReject(r, reason))
}

// sendSnapshot sends the feed's snapshot on a new stream.
func (c *serverConn) sendSnapshot(ctx context.Context, r wire.SnapshotRequest) {
	c.snapshots.Add(1)
	w, err := c.openAnswer(ctx)
	if err != nil {
		return
	}
	c.finishAnswer(w, c.s.feed.Snapshot(ctx, r.Channel, r.Instrument, w.emit))
}

func (c *serverConn) openAnswer(ctx context.Context) (*answerStream, error) {
	st, err := c.conn.OpenUniStreamSync(ctx)
	if err != nil {
		c.failed.Add(1)
		return nil, err
	}
	return &answerStream{st: st, buf: make([]byte, 0, 2048)}, nil
}

// finishAnswer ends the stream cleanly, or resets it when err says the answer
// is incomplete (the client must not take a cut snapshot for a whole one).
func (c *serverConn) finishAnswer(w *answerStream, err error) {
	if err != nil {
		c.failed.Add(1)
		w.st.CancelWrite(streamFailed)
		return
	}
	w.st.Close()
}

// answerStream writes length-prefixed packets on one answer stream.
type answerStream struct {
	st  *quic.SendStream
	buf []byte
}

func (w *answerStream) emit(pkt []byte) error {
	if len(pkt) > MaxStreamPacket {
		return fmt.Errorf("link: answer packet of %d bytes exceeds %d", len(pkt), MaxStreamPacket)
	}
	w.buf = appendFrame(w.buf[:0], pkt)
	_, err := w.st.Write(w.buf)
	return err
}

func (w *answerStream) emitReject(r wire.RetransmitRequest, reason wire.RejectReason) error {
	rej := wire.RetransmitReject{Channel: r.Channel, Reason: reason, Count: r.Count, Session: r.Session, FirstSeq: r.FirstSeq}
	switch reason {
	case wire.RejectRateLimited:
		rej.RetryAfterMs = retryAfterRateLimited
	case wire.RejectNotYetSent:
		rej.RetryAfterMs = retryAfterNotYetSent
	}
	w.buf = appendControlFrame(w.buf[:0], r.Channel, r.Session, time.Now().UnixNano(), rej)
	_, err := w.st.Write(w.buf)
	return err
}

// enqueue hands a live packet to the client's sender; called by Publish.
func (c *serverConn) enqueue(pkt []byte) {
	if c.q.push(pkt) {
		return
	}
	c.dropped.Add(1)
	if !c.dropLogged.Load() && !c.dropLogged.Swap(true) {
		c.s.log.Warn("link: client too slow, dropping live packets (it recovers by NACK or snapshot)",
			"remote", c.remote, "name", c.name, "queue", c.s.queueLen)
	}
}

// sendLoop sends the client's queued live packets as datagrams, splitting
// those larger than the datagram limit.
func (c *serverConn) sendLoop(ctx context.Context) {
	var scratch []byte
	var tooLarge *quic.DatagramTooLargeError // declared once: errors.As makes it escape
	for {
		pkt, ok := c.q.pop()
		if !ok {
			if !c.q.wait(ctx.Done()) {
				return
			}
			continue
		}
		err := c.conn.SendDatagram(pkt)
		switch {
		case err == nil:
			c.datagrams.Add(1)
		case errors.As(err, &tooLarge):
			limit := int(tooLarge.MaxDatagramPayloadSize)
			if cap(scratch) < limit {
				scratch = make([]byte, 0, limit)
			}
			err = wire.Split(pkt, limit, scratch, c.sendPiece)
			switch {
			case err == nil:
				c.split.Add(1)
			case errors.Is(err, wire.ErrTooLarge) || errors.As(err, &tooLarge):
				c.oversize.Add(1)
			}
		}
		c.q.release(pkt)
		if err != nil && c.conn.Context().Err() != nil {
			return // the connection is gone
		}
	}
}

// sendDatagram sends one piece of a split packet.
func (c *serverConn) sendDatagram(p []byte) error {
	if err := c.conn.SendDatagram(p); err != nil {
		return err
	}
	c.datagrams.Add(1)
	return nil
}

// statsLocked returns the client's counters. s.mu must be held (for subs).
func (c *serverConn) statsLocked() PeerStats {
	chans := make([]uint16, 0, len(c.subs))
	for id := range c.subs {
		chans = append(chans, id)
	}
	slices.Sort(chans)
	return PeerStats{
		Remote:    c.remote,
		Name:      c.name,
		Channels:  chans,
		Queued:    c.q.live.len(),
		Datagrams: c.datagrams.Load(),
		Dropped:   c.dropped.Load(),
		Split:     c.split.Load(),
		Oversize:  c.oversize.Load(),
		NACKs:     c.nacks.Load(),
		Rejects:   c.rejects.Load(),
		Snapshots: c.snapshots.Load(),
		Failed:    c.failed.Load(),
		Malformed: c.badCtl.Load(),
	}
}
