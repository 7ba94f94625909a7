package pki

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
)

// ServerTLS builds the TLS configuration of a link server: it presents the
// certificate in certFile/keyFile and requires and verifies a client
// certificate issued by the CA in caFile. TLS 1.3 only.
func ServerTLS(certFile, keyFile, caFile string) (*tls.Config, error) {
	cert, err := LoadKeyPair(certFile, keyFile)
	if err != nil {
		return nil, err
	}
	pool, err := LoadPool(caFile)
	if err != nil {
		return nil, err
	}
	return ServerConfig(cert, pool), nil
}

// ClientTLS builds the TLS configuration of a link client: it presents the
// certificate in certFile/keyFile and accepts only servers whose certificate
// was issued by the CA in caFile. TLS 1.3 only.
func ClientTLS(certFile, keyFile, caFile string) (*tls.Config, error) {
	cert, err := LoadKeyPair(certFile, keyFile)
	if err != nil {
		return nil, err
	}
	pool, err := LoadPool(caFile)
	if err != nil {
		return nil, err
	}
	return ClientConfig(cert, pool), nil
}

// ServerConfig is [ServerTLS] for an in-memory certificate and CA pool.
func ServerConfig(cert tls.Certificate, clientCAs *x509.CertPool) *tls.Config {
	return &tls.Config{
		Certificates: []tls.Certificate{cert},
		ClientCAs:    clientCAs,
		ClientAuth:   tls.RequireAndVerifyClientCert,
		MinVersion:   tls.VersionTLS13,
	}
}

// ClientConfig is [ClientTLS] for an in-memory certificate and CA pool.
func ClientConfig(cert tls.Certificate, rootCAs *x509.CertPool) *tls.Config {
	return &tls.Config{
		Certificates: []tls.Certificate{cert},
		RootCAs:      rootCAs,
		MinVersion:   tls.VersionTLS13,
	}
}

// LoadKeyPair reads a PEM certificate and its PEM private key.
func LoadKeyPair(certFile, keyFile string) (tls.Certificate, error) {
	if _, err := readCerts(certFile); err != nil {
		return tls.Certificate{}, err
	}
	certPEM, err := os.ReadFile(certFile)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("read certificate: %w", err)
	}
	keyPEM, err := os.ReadFile(keyFile)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("read key: %w", err)
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("key pair %s + %s: %w", certFile, keyFile, err)
	}
	return cert, nil
}

// LoadPool reads the CA certificates of a PEM file into a pool.
func LoadPool(caFile string) (*x509.CertPool, error) {
	certs, err := readCerts(caFile)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	for _, c := range certs {
		if !c.IsCA {
			return nil, fmt.Errorf("%s: certificate %q is not a CA", caFile, c.Subject.CommonName)
		}
		pool.AddCert(c)
	}
	return pool, nil
}
