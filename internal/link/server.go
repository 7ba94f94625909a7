package link

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/quic-go/quic-go"
	"github.com/tickcast/tickcast/gap"
	"github.com/tickcast/tickcast/wire"
)

// DefaultQueueLen is the per-client live queue length, in packets, when
// ServerConfig.QueueLen is 0.
const DefaultQueueLen = 8192

// ServerConfig configures a link [Server].
type ServerConfig struct {
	// Addr is the UDP address to listen on, for example ":7400" or
	// "127.0.0.1:0" (a random port; read it back with [Server.Addr]).
	// Required.
	Addr string
	// TLS holds the server certificate and the operator's CA in ClientCAs
	// (pki.ServerTLS builds it). Required, with ClientCAs set: every client
	// must present a certificate from that CA. The server sets NextProtos,
	// MinVersion, ClientAuth and GetConfigForClient on its own copy.
	TLS *tls.Config
	// Feed answers retransmit and snapshot requests. Required.
	Feed Feed
	// QueueLen is each client's live queue in packets; 0 means
	// DefaultQueueLen. A client whose queue is full loses live packets
	// (counted in its PeerStats.Dropped) and recovers by NACK or snapshot.
	QueueLen int
	// SlowCutoff disconnects a client that has not kept up for longer than
	// this (CodeSlowConsumer, with a reason naming the time and the loss;
	// logged and counted in ServerStats.CutOff): its live queue here refused
	// every packet, or its receiver reports showed it losing more than
	// SlowLoss of its datagrams, or no report came while datagrams were
	// sent. 0 means DefaultSlowCutoff; negative means never.
	SlowCutoff time.Duration
	// SlowLoss is the share of its data datagrams a client may lose (on
	// the path or at its own end) before a slow episode starts; the episode
	// ends once its loss is back under half of it. 0 means
	// DefaultSlowLoss. A WAN path's ordinary loss must stay well under it:
	// NACKs repair that.
	SlowLoss float64
	// AllowNames lists the certificate common names allowed on the link;
	// empty means every certificate from the CA in TLS.ClientCAs. A client
	// from the CA whose name is not listed is refused right after its
	// handshake with [CodeNotAllowed] and a reason naming it (counted in
	// ServerStats.NotAllowed and Refused, logged once per name).
	// [Server.SetAllowNames] changes the list at any time.
	AllowNames []string
	// Policy admits each NACK (and from-seq subscription) by the client's IP
	// address and caps its answer: the same gap.Policy the UDP retransmit
	// server uses, and may share. nil means gap.NewPolicy with every address
	// allowed (clients are already authenticated by certificate) and the
	// default caps and rate. A refused request is answered by a
	// RetransmitReject with the policy's reason and retry-after. A client's
	// answers run a few at a time, each admitted before the others are
	// charged, so a flood may pass the bucket by a few answers.
	Policy *gap.Policy
	// Logger receives connection events and anomalies, never per-packet
	// lines; nil means slog.Default().
	Logger *slog.Logger
}

// Server is the upstream end of QUIC links (DESIGN.md, "The QUIC link"): a
// publisher or relay serving live packets, retransmissions and snapshots to
// authenticated clients.
type Server struct {
	feed     Feed
	policy   *gap.Policy
	log      *slog.Logger
	queueLen int
	// slowCutoff is ServerConfig.SlowCutoff with its default; ≤ 0 = never.
	slowCutoff time.Duration
	slowLoss   float64 // ServerConfig.SlowLoss with its default
	ln         *quic.Listener
	tr         *quic.Transport
	udp        *net.UDPConn // ours, so Close frees the port before it returns
	epoch      time.Time    // the origin of clock

	// channels maps a channel to its fan-out state. Publish reads it without
	// locks; subscriptions copy it on write under mu.
	channels atomic.Pointer[map[uint16]*channel]

	mu     sync.Mutex
	conns  map[*serverConn]struct{}
	byAddr map[netip.AddrPort]*serverConn // by data address, for receiver reports
	// cutOffByName counts slow-consumer cutoffs by certificate name.
	cutOffByName map[string]uint64
	// allow is the allow list of certificate names (nil = every one from
	// the CA); notAllowedByName counts clients refused or closed for their
	// name, notAllowedLogged the names whose refusal was logged since the
	// list last changed.
	allow            map[string]struct{}
	notAllowedByName map[string]uint64
	notAllowedLogged map[string]bool
	// disconnects counts clients gone, by name and reason.
	disconnects map[Disconnect]uint64

	accepted, refused, badPublish, cutOffs, strayReports, notAllowed atomic.Uint64
	serving, closed                                                  atomic.Bool
}

// channel is one channel's fan-out state.
type channel struct {
	clients atomic.Pointer[[]*serverConn] // copy on write under Server.mu
	// session and next record the live edge Publish saw last, so a from-seq
	// subscription knows where live delivery took over.
	session atomic.Uint64
	next    atomic.Uint64
}

// NewServer validates cfg and starts listening; call [Server.Serve] to accept
// clients.
func NewServer(cfg ServerConfig) (*Server, error) {
	switch {
	case cfg.Addr == "":
		return nil, errors.New("link: ServerConfig.Addr is empty")
	case cfg.TLS == nil:
		return nil, errors.New("link: ServerConfig.TLS is nil")
	case len(cfg.TLS.Certificates) == 0 && cfg.TLS.GetCertificate == nil:
		return nil, errors.New("link: ServerConfig.TLS has no server certificate")
	case cfg.TLS.ClientCAs == nil:
		return nil, errors.New("link: ServerConfig.TLS.ClientCAs is nil: mutual authentication needs the operator's CA")
	case cfg.Feed == nil:
		return nil, errors.New("link: ServerConfig.Feed is nil")
	case cfg.QueueLen < 0:
		return nil, fmt.Errorf("link: ServerConfig.QueueLen %d is negative", cfg.QueueLen)
	case cfg.SlowLoss < 0 || cfg.SlowLoss >= 1:
		return nil, fmt.Errorf("link: ServerConfig.SlowLoss %g is outside [0, 1)", cfg.SlowLoss)
	}
	s := &Server{
		feed:         cfg.Feed,
		policy:       cfg.Policy,
		log:          cfg.Logger,
		queueLen:     cfg.QueueLen,
		slowCutoff:   cfg.SlowCutoff,
		conns:        make(map[*serverConn]struct{}),
		byAddr:       make(map[netip.AddrPort]*serverConn),
		cutOffByName: make(map[string]uint64),
		disconnects:  make(map[Disconnect]uint64),
		slowLoss:     cfg.SlowLoss,

		allow:            newAllowList(cfg.AllowNames),
		notAllowedByName: make(map[string]uint64),
		notAllowedLogged: make(map[string]bool),
		epoch:            time.Now(),
	}
	if s.policy == nil {
		var err error
		s.policy, err = gap.NewPolicy(gap.PolicyConfig{Allowed: []netip.Prefix{
			netip.MustParsePrefix("0.0.0.0/0"), netip.MustParsePrefix("::/0")}})
		if err != nil {
			return nil, fmt.Errorf("link: default policy: %w", err)
		}
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.slowCutoff == 0 {
		s.slowCutoff = DefaultSlowCutoff
	}
	if s.queueLen == 0 {
		s.queueLen = DefaultQueueLen
	}
	if s.slowLoss == 0 {
		s.slowLoss = DefaultSlowLoss
	}
	s.channels.Store(&map[uint16]*channel{})
	// The server owns its UDP socket (quic.ListenAddr would close it in the
	// background, after Close returned, so a restarted server could not
	// bind the same port at once).
	ua, err := net.ResolveUDPAddr("udp", cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("link: listen on %s: %w", cfg.Addr, err)
	}
	s.udp, err = net.ListenUDP("udp", ua)
	if err != nil {
		return nil, fmt.Errorf("link: listen on %s: %w", cfg.Addr, err)
	}
	s.tr = &quic.Transport{Conn: s.udp}
	ln, err := s.tr.Listen(s.serverTLS(cfg.TLS), quicConfig(true))
	if err != nil {
		s.udp.Close()
		return nil, fmt.Errorf("link: listen on %s: %w", cfg.Addr, err)
	}
	s.ln = ln
	return s, nil
}

// Addr returns the UDP address the server listens on.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// Serve accepts clients until ctx ends, then closes every client connection,
// waits for all its goroutines and returns nil. It returns an error if the
// listener fails. Serve may be called once.
func (s *Server) Serve(ctx context.Context) error {
	if !s.serving.CompareAndSwap(false, true) {
		return errors.New("link: Serve called twice")
	}
	s.log.Info("link: serving", "addr", s.Addr().String())
	// On return: stop every client (cancel), wait for them to say goodbye,
	// then stop listening and free the port.
	defer s.Close()
	var wg sync.WaitGroup
	defer wg.Wait()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	wg.Go(func() { s.readData(ctx) })
	for {
		conn, err := s.ln.Accept(ctx)
		if err != nil {
			if ctx.Err() != nil || s.closed.Load() {
				return nil
			}
			return fmt.Errorf("link: accept on %s: %w", s.Addr(), err)
		}
		c := newServerConn(s, conn)
		if c.data == nil {
			s.log.Warn("link: client dropped: no data keys", "remote", c.remote, "name", c.name, "err", c.dataErr)
			conn.CloseWithError(codeProtocol, "no data keys")
			s.countDisconnect(c.name, DisconnectError)
			continue
		}
		// Admitted under the lock SetAllowNames takes: a client is either
		// refused here or closed by it, never missed.
		s.mu.Lock()
		ok, logIt := s.admitLocked(c)
		s.mu.Unlock()
		if !ok {
			s.refused.Add(1)
			if logIt {
				s.log.Warn("link: refused peer: not on the allow list (logged once per name)", "remote", c.remote, "name", c.name)
			}
			conn.CloseWithError(CodeNotAllowed, notAllowedReason(c.name))
			s.countDisconnect(c.name, DisconnectNotAllowed)
			continue
		}
		s.accepted.Add(1)
		wg.Go(func() {
			c.run(ctx)
			s.mu.Lock()
			delete(s.conns, c)
			if s.byAddr[c.data.dst] == c {
				delete(s.byAddr, c.data.dst)
			}
			s.mu.Unlock()
		})
	}
}

// Close stops listening; a running Serve then closes its clients and returns
// nil. Close is idempotent; it is needed only to stop the server without
// ending Serve's context, or when Serve never runs.
func (s *Server) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	err := s.ln.Close()
	s.tr.Close()
	if cerr := s.udp.Close(); err == nil && !errors.Is(cerr, net.ErrClosed) {
		err = cerr
	}
	return err
}

// readData reads what the clients send on the data path (receiver reports,
// NACKs) from the link's socket until ctx ends. One of Serve's goroutines.
func (s *Server) readData(ctx context.Context) {
	buf := make([]byte, 1500)
	for {
		n, from, err := s.tr.ReadNonQUICPacket(ctx, buf)
		if err != nil {
			return
		}
		addr := dataAddr(from)
		s.mu.Lock()
		c := s.byAddr[addr]
		s.mu.Unlock()
		if c == nil {
			s.strayReports.Add(1)
			continue
		}
		c.fromClient(buf[:n], time.Now())
	}
}

// Publish fans one live packet of channel out to every client subscribed to
// it (DESIGN.md, "Promises": one slow subscriber never slows anyone else). It
// copies pkt into each client's bounded queue and never blocks: a full queue
// drops the packet for that client only, and counts it. Publish is meant for
// the owner's single sending goroutine (call it from one goroutine at a time)
// and does not allocate in steady state.
func (s *Server) Publish(channelID uint16, pkt []byte) {
	h, err := wire.ParseHeader(pkt)
	if err != nil {
		s.badPublish.Add(1)
		return
	}
	ch := (*s.channels.Load())[channelID]
	if ch == nil {
		ch = s.channel(channelID)
	}
	// Record the live edge before reading the client list: a subscriber
	// added after this load reads an edge that covers this packet.
	switch {
	case h.Sequenced():
		ch.session.Store(h.Session)
		ch.next.Store(h.End())
	case h.Has(wire.FlagHeartbeat) || h.Has(wire.FlagEndOfSession):
		ch.session.Store(h.Session)
		ch.next.Store(h.Seq)
	}
	clients := *ch.clients.Load()
	if len(clients) == 0 {
		return
	}
	now := s.clock() // one clock read per packet, for the queues' lag
	for _, c := range clients {
		c.enqueue(pkt, now)
	}
}

// clock returns the server's monotonic clock, ns: what the live queues are
// stamped with.
func (s *Server) clock() int64 { return int64(time.Since(s.epoch)) }

// channel returns the fan-out state of id, creating it.
func (s *Server) channel(id uint16) *channel {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.channelLocked(id)
}

// channelLocked returns the fan-out state of id, creating it. s.mu must be held.
func (s *Server) channelLocked(id uint16) *channel {
	old := *s.channels.Load()
	if ch := old[id]; ch != nil {
		return ch
	}
	ch := &channel{}
	ch.clients.Store(&[]*serverConn{})
	m := make(map[uint16]*channel, len(old)+1)
	for k, v := range old {
		m[k] = v
	}
	m[id] = ch
	s.channels.Store(&m)
	return ch
}

// subscribe adds c to channel id's fan-out (once) and returns the channel.
func (s *Server) subscribe(c *serverConn, id uint16) *channel {
	s.mu.Lock()
	defer s.mu.Unlock()
	ch := s.channelLocked(id)
	if c.subs[id] {
		return ch
	}
	c.subs[id] = true
	old := *ch.clients.Load()
	next := append(slices.Clip(old), c)
	ch.clients.Store(&next)
	return ch
}

// unsubscribeAll removes c from every channel it subscribed to.
func (s *Server) unsubscribeAll(c *serverConn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	chans := *s.channels.Load()
	for id := range c.subs {
		ch := chans[id]
		next := slices.DeleteFunc(slices.Clone(*ch.clients.Load()), func(x *serverConn) bool { return x == c })
		ch.clients.Store(&next)
	}
	clear(c.subs)
}

// Stats returns a snapshot of the server's counters and of every connected
// client's.
func (s *Server) Stats() ServerStats {
	s.mu.Lock()
	st := ServerStats{
		Clients:          len(s.conns),
		Accepted:         s.accepted.Load(),
		Refused:          s.refused.Load(),
		BadPublish:       s.badPublish.Load(),
		CutOff:           s.cutOffs.Load(),
		StrayData:        s.strayReports.Load(),
		CutOffByName:     maps.Clone(s.cutOffByName),
		Disconnects:      maps.Clone(s.disconnects),
		NotAllowed:       s.notAllowed.Load(),
		NotAllowedByName: maps.Clone(s.notAllowedByName),
		Peers:            make([]PeerStats, 0, len(s.conns)),
	}
	for c := range s.conns {
		st.Peers = append(st.Peers, c.statsLocked())
	}
	s.mu.Unlock()
	slices.SortFunc(st.Peers, func(a, b PeerStats) int { return cmp.Compare(a.Remote, b.Remote) })
	return st
}
