package link

import (
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/quic-go/quic-go"
	"github.com/tickcast/tickcast/internal/mcast"
	"github.com/tickcast/tickcast/wire"
)

// ClientConfig configures a link client.
type ClientConfig struct {
	// Addr is the server's host:port. Required.
	Addr string
	// TLS holds the client certificate and the operator's CA in RootCAs
	// (pki.ClientTLS builds it). Required. An empty ServerName is taken from
	// Addr's host. The client sets NextProtos and MinVersion on its own copy.
	TLS *tls.Config
	// Subscriptions are sent on the control stream, one per channel; at
	// least one is required.
	Subscriptions []wire.Subscribe
	// NACKCopies is how many times Request sends each NACK, each copy
	// answered (see Request); 0 means DefaultNACKCopies.
	NACKCopies int
	// Logger receives connection events; nil means slog.Default().
	Logger *slog.Logger
}

// DefaultNACKCopies is ClientConfig.NACKCopies's value when it is 0.
const DefaultNACKCopies = 2

// Handler receives what a link delivers.
type Handler interface {
	// Packet gets every validated packet from the link: live and
	// retransmitted packets from the data path, snapshot packets
	// (SnapshotEnd inside a snapshot packet), and RetransmitReject control
	// packets. The bytes are valid only during the call. Packet is called
	// from one goroutine at a time, for data usually the socket's own
	// reader (no hand-off): while it blocks, the link reads nothing, QUIC
	// included; datagrams wait in the socket's receive buffer (8 MiB is
	// asked for), beyond which they are lost and repaired by NACK.
	Packet(p wire.Packet, rxTime int64)
}

// HandlerFunc adapts a function to [Handler].
type HandlerFunc func(p wire.Packet, rxTime int64)

// Packet calls f.
func (f HandlerFunc) Packet(p wire.Packet, rxTime int64) { f(p, rxTime) }

// Client is the downstream end of a QUIC link (DESIGN.md, "The QUIC link"):
// it subscribes to channels, receives live datagrams and answer streams, and
// sends NACKs and snapshot requests up the control stream. It implements
// gap.Requester.
type Client struct {
	addr   string
	log    *slog.Logger
	copies int // NACKCopies
	conn   *quic.Conn
	tr     *quic.Transport
	data   *dataConn
	keys   dataKeys
	// Sealers, one per user: the reader opens, Request (under dmu) and
	// the report loop seal.
	opener, nackSealer, reportSealer *sealer
	ctrl                             *quic.Stream
	ctrlIn                           *frameReader

	wmu  sync.Mutex // serializes control stream writes
	wbuf []byte

	// The data path upward (reports, NACKs): one counter for both, dmu
	// serializes the NACK buffers.
	upCounter  atomic.Uint64
	dmu        sync.Mutex
	dpkt, dbuf []byte

	running   atomic.Bool
	closed    atomic.Bool // Close was called
	closeOnce sync.Once

	datagrams, streamPackets, malformed, streams, unsealed, reports atomic.Uint64
}

// Dial connects to the server, sends the subscriptions and returns once the
// server has confirmed every one: live packets published after Dial returns
// reach the client. A refused handshake, either way, returns an error that
// says so.
func Dial(ctx context.Context, cfg ClientConfig) (*Client, error) {
	switch {
	case cfg.Addr == "":
		return nil, errors.New("link: ClientConfig.Addr is empty")
	case cfg.TLS == nil:
		return nil, errors.New("link: ClientConfig.TLS is nil")
	case len(cfg.Subscriptions) == 0:
		return nil, errors.New("link: ClientConfig.Subscriptions is empty")
	case cfg.NACKCopies < 0:
		return nil, fmt.Errorf("link: ClientConfig.NACKCopies %d is negative", cfg.NACKCopies)
	}
	for i, s := range cfg.Subscriptions {
		if s.Mode < wire.SubscribeLive || s.Mode > wire.SubscribeRecovery {
			return nil, fmt.Errorf("link: ClientConfig.Subscriptions[%d] (channel %d): unknown mode %d", i, s.Channel, s.Mode)
		}
	}
	c := &Client{addr: cfg.Addr, log: cfg.Logger, copies: cfg.NACKCopies}
	if c.copies == 0 {
		c.copies = DefaultNACKCopies
	}
	if c.log == nil {
		c.log = slog.Default()
	}
	if err := c.dial(ctx, cfg.TLS); err != nil {
		return nil, err
	}
	if err := c.subscribe(ctx, cfg.Subscriptions); err != nil {
		c.conn.CloseWithError(codeOK, "")
		c.closeSocket()
		return nil, err
	}
	c.log.Info("link: connected", "server", cfg.Addr, "subscriptions", len(cfg.Subscriptions))
	return c, nil
}

// dial opens the client's own UDP socket (the data path shares it with
// QUIC: seal.go), runs the QUIC handshake and derives the data keys.
func (c *Client) dial(ctx context.Context, tlsConf *tls.Config) error {
	ua, err := net.ResolveUDPAddr("udp", c.addr)
	if err != nil {
		return fmt.Errorf("link: dial %s: %w", c.addr, err)
	}
	udp, err := net.ListenUDP("udp", nil)
	if err != nil {
		return fmt.Errorf("link: dial %s: %w", c.addr, err)
	}
	if _, err := mcast.SetReadBuffer(udp, clientReadBuffer, "link to "+c.addr, c.log); err != nil {
		c.log.Debug("link: could not enlarge the receive buffer", "err", err)
	}
	c.data = &dataConn{udp: udp, server: ua.AddrPort(), q: newLiveQueue(clientQueueLen)}
	c.tr = &quic.Transport{Conn: c.data}
	conn, err := c.tr.Dial(ctx, ua, tlsConfig(tlsConf), quicConfig(false))
	if err != nil {
		c.closeSocket()
		return explainDial(c.addr, err)
	}
	c.conn = conn
	if c.keys, err = deriveKeys(conn.ConnectionState().TLS); err != nil {
		conn.CloseWithError(codeOK, "")
		c.closeSocket()
		return fmt.Errorf("link: dial %s: %w", c.addr, err)
	}
	c.opener, c.nackSealer, c.reportSealer = c.keys.down.sealer(), c.keys.up.sealer(), c.keys.up.sealer()
	return nil
}

// closeSocket stops the transport and frees the client's socket.
func (c *Client) closeSocket() {
	c.tr.Close()
	c.data.Close()
}

// subscribe opens the control stream, sends subs and waits for the server to
// confirm each.
func (c *Client) subscribe(ctx context.Context, subs []wire.Subscribe) error {
	st, err := c.conn.OpenStreamSync(ctx)
	if err != nil {
		return explainDial(c.addr, err)
	}
	c.ctrl, c.ctrlIn = st, newFrameReader(st)
	now := time.Now().UnixNano()
	for _, s := range subs {
		c.wbuf = appendControlFrame(c.wbuf, s.Channel, s.Session, now, s)
	}
	if _, err := st.Write(c.wbuf); err != nil {
		return explainDial(c.addr, err)
	}

	stop := context.AfterFunc(ctx, func() { st.SetReadDeadline(time.Now()) })
	for confirmed := 0; confirmed < len(subs); {
		pkt, err := c.ctrlIn.next()
		if err != nil {
			stop()
			if ctx.Err() != nil {
				return fmt.Errorf("link: dial %s: waiting for the subscriptions to be confirmed: %w", c.addr, ctx.Err())
			}
			return explainDial(c.addr, err)
		}
		confirmed += c.countConfirmations(pkt)
	}
	if !stop() {
		return fmt.Errorf("link: dial %s: %w", c.addr, ctx.Err())
	}
	return nil
}

// countConfirmations returns how many Subscribe echoes pkt holds.
func (c *Client) countConfirmations(pkt []byte) int {
	p, err := wire.Parse(pkt)
	if err != nil {
		c.malformed.Add(1)
		return 0
	}
	n := 0
	for it := p.Messages(); it.Next(); {
		if it.Message().Type() == wire.TypeSubscribe {
			n++
		}
	}
	return n
}

// Run delivers packets to h until ctx ends (it returns nil) or the
// connection is lost (it returns the error; the caller redials). Run closes
// the connection when it returns and may be called once.
func (c *Client) Run(ctx context.Context, h Handler) error {
	if !c.running.CompareAndSwap(false, true) {
		return errors.New("link: Run called twice")
	}
	parent := ctx
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	d := &deliverer{c: c, h: h}
	errc := make(chan error, 4)
	var wg sync.WaitGroup
	wg.Go(func() { errc <- c.readData(ctx, d) })
	c.data.inline.Store(&dataSink{c: c, d: d, opener: c.keys.down.sealer()})
	wg.Go(func() { errc <- c.sendReports(ctx) })
	wg.Go(func() { errc <- c.acceptAnswers(ctx, d, &wg) })
	wg.Go(func() { errc <- c.readControlStream(d) })
	err := <-errc
	// The first goroutine to fail may report only a stream error: prefer
	// the connection's own close error, which carries the server's code and
	// reason (a slow-consumer cutoff, a shutdown).
	var appErr *quic.ApplicationError
	if cause := context.Cause(c.conn.Context()); errors.As(cause, &appErr) && appErr.Remote {
		err = cause
	}
	cancel()
	closedByUser := c.closed.Load()
	c.Close()
	wg.Wait()
	c.data.inline.Store(nil)
	d.stop()
	if parent.Err() != nil || closedByUser {
		return nil
	}
	c.log.Warn("link: connection lost", "server", c.addr, "err", err.Error())
	return fmt.Errorf("link: connection to %s lost: %w", c.addr, err)
}

// deliverer validates packets and hands them to the Handler, one at a time.
type deliverer struct {
	c       *Client
	mu      sync.Mutex
	h       Handler
	stopped bool // Run returned: the Handler gets nothing more
}

// deliver parses b and calls the handler; it reports false for a malformed
// packet (counted) and once Run has returned.
func (d *deliverer) deliver(b []byte, rx int64) bool {
	p, err := wire.Parse(b)
	if err != nil {
		d.c.malformed.Add(1)
		return false
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.stopped {
		return false
	}
	d.h.Packet(p, rx)
	return true
}

// stop ends delivery, waiting for a Packet call in progress.
func (d *deliverer) stop() {
	d.mu.Lock()
	d.stopped = true
	d.mu.Unlock()
}

// readData opens and delivers the data path's datagrams (seal.go) that
// were queued (before Run, or while the queue drains: dataConn.take
// delivers the rest inline), in the order they arrived, until ctx ends. A
// datagram that fails authentication is counted and dropped.
func (c *Client) readData(ctx context.Context, d *deliverer) error {
	q := c.data.q
	sink := &dataSink{c: c, d: d, opener: c.opener}
	for {
		b, ok := q.pop()
		if !ok {
			if !q.wait(ctx.Done()) {
				return ctx.Err()
			}
			continue
		}
		sink.deliver(b[8:], int64(binary.LittleEndian.Uint64(b)))
		q.release(b)
	}
}

// sendReports sends a receiver report every reportInterval until ctx ends:
// the server measures the client's loss from them (cutoff.go).
func (c *Client) sendReports(ctx context.Context) error {
	t := time.NewTicker(reportInterval)
	defer t.Stop()
	var buf, payload []byte
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
		payload = report{received: c.data.queued.Load()}.append(payload[:0])
		buf = c.reportSealer.seal(buf, typeReport, c.upCounter.Add(1), payload)
		if _, err := c.data.udp.WriteToUDPAddrPort(buf, c.data.server); err != nil {
			c.log.Debug("link: receiver report not sent", "server", c.addr, "err", err)
			continue
		}
		c.reports.Add(1)
	}
}

// acceptAnswers reads every answer stream the server opens, each on its own
// goroutine (QUIC bounds how many are open at once).
func (c *Client) acceptAnswers(ctx context.Context, d *deliverer, wg *sync.WaitGroup) error {
	for {
		st, err := c.conn.AcceptUniStream(ctx)
		if err != nil {
			return err
		}
		c.streams.Add(1)
		wg.Go(func() { c.readAnswer(st, d) })
	}
}

// readAnswer delivers the packets of one answer stream. Broken framing is
// counted and ends the stream.
func (c *Client) readAnswer(st *quic.ReceiveStream, d *deliverer) {
	fr := newFrameReader(st)
	for {
		pkt, err := fr.next()
		switch {
		case err == nil:
		case errors.Is(err, errFrameLength) || errors.Is(err, io.ErrUnexpectedEOF):
			c.malformed.Add(1)
			st.CancelRead(streamMalformed)
			return
		default:
			return // clean end, reset by the server, or connection gone
		}
		if d.deliver(pkt, time.Now().UnixNano()) {
			c.streamPackets.Add(1)
		}
	}
}

// readControlStream reads what the server sends on the control stream after
// Dial: confirmations are dropped, any other packet is delivered.
func (c *Client) readControlStream(d *deliverer) error {
	for {
		pkt, err := c.ctrlIn.next()
		if err == io.EOF {
			return errors.New("server closed the control stream")
		}
		if err != nil {
			return err
		}
		if c.countConfirmations(pkt) == 0 {
			if d.deliver(pkt, time.Now().UnixNano()) {
				c.streamPackets.Add(1)
			}
		}
	}
}

// Request sends a NACK (DESIGN.md, "Recovery ladder") on the data path, as
// one sealed datagram: a lost NACK costs one RTO of the caller's, where on
// the control stream it would stall every NACK behind it until QUIC
// retransmitted it. The retransmitted packets come back on the data path, a
// reject on a new stream; both reach the Handler. It implements
// gap.Requester and is safe for concurrent use.
//
// Each NACK goes ClientConfig.NACKCopies times, each copy answered: on a path that loses
// 5 % each way, one NACK and its answer fail one time in ten, two one time
// in a hundred, and a failed repair costs the stream a whole extra round
// trip. The answers' second copies are duplicates the arbiter drops; on a
// path that loses nothing, there are no NACKs to copy.
func (c *Client) Request(r wire.RetransmitRequest) error {
	c.dmu.Lock()
	defer c.dmu.Unlock()
	c.dpkt = wire.AppendControl(c.dpkt[:0], r.Channel, r.Session, time.Now().UnixNano(), r)
	for range c.copies {
		c.dbuf = c.nackSealer.seal(c.dbuf, typeRequest, c.upCounter.Add(1), c.dpkt)
		if _, err := c.data.udp.WriteToUDPAddrPort(c.dbuf, c.data.server); err != nil {
			return fmt.Errorf("link: request to %s: %w", c.addr, err)
		}
	}
	return nil
}

// RequestSnapshot asks for a snapshot of r.Channel (one instrument, or all
// when r.Instrument is 0); it arrives on a new stream, closed by SnapshotEnd.
// Safe for concurrent use.
func (c *Client) RequestSnapshot(r wire.SnapshotRequest) error {
	return send(c, r.Channel, 0, r)
}

// send writes one control packet holding m (generic, so m is not boxed).
func send[M interface{ Append([]byte) []byte }](c *Client, channel uint16, session uint64, m M) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.wbuf = appendControlFrame(c.wbuf[:0], channel, session, time.Now().UnixNano(), m)
	if _, err := c.ctrl.Write(c.wbuf); err != nil {
		return fmt.Errorf("link: request to %s: %w", c.addr, err)
	}
	return nil
}

// Stats returns a snapshot of the client's counters.
func (c *Client) Stats() ClientStats {
	return ClientStats{
		Datagrams:     c.datagrams.Load(),
		StreamPackets: c.streamPackets.Load(),
		Malformed:     c.malformed.Load(),
		Streams:       c.streams.Load(),
		QueueFull:     c.data.full.Load(),
		Foreign:       c.data.foreign.Load(),
		Unsealed:      c.unsealed.Load(),
		Reports:       c.reports.Load(),
	}
}

// Close closes the connection. It is idempotent and safe to call while Run
// is running (Run then returns).
func (c *Client) Close() error {
	c.closeOnce.Do(func() {
		c.closed.Store(true)
		c.conn.CloseWithError(codeOK, "client closing")
		c.closeSocket()
	})
	return nil
}
