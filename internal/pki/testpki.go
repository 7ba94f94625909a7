package pki

import (
	"crypto/tls"
	"fmt"
)

// TestPKI is an in-memory PKI for tests: the operator's CA with a server and a
// client certificate, and a foreign CA with its own pair, so tests can check
// that peers from another authority are refused.
type TestPKI struct {
	CA      *CA // the operator's CA
	Foreign *CA // an unrelated CA nobody trusts
	Hosts   []string

	server, client               tls.Certificate
	foreignServer, foreignClient tls.Certificate
}

// NewTestPKI creates both CAs and issues the server certificates for hosts
// (default "127.0.0.1", "::1" and "localhost") and the client certificates
// (common name "client").
func NewTestPKI(hosts ...string) (*TestPKI, error) {
	if len(hosts) == 0 {
		hosts = []string{"127.0.0.1", "::1", "localhost"}
	}
	p := &TestPKI{Hosts: hosts}
	var err error
	if p.CA, err = NewCA("tickcast test CA"); err != nil {
		return nil, err
	}
	if p.Foreign, err = NewCA("foreign test CA"); err != nil {
		return nil, err
	}
	for _, c := range []struct {
		ca   *CA
		dst  *tls.Certificate
		name string
	}{
		{p.CA, &p.server, "server"},
		{p.CA, &p.client, "client"},
		{p.Foreign, &p.foreignServer, "foreign-server"},
		{p.Foreign, &p.foreignClient, "foreign-client"},
	} {
		if *c.dst, err = c.ca.Issue(c.name, hosts); err != nil {
			return nil, fmt.Errorf("test PKI: %w", err)
		}
	}
	return p, nil
}

// ServerTLS returns a server configuration with a certificate from the CA,
// requiring client certificates from the CA.
func (p *TestPKI) ServerTLS() *tls.Config { return ServerConfig(p.server, p.CA.Pool()) }

// ClientTLS returns a client configuration with the "client" certificate
// from the CA, trusting only the CA.
func (p *TestPKI) ClientTLS() *tls.Config { return ClientConfig(p.client, p.CA.Pool()) }

// NamedClientTLS is ClientTLS with a fresh certificate whose common name is name.
func (p *TestPKI) NamedClientTLS(name string) (*tls.Config, error) {
	cert, err := p.CA.Issue(name, p.Hosts)
	if err != nil {
		return nil, err
	}
	return ClientConfig(cert, p.CA.Pool()), nil
}

// ForeignClientTLS returns a client that trusts the CA but presents a
// certificate from the foreign CA: a server must refuse it. The certificate is
// presented even though the server asks for its own CA (a plain client
// configuration would silently send none).
func (p *TestPKI) ForeignClientTLS() *tls.Config {
	cert := p.foreignClient
	return &tls.Config{
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &cert, nil },
		RootCAs:              p.CA.Pool(),
		MinVersion:           tls.VersionTLS13,
	}
}

// AnonymousClientTLS returns a client that trusts the CA and presents no
// certificate: a server must refuse it.
func (p *TestPKI) AnonymousClientTLS() *tls.Config {
	return &tls.Config{RootCAs: p.CA.Pool(), MinVersion: tls.VersionTLS13}
}

// ForeignServerTLS returns a server presenting a certificate from the foreign
// CA (while requiring clients from the CA): a client must refuse it.
func (p *TestPKI) ForeignServerTLS() *tls.Config {
	return ServerConfig(p.foreignServer, p.CA.Pool())
}
