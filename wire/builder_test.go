package wire_test

import (
	"testing"

	"github.com/tickcast/tickcast/wire"
)

func TestBuilderLimit(t *testing.T) {
	buf := make([]byte, 0, wire.DefaultMaxPacket)
	var pb wire.Builder
	pb.Reset(buf, wire.DefaultMaxPacket, wire.Header{Channel: 4, Session: 5, Seq: 6})
	if pb.Len() != wire.HeaderLen || pb.Count() != 0 || pb.Room() != wire.DefaultMaxPacket-wire.HeaderLen {
		t.Fatalf("fresh builder: Len %d Count %d Room %d", pb.Len(), pb.Count(), pb.Room())
	}
	n := 0
	for wire.Add(&pb, wire.LevelUpdate{Instrument: uint32(n)}) {
		n++
	}
	// (1200-32)/40 = 29 LevelUpdates fit, with 8 bytes to spare.
	if n != 29 || pb.Room() != 8 {
		t.Fatalf("%d LevelUpdates fit with %d bytes left, want 29 and 8", n, pb.Room())
	}
	if !pb.AddRaw([]byte{8, 0, 0x7f, 0, 1, 2, 3, 4}) || pb.Room() != 0 || pb.AddRaw([]byte{4, 0, 0x7f, 0}) {
		t.Fatal("the last 8 bytes were not filled exactly")
	}
	pkt := pb.Finish(123)
	if &pkt[0] != &buf[:1][0] {
		t.Fatal("Finish does not alias the buffer given to Reset")
	}
	p := mustParse(t, pkt)
	if p.Count != 30 || p.SendTime != 123 || len(pkt) != wire.DefaultMaxPacket {
		t.Fatalf("header %+v, %d bytes", p.Header, len(pkt))
	}

	// Reset reuses the buffer for a fresh packet.
	pb.Reset(pkt, wire.DefaultMaxPacket, wire.Header{Flags: wire.FlagHeartbeat, Seq: 40})
	hb := pb.Finish(124)
	if p := mustParse(t, hb); p.Count != 0 || p.Seq != 40 || p.SendTime != 124 || len(hb) != wire.HeaderLen {
		t.Fatalf("heartbeat after reuse: %+v", p.Header)
	}
}

// A packet holds at most 65535 messages: the count is a u16.
func TestBuilderMaxMessages(t *testing.T) {
	limit := wire.HeaderLen + wire.MaxMessages*wire.MsgHeaderLen + 64 // room is not the limit
	var pb wire.Builder
	pb.Reset(make([]byte, 0, limit), limit, wire.Header{Seq: 1})
	empty := []byte{4, 0, 0x7f, 0}
	for i := 0; i < wire.MaxMessages; i++ {
		if !pb.AddRaw(empty) {
			t.Fatalf("message %d refused", i)
		}
	}
	if pb.Room() != 64 {
		t.Fatalf("room %d", pb.Room())
	}
	if pb.AddRaw(empty) || wire.Add(&pb, wire.SnapshotRequest{}) {
		t.Fatal("message 65536 accepted")
	}
	p := mustParse(t, pb.Finish(0))
	if p.Count != wire.MaxMessages || p.End() != 1+wire.MaxMessages {
		t.Fatalf("header %+v", p.Header)
	}
}
