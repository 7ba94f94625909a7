package pki

import (
	"crypto/x509"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestWriteDevCAAndIssue(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "pki")
	if err := WriteDevCA(dir); err != nil {
		t.Fatal(err)
	}
	for _, f := range []struct {
		name string
		perm os.FileMode
	}{{CAFile, 0o644}, {CAKeyFile, 0o600}} {
		st, err := os.Stat(filepath.Join(dir, f.name))
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != f.perm {
			t.Errorf("%s mode %v, want %v", f.name, st.Mode().Perm(), f.perm)
		}
	}
	if err := WriteDevCA(dir); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("second WriteDevCA: %v, want ErrExist", err)
	}

	if err := IssueCert(dir, "relay1", []string{"relay1.example", "127.0.0.1"}); err != nil {
		t.Fatal(err)
	}
	if err := IssueCert(dir, "relay1", nil); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("second IssueCert: %v, want ErrExist", err)
	}
	st, err := os.Stat(KeyFile(dir, "relay1"))
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("key mode %v, want 0600", st.Mode().Perm())
	}

	certs, err := readCerts(CertFile(dir, "relay1"))
	if err != nil {
		t.Fatal(err)
	}
	leaf := certs[0]
	if leaf.Subject.CommonName != "relay1" {
		t.Errorf("CN %q", leaf.Subject.CommonName)
	}
	if len(leaf.DNSNames) != 1 || leaf.DNSNames[0] != "relay1.example" || len(leaf.IPAddresses) != 1 || leaf.IPAddresses[0].String() != "127.0.0.1" {
		t.Errorf("SANs %v %v", leaf.DNSNames, leaf.IPAddresses)
	}
	pool, err := LoadPool(filepath.Join(dir, CAFile))
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth} {
		if _, err := leaf.Verify(x509.VerifyOptions{Roots: pool, DNSName: "relay1.example", KeyUsages: []x509.ExtKeyUsage{u}}); err != nil {
			t.Errorf("verify for usage %v: %v", u, err)
		}
	}

	srv, err := ServerTLS(CertFile(dir, "relay1"), KeyFile(dir, "relay1"), filepath.Join(dir, CAFile))
	if err != nil {
		t.Fatal(err)
	}
	if srv.ClientCAs == nil || len(srv.Certificates) != 1 {
		t.Errorf("server config incomplete: %+v", srv)
	}
	cli, err := ClientTLS(CertFile(dir, "relay1"), KeyFile(dir, "relay1"), filepath.Join(dir, CAFile))
	if err != nil {
		t.Fatal(err)
	}
	if cli.RootCAs == nil || len(cli.Certificates) != 1 {
		t.Errorf("client config incomplete: %+v", cli)
	}
}

func TestIssueCertErrorsNameTheProblem(t *testing.T) {
	dir := t.TempDir()
	for _, bad := range []string{"", "../x", "a/b", ".hidden", "ca"} {
		if err := IssueCert(dir, bad, nil); err == nil || !strings.Contains(err.Error(), "bad name") {
			t.Errorf("IssueCert(%q): %v", bad, err)
		}
	}
	// No CA yet: the error names the missing file.
	err := IssueCert(dir, "x", nil)
	if err == nil || !strings.Contains(err.Error(), CAFile) {
		t.Errorf("IssueCert without CA: %v", err)
	}
}

func TestTLSFileErrorsNameTheFile(t *testing.T) {
	dir := t.TempDir()
	if err := WriteDevCA(dir); err != nil {
		t.Fatal(err)
	}
	if err := IssueCert(dir, "a", []string{"localhost"}); err != nil {
		t.Fatal(err)
	}
	if err := IssueCert(dir, "b", []string{"localhost"}); err != nil {
		t.Fatal(err)
	}
	garbage := filepath.Join(dir, "garbage.pem")
	if err := os.WriteFile(garbage, []byte("not pem"), 0o600); err != nil {
		t.Fatal(err)
	}
	ca := filepath.Join(dir, CAFile)
	cases := []struct {
		name             string
		cert, key, caf   string
		wantInErrMessage string
	}{
		{"missing cert", filepath.Join(dir, "nope.pem"), KeyFile(dir, "a"), ca, "nope.pem"},
		{"garbage cert", garbage, KeyFile(dir, "a"), ca, "garbage.pem: no PEM CERTIFICATE block"},
		{"mismatched key", CertFile(dir, "a"), KeyFile(dir, "b"), ca, "a-key.pem"[:0] + "b-key.pem"},
		{"garbage CA", CertFile(dir, "a"), KeyFile(dir, "a"), garbage, "garbage.pem"},
		{"leaf as CA", CertFile(dir, "a"), KeyFile(dir, "a"), CertFile(dir, "b"), "is not a CA"},
	}
	for _, c := range cases {
		_, err := ServerTLS(c.cert, c.key, c.caf)
		if err == nil || !strings.Contains(err.Error(), c.wantInErrMessage) {
			t.Errorf("%s: ServerTLS error %v, want it to mention %q", c.name, err, c.wantInErrMessage)
		}
		_, err = ClientTLS(c.cert, c.key, c.caf)
		if err == nil || !strings.Contains(err.Error(), c.wantInErrMessage) {
			t.Errorf("%s: ClientTLS error %v, want it to mention %q", c.name, err, c.wantInErrMessage)
		}
	}
}

func TestLoadCARejectsForeignKey(t *testing.T) {
	a, b := t.TempDir(), t.TempDir()
	if err := WriteDevCA(a); err != nil {
		t.Fatal(err)
	}
	if err := WriteDevCA(b); err != nil {
		t.Fatal(err)
	}
	kb, err := os.ReadFile(filepath.Join(b, CAKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(a, CAKeyFile), kb, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadCA(a); err == nil || !strings.Contains(err.Error(), "does not match") {
		t.Fatalf("LoadCA with a foreign key: %v", err)
	}
}
