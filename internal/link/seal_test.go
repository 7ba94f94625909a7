package link

import (
	"bytes"
	"testing"
	"time"

	"github.com/tickcast/tickcast/wire"
)

func testSealer(t testing.TB, b byte) *sealer {
	t.Helper()
	var k keyMaterial
	copy(k.key[:], bytes.Repeat([]byte{b}, 16))
	k.salt = [4]byte{b, b, b, b}
	return k.sealer()
}

func TestSealRoundTrip(t *testing.T) {
	s, other := testSealer(t, 1), testSealer(t, 2)
	pkt := mkPacket(0, 1, 1, 7, 3)
	b := s.seal(nil, typeData, 42, pkt)
	if len(b) != len(pkt)+SealOverhead || !isData(b) {
		t.Fatalf("sealed %d bytes (isData %v), want %d", len(b), isData(b), len(pkt)+SealOverhead)
	}
	if _, _, err := other.open(bytes.Clone(b), typeData); err == nil {
		t.Fatal("opened under another link's key")
	}
	if _, _, err := s.open(bytes.Clone(b), typeReport); err == nil {
		t.Fatal("opened as another type")
	}
	flipped := bytes.Clone(b)
	flipped[3] ^= 1 // the counter is authenticated too
	if _, _, err := s.open(flipped, typeData); err == nil {
		t.Fatal("opened with a changed counter")
	}
	counter, got, err := s.open(b, typeData)
	if err != nil || counter != 42 || !bytes.Equal(got, pkt) {
		t.Fatalf("open: %d %x %v", counter, got, err)
	}
}

func TestReplayWindow(t *testing.T) {
	var w replayWindow
	for _, tc := range []struct {
		counter uint64
		want    bool
	}{
		{0, false}, {1, true}, {1, false}, {3, true}, {2, true}, {2, false},
		{100, true}, {36, false /* 64 behind */}, {37, true}, {37, false}, {99, true}, {200, true}, {100, false},
	} {
		if got := w.accept(tc.counter); got != tc.want {
			t.Fatalf("accept(%d) = %v, want %v", tc.counter, got, tc.want)
		}
	}
}

// fuzzConn is a server-side connection fed by hand, for the data path
// fuzz target.
func fuzzConn(t testing.TB) *serverConn {
	s := &Server{slowLoss: DefaultSlowLoss, slowCutoff: time.Second, log: quietLog()}
	c := &serverConn{s: s, slow: make(chan struct{}), reqs: make(chan wire.RetransmitRequest, nackQueue)}
	c.data = &dataSender{}
	c.rep.key = testSealer(t, 3)
	return c
}

// FuzzDataPath feeds arbitrary datagrams to both ends of the data path:
// the server's handling of what clients send (reports, NACKs), raw and
// sealed under the link's key so the parsers behind authentication are
// reached too, and the client's opening of what the server sends. Nothing
// panics, and what fails is counted.
func FuzzDataPath(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{typeReport})
	f.Add(report{received: 5}.append(nil))
	f.Add(wire.AppendControl(nil, 1, 5, 0, wire.RetransmitRequest{Channel: 1, Session: 5, FirstSeq: 1, Count: 3}))
	f.Add(wire.AppendControl(nil, 1, 5, 0, wire.SnapshotRequest{Channel: 1}))
	f.Add(mkPacket(0, 1, 1, 1, 2))
	f.Fuzz(func(t *testing.T, in []byte) {
		c := fuzzConn(t)
		key := c.rep.key
		now := time.Now()
		c.fromClient(in, now)
		c.fromClient(key.seal(nil, typeReport, 1, in), now)
		c.fromClient(key.seal(nil, typeRequest, 2, in), now)
		c.fromClient(key.seal(nil, typeData, 3, in), now) // a type clients do not send
		if c.badReports.Load()+c.badCtl.Load()+uint64(len(c.reqs)) == 0 && len(in) != reportSize {
			t.Fatalf("nothing counted or queued for %x", in)
		}
		for len(c.reqs) > 0 {
			r := <-c.reqs
			if got, err := wire.DecodeRetransmitRequest(r.Append(nil)); err != nil || got != r {
				t.Fatalf("NACK %+v does not round-trip", r)
			}
		}
		down := testSealer(t, 4)
		_, _, _ = down.open(bytes.Clone(in), typeData)
		if _, pkt, err := down.open(down.seal(nil, typeData, 9, in), typeData); err != nil || !bytes.Equal(pkt, in) {
			t.Fatalf("round trip of %x: %x %v", in, pkt, err)
		}
	})
}

// Sealing and opening a datagram, and queueing it at the client, allocate
// nothing: they run once per packet on both ends.
func TestDataPathAllocs(t *testing.T) {
	s := testSealer(t, 1)
	q := newLiveQueue(4)
	pkt := mkPacket(0, 1, 1, 7, 10)
	buf := make([]byte, 0, MaxDataPacket+SealOverhead)
	rx := make([]byte, 8)
	if n := testing.AllocsPerRun(1000, func() {
		buf = s.seal(buf, typeData, 1, pkt)
		q.push2(rx, buf)
		b, _ := q.pop()
		if _, _, err := s.open(b[8:], typeData); err != nil {
			t.Fatal(err)
		}
		q.release(b)
	}); n != 0 {
		t.Fatalf("%v allocs per datagram, want 0", n)
	}
}
