package pki

import (
	"context"
	"crypto/tls"
	"net"
	"strings"
	"testing"
	"time"
)

// handshake runs a TLS handshake over an in-memory pipe and returns the client
// and server errors.
func handshake(t *testing.T, server, client *tls.Config) (clientErr, serverErr error) {
	t.Helper()
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	client = client.Clone()
	client.ServerName = "127.0.0.1"
	done := make(chan error, 1)
	go func() {
		s := tls.Server(b, server)
		err := s.HandshakeContext(ctx)
		if err == nil {
			// TLS 1.3: the server verifies the client certificate in its
			// handshake; read once so a refusal reaches the client.
			_, err = s.Write([]byte{1})
		}
		b.Close()
		done <- err
	}()
	c := tls.Client(a, client)
	clientErr = c.HandshakeContext(ctx)
	if clientErr == nil {
		_, clientErr = c.Read(make([]byte, 1))
	}
	a.Close()
	return clientErr, <-done
}

func TestTestPKIHandshakes(t *testing.T) {
	p, err := NewTestPKI()
	if err != nil {
		t.Fatal(err)
	}
	named, err := p.NamedClientTLS("edge-7")
	if err != nil {
		t.Fatal(err)
	}
	if cn := named.Certificates[0].Leaf.Subject.CommonName; cn != "edge-7" {
		t.Errorf("named client CN %q", cn)
	}
	cases := []struct {
		name           string
		server, client *tls.Config
		ok             bool
		want           string
	}{
		{"mutual", p.ServerTLS(), p.ClientTLS(), true, ""},
		{"named", p.ServerTLS(), named, true, ""},
		{"foreign client", p.ServerTLS(), p.ForeignClientTLS(), false, "unknown authority"},
		{"anonymous client", p.ServerTLS(), p.AnonymousClientTLS(), false, "certificate"},
		{"foreign server", p.ForeignServerTLS(), p.ClientTLS(), false, "unknown authority"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cerr, serr := handshake(t, c.server, c.client)
			if c.ok {
				if cerr != nil || serr != nil {
					t.Fatalf("client %v, server %v", cerr, serr)
				}
				return
			}
			if cerr == nil && serr == nil {
				t.Fatal("handshake succeeded")
			}
			if !strings.Contains(errString(cerr)+errString(serr), c.want) {
				t.Errorf("client %v, server %v; want %q", cerr, serr, c.want)
			}
		})
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
