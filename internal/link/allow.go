package link

import (
	"fmt"
	"slices"

	"github.com/quic-go/quic-go"
)

// CodeNotAllowed is the QUIC application error code of a link the server
// closed, or refused right after its handshake, because the client's
// certificate name is not on the server's allow list
// (ServerConfig.AllowNames, [Server.SetAllowNames]). The error's reason
// says so and names the certificate; [Dial] and [Client.Run] return it.
const CodeNotAllowed quic.ApplicationErrorCode = 5

// newAllowList returns the allow list of names: nil (every certificate from
// the CA) when names is empty.
func newAllowList(names []string) map[string]struct{} {
	if len(names) == 0 {
		return nil
	}
	m := make(map[string]struct{}, len(names))
	for _, n := range names {
		m[n] = struct{}{}
	}
	return m
}

// allowedLocked reports whether a client whose certificate is named name
// may use the link. s.mu is held.
func (s *Server) allowedLocked(name string) bool {
	if s.allow == nil {
		return true
	}
	_, ok := s.allow[name]
	return ok
}

// notAllowedReason is the close reason a client that is not allowed reads.
func notAllowedReason(name string) string {
	return fmt.Sprintf("tickcast: not allowed: certificate %q is not on this server's allow list", name)
}

// SetAllowNames replaces the allow list (see ServerConfig.AllowNames; empty
// allows every certificate from the CA again) and closes, with
// [CodeNotAllowed] and a reason naming it, every connected client it no
// longer allows; their reconnections are refused the same way. It is safe
// at any time, from any goroutine, and returns how many clients it closed.
func (s *Server) SetAllowNames(names []string) int {
	s.mu.Lock()
	s.allow = newAllowList(names)
	clear(s.notAllowedLogged)
	var out []*serverConn
	for c := range s.conns {
		if !c.disallowed && !s.allowedLocked(c.name) {
			c.disallowed = true
			s.notAllowedLocked(c.name)
			out = append(out, c)
		}
	}
	s.mu.Unlock()
	list := slices.Sorted(slices.Values(names))
	s.log.Info("link: allow list changed", "names", list, "closing", len(out))
	for _, c := range out {
		s.log.Warn("link: client no longer allowed: disconnected", "remote", c.remote, "name", c.name)
		c.conn.CloseWithError(CodeNotAllowed, notAllowedReason(c.name))
	}
	return len(out)
}

// notAllowedLocked counts a client refused or disconnected for its name.
// s.mu is held.
func (s *Server) notAllowedLocked(name string) {
	s.notAllowed.Add(1)
	s.notAllowedByName[name]++
}

// admitLocked registers c as connected if its name is allowed, and reports
// whether it was; a client refused is counted, and logged once per name
// until the allow list changes (it redials). s.mu is held.
func (s *Server) admitLocked(c *serverConn) (ok, log bool) {
	if !s.allowedLocked(c.name) {
		s.notAllowedLocked(c.name)
		log = !s.notAllowedLogged[c.name]
		s.notAllowedLogged[c.name] = true
		return false, log
	}
	s.conns[c] = struct{}{}
	s.byAddr[c.data.dst] = c
	return true, false
}
