package link

import (
	"context"
	"testing"

	"github.com/tickcast/tickcast/internal/pki"
)

// A publisher restarting on the same link port must be able to bind it as
// soon as the old server's Serve returned.
func TestServerFreesItsPortOnReturn(t *testing.T) {
	tp, err := pki.NewTestPKI("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	addr := "127.0.0.1:0"
	for i := 0; i < 20; i++ {
		s, err := NewServer(ServerConfig{Addr: addr, TLS: tp.ServerTLS(), Feed: noFeed{}})
		if err != nil {
			t.Fatalf("round %d: %v", i, err)
		}
		addr = s.Addr().String()
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error)
		go func() { done <- s.Serve(ctx) }()
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
}

// noFeed serves nothing.
type noFeed struct{ Feed }
