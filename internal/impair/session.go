package impair

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync/atomic"
)

// maxDatagram is the largest UDP payload.
const maxDatagram = 65535

// session is one client (source address) and its own upstream socket, so
// that several QUIC clients share a proxy and the upstream tells them apart.
type session struct {
	client netip.AddrPort // where replies go
	conn   *net.UDPConn   // connected to the upstream
	last   atomic.Int64   // proxy clock of the last packet either way
}

// session returns the client's session, opening one (and its reader) for a
// new client; nil if the proxy is closing, full, or the socket fails (the
// packet is then dropped and counted). now is the packet's time.
func (p *Proxy) session(from netip.AddrPort, now int64) *session {
	key := netip.AddrPortFrom(from.Addr().Unmap(), from.Port())
	p.mu.Lock()
	defer p.mu.Unlock()
	if s := p.sessions[key]; s != nil {
		s.last.Store(now)
		return s
	}
	if p.closing || len(p.sessions) >= p.maxSessions {
		p.refused.Add(1)
		if !p.closing && !p.warnedFull {
			p.warnedFull = true
			p.log.Warn("impair: too many clients; dropping packets from new ones", "max_sessions", p.maxSessions)
		}
		return nil
	}
	conn, err := net.DialUDP("udp", nil, p.upstream)
	if err != nil {
		p.refused.Add(1)
		p.log.Warn("impair: cannot open an upstream socket", "client", from, "err", fmt.Errorf("dial %s: %w", p.upstream, err))
		return nil
	}
	s := &session{client: from, conn: conn}
	s.last.Store(now)
	p.sessions[key] = s
	p.opened.Add(1)
	p.log.Debug("impair: client session opened", "client", from, "local", conn.LocalAddr())
	p.wg.Add(1)
	go p.readUpstream(s)
	return s
}

// readUpstream forwards what the upstream sends to s, until s's socket is
// closed.
func (p *Proxy) readUpstream(s *session) {
	defer p.wg.Done()
	buf := make([]byte, maxDatagram)
	for {
		n, err := s.conn.Read(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// An ICMP error from an earlier send (the upstream is not
			// listening): the socket still works.
			p.readErrors.Add(1)
			continue
		}
		now := p.now()
		s.last.Store(now)
		p.down.intake(now, buf[:n], s)
	}
}

// expire closes the sessions idle since before now-IdleTimeout.
func (p *Proxy) expire(now int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for key, s := range p.sessions {
		if now-s.last.Load() >= int64(p.idle) {
			delete(p.sessions, key)
			s.conn.Close()
			p.expired.Add(1)
			p.log.Debug("impair: client session expired", "client", s.client)
		}
	}
}

// closeSessions closes every session and refuses new ones.
func (p *Proxy) closeSessions() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closing = true
	for key, s := range p.sessions {
		delete(p.sessions, key)
		s.conn.Close()
	}
}
