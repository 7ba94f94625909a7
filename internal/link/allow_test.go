package link

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/quic-go/quic-go"
	"github.com/tickcast/tickcast/internal/testwait"
	"github.com/tickcast/tickcast/wire"
)

// TestAllowNames: a server with an allow list refuses a certificate of its
// CA whose name is not on it, with a reason the client's Dial returns
// (counted, logged once per name); SetAllowNames closes a connected client
// it no longer allows with CodeNotAllowed, whose Run returns the reason, and
// lets a newly allowed one in; an empty list allows everyone again.
func TestAllowNames(t *testing.T) {
	t.Parallel()
	p := newPKI(t)
	var logs testwait.Log
	s := testServer(t, p, &fakeFeed{}, func(cfg *ServerConfig) {
		cfg.AllowNames = []string{"edge-a"}
		cfg.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	})
	tlsOf := func(name string) ClientConfig {
		conf, err := p.NamedClientTLS(name)
		if err != nil {
			t.Fatal(err)
		}
		return ClientConfig{TLS: conf, Subscriptions: []wire.Subscribe{liveSub(1)}}
	}
	refused := func(name string) {
		t.Helper()
		cfg := tlsOf(name)
		err := dialErr(t, s.Addr().String(), cfg.TLS)
		if err == nil || !strings.Contains(err.Error(), "not allowed") || !strings.Contains(err.Error(), `\"`+name+`\"`) ||
			!strings.Contains(err.Error(), "code 5") {
			t.Fatalf("Dial as %s: %v, want a refusal naming it", name, err)
		}
	}

	a := dial(t, s.Addr().String(), tlsOf("edge-a"))
	runA := make(chan error, 1)
	go func() { runA <- a.Run(context.Background(), &recorder{}) }()
	refused("edge-b")
	refused("edge-b")
	st := s.Stats()
	if st.Clients != 1 || st.NotAllowed != 2 || st.NotAllowedByName["edge-b"] != 2 || st.Refused != 2 || st.Accepted != 1 {
		t.Fatalf("stats %+v", st)
	}
	if n := strings.Count(logs.String(), "not on the allow list"); n != 1 {
		t.Fatalf("%d refusal log lines, want 1:\n%s", n, logs.String())
	}

	// edge-b in, edge-a out.
	if n := s.SetAllowNames([]string{"edge-b"}); n != 1 {
		t.Fatalf("SetAllowNames closed %d clients, want 1", n)
	}
	var err error
	select {
	case err = <-runA:
	case <-time.After(30 * time.Second):
		t.Fatal("edge-a's Run did not return after it was disallowed")
	}
	var ae *quic.ApplicationError
	if !errors.As(err, &ae) || ae.ErrorCode != CodeNotAllowed || !strings.Contains(err.Error(), `certificate "edge-a" is not on this server's allow list`) {
		t.Fatalf("edge-a's Run: %v, want CodeNotAllowed with the reason", err)
	}
	refused("edge-a")
	b := testClient(t, s, tlsOf("edge-b"), &recorder{})
	_ = b
	waitFor(t, "edge-b alone connected", func() bool {
		st := s.Stats()
		return st.Clients == 1 && len(st.Peers) == 1 && st.Peers[0].Name == "edge-b"
	})
	if st := s.Stats(); st.NotAllowedByName["edge-a"] != 2 { // disconnected, then refused
		t.Fatalf("stats %+v", st)
	}

	// Everyone again.
	if n := s.SetAllowNames(nil); n != 0 {
		t.Fatalf("SetAllowNames(nil) closed %d", n)
	}
	testClient(t, s, tlsOf("edge-a"), &recorder{})
	waitFor(t, "both connected", func() bool { return s.Stats().Clients == 2 })
}
