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
	// disallowed: SetAllowNames is closing it (guarded by s.mu).
	disallowed bool

	ctx  context.Context // the connection's lifetime; set before any goroutine starts
	ctrl *quic.Stream    // control stream, written only by the control loop
	wbuf []byte          // control loop's write scratch
	sem  chan struct{}   // answer workers in flight
	work sync.WaitGroup
	reqs chan wire.RetransmitRequest // NACKs from the data path, for nackLoop

	// data sends the client's sealed datagrams; nil when the data keys
	// could not be derived (Serve then closes the connection at once).
	data    *dataSender
	dataErr error

	malformedLogged, dropLogged atomic.Bool

	// Slow cutoff (cutoff.go): fullSince is when the queue started refusing
	// every packet (UnixNano, 0 = not dropping), written by Publish's side;
	// slowReason is set before slow closes.
	fullSince  atomic.Int64
	slowOnce   sync.Once
	slow       chan struct{}
	slowReason string
	cutOff     atomic.Bool
	// Loss (cutoff.go): the receiver reports' window, written by the
	// server's report reader; lossPPM and lastReport are read by stats
	// and the watcher.
	rep        reportWindow
	lossPPM    atomic.Uint32
	lastReport atomic.Int64 // UnixNano of the last valid report; the connection's start before one

	datagrams, dropped, retransmitted         atomic.Uint64
	nacks, rejects, snapshots, failed, badCtl atomic.Uint64
	policyRejects, badReports, busy           atomic.Uint64
}

func newServerConn(s *Server, conn *quic.Conn) *serverConn {
	c := &serverConn{
		s:      s,
		conn:   conn,
		remote: conn.RemoteAddr().String(),
		name:   peerName(conn.ConnectionState().TLS),
		addr:   addrOf(conn.RemoteAddr()),
		q:      newStampedQueue(s.queueLen),
		subs:   make(map[uint16]bool),
		sem:    make(chan struct{}, workersPerClient),
		slow:   make(chan struct{}),
		reqs:   make(chan wire.RetransmitRequest, nackQueue),
	}
	c.lastReport.Store(time.Now().UnixNano())
	keys, err := deriveKeys(conn.ConnectionState().TLS)
	if err != nil {
		c.dataErr = err
		return c
	}
	c.rep.key = keys.up.sealer()
	c.data = newDataSender(s, dataAddr(conn.RemoteAddr()), keys.down.sealer())
	return c
}

// dataAddr is where a client's data datagrams go: the address its QUIC
// packets come from, in the form the report reader looks it up by.
func dataAddr(a net.Addr) netip.AddrPort {
	ap, _ := netip.ParseAddrPort(a.String())
	if u, ok := a.(*net.UDPAddr); ok {
		ap = u.AddrPort()
	}
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
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
	sender.Go(func() { c.nackLoop(ctx) })

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
	c.countEnd(err, parent.Err() != nil)
	c.s.log.Info("link: client gone", "remote", c.remote, "name", c.name, "reason", reason,
		"datagrams", c.datagrams.Load(), "dropped", c.dropped.Load(), "loss", c.loss(),
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

// onRequests handles a control packet of NACKs that came on the data path
// (the client's Request): each is queued for the connection's NACK loop, or
// dropped and counted when nackQueue are already waiting (the client asks
// again when its RTO runs out); the reader, shared by every client, never
// waits. Anything but a RetransmitRequest is counted malformed.
func (c *serverConn) onRequests(pkt []byte) {
	p, err := wire.Parse(pkt)
	if err != nil {
		c.badCtl.Add(1)
		return
	}
	for it := p.Messages(); it.Next(); {
		m := it.Message()
		if m.Type() != wire.TypeRetransmitRequest {
			c.badCtl.Add(1)
			continue
		}
		r, _ := wire.DecodeRetransmitRequest(m.Bytes())
		select {
		case c.reqs <- r:
		default:
			c.busy.Add(1)
		}
	}
}

// nackLoop answers the NACKs queued by onRequests on the answer workers
// until ctx ends. One of the connection's goroutines, owned by run.
func (c *serverConn) nackLoop(ctx context.Context) {
	for {
		select {
		case r := <-c.reqs:
			if c.retransmit(r) != nil {
				return
			}
		case <-ctx.Done():
			return
		}
	}
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
		Remote:        c.remote,
		Name:          c.name,
		Channels:      chans,
		Queued:        c.q.live.len(),
		Lag:           c.lag(),
		Datagrams:     c.datagrams.Load(),
		Dropped:       c.dropped.Load(),
		Retransmitted: c.retransmitted.Load(),
		Sealed:        c.data.sealed.Load(),
		SendFailed:    c.data.failed.Load(),
		Split:         c.data.split.Load(),
		Oversize:      c.data.oversize.Load(),
		Loss:          c.loss(),
		BadReports:    c.badReports.Load(),
		NACKs:         c.nacks.Load(),
		Rejects:       c.rejects.Load(),
		Refused:       c.policyRejects.Load(),
		Snapshots:     c.snapshots.Load(),
		Failed:        c.failed.Load(),
		Malformed:     c.badCtl.Load(),
		CutOff:        c.cutOff.Load(),
	}
}

// lag returns how long the oldest live packet in the client's queue has
// waited, 0 when the queue is empty.
func (c *serverConn) lag() time.Duration {
	at, ok := c.q.oldest()
	if !ok {
		return 0
	}
	return time.Duration(max(c.s.clock()-at, 0))
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
