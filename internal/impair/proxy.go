package impair

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
)

// Proxy is an impairing UDP proxy: what clients send to its listening
// address goes to the upstream, what the upstream answers goes back to the
// client, each direction impaired by its [Spec].
//
// New binds the socket; Run forwards until its context ends or Close is
// called. SetBlackhole, SetSpec, Stats, Addr and Close are safe from any
// goroutine.
type Proxy struct {
	cfg         Config
	log         *slog.Logger
	conn        *net.UDPConn // the listening socket
	upstream    *net.UDPAddr
	base        time.Time // the proxy clock's zero (monotonic)
	idle        time.Duration
	maxSessions int

	blackhole atomic.Bool
	up, down  *direction

	mu         sync.Mutex
	sessions   map[netip.AddrPort]*session
	closing    bool
	warnedFull bool

	started bool // Run was called (under mu)
	closed  bool // Close was called (under mu)

	wg      sync.WaitGroup // Run's goroutines
	quit    chan struct{}  // closed by Close
	runDone chan struct{}  // closed when Run returns

	opened, expired, refused, readErrors atomic.Uint64
}

// New validates cfg, resolves the upstream and binds the listening socket.
func New(cfg Config) (*Proxy, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	up, err := net.ResolveUDPAddr("udp", cfg.Upstream)
	if err != nil {
		return nil, fmt.Errorf("impair: upstream %q: %w", cfg.Upstream, err)
	}
	laddr, err := net.ResolveUDPAddr("udp", cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("impair: listen %q: %w", cfg.Listen, err)
	}
	p := &Proxy{
		cfg:         cfg,
		log:         cfg.Logger,
		upstream:    up,
		base:        time.Now(),
		idle:        cfg.IdleTimeout,
		maxSessions: cfg.MaxSessions,
		sessions:    map[netip.AddrPort]*session{},
		quit:        make(chan struct{}),
		runDone:     make(chan struct{}),
	}
	if p.log == nil {
		p.log = slog.Default()
	}
	if p.idle == 0 {
		p.idle = DefaultIdleTimeout
	}
	if p.maxSessions == 0 {
		p.maxSessions = DefaultMaxSessions
	}
	p.up, err = newDirection(p, Up, cfg.Seed, cfg.spec(Up), func(s *session, b []byte) error {
		_, err := s.conn.Write(b)
		return err
	})
	if err != nil {
		return nil, err
	}
	p.down, err = newDirection(p, Down, cfg.Seed^0x646f776e, cfg.spec(Down), func(s *session, b []byte) error { // "down"
		_, err := p.conn.WriteToUDPAddrPort(b, s.client)
		return err
	})
	if err != nil {
		return nil, err
	}
	if p.conn, err = net.ListenUDP("udp", laddr); err != nil {
		return nil, fmt.Errorf("impair: listen %s: %w", cfg.Listen, err)
	}
	return p, nil
}

// Addr returns the address clients send to.
func (p *Proxy) Addr() netip.AddrPort {
	return p.conn.LocalAddr().(*net.UDPAddr).AddrPort()
}

// now is the proxy clock: monotonic ns since New.
func (p *Proxy) now() int64 { return int64(time.Since(p.base)) }

// SetBlackhole switches the blackhole on or off: while on, every packet
// either way is dropped, including the held ones that come due.
func (p *Proxy) SetBlackhole(on bool) { p.blackhole.Store(on) }

// Blackhole reports whether the blackhole is on.
func (p *Proxy) Blackhole() bool { return p.blackhole.Load() }

// SetSpec changes the impairments of direction d (Up, Down or Both) from
// the next packet on; packets held already keep their times. It returns the
// error s.Validate gives, changing nothing.
func (p *Proxy) SetSpec(d Dir, s Spec) error {
	if d&Both == 0 || d&^Both != 0 {
		return fmt.Errorf("impair: SetSpec: bad direction %v", d)
	}
	if err := s.Validate(); err != nil {
		return err
	}
	for _, dd := range []*direction{p.up, p.down} {
		if d&dd.dir != 0 {
			if err := dd.setSpec(s); err != nil {
				return err
			}
		}
	}
	return nil
}

// Spec returns the current spec of direction d (Up or Down).
func (p *Proxy) Spec(d Dir) Spec {
	dd := p.up
	if d == Down {
		dd = p.down
	}
	dd.mu.Lock()
	defer dd.mu.Unlock()
	return dd.spec
}

// Stats returns the counters.
func (p *Proxy) Stats() Stats {
	now := p.now()
	p.mu.Lock()
	n := len(p.sessions)
	p.mu.Unlock()
	return Stats{
		Up: p.up.stats(now), Down: p.down.stats(now),
		Sessions: n, Opened: p.opened.Load(), Expired: p.expired.Load(), Refused: p.refused.Load(),
	}
}

// Run forwards packets until ctx ends or Close is called, then closes the
// proxy; packets still held are dropped. It returns nil then, and an error
// if called twice or after Close.
func (p *Proxy) Run(ctx context.Context) error {
	p.mu.Lock()
	closed, started := p.closed, p.started
	p.started = true
	p.mu.Unlock()
	switch {
	case closed:
		return fmt.Errorf("impair: Run after Close: %w", net.ErrClosed)
	case started:
		return errors.New("impair: Run called twice")
	}
	defer close(p.runDone)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	p.wg.Add(5)
	go func() {
		defer p.wg.Done()
		select {
		case <-ctx.Done():
		case <-p.quit:
		}
		cancel()
		p.conn.Close() // ends readClients; Close reports its error
		p.closeSessions()
	}()
	go func() { defer p.wg.Done(); p.up.run(ctx) }()
	go func() { defer p.wg.Done(); p.down.run(ctx) }()
	go func() { defer p.wg.Done(); p.janitor(ctx) }()
	go func() { defer p.wg.Done(); p.readClients() }()
	p.log.Info("impair: proxy running", "listen", p.Addr(), "upstream", p.upstream,
		"up", p.Spec(Up).String(), "down", p.Spec(Down).String())
	p.wg.Wait()
	return nil
}

// readClients forwards what clients send, until the listening socket is
// closed.
func (p *Proxy) readClients() {
	buf := make([]byte, maxDatagram)
	for {
		n, from, err := p.conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			p.readErrors.Add(1)
			continue
		}
		now := p.now()
		s := p.session(from, now)
		if s == nil {
			continue
		}
		p.up.intake(now, buf[:n], s)
	}
}

// janitor expires idle sessions until ctx ends.
func (p *Proxy) janitor(ctx context.Context) {
	t := time.NewTicker(max(p.idle/4, time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			p.expire(p.now())
		}
	}
}

// Close stops Run, if it runs, and waits for it to return; it closes the
// sockets. Calling it again does nothing and returns nil.
func (p *Proxy) Close() error {
	p.mu.Lock()
	first, started := !p.closed, p.started
	p.closed = true
	p.mu.Unlock()
	if !first {
		return nil
	}
	close(p.quit)
	err := p.conn.Close()
	if started {
		<-p.runDone
	}
	if err != nil && !errors.Is(err, net.ErrClosed) {
		return fmt.Errorf("impair: close %s: %w", p.Addr(), err)
	}
	return nil
}
