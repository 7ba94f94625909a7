package gap

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/tickcast/tickcast/wire"
)

// ClientConfig configures a [Client].
type ClientConfig struct {
	// Server is the retransmit server's address. Required.
	Server netip.AddrPort
	// Local is the local UDP address, e.g. "127.0.0.1:0". Empty means the
	// kernel chooses, on the route to Server.
	Local string
	// Channel is the channel named in the validation probe (see [Client]);
	// the server answers the probe the same whatever it is. 0 is a valid
	// channel.
	Channel uint16
	// Logger receives anomaly logs, never one per packet. nil means
	// slog.Default().
	Logger *slog.Logger
}

// ClientHandler receives what a retransmit server answers.
type ClientHandler interface {
	// Retransmission gets a validated, sequenced packet flagged
	// retransmission and its receive time (ns since the Unix epoch). p's
	// bytes are valid only during the call.
	Retransmission(p wire.Packet, rxTime int64)
	// Reject gets a refusal, which echoes the request's range.
	Reject(r wire.RetransmitReject)
}

// ClientStats are a [Client]'s counters since it was made.
type ClientStats struct {
	Requests  uint64 // requests sent by Request
	Probes    uint64 // validation probes sent
	Packets   uint64 // retransmitted packets received
	Rejects   uint64 // RetransmitRejects received (a probe's is counted, not handed over)
	Tokens    uint64 // RetransmitTokens received
	Malformed uint64 // datagrams that were none of those: dropped
	// Unreachable counts ICMP port unreachable reports for what was sent:
	// the server was not (yet) listening.
	Unreachable uint64
}

// clientReadBuffer is the socket receive buffer size the client asks for.
const clientReadBuffer = 4 << 20

// The validation probe is resent after probeFirst, doubling up to probeMax,
// until a token comes.
const (
	probeFirst = 20 * time.Millisecond
	probeMax   = time.Second
)

// Client asks one retransmit [Server] for missing ranges over unicast UDP
// (DESIGN.md, "Recovery ladder" step 3) and hands the answers to a
// [ClientHandler]. Its socket is connected to the server, so the kernel drops
// datagrams from anyone else. It implements [Requester].
//
// Validation (DESIGN.md, "Security and abuse"; see [Server]): a server
// answers with data only requests carrying the requester's token. When Run
// starts, the client sends a probe, a RetransmitRequest{Channel, Count: 1}
// with session, first sequence and token 0, resent after 20 ms, doubling up
// to 1 s, until a [wire.RetransmitToken] arrives; the probe stops then, or
// when Run ends. Every Request carries the latest token received (0 before
// the first: such a request is answered with a token only, and the NACK's
// retry carries it). A later token (the server restarted with a new key and
// answered a request with its new token) replaces the previous one.
type Client struct {
	conn    *net.UDPConn
	log     *slog.Logger
	channel uint16

	token         atomic.Uint32 // 0: not validated yet
	validated     chan struct{} // closed at the first token
	validatedOnce sync.Once
	closed        chan struct{} // closed by Close

	requests, probes, packets, rejects, tokens, malformed atomic.Uint64
	unreachable                                           atomic.Uint64

	running     atomic.Bool
	closeOnce   sync.Once
	closeErr    error
	errOnce     sync.Once
	refusedOnce sync.Once
	rejectOnce  sync.Once
	reqBufs     sync.Pool // *[]byte
}

// NewClient opens the client's socket, connected to cfg.Server.
func NewClient(cfg ClientConfig) (*Client, error) {
	if !cfg.Server.IsValid() || cfg.Server.Port() == 0 {
		return nil, fmt.Errorf("gap: retransmit client Server %v: want an address and a port", cfg.Server)
	}
	var laddr *net.UDPAddr
	if cfg.Local != "" {
		var err error
		if laddr, err = net.ResolveUDPAddr("udp", cfg.Local); err != nil {
			return nil, fmt.Errorf("gap: retransmit client Local %q: %w", cfg.Local, err)
		}
	}
	conn, err := net.DialUDP("udp", laddr, net.UDPAddrFromAddrPort(cfg.Server))
	if err != nil {
		return nil, fmt.Errorf("gap: retransmit client dial %v: %w", cfg.Server, err)
	}
	// Best effort (the kernel caps it): room for a whole answer (256 KiB of
	// packets by default) while the handler is busy.
	_ = conn.SetReadBuffer(clientReadBuffer)
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	c := &Client{
		conn:      conn,
		log:       log.With("component", "retransmit-client", "server", cfg.Server),
		channel:   cfg.Channel,
		validated: make(chan struct{}),
		closed:    make(chan struct{}),
	}
	c.reqBufs.New = func() any {
		b := make([]byte, 0, wire.HeaderLen+wire.RetransmitRequestLen)
		return &b
	}
	return c, nil
}

// LocalAddr returns the client's local address (answers come back to it).
func (c *Client) LocalAddr() netip.AddrPort {
	return c.conn.LocalAddr().(*net.UDPAddr).AddrPort()
}

// Validated reports whether the client holds a token from its server.
func (c *Client) Validated() bool { return c.token.Load() != 0 }

// WaitValidated waits until the client holds a token from its server (Run
// must be running to receive it). It returns ctx's error if ctx ends first,
// or an error if the client is closed.
func (c *Client) WaitValidated(ctx context.Context) error {
	select {
	case <-c.validated:
		return nil
	default:
	}
	select {
	case <-c.validated:
		return nil
	case <-c.closed:
		return errors.New("gap: retransmit client closed before it was validated")
	case <-ctx.Done():
		return fmt.Errorf("gap: retransmit client waiting for a token: %w", ctx.Err())
	}
}

// Request sends one RetransmitRequest for r, with the client's latest token
// in place of r.Token. It is safe for concurrent use and does not wait for
// the answer, which Run hands to its handler. An error means the request
// was not sent (for example the server's port was found closed).
func (c *Client) Request(r wire.RetransmitRequest) error {
	r.Token = c.token.Load()
	bp := c.reqBufs.Get().(*[]byte)
	defer c.reqBufs.Put(bp)
	*bp = wire.AppendControl((*bp)[:0], r.Channel, r.Session, time.Now().UnixNano(), r)
	if _, err := c.conn.Write(*bp); err != nil {
		return fmt.Errorf("gap: retransmit request %d+%d: %w", r.FirstSeq, r.Count, err)
	}
	c.requests.Add(1)
	return nil
}

// Run validates the client with its server (see [Client]), reads the
// server's answers and hands them to h until ctx ends, then returns nil (the
// socket stays open for Request until Close); Close ends it too. Tokens are
// kept, not handed to h. It reuses one read buffer; malformed answers are
// counted and dropped. Call it once.
func (c *Client) Run(ctx context.Context, h ClientHandler) error {
	if !c.running.CompareAndSwap(false, true) {
		return errors.New("gap: retransmit client: Run called twice")
	}
	stop := context.AfterFunc(ctx, func() { c.conn.SetReadDeadline(time.Unix(1, 0)) })
	defer stop()
	probeCtx, cancel := context.WithCancel(ctx)
	var probing sync.WaitGroup
	probing.Go(func() { c.probe(probeCtx) })
	defer probing.Wait()
	defer cancel()
	buf := make([]byte, 1<<16)
	for {
		n, err := c.conn.Read(buf)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return nil
			}
			if errors.Is(err, syscall.ECONNREFUSED) {
				// On a connected socket, an ICMP port unreachable for an
				// earlier request or probe shows up here: the server is not
				// there yet (a subscriber started before its publisher).
				c.unreachable.Add(1)
				c.refusedOnce.Do(func() {
					c.log.Info("retransmit server not reachable yet (port unreachable); probing until it answers")
				})
				continue
			}
			c.errOnce.Do(func() { c.log.Warn("retransmit client read failed, continuing", "err", err) })
			continue
		}
		c.handle(buf[:n], time.Now().UnixNano(), h)
	}
}

// probe sends the validation probe until a token arrives, the client is
// closed or ctx ends, backing off from probeFirst to probeMax.
func (c *Client) probe(ctx context.Context) {
	buf := make([]byte, 0, wire.HeaderLen+wire.RetransmitRequestLen)
	t := time.NewTimer(0)
	defer t.Stop()
	for wait := probeFirst; ; wait = min(2*wait, probeMax) {
		select {
		case <-t.C:
		case <-c.validated:
			return
		case <-c.closed:
			return
		case <-ctx.Done():
			return
		}
		if c.Validated() {
			return
		}
		buf = wire.AppendControl(buf[:0], c.channel, 0, time.Now().UnixNano(), probeRequest(c.channel))
		// An error (the server is not there yet: ICMP port unreachable on
		// the connected socket) is retried like a lost probe.
		if _, err := c.conn.Write(buf); err == nil {
			c.probes.Add(1)
		}
		t.Reset(wait)
	}
}

// probeRequest is the validation probe: a request no server answers with
// data (first sequence 0 is never sent), asking only for a token.
func probeRequest(channel uint16) wire.RetransmitRequest {
	return wire.RetransmitRequest{Channel: channel, Count: 1}
}

// handle validates one answer and hands it to h, or keeps a token.
func (c *Client) handle(b []byte, rxTime int64, h ClientHandler) {
	p, err := wire.Parse(b)
	switch {
	case err != nil:
	case p.Has(wire.FlagRetransmission) && p.Sequenced() && p.Count > 0 && p.End() > p.Seq:
		c.packets.Add(1)
		h.Retransmission(p, rxTime)
		return
	case p.Flags == 0 && p.Seq == 0 && p.Count == 1:
		it := p.Messages()
		it.Next()
		msg := it.Message().Bytes()
		switch it.Message().Type() {
		case wire.TypeRetransmitReject:
			r, err := wire.DecodeRetransmitReject(msg)
			if err != nil {
				break
			}
			c.rejects.Add(1)
			if r.Session == 0 && r.FirstSeq == 0 && r.Count == 1 {
				// The probe's: not an answer to any Request.
				c.rejectOnce.Do(func() { c.log.Warn("retransmit server refuses the validation probe (logged once)", "reason", r.Reason) })
				return
			}
			h.Reject(r)
			return
		case wire.TypeRetransmitToken:
			t, err := wire.DecodeRetransmitToken(msg)
			if err != nil || t.Token == 0 {
				break
			}
			c.tokens.Add(1)
			c.token.Store(t.Token)
			c.validatedOnce.Do(func() { close(c.validated) })
			return
		}
	}
	c.malformed.Add(1)
}

// Stats returns the client's counters.
func (c *Client) Stats() ClientStats {
	return ClientStats{
		Requests:    c.requests.Load(),
		Probes:      c.probes.Load(),
		Packets:     c.packets.Load(),
		Rejects:     c.rejects.Load(),
		Tokens:      c.tokens.Load(),
		Malformed:   c.malformed.Load(),
		Unreachable: c.unreachable.Load(),
	}
}

// Close closes the socket, ending Run (and its probe) and failing later
// Requests and WaitValidated. It is idempotent.
func (c *Client) Close() error {
	c.closeOnce.Do(func() {
		close(c.closed)
		c.closeErr = c.conn.Close()
	})
	return c.closeErr
}
