package pki

import (
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// File names inside a PKI directory.
const (
	CAFile    = "ca.pem"
	CAKeyFile = "ca-key.pem"
)

// CertFile returns the certificate file IssueCert writes for name.
func CertFile(dir, name string) string { return filepath.Join(dir, name+".pem") }

// KeyFile returns the private key file IssueCert writes for name.
func KeyFile(dir, name string) string { return filepath.Join(dir, name+"-key.pem") }

// WriteDevCA creates a development CA in dir (created if missing, mode 0700):
// ca.pem (the certificate, mode 0644) and ca-key.pem (its ECDSA P-256 key,
// mode 0600). It refuses to overwrite either file.
func WriteDevCA(dir string) error {
	certPath, keyPath := filepath.Join(dir, CAFile), filepath.Join(dir, CAKeyFile)
	if err := refuseExisting(certPath, keyPath); err != nil {
		return err
	}
	ca, err := NewCA("tickcast dev CA")
	if err != nil {
		return err
	}
	kp, err := ca.KeyPEM()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create PKI directory %s: %w", dir, err)
	}
	if err := writeNew(keyPath, kp, 0o600); err != nil {
		return err
	}
	return writeNew(certPath, ca.CertPEM(), 0o644)
}

// IssueCert issues a certificate named name, signed by the CA in dir, for
// hosts (DNS names and IP addresses, the subject alternative names), and
// writes name.pem and name-key.pem (mode 0600) beside the CA. The certificate
// serves both server and client authentication. It refuses to overwrite
// existing files.
func IssueCert(dir, name string, hosts []string) error {
	if name == "" || name != filepath.Base(name) || strings.HasPrefix(name, ".") || name == "ca" {
		return fmt.Errorf("issue certificate: bad name %q: want a plain file name other than \"ca\"", name)
	}
	certPath, keyPath := CertFile(dir, name), KeyFile(dir, name)
	if err := refuseExisting(certPath, keyPath); err != nil {
		return err
	}
	ca, err := LoadCA(dir)
	if err != nil {
		return err
	}
	cert, err := ca.Issue(name, hosts)
	if err != nil {
		return err
	}
	kp, err := keyPEM(cert.PrivateKey.(*ecdsa.PrivateKey))
	if err != nil {
		return fmt.Errorf("%s: %w", keyPath, err)
	}
	if err := writeNew(keyPath, kp, 0o600); err != nil {
		return err
	}
	return writeNew(certPath, certPEM(cert.Certificate[0]), 0o644)
}

// LoadCA reads the CA certificate and key that WriteDevCA wrote in dir.
func LoadCA(dir string) (*CA, error) {
	certPath, keyPath := filepath.Join(dir, CAFile), filepath.Join(dir, CAKeyFile)
	certs, err := readCerts(certPath)
	if err != nil {
		return nil, err
	}
	cert := certs[0]
	if !cert.IsCA {
		return nil, fmt.Errorf("%s: certificate %q is not a CA", certPath, cert.Subject.CommonName)
	}
	b, err := os.ReadFile(keyPath)
	if err != nil {
		return nil, fmt.Errorf("read CA key: %w", err)
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		return nil, fmt.Errorf("%s: no PEM block", keyPath)
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%s: parse %s: %w", keyPath, blk.Type, err)
	}
	key, ok := k.(*ecdsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("%s: key is %T, want ECDSA", keyPath, k)
	}
	if !key.PublicKey.Equal(cert.PublicKey) {
		return nil, fmt.Errorf("%s: key does not match the certificate in %s", keyPath, certPath)
	}
	return &CA{Cert: cert, Key: key}, nil
}

// readCerts parses every CERTIFICATE block of a PEM file; it fails when there
// is none.
func readCerts(path string) ([]*x509.Certificate, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read certificate: %w", err)
	}
	var certs []*x509.Certificate
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			break
		}
		if blk.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%s: parse certificate: %w", path, err)
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, fmt.Errorf("%s: no PEM CERTIFICATE block", path)
	}
	return certs, nil
}

// refuseExisting fails when any of paths exists, before anything is written.
func refuseExisting(paths ...string) error {
	for _, p := range paths {
		if _, err := os.Lstat(p); err == nil {
			return fmt.Errorf("%s: %w: refusing to overwrite", p, fs.ErrExist)
		} else if !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("check %s: %w", p, err)
		}
	}
	return nil
}

// writeNew writes a file that must not exist yet.
func writeNew(path string, data []byte, perm os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return fmt.Errorf("create %s: %w", path, err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
