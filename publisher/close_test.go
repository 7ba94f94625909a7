package publisher

import (
	"context"
	"github.com/tickcast/tickcast/egress"
	"strings"
	"testing"
	"time"

	"github.com/tickcast/tickcast/internal/mcast/mcasttest"
)

// TestRunReturnsServerFailure: a retransmit server that fails (here: Serve
// called twice) ends Run with its error, and Close before and after Run is harmless.
func TestRunReturnsServerFailure(t *testing.T) {
	p, err := New(Config{
		Lines:          []egress.Line{{Name: "A", Group: mcasttest.FreeGroup(t), Interface: mcasttest.Interface, Loopback: true}},
		RetransmitAddr: "127.0.0.1:0",
	})
	if err != nil {
		t.Fatal(err)
	}
	// Serve the retransmit server once already: Run's Serve then fails.
	done, stop := context.WithCancel(context.Background())
	stop()
	if err := p.rtx.Serve(done); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err = p.Run(ctx, nil)
	if ctx.Err() != nil {
		t.Fatal("Run did not end on the server's failure")
	}
	if err == nil || !strings.Contains(err.Error(), "retransmit server") {
		t.Fatalf("Run = %v, want the retransmit server's failure", err)
	}
	if err := p.Close(); err != nil {
		t.Fatalf("Close after Run: %v", err)
	}
}

func TestCloseWithoutRun(t *testing.T) {
	p, err := New(Config{
		Lines:          []egress.Line{{Name: "A", Group: mcasttest.FreeGroup(t), Interface: mcasttest.Interface, Loopback: true}},
		RetransmitAddr: "127.0.0.1:0",
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
}
