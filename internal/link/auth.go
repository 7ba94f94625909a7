package link

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"slices"

	"github.com/quic-go/quic-go"
)

// serverTLS builds the server's TLS configuration from the owner's: ALPN
// tickcast/2, TLS 1.3, and mutual authentication against base.ClientCAs
// (DESIGN.md, "The QUIC link": unknown peers are refused).
//
// The server verifies client certificates itself instead of leaving it to
// crypto/tls, so that each refusal can be logged once with the peer's address
// and the reason, and counted: crypto/tls is told only to request a
// certificate, and a per-handshake VerifyConnection requires one and verifies
// its chain. (crypto/tls still checks the client's proof of possession of the
// key afterwards.)
func (s *Server) serverTLS(base *tls.Config) *tls.Config {
	conf := tlsConfig(base)
	conf.ClientAuth = tls.RequestClientCert
	// Every connection presents and proves its certificate afresh; links
	// reconnect rarely, so resumption buys nothing.
	conf.SessionTicketsDisabled = true
	conf.GetConfigForClient = nil
	roots := conf.ClientCAs
	userVerify := conf.VerifyConnection
	perConn := conf.Clone()

	conf.GetConfigForClient = func(hello *tls.ClientHelloInfo) (*tls.Config, error) {
		remote := "unknown"
		if hello.Conn != nil {
			remote = hello.Conn.RemoteAddr().String()
		}
		if !slices.Contains(hello.SupportedProtos, ALPN) {
			return nil, s.refuse(remote, fmt.Errorf("ALPN %q not offered (offered %q)", ALPN, hello.SupportedProtos))
		}
		c := perConn.Clone()
		c.VerifyConnection = func(cs tls.ConnectionState) error {
			if err := verifyClient(cs, roots); err != nil {
				return s.refuse(remote, err)
			}
			if userVerify != nil {
				if err := userVerify(cs); err != nil {
					return s.refuse(remote, err)
				}
			}
			return nil
		}
		return c, nil
	}
	return conf
}

// verifyClient checks that the client presented a certificate chaining to
// roots and valid for client authentication.
func verifyClient(cs tls.ConnectionState, roots *x509.CertPool) error {
	if len(cs.PeerCertificates) == 0 {
		return errors.New("no client certificate")
	}
	leaf := cs.PeerCertificates[0]
	inter := x509.NewCertPool()
	for _, c := range cs.PeerCertificates[1:] {
		inter.AddCert(c)
	}
	_, err := leaf.Verify(x509.VerifyOptions{
		Roots:         roots,
		Intermediates: inter,
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	})
	if err != nil {
		return fmt.Errorf("client certificate %q: %w", leaf.Subject.CommonName, err)
	}
	return nil
}

// refuse logs one line for a refused peer, counts it and returns the reason
// as the handshake error.
func (s *Server) refuse(remote string, reason error) error {
	s.refused.Add(1)
	s.countDisconnect("", DisconnectRefused)
	s.log.Warn("link: refused peer", "remote", remote, "reason", reason.Error())
	return reason
}

// peerName returns the common name of the client's certificate.
func peerName(cs tls.ConnectionState) string {
	if len(cs.PeerCertificates) == 0 {
		return ""
	}
	return cs.PeerCertificates[0].Subject.CommonName
}

// TLS alerts a server sends when it refuses a client certificate (RFC 8446,
// section 6).
const (
	alertBadCertificate      tls.AlertError = 42
	alertUnknownCA           tls.AlertError = 48
	alertCertificateRequired tls.AlertError = 116
)

// explainDial turns a connection error seen while dialing into one that says
// what happened: the server refused our certificate, we refused the server's,
// or the server closed the link.
func explainDial(addr string, err error) error {
	var te *quic.TransportError
	var ae *quic.ApplicationError
	var cve *tls.CertificateVerificationError
	switch {
	case errors.As(err, &cve):
		return fmt.Errorf("link: dial %s: server certificate refused: %w", addr, cve)
	case errors.As(err, &te) && te.Remote && te.ErrorCode.IsCryptoError():
		switch tls.AlertError(te.ErrorCode - 0x100) {
		case alertBadCertificate, alertUnknownCA, alertCertificateRequired:
			return fmt.Errorf("link: dial %s: server refused our certificate (is it issued by the server's CA?): %w", addr, err)
		}
		return fmt.Errorf("link: dial %s: server refused the handshake: %w", addr, err)
	case errors.As(err, &te) && te.ErrorCode.IsCryptoError():
		return fmt.Errorf("link: dial %s: handshake failed: %w", addr, err)
	case errors.As(err, &ae) && ae.Remote:
		return fmt.Errorf("link: dial %s: server closed the link: %q (code %d): %w", addr, ae.ErrorMessage, ae.ErrorCode, err)
	}
	return fmt.Errorf("link: dial %s: %w", addr, err)
}
