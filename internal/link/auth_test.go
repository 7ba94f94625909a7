package link

import (
	"context"
	"crypto/tls"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/quic-go/quic-go"
	"github.com/tickcast/tickcast/internal/testwait"
	"github.com/tickcast/tickcast/wire"
)

// dialErr dials s with tlsConf and returns Dial's error.
func dialErr(t *testing.T, addr string, tlsConf *tls.Config) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := Dial(ctx, ClientConfig{Addr: addr, TLS: tlsConf, Subscriptions: []wire.Subscribe{liveSub(1)}, Logger: quietLog()})
	if err == nil {
		c.Close()
	}
	return err
}

func TestServerRefusesUnauthenticatedClients(t *testing.T) {
	t.Parallel()
	p := newPKI(t)
	cases := []struct {
		name       string
		tls        *tls.Config
		wantReason string
	}{
		{"foreign CA", p.ForeignClientTLS(), "unknown authority"},
		{"no certificate", p.AnonymousClientTLS(), "no client certificate"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			var logs testwait.Log
			s := testServer(t, p, &fakeFeed{}, func(cfg *ServerConfig) {
				cfg.Logger = slog.New(slog.NewTextHandler(&logs, nil))
			})
			err := dialErr(t, s.Addr().String(), c.tls)
			if err == nil {
				t.Fatal("Dial succeeded")
			}
			if !strings.Contains(err.Error(), "server refused our certificate") {
				t.Errorf("Dial error does not say the server refused us: %v", err)
			}
			st := s.Stats()
			if st.Refused != 1 || st.Clients != 0 || st.Accepted != 0 {
				t.Errorf("stats %+v", st)
			}
			if n := st.Disconnects[Disconnect{Reason: DisconnectRefused}]; n != 1 || len(st.Disconnects) != 1 {
				t.Errorf("disconnects %v, want one refused, without a name", st.Disconnects)
			}
			var refusals []string
			for _, l := range strings.Split(logs.String(), "\n") {
				if strings.Contains(l, "refused peer") {
					refusals = append(refusals, l)
				}
			}
			if len(refusals) != 1 {
				t.Fatalf("%d refusal log lines, want 1:\n%s", len(refusals), logs.String())
			}
			if !strings.Contains(refusals[0], "remote=127.0.0.1:") || !strings.Contains(refusals[0], c.wantReason) {
				t.Errorf("refusal line lacks the remote address or %q: %s", c.wantReason, refusals[0])
			}
		})
	}
}

func TestServerRefusesOtherALPN(t *testing.T) {
	t.Parallel()
	p := newPKI(t)
	var logs testwait.Log
	s := testServer(t, p, &fakeFeed{}, func(cfg *ServerConfig) {
		cfg.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	})
	conf := p.ClientTLS()
	conf.NextProtos = []string{"h3"}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := quic.DialAddr(ctx, s.Addr().String(), conf, &quic.Config{})
	if err == nil {
		conn.CloseWithError(0, "")
		t.Fatal("handshake with ALPN h3 succeeded")
	}
	if s.Stats().Refused != 1 || !strings.Contains(logs.String(), "ALPN") {
		t.Errorf("refused %d, logs:\n%s", s.Stats().Refused, logs.String())
	}
}

func TestClientRefusesForeignServer(t *testing.T) {
	t.Parallel()
	p := newPKI(t)
	s := testServer(t, p, &fakeFeed{}, func(cfg *ServerConfig) { cfg.TLS = p.ForeignServerTLS() })
	err := dialErr(t, s.Addr().String(), p.ClientTLS())
	if err == nil {
		t.Fatal("Dial succeeded")
	}
	if !strings.Contains(err.Error(), "server certificate refused") || !strings.Contains(err.Error(), "unknown authority") {
		t.Errorf("Dial error: %v", err)
	}
	if st := s.Stats(); st.Clients != 0 || st.Accepted != 0 {
		t.Errorf("stats %+v", st)
	}
}

func TestConfigValidation(t *testing.T) {
	t.Parallel()
	p := newPKI(t)
	noCA := p.ServerTLS()
	noCA.ClientCAs = nil
	for _, c := range []struct {
		cfg  ServerConfig
		want string
	}{
		{ServerConfig{TLS: p.ServerTLS(), Feed: &fakeFeed{}}, "Addr"},
		{ServerConfig{Addr: "127.0.0.1:0", Feed: &fakeFeed{}}, "TLS is nil"},
		{ServerConfig{Addr: "127.0.0.1:0", TLS: noCA, Feed: &fakeFeed{}}, "ClientCAs"},
		{ServerConfig{Addr: "127.0.0.1:0", TLS: &tls.Config{ClientCAs: p.CA.Pool()}, Feed: &fakeFeed{}}, "no server certificate"},
		{ServerConfig{Addr: "127.0.0.1:0", TLS: p.ServerTLS()}, "Feed"},
		{ServerConfig{Addr: "127.0.0.1:0", TLS: p.ServerTLS(), Feed: &fakeFeed{}, QueueLen: -1}, "QueueLen -1"},
	} {
		if _, err := NewServer(c.cfg); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("NewServer: %v, want it to mention %q", err, c.want)
		}
	}
	ctx := context.Background()
	for _, c := range []struct {
		cfg  ClientConfig
		want string
	}{
		{ClientConfig{TLS: p.ClientTLS(), Subscriptions: []wire.Subscribe{liveSub(1)}}, "Addr"},
		{ClientConfig{Addr: "127.0.0.1:1", Subscriptions: []wire.Subscribe{liveSub(1)}}, "TLS"},
		{ClientConfig{Addr: "127.0.0.1:1", TLS: p.ClientTLS()}, "Subscriptions is empty"},
		{ClientConfig{Addr: "127.0.0.1:1", TLS: p.ClientTLS(), Subscriptions: []wire.Subscribe{{Channel: 3, Mode: 9}}}, "Subscriptions[0] (channel 3): unknown mode 9"},
	} {
		if _, err := Dial(ctx, c.cfg); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Dial: %v, want it to mention %q", err, c.want)
		}
	}
}
