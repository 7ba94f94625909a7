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
	Requests  uint64 // requests sent
	Packets   uint64 // retransmitted packets received
	Rejects   uint64 // RetransmitRejects received
	Malformed uint64 // datagrams that were neither: dropped
}

// clientReadBuffer is the socket receive buffer size the client asks for.
const clientReadBuffer = 4 << 20

// Client asks one retransmit [Server] for missing ranges over unicast UDP
// (DESIGN.md, "Recovery ladder" step 3) and hands the answers to a
// [ClientHandler]. Its socket is connected to the server, so the kernel drops
// datagrams from anyone else. It implements [Requester].
type Client struct {
	conn *net.UDPConn
	log  *slog.Logger

	requests, packets, rejects, malformed atomic.Uint64
	running                               atomic.Bool
	closeOnce                             sync.Once
	closeErr                              error
	errOnce                               sync.Once
	reqBufs                               sync.Pool // *[]byte
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
	c := &Client{conn: conn, log: log.With("component", "retransmit-client", "server", cfg.Server)}
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

// Request sends one RetransmitRequest for r. It is safe for concurrent use
// and does not wait for the answer, which Run hands to its handler. An error
// means the request was not sent (for example the server's port was found
// closed).
func (c *Client) Request(r wire.RetransmitRequest) error {
	bp := c.reqBufs.Get().(*[]byte)
	defer c.reqBufs.Put(bp)
	*bp = wire.AppendControl((*bp)[:0], r.Channel, r.Session, time.Now().UnixNano(), r)
	if _, err := c.conn.Write(*bp); err != nil {
		return fmt.Errorf("gap: retransmit request %d+%d: %w", r.FirstSeq, r.Count, err)
	}
	c.requests.Add(1)
	return nil
}

// Run reads the server's answers and hands them to h until ctx ends, then
// returns nil (the socket stays open for Request until Close); Close ends it
// too. It reuses
// one read buffer; malformed answers are counted and dropped. Call it once.
func (c *Client) Run(ctx context.Context, h ClientHandler) error {
	if !c.running.CompareAndSwap(false, true) {
		return errors.New("gap: retransmit client: Run called twice")
	}
	stop := context.AfterFunc(ctx, func() { c.conn.SetReadDeadline(time.Unix(1, 0)) })
	defer stop()
	buf := make([]byte, 1<<16)
	for {
		n, err := c.conn.Read(buf)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return nil
			}
			// On a connected socket, an ICMP port unreachable for an
			// earlier request shows up here: the server is not there yet.
			c.errOnce.Do(func() { c.log.Warn("retransmit client read failed, continuing", "err", err) })
			continue
		}
		c.handle(buf[:n], time.Now().UnixNano(), h)
	}
}

// handle validates one answer and hands it to h.
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
		if r, err := wire.DecodeRetransmitReject(it.Message().Bytes()); err == nil {
			c.rejects.Add(1)
			h.Reject(r)
			return
		}
	}
	c.malformed.Add(1)
}

// Stats returns the client's counters.
func (c *Client) Stats() ClientStats {
	return ClientStats{
		Requests:  c.requests.Load(),
		Packets:   c.packets.Load(),
		Rejects:   c.rejects.Load(),
		Malformed: c.malformed.Load(),
	}
}

// Close closes the socket, ending Run and failing later Requests. It is
// idempotent.
func (c *Client) Close() error {
	c.closeOnce.Do(func() { c.closeErr = c.conn.Close() })
	return c.closeErr
}
