package wire_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/tickcast/tickcast/wire"
)

// splitAll runs Split and returns copies of the parts it emitted.
func splitAll(pkt []byte, limit int, buf []byte) ([][]byte, error) {
	var parts [][]byte
	err := wire.Split(pkt, limit, buf, func(part []byte) error {
		parts = append(parts, bytes.Clone(part))
		return nil
	})
	return parts, err
}

// checkSplit asserts that parts is a correct split of the valid packet pkt
// into packets of at most limit bytes: each part parses, keeps pkt's header
// with its own count and (for sequenced packets) the sequence of its first
// message, the parts' message streams concatenated equal pkt's, and every
// part but the last is full (the next message would not have fitted).
func checkSplit(t testing.TB, pkt []byte, limit int, parts [][]byte) {
	t.Helper()
	orig := mustParse(t, pkt)
	if len(pkt) <= limit {
		if len(parts) != 1 || !bytes.Equal(parts[0], pkt) {
			t.Fatalf("a packet within the limit came out as %d parts", len(parts))
		}
		return
	}
	var body []byte
	var msgs uint64
	for i, part := range parts {
		if len(part) > limit {
			t.Fatalf("part %d is %d bytes, over the %d limit", i, len(part), limit)
		}
		p := mustParse(t, part)
		want := orig.Header
		want.Count = p.Count
		if orig.Sequenced() {
			want.Seq = orig.Seq + msgs
		}
		if p.Header != want || p.Count == 0 {
			t.Fatalf("part %d header %+v, want %+v", i, p.Header, want)
		}
		if i < len(parts)-1 {
			next := pkt[wire.HeaderLen+len(body)+len(p.Body()):]
			if int(binary.LittleEndian.Uint16(next))+len(part) <= limit {
				t.Fatalf("part %d (%d bytes) had room for the next message", i, len(part))
			}
		}
		body = append(body, p.Body()...)
		msgs += uint64(p.Count)
	}
	if !bytes.Equal(body, orig.Body()) || msgs != uint64(orig.Count) {
		t.Fatalf("the parts hold %d messages (%d bytes), the packet %d (%d bytes)",
			msgs, len(body), orig.Count, len(orig.Body()))
	}
}

// lus returns a packet of n LevelUpdates (40 bytes each) with header h.
func lus(h wire.Header, n int) []byte {
	var pb wire.Builder
	pb.Reset(nil, wire.MaxJumboPacket, h)
	for i := 0; i < n; i++ {
		wire.Add(&pb, wire.LevelUpdate{Instrument: 1, Price: int64(i), Qty: 1})
	}
	return pb.Finish(h.SendTime)
}

func TestSplitWithinLimit(t *testing.T) {
	pkt := lus(wire.Header{Seq: 1}, 29) // 1192 bytes
	calls := 0
	err := wire.Split(pkt, wire.DefaultMaxPacket, nil, func(part []byte) error {
		calls++
		if len(part) != len(pkt) || &part[0] != &pkt[0] {
			t.Fatal("a packet within the limit was copied")
		}
		return nil
	})
	if err != nil || calls != 1 {
		t.Fatalf("err %v, %d calls", err, calls)
	}
}

// Seq advances by the messages before each part in sequenced packets only;
// Count is each part's own.
func TestSplitSeqCount(t *testing.T) {
	const limit = wire.HeaderLen + 3*wire.LevelUpdateLen // three LevelUpdates a part
	for _, c := range []struct {
		name   string
		h      wire.Header
		counts []uint16
		seqs   []uint64
	}{
		{"live", wire.Header{Channel: 7, Session: 8, Seq: 100, SendTime: 9}, []uint16{3, 3, 3, 1}, []uint64{100, 103, 106, 109}},
		{"retransmission", wire.Header{Flags: wire.FlagRetransmission, Channel: 7, Session: 8, Seq: 100, SendTime: 9}, []uint16{3, 3, 3, 1}, []uint64{100, 103, 106, 109}},
		{"snapshot", wire.Header{Flags: wire.FlagSnapshot, Channel: 7, Session: 8, Seq: 5000, SendTime: 9}, []uint16{3, 3, 3, 1}, []uint64{5000, 5000, 5000, 5000}},
		{"end of session", wire.Header{Flags: wire.FlagEndOfSession, Channel: 7, Session: 8, Seq: 110, SendTime: 9}, []uint16{3, 3, 3, 1}, []uint64{110, 110, 110, 110}},
		{"sequence 0", wire.Header{Channel: 7, Session: 8, SendTime: 9}, []uint16{3, 3, 3, 1}, []uint64{0, 0, 0, 0}},
	} {
		t.Run(c.name, func(t *testing.T) {
			pkt := lus(c.h, 10)
			parts, err := splitAll(pkt, limit, make([]byte, 0, limit))
			if err != nil {
				t.Fatal(err)
			}
			if len(parts) != len(c.counts) {
				t.Fatalf("%d parts, want %d", len(parts), len(c.counts))
			}
			for i, part := range parts {
				p := mustParse(t, part)
				if p.Count != c.counts[i] || p.Seq != c.seqs[i] || p.Flags != c.h.Flags ||
					p.Channel != 7 || p.Session != 8 || p.SendTime != 9 {
					t.Errorf("part %d: %+v, want count %d seq %d", i, p.Header, c.counts[i], c.seqs[i])
				}
				for it := p.Messages(); it.Next(); {
					// Message k of the packet has price k.
					if got, want := it.Message().LevelUpdate().Price, int64(i*3)+int64(it.Offset()-wire.HeaderLen)/wire.LevelUpdateLen; got != want {
						t.Errorf("part %d: price %d, want %d", i, got, want)
					}
				}
			}
			checkSplit(t, pkt, limit, parts)
		})
	}
}

func TestSplitHeartbeat(t *testing.T) {
	hb := wire.Header{Flags: wire.FlagHeartbeat, Seq: 12}.Append(nil)
	parts, err := splitAll(hb, wire.HeaderLen, nil)
	if err != nil || len(parts) != 1 || !bytes.Equal(parts[0], hb) {
		t.Fatalf("heartbeat: %d parts, %v", len(parts), err)
	}
	if _, err := splitAll(hb, wire.HeaderLen-1, nil); !errors.Is(err, wire.ErrTooLarge) {
		t.Fatalf("limit below a header: err %v, want %v", err, wire.ErrTooLarge)
	}
}

func TestSplitTooLarge(t *testing.T) {
	var pb wire.Builder
	pb.Reset(nil, wire.DefaultMaxPacket, wire.Header{Seq: 1})
	wire.Add(&pb, wire.LevelUpdate{})
	wire.Add(&pb, wire.Trade{}) // 48 bytes: over the 40 left by a 72-byte limit
	wire.Add(&pb, wire.LevelUpdate{})
	pkt := pb.Finish(0)
	emitted := 0
	err := wire.Split(pkt, wire.HeaderLen+wire.LevelUpdateLen, nil, func([]byte) error { emitted++; return nil })
	if !errors.Is(err, wire.ErrTooLarge) || emitted != 0 {
		t.Fatalf("err %v after %d parts, want %v and none", err, emitted, wire.ErrTooLarge)
	}
	for _, size := range []string{"72-byte", "message 1 (Trade)", "48 bytes", "40 left"} {
		if !strings.Contains(err.Error(), size) {
			t.Errorf("error %q does not say %q", err, size)
		}
	}
	if _, err := splitAll(pkt, wire.HeaderLen+3, nil); !errors.Is(err, wire.ErrTooLarge) {
		t.Fatalf("limit leaving 3 bytes: err %v, want %v", err, wire.ErrTooLarge)
	}
}

func TestSplitMalformed(t *testing.T) {
	pkt := lus(wire.Header{Seq: 1}, 5)
	wire.SetCount(pkt, 4)
	if _, err := splitAll(pkt, 100, nil); !errors.Is(err, wire.ErrCount) {
		t.Fatalf("err %v, want %v", err, wire.ErrCount)
	}
	if _, err := splitAll(pkt[:50], 100, nil); !errors.Is(err, wire.ErrMsgLength) {
		t.Fatalf("err %v, want %v", err, wire.ErrMsgLength)
	}
}

func TestSplitEmitError(t *testing.T) {
	stop := errors.New("link closed")
	calls := 0
	err := wire.Split(lus(wire.Header{Seq: 1}, 10), 100, nil, func([]byte) error {
		calls++
		if calls == 2 {
			return stop
		}
		return nil
	})
	if err != stop || calls != 2 {
		t.Fatalf("err %v after %d calls, want %v after 2", err, calls, stop)
	}
}

// emit may patch a part (mark it a retransmission, say); the next part still
// starts from the original header.
func TestSplitEmitPatches(t *testing.T) {
	pkt := lus(wire.Header{Channel: 1, Session: 2, Seq: 3}, 6)
	var flags []wire.Flags
	err := wire.Split(pkt, wire.HeaderLen+2*wire.LevelUpdateLen, nil, func(part []byte) error {
		p := mustParse(t, part)
		flags = append(flags, p.Flags)
		wire.SetFlags(part, wire.FlagRetransmission)
		wire.SetSendTime(part, 99)
		return nil
	})
	if err != nil || len(flags) != 3 || flags[1] != 0 || flags[2] != 0 {
		t.Fatalf("err %v, flags seen %v", err, flags)
	}
}

// Property: for random packets and limits, the parts are valid, full, within
// the limit, correctly sequenced and together carry exactly the original
// messages, whatever scratch buffer is given.
func TestSplitProperty(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for iter := 0; iter < 3000; iter++ {
		h := wire.Header{
			Flags:   wire.Flags(r.IntN(16)),
			Channel: uint16(r.Uint32()),
			Session: r.Uint64(),
			Seq:     uint64(r.IntN(3)) * r.Uint64() >> 2, // sometimes 0
		}
		size := wire.HeaderLen + r.IntN(wire.MaxJumboPacket-wire.HeaderLen)
		var pb wire.Builder
		pb.Reset(nil, size, h)
		for {
			m, raw := randMsg(r)
			if m == nil && !pb.AddRaw(raw) || m != nil && !wire.Add(&pb, m) {
				break
			}
		}
		pkt := pb.Finish(r.Int64())
		limit := wire.HeaderLen + wire.MsgHeaderLen + r.IntN(len(pkt))
		longest := 0
		for it := mustParse(t, pkt).Messages(); it.Next(); {
			longest = max(longest, it.Message().Len())
		}
		var buf []byte
		switch r.IntN(3) {
		case 0:
			buf = make([]byte, 0, limit)
		case 1:
			buf = make([]byte, 10, 20) // too small: Split allocates its own
		}
		parts, err := splitAll(pkt, limit, buf)
		if len(pkt) > limit && longest > limit-wire.HeaderLen {
			if !errors.Is(err, wire.ErrTooLarge) || len(parts) != 0 {
				t.Fatalf("a %d-byte message split at %d: err %v, %d parts", longest, limit, err, len(parts))
			}
			continue
		}
		if err != nil {
			t.Fatalf("split %d bytes at %d: %v", len(pkt), limit, err)
		}
		checkSplit(t, pkt, limit, parts)
	}
}
