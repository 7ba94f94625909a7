package gap

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"log/slog"
	"maps"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	"github.com/tickcast/tickcast/wire"
)

// ServerConfig configures a [Server] (DESIGN.md, "Security and abuse").
type ServerConfig struct {
	// Addr is the UDP listen address, e.g. "127.0.0.1:0". Required.
	Addr string
	// Policy is the allowlist, caps and per-requester rate of the answers
	// (its zero value: loopback only and the Default* values). Sources not
	// allowed get RejectNotAllowed, itself limited to a few per second in
	// all, so rejects cannot be used for reflection either. Ignored when
	// SharedPolicy is set.
	Policy PolicyConfig
	// SharedPolicy, when not nil, is used instead of Policy: one policy (and
	// one budget per requester) shared with other servers, e.g. the daemon's
	// link server.
	SharedPolicy *Policy
	// Caches holds the cache of each channel served; at least one. A request
	// for another channel gets RejectUnknownSession. The server copies the
	// map; [Server.Add] and [Server.Remove] change its channels later.
	Caches map[uint16]*Cache
	// Logger receives start and anomaly logs, never one per packet. nil
	// means slog.Default().
	Logger *slog.Logger
}

// Server defaults.
const (
	DefaultServerMessages   = 2048
	DefaultServerBytes      = 256 << 10
	DefaultServerRate       = 500000
	DefaultServerBurst      = 4096
	DefaultServerRequesters = 4096
)

// serverSocketBuffer is the socket buffer size the server asks for.
const serverSocketBuffer = 1 << 20

// RejectNotAllowed answers, all sources together: a trickle, enough for an
// operator to see the misconfiguration from the requester's side.
const (
	notAllowedRate  = 10
	notAllowedBurst = 10
)

// RetransmitToken answers, all sources together. Each is smaller than the
// request that caused it, and this bound keeps even that from being pumped
// at a victim at line rate with spoofed requests; a real requester
// validates once, retrying with backoff, so it needs only a few.
const (
	tokenRate  = 1000
	tokenBurst = 1000
)

// tokenKeyLen is the size of a server's random token key.
const tokenKeyLen = 32

// ServerStats are a [Server]'s counters since it was made.
type ServerStats struct {
	Requests               uint64 // well-formed RetransmitRequests received, from any source
	BytesReceived          uint64 // bytes of those requests' datagrams
	Unvalidated            uint64 // requests from allowed sources without their token: answered with a RetransmitToken at most
	TokensSent             uint64 // RetransmitTokens sent (fewer than Unvalidated when the token rate limit drops some)
	Answered               uint64 // messages retransmitted
	AnsweredPackets        uint64 // packets retransmitted
	Bytes                  uint64 // bytes sent: retransmitted packets, rejects and tokens
	RejectedTooOld         uint64 // requests rejected: gone from the cache, or a hole
	RejectedRateLimited    uint64 // requests rejected: the requester's bucket was empty
	RejectedUnknownSession uint64 // requests rejected: another session, or a channel not served
	RejectedNotAllowed     uint64 // requests from a source network not allowed (answered or not)
	RejectedNotYetSent     uint64 // requests rejected: the sequence is not in the cache yet
	Malformed              uint64 // datagrams that are not a RetransmitRequest (or ask for 0 messages): dropped, no answer
	SendErrors             uint64 // answers the socket refused; the rest of that answer is dropped
}

// Server answers RetransmitRequests over unicast UDP from per-channel
// [Cache]s (DESIGN.md, "Recovery ladder" step 3 and "Security and abuse").
//
// A request is a control packet (sequence 0, count 1) holding one
// RetransmitRequest. The answer is the cached packets, flagged
// retransmission and trimmed to exactly the asked messages, sent back to the
// requester's address; or one RetransmitReject. An answer never holds more
// messages than asked, nor more than MaxMessages messages and MaxBytes bytes;
// a requester is answered at most Rate messages per second (after a Burst),
// and a capped answer is simply the first part: the requester asks again for
// the rest. A range that runs past the newest sequence sent is answered up to
// it, then with a RetransmitReject "not yet sent" for the rest only
// (FirstSeq and Count of the part not sent). Garbage is counted and dropped
// without an answer.
//
// Anti-amplification (DESIGN.md, "Security and abuse"; as QUIC's address
// validation, RFC 9000 §8.1): a UDP source address can be spoofed, and one
// 64-byte request can draw a 256 KiB answer, so the server answers with data
// only a requester that has shown it receives at its address. Each server
// draws a random key when it is made; the token of a requester is the first
// 4 bytes (little-endian) of HMAC-SHA256(key, its IP address as 16 bytes),
// 0 mapped to 1, bound to the address and not the port. A request from an
// allowed source whose Token is not its token (0, another address's, or one
// from a server since restarted) is answered with one control packet
// holding a [wire.RetransmitToken] with its token (48 bytes, less than the
// 64-byte request) and nothing else; those answers are rate-limited across
// all sources. A requester that echoes its token is answered as above. So
// until it is validated a requester receives less than the bytes it sent,
// well inside QUIC's 3×. [Client] validates once when it starts, so a real
// NACK costs no extra round trip.
type Server struct {
	cfg        ServerConfig
	caches     atomic.Pointer[map[uint16]*Cache] // copy on write under cachesMu
	cachesMu   sync.Mutex
	policy     *Policy
	notAllowed *rate.Limiter
	tokenLimit *rate.Limiter
	log        *slog.Logger
	conn       *net.UDPConn

	macMu  sync.Mutex
	mac    hash.Hash // HMAC-SHA256 with the server's random key
	macIn  [16]byte  // the address, here so it does not escape per call
	macSum []byte

	rejBuf   []byte // owned by the handling goroutine
	stats    serverCounters
	serving  atomic.Bool
	errOnce  sync.Once
	closeErr error
	closed   sync.Once
}

type serverCounters struct {
	requests, bytesReceived, unvalidated, tokens    atomic.Uint64
	answered, answeredPackets, bytes                atomic.Uint64
	tooOld, rateLimited, unknownSession, notAllowed atomic.Uint64
	notYetSent, malformed, sendErrors               atomic.Uint64
}

// NewServer validates cfg and binds the server's socket. Serve answers on it.
func NewServer(cfg ServerConfig) (*Server, error) {
	s, err := newServer(cfg)
	if err != nil {
		return nil, err
	}
	laddr, err := net.ResolveUDPAddr("udp", cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("gap: retransmit server Addr %q: %w", cfg.Addr, err)
	}
	s.conn, err = net.ListenUDP("udp", laddr)
	if err != nil {
		return nil, fmt.Errorf("gap: retransmit server listen on %s: %w", cfg.Addr, err)
	}
	// Best effort (the kernel caps them): room for a burst of NACKs, and
	// for a whole answer without blocking the read loop.
	_ = s.conn.SetReadBuffer(serverSocketBuffer)
	_ = s.conn.SetWriteBuffer(serverSocketBuffer)
	return s, nil
}

// newServer validates cfg and builds a server without a socket: the request
// handler works without one (tests and fuzzing call it directly).
func newServer(cfg ServerConfig) (*Server, error) {
	if cfg.Addr == "" {
		return nil, errors.New("gap: retransmit server Addr is required")
	}
	if len(cfg.Caches) == 0 {
		return nil, errors.New("gap: retransmit server Caches: want at least one channel")
	}
	for ch, c := range cfg.Caches {
		if c == nil {
			return nil, fmt.Errorf("gap: retransmit server Caches[%d] is nil", ch)
		}
	}
	policy := cfg.SharedPolicy
	if policy == nil {
		var err error
		if policy, err = NewPolicy(cfg.Policy); err != nil {
			return nil, fmt.Errorf("gap: retransmit server: %w", err)
		}
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	key := make([]byte, tokenKeyLen)
	rand.Read(key) // never fails (crypto/rand: it crashes the program instead)
	s := &Server{
		cfg:        cfg,
		policy:     policy,
		notAllowed: rate.NewLimiter(notAllowedRate, notAllowedBurst),
		tokenLimit: rate.NewLimiter(tokenRate, tokenBurst),
		log:        log.With("component", "retransmit-server"),
		mac:        hmac.New(sha256.New, key),
		macSum:     make([]byte, 0, sha256.Size),
		rejBuf:     make([]byte, 0, wire.HeaderLen+max(wire.RetransmitRejectLen, wire.RetransmitTokenLen)),
	}
	caches := maps.Clone(cfg.Caches)
	s.caches.Store(&caches)
	return s, nil
}

// LocalAddr returns the address the server listens on.
func (s *Server) LocalAddr() netip.AddrPort {
	return s.conn.LocalAddr().(*net.UDPAddr).AddrPort()
}

// Serve answers requests until ctx ends, then closes the socket and returns
// nil. It reuses one read buffer. Call it once.
func (s *Server) Serve(ctx context.Context) error {
	if !s.serving.CompareAndSwap(false, true) {
		return errors.New("gap: retransmit server: Serve called twice")
	}
	stop := context.AfterFunc(ctx, func() { s.Close() })
	defer stop()
	defer s.Close()
	s.log.Info("retransmit server listening", "addr", s.LocalAddr(), "allowed", s.policy.allowed)

	buf := make([]byte, 1<<16)
	send := s.sendTo
	for {
		n, from, err := s.conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			s.errOnce.Do(func() { s.log.Warn("retransmit server read failed, continuing", "err", err) })
			continue
		}
		s.handle(buf[:n], from, time.Now(), send)
	}
}

// Close closes the server's socket, ending Serve. It is idempotent.
func (s *Server) Close() error {
	s.closed.Do(func() {
		if s.conn != nil {
			s.closeErr = s.conn.Close()
		}
	})
	return s.closeErr
}

func (s *Server) sendTo(pkt []byte, to netip.AddrPort) error {
	_, err := s.conn.WriteToUDPAddrPort(pkt, to)
	return err
}

// Stats returns the server's counters.
func (s *Server) Stats() ServerStats {
	c := &s.stats
	return ServerStats{
		Requests:               c.requests.Load(),
		BytesReceived:          c.bytesReceived.Load(),
		Unvalidated:            c.unvalidated.Load(),
		TokensSent:             c.tokens.Load(),
		Answered:               c.answered.Load(),
		AnsweredPackets:        c.answeredPackets.Load(),
		Bytes:                  c.bytes.Load(),
		RejectedTooOld:         c.tooOld.Load(),
		RejectedRateLimited:    c.rateLimited.Load(),
		RejectedUnknownSession: c.unknownSession.Load(),
		RejectedNotAllowed:     c.notAllowed.Load(),
		RejectedNotYetSent:     c.notYetSent.Load(),
		Malformed:              c.malformed.Load(),
		SendErrors:             c.sendErrors.Load(),
	}
}

// parseRequest returns the RetransmitRequest held by a control packet, and
// false for anything else: a malformed packet, another message, a data
// packet, or a request for 0 messages.
func parseRequest(b []byte) (wire.RetransmitRequest, bool) {
	p, err := wire.Parse(b)
	if err != nil || p.Count != 1 || p.Seq != 0 || p.Flags != 0 {
		return wire.RetransmitRequest{}, false
	}
	it := p.Messages()
	it.Next()
	r, err := wire.DecodeRetransmitRequest(it.Message().Bytes())
	if err != nil || r.Count == 0 {
		return wire.RetransmitRequest{}, false
	}
	return r, true
}

// handle answers one datagram b from a requester, sending through send. It
// is called by one goroutine at a time and does not allocate in steady state
// (a new requester costs one bucket).
func (s *Server) handle(b []byte, from netip.AddrPort, now time.Time, send func(pkt []byte, to netip.AddrPort) error) {
	r, ok := parseRequest(b)
	if !ok {
		s.stats.malformed.Add(1)
		return
	}
	s.stats.requests.Add(1)
	s.stats.bytesReceived.Add(uint64(len(b)))
	addr := from.Addr().Unmap()
	if !s.policy.IsAllowed(addr) {
		s.stats.notAllowed.Add(1)
		if s.notAllowed.AllowN(now, 1) {
			s.reject(r, wire.RejectNotAllowed, 0, from, now, send)
		}
		return
	}
	if tok := s.token(addr); r.Token != tok {
		// Not validated: its token, smaller than its request, and nothing else.
		s.stats.unvalidated.Add(1)
		if s.tokenLimit.AllowN(now, 1) {
			s.sendToken(r.Channel, tok, from, now, send)
		}
		return
	}
	cache := (*s.caches.Load())[r.Channel]
	if cache == nil {
		s.stats.unknownSession.Add(1)
		s.reject(r, wire.RejectUnknownSession, 0, from, now, send)
		return
	}
	budget, rej, retryMs := s.policy.Admit(addr, now)
	if budget == 0 {
		s.stats.rateLimited.Add(1)
		s.reject(r, rej, retryMs, from, now, send)
		return
	}

	packets, bytes := 0, 0
	sent, reason, err := cache.Fetch(r.Session, r.FirstSeq, r.Count, budget, s.policy.maxByte,
		func(pkt []byte) error {
			if err := send(pkt, from); err != nil {
				return err
			}
			packets++
			bytes += len(pkt)
			return nil
		})
	if sent > 0 {
		s.policy.Charge(addr, int(sent), now)
		s.stats.answered.Add(uint64(sent))
		s.stats.answeredPackets.Add(uint64(packets))
		s.stats.bytes.Add(uint64(bytes))
	}
	if err != nil {
		s.sendFailed(err)
		return
	}
	if sent > 0 && reason == wire.RejectNotYetSent {
		// Served up to what was sent: refuse only the rest, so the
		// requester learns where the sent part ends.
		r.FirstSeq += uint64(sent)
		r.Count -= sent
	}
	switch reason {
	case 0:
		return
	case wire.RejectTooOld:
		s.stats.tooOld.Add(1)
	case wire.RejectUnknownSession:
		s.stats.unknownSession.Add(1)
	case wire.RejectNotYetSent:
		s.stats.notYetSent.Add(1)
	}
	s.reject(r, reason, 0, from, now, send)
}

// reject sends one RetransmitReject echoing the request.
func (s *Server) reject(r wire.RetransmitRequest, reason wire.RejectReason, retryMs uint32, to netip.AddrPort, now time.Time, send func([]byte, netip.AddrPort) error) {
	s.rejBuf = wire.AppendControl(s.rejBuf[:0], r.Channel, r.Session, now.UnixNano(), wire.RetransmitReject{
		Channel:      r.Channel,
		Reason:       reason,
		Count:        r.Count,
		RetryAfterMs: retryMs,
		Session:      r.Session,
		FirstSeq:     r.FirstSeq,
	})
	if err := send(s.rejBuf, to); err != nil {
		s.sendFailed(err)
		return
	}
	s.stats.bytes.Add(uint64(len(s.rejBuf)))
}

// token returns the token of requester address a (DESIGN.md, "Security and
// abuse"): the first 4 bytes, little-endian, of HMAC-SHA256 of the address
// as 16 bytes (IPv4 mapped) under the server's key, 0 mapped to 1. Safe for
// concurrent use.
func (s *Server) token(a netip.Addr) uint32 {
	s.macMu.Lock()
	defer s.macMu.Unlock()
	s.macIn = a.Unmap().As16()
	s.mac.Reset()
	s.mac.Write(s.macIn[:])
	s.macSum = s.mac.Sum(s.macSum[:0])
	return max(binary.LittleEndian.Uint32(s.macSum), 1)
}

// sendToken sends one control packet holding a RetransmitToken (session 0
// in its header: a token is not tied to a session).
func (s *Server) sendToken(channel uint16, tok uint32, to netip.AddrPort, now time.Time, send func([]byte, netip.AddrPort) error) {
	s.rejBuf = wire.AppendControl(s.rejBuf[:0], channel, 0, now.UnixNano(), wire.RetransmitToken{Channel: channel, Token: tok})
	if err := send(s.rejBuf, to); err != nil {
		s.sendFailed(err)
		return
	}
	s.stats.tokens.Add(1)
	s.stats.bytes.Add(uint64(len(s.rejBuf)))
}

func (s *Server) sendFailed(err error) {
	if s.stats.sendErrors.Add(1) == 1 {
		s.log.Warn("retransmit server send failed (logged once, counted in SendErrors)", "err", err)
	}
}

// Add serves channel from c (replacing its previous cache, if any), so one
// server answers for all of a daemon's channels. Safe to call while Serve
// runs.
func (s *Server) Add(channel uint16, c *Cache) error {
	if c == nil {
		return fmt.Errorf("gap: retransmit server Add channel %d: nil cache", channel)
	}
	s.cachesMu.Lock()
	defer s.cachesMu.Unlock()
	m := maps.Clone(*s.caches.Load())
	m[channel] = c
	s.caches.Store(&m)
	return nil
}

// Remove stops serving channel: its requests get RejectUnknownSession. Safe
// to call while Serve runs.
func (s *Server) Remove(channel uint16) {
	s.cachesMu.Lock()
	defer s.cachesMu.Unlock()
	m := maps.Clone(*s.caches.Load())
	delete(m, channel)
	s.caches.Store(&m)
}
