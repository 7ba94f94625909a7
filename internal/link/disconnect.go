package link

import (
	"errors"
	"io"

	"github.com/quic-go/quic-go"
)

// Why a client left, as [ServerStats.Disconnects] counts it.
const (
	// DisconnectClosed: the client closed the link or its control stream.
	DisconnectClosed = "closed"
	// DisconnectSlow: the server cut it off as a slow consumer
	// (ServerConfig.SlowCutoff).
	DisconnectSlow = "slow"
	// DisconnectTimeout: the path went silent (QUIC's idle timeout).
	DisconnectTimeout = "timeout"
	// DisconnectProtocol: it broke the protocol, or opened no control
	// stream in time.
	DisconnectProtocol = "protocol"
	// DisconnectError: any other end (a stateless reset after the peer
	// restarted, no data keys, a local error).
	DisconnectError = "error"
	// DisconnectShutdown: the server stopped.
	DisconnectShutdown = "shutdown"
	// DisconnectRefused: a handshake the server refused (unknown CA, no
	// certificate, wrong ALPN, or refused by the owner's VerifyConnection).
	// Counted with an empty Name: the peer is not authenticated, and a name
	// it chose would make the counts unbounded.
	DisconnectRefused = "refused"
	// DisconnectNotAllowed: its certificate name is not on the allow list
	// (ServerConfig.AllowNames): refused after the handshake, or closed
	// when the list changed.
	DisconnectNotAllowed = "not_allowed"
)

// Disconnect is one key of [ServerStats.Disconnects]: a client's
// certificate name and why it left.
type Disconnect struct {
	Name, Reason string
}

// disconnectReason classifies how a client's control stream ended: err from
// serveControl, stopping when the server is shutting down, cutOff when the
// slow-consumer rule closed it.
func disconnectReason(err error, stopping, cutOff bool) string {
	var (
		pe protocolError
		ae *quic.ApplicationError
		se *quic.StreamError
		it *quic.IdleTimeoutError
	)
	switch {
	case stopping:
		return DisconnectShutdown
	case cutOff:
		return DisconnectSlow
	case err == nil, errors.Is(err, io.EOF):
		return DisconnectClosed
	case errors.As(err, &pe), errors.Is(err, errNoControl):
		return DisconnectProtocol
	case errors.As(err, &it):
		return DisconnectTimeout
	case errors.As(err, &ae) && ae.Remote, errors.As(err, &se) && se.Remote:
		return DisconnectClosed
	}
	return DisconnectError
}

// countDisconnect counts a client gone.
func (s *Server) countDisconnect(name, reason string) {
	s.mu.Lock()
	s.disconnects[Disconnect{Name: name, Reason: reason}]++
	s.mu.Unlock()
}

// countEnd counts how a served client's link ended: not allowed if the
// allow list closed it, else as disconnectReason says.
func (c *serverConn) countEnd(err error, stopping bool) {
	s := c.s
	s.mu.Lock()
	reason := DisconnectNotAllowed
	if !c.disallowed {
		reason = disconnectReason(err, stopping, c.cutOff.Load())
	}
	s.disconnects[Disconnect{Name: c.name, Reason: reason}]++
	s.mu.Unlock()
}
