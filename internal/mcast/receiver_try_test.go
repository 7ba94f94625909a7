package mcast

import (
	"net/netip"
	"testing"
	"time"

	"github.com/tickcast/tickcast/internal/mcast/mcasttest"
)

func TestTryReadBatch(t *testing.T) {
	r, err := Listen(RecvConfig{Group: netip.AddrPortFrom(mcasttest.Group(t), 0), Interface: mcasttest.Interface})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if dgs, err := r.TryReadBatch(); err != nil || len(dgs) != 0 {
		t.Fatalf("TryReadBatch on an empty socket: %d datagrams, %v", len(dgs), err)
	}
	s, err := Dial(SendConfig{Group: r.LocalAddr(), Interface: mcasttest.Interface, Loopback: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Write([]byte("spin")); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		dgs, err := r.TryReadBatch()
		if err != nil {
			t.Fatal(err)
		}
		if len(dgs) == 1 && string(dgs[0].Data) == "spin" {
			return
		}
		if len(dgs) != 0 || time.Now().After(deadline) {
			t.Fatalf("got %d datagrams", len(dgs))
		}
	}
}
