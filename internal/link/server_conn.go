package link

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/quic-go/quic-go"
	"github.com/tickcast/tickcast/wire"
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
	addr   netip.Addr // the requester the policy sees
	q      *liveQueue
	subs   map[uint16]bool // guarded by s.mu

	ctx  context.Context // the connection's lifetime; set before any goroutine starts
	ctrl *quic.Stream    // control stream, written only by the control loop
	wbuf []byte          // control loop's write scratch
	sem  chan struct{}   // answer workers in flight
	work sync.WaitGroup

	sendPiece func([]byte) error // sender's split callback, bound once

	malformedLogged, dropLogged atomic.Bool

	// Slow cutoff (cutoff.go): fullSince is when the queue started refusing
	// every packet (UnixNano, 0 = not dropping), written by Publish's side;
	// slowReason is set before slow closes.
	fullSince  atomic.Int64
	slowOnce   sync.Once
	slow       chan struct{}
	slowReason string
	cutOff     atomic.Bool

	datagrams, dropped, split, oversize       atomic.Uint64
	nacks, rejects, snapshots, failed, badCtl atomic.Uint64
	policyRejects                             atomic.Uint64
}

func newServerConn(s *Server, conn *quic.Conn) *serverConn {
	c := &serverConn{
		s:      s,
		conn:   conn,
		remote: conn.RemoteAddr().String(),
		name:   peerName(conn.ConnectionState().TLS),
		addr:   addrOf(conn.RemoteAddr()),
		q:      newLiveQueue(s.queueLen),
		subs:   make(map[uint16]bool),
		sem:    make(chan struct{}, workersPerClient),
		slow:   make(chan struct{}),
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
	sender.Go(func() { c.watchSlow(ctx) })

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
	if sub.Mode == wire.SubscribeRecovery {
		// No live fan-out: NACKs and snapshot requests only.
		c.wbuf = appendControlFrame(c.wbuf[:0], sub.Channel, sub.Session, time.Now().UnixNano(), sub)
		_, err := c.ctrl.Write(c.wbuf)
		return err
	}
	ch := c.s.subscribe(c, sub.Channel)
	// Live delivery is on from here. The live edge read now covers every
	// packet Publish may have fanned out without this client (see Publish);
	// packets published in between are sent twice, which arbitration drops.
	next, session := ch.next.Load(), ch.session.Load()
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
		// Retransmit what came before live delivery took over.
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
		Refused:   c.policyRejects.Load(),
		Snapshots: c.snapshots.Load(),
		Failed:    c.failed.Load(),
		Malformed: c.badCtl.Load(),
		CutOff:    c.cutOff.Load(),
	}
}

// addrOf returns a's IP address (unmapped), or the zero Addr.
func addrOf(a net.Addr) netip.Addr {
	if u, ok := a.(*net.UDPAddr); ok {
		return u.AddrPort().Addr().Unmap()
	}
	ap, err := netip.ParseAddrPort(a.String())
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr().Unmap()
}
