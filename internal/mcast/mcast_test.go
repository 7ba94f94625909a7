package mcast

import (
	"bytes"
	"errors"
	"net"
	"net/netip"
	"os"
	"testing"
	"time"

	"github.com/tickcast/tickcast/internal/mcast/mcasttest"
	"github.com/tickcast/tickcast/wire"
)

func TestBatchRoundTrip(t *testing.T) {
	t.Parallel()
	for _, ttl := range []int{0, 1} {
		t.Run("ttl"+string(rune('0'+ttl)), func(t *testing.T) {
			t.Parallel()
			r := listen(t, mcasttest.Group(t), 0, func(c *RecvConfig) { c.BatchSize = 32 })
			s := dial(t, r.LocalAddr(), ttl)

			// 2000 datagrams of varied sizes up to the line's limit, sent in
			// batches longer than one sendmmsg chunk.
			const total = 2000
			var want [][]byte
			for i := range total {
				want = append(want, packet(uint32(i), 4+(i*37)%(wire.DefaultMaxPacket-3)))
			}
			for off := 0; off < total; off += 150 {
				batch := want[off:min(off+150, total)]
				n, err := s.WriteBatch(batch)
				if err != nil || n != len(batch) {
					t.Fatalf("WriteBatch = %d, %v; want %d, nil", n, err, len(batch))
				}
			}

			got := readN(t, r, total)
			if len(got.data) != total {
				t.Fatalf("got %d datagrams, want %d", len(got.data), total)
			}
			// One socket on lo is a FIFO: everything arrives, intact, in order.
			for i := range got.data {
				if !bytes.Equal(got.data[i], want[i]) {
					t.Fatalf("datagram %d: got seq %d len %d, want seq %d len %d",
						i, seqOf(got.data[i]), len(got.data[i]), i, len(want[i]))
				}
				if got.src[i] != s.LocalAddr() {
					t.Fatalf("datagram %d from %v, want the sender's %v", i, got.src[i], s.LocalAddr())
				}
			}
			for _, b := range got.batches {
				if b < 1 || b > 32 {
					t.Fatalf("batch of %d datagrams, want 1..32", b)
				}
			}
			st := r.Stats()
			if st.Datagrams != total || st.Batches != uint64(len(got.batches)) || st.Truncated != 0 {
				t.Errorf("stats %+v, want %d datagrams in %d batches", st, total, len(got.batches))
			}
		})
	}
}

func TestSameGroupTwoReceivers(t *testing.T) {
	t.Parallel()
	g := mcasttest.Group(t)
	r1 := listen(t, g, 0, nil)
	r2 := listen(t, g, r1.LocalAddr().Port(), nil)
	if r1.LocalAddr() != r2.LocalAddr() {
		t.Fatalf("receivers on %v and %v, want the same group:port", r1.LocalAddr(), r2.LocalAddr())
	}
	s := dial(t, r1.LocalAddr(), 1)
	const total = 500
	pkts := make([][]byte, total)
	for i := range pkts {
		pkts[i] = packet(uint32(i), 100)
	}
	if _, err := s.WriteBatch(pkts); err != nil {
		t.Fatal(err)
	}
	for _, r := range []*Receiver{r1, r2} {
		got := readN(t, r, total)
		for i, d := range got.data {
			if !bytes.Equal(d, pkts[i]) {
				t.Fatalf("receiver %v datagram %d: seq %d, want %d", r.LocalAddr(), i, seqOf(d), i)
			}
		}
	}
}

func TestGroupsIsolated(t *testing.T) {
	t.Parallel()
	g1, g2 := mcasttest.Group(t), mcasttest.Group(t)
	r1 := listen(t, g1, 0, nil)
	port := r1.LocalAddr().Port()
	r2 := listen(t, g2, port, nil)
	s1 := dial(t, r1.LocalAddr(), 0)
	s2 := dial(t, r2.LocalAddr(), 0)

	// Traffic for g2 first, then one marker each. A receiver that saw the
	// other group's traffic would read it before its own marker (lo is FIFO).
	for i := range 100 {
		if err := s2.Write(packet(uint32(i), 64)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s1.Write([]byte("marker-1")); err != nil {
		t.Fatal(err)
	}
	if err := s2.Write([]byte("marker-2")); err != nil {
		t.Fatal(err)
	}
	if got := readN(t, r1, 1); string(got.data[0]) != "marker-1" {
		t.Fatalf("receiver on %v first got %q, want only its own group's marker", r1.LocalAddr(), got.data[0])
	}
	got := readN(t, r2, 101)
	for i := range 100 {
		if seqOf(got.data[i]) != uint32(i) {
			t.Fatalf("receiver on %v datagram %d: seq %d", r2.LocalAddr(), i, seqOf(got.data[i]))
		}
	}
	if string(got.data[100]) != "marker-2" {
		t.Fatalf("receiver on %v got %q, want its marker", r2.LocalAddr(), got.data[100])
	}
}

func TestKernelTimestamps(t *testing.T) {
	t.Parallel()
	r := listen(t, mcasttest.Group(t), 0, func(c *RecvConfig) { c.Timestamps = true })
	s := dial(t, r.LocalAddr(), 0)
	for i := range 10 {
		if err := s.Write(packet(uint32(i), 64)); err != nil {
			t.Fatal(err)
		}
	}
	got := readN(t, r, 10)
	now := time.Now().UnixNano()
	for i, ts := range got.ktime {
		if ts == 0 {
			t.Fatalf("datagram %d has no kernel timestamp", i)
		}
		if d := time.Duration(now - ts); d < -time.Minute || d > time.Minute {
			t.Fatalf("datagram %d kernel time %v is %v from now", i, time.Unix(0, ts), d)
		}
		if i > 0 && ts < got.ktime[i-1] {
			t.Fatalf("datagram %d kernel time went back by %v", i, time.Duration(got.ktime[i-1]-ts))
		}
	}

	// Without Timestamps the field stays 0.
	r2 := listen(t, mcasttest.Group(t), 0, nil)
	if err := dial(t, r2.LocalAddr(), 0).Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
	if got := readN(t, r2, 1); got.ktime[0] != 0 {
		t.Fatalf("KernelTime %d without Timestamps, want 0", got.ktime[0])
	}
}

func TestTruncatedDropped(t *testing.T) {
	t.Parallel()
	r := listen(t, mcasttest.Group(t), 0, func(c *RecvConfig) { c.MaxPacket = 64 })
	s := dial(t, r.LocalAddr(), 0)
	if err := s.Write(packet(1, 65)); err != nil {
		t.Fatal(err)
	}
	if err := s.Write(packet(2, 64)); err != nil {
		t.Fatal(err)
	}
	got := readN(t, r, 1)
	if len(got.data) != 1 || seqOf(got.data[0]) != 2 || len(got.data[0]) != 64 {
		t.Fatalf("got %d datagrams, first seq %d; want only the one that fits", len(got.data), seqOf(got.data[0]))
	}
	if st := r.Stats(); st.Truncated != 1 {
		t.Fatalf("Truncated = %d, want 1", st.Truncated)
	}
}

func TestInterfaceByAddress(t *testing.T) {
	t.Parallel()
	g := mcasttest.Group(t)
	r, err := Listen(RecvConfig{Group: netip.AddrPortFrom(g, 0), Interface: "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if r.Interface().Flags&net.FlagLoopback == 0 {
		t.Fatalf("127.0.0.1 resolved to %s, want the loopback interface", r.Interface().Name)
	}
	s, err := Dial(SendConfig{Group: r.LocalAddr(), Interface: "127.0.0.1", Loopback: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.LocalAddr().Addr() != netip.MustParseAddr("127.0.0.1") {
		t.Fatalf("sending from %v, want 127.0.0.1", s.LocalAddr())
	}
	if err := s.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	if got := readN(t, r, 1); string(got.data[0]) != "hello" {
		t.Fatalf("got %q", got.data[0])
	}
}

func TestCloseUnblocksReader(t *testing.T) {
	t.Parallel()
	r := listen(t, mcasttest.Group(t), 0, nil)
	done := make(chan error, 1)
	go func() {
		_, err := r.ReadBatch()
		done <- err
	}()
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if !errors.Is(err, net.ErrClosed) {
			t.Fatalf("ReadBatch after Close: %v, want net.ErrClosed", err)
		}
	case <-time.After(waitFor):
		t.Fatal("ReadBatch still blocked after Close")
	}
	if err := r.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := r.ReadBatch(); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("ReadBatch on a closed receiver: %v, want net.ErrClosed", err)
	}

	s := dial(t, netip.AddrPortFrom(mcasttest.Group(t), 9), 0)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if err := s.Write([]byte("x")); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Write on a closed sender: %v, want net.ErrClosed", err)
	}
}

func TestReadDeadline(t *testing.T) {
	t.Parallel()
	r := listen(t, mcasttest.Group(t), 0, nil)
	if err := r.SetReadDeadline(time.Now().Add(-time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := r.ReadBatch(); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("ReadBatch past the deadline: %v, want os.ErrDeadlineExceeded", err)
	}
}

func TestTooBig(t *testing.T) {
	t.Parallel()
	r := listen(t, mcasttest.Group(t), 0, nil)
	s := dial(t, r.LocalAddr(), 0)
	if s.MaxPacket() != wire.DefaultMaxPacket {
		t.Fatalf("MaxPacket %d, want the default %d", s.MaxPacket(), wire.DefaultMaxPacket)
	}
	// The datagrams before the big one go out; the big one and those after
	// it do not, and the error says which and why.
	pkts := [][]byte{packet(0, 100), packet(1, wire.DefaultMaxPacket), packet(2, 1500), packet(3, 100)}
	n, err := s.WriteBatch(pkts)
	if n != 2 {
		t.Fatalf("WriteBatch sent %d, want 2", n)
	}
	var tb *TooBigError
	if !errors.Is(err, ErrTooBig) || !errors.As(err, &tb) || tb.Size != 1500 || tb.Limit != 1200 {
		t.Fatalf("WriteBatch error %v, want a TooBigError{1500, 1200}", err)
	}
	const msg = "datagram of 1500 bytes exceeds the line's 1200-byte limit"
	if !bytes.Contains([]byte(err.Error()), []byte(msg)) {
		t.Fatalf("error %q does not say %q", err, msg)
	}
	if err := s.Write(make([]byte, 1201)); !errors.Is(err, ErrTooBig) {
		t.Fatalf("Write of 1201 bytes: %v, want ErrTooBig", err)
	}
	got := readN(t, r, 2)
	if seqOf(got.data[0]) != 0 || seqOf(got.data[1]) != 1 {
		t.Fatalf("got seqs %d, %d; want 0, 1", seqOf(got.data[0]), seqOf(got.data[1]))
	}

	// A jumbo line carries 8192 bytes.
	sj, err := Dial(SendConfig{Group: r.LocalAddr(), Interface: "lo", Loopback: true, MaxPacket: wire.MaxJumboPacket})
	if err != nil {
		t.Fatal(err)
	}
	defer sj.Close()
	if err := sj.Write(packet(9, wire.MaxJumboPacket)); err != nil {
		t.Fatal(err)
	}
	if got := readN(t, r, 1); len(got.data[0]) != wire.MaxJumboPacket {
		t.Fatalf("jumbo datagram arrived with %d bytes", len(got.data[0]))
	}
}

func TestKernelDropsCounted(t *testing.T) {
	t.Parallel()
	// A tiny receive buffer that nobody reads overflows at once.
	r := listen(t, mcasttest.Group(t), 0, func(c *RecvConfig) { c.ReadBuffer = 4096 })
	s := dial(t, r.LocalAddr(), 0)
	pkts := make([][]byte, 200)
	for i := range pkts {
		pkts[i] = packet(uint32(i), 1000)
	}
	if _, err := s.WriteBatch(pkts); err != nil {
		t.Fatal(err)
	}
	// The kernel reports its count on the datagrams queued after a drop:
	// drain, send one more, until the count shows.
	if err := r.SetReadDeadline(time.Now().Add(waitFor)); err != nil {
		t.Fatal(err)
	}
	sent := len(pkts)
	for r.Stats().KernelDrops == 0 {
		if _, err := r.ReadBatch(); err != nil {
			t.Fatalf("no drop reported after %d datagrams: %v", sent, err)
		}
		if err := s.Write(packet(uint32(sent), 1000)); err != nil {
			t.Fatal(err)
		}
		sent++
	}
	st := r.Stats()
	if st.Datagrams+st.KernelDrops > uint64(sent) {
		t.Fatalf("received %d and dropped %d of %d sent", st.Datagrams, st.KernelDrops, sent)
	}
}
