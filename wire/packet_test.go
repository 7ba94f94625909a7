package wire_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"testing"

	"github.com/tickcast/tickcast/wire"
)

// randMsg returns a message of a random known type with random fields, or,
// one time in twelve, raw bytes of an unknown type (m is then nil).
func randMsg(r *rand.Rand) (m wire.Encoder, raw []byte) {
	switch r.IntN(13) {
	case 0:
		d := wire.InstrumentDef{Instrument: r.Uint32(), PriceExp: int8(r.Uint32()), QtyExp: int8(r.Uint32())}
		for i := range d.Symbol {
			d.Symbol[i] = byte(r.Uint32())
		}
		for i := range d.Venue {
			d.Venue[i] = byte(r.Uint32())
		}
		m = d
	case 1:
		m = wire.LevelUpdate{Instrument: r.Uint32(), Price: r.Int64() - r.Int64(), Qty: r.Int64(),
			ExchTime: r.Uint64(), Side: wire.Side(r.IntN(2)), EndOfEvent: r.IntN(2) == 0}
	case 2:
		m = wire.Trade{Instrument: r.Uint32(), Price: r.Int64(), Qty: r.Int64() - r.Int64(),
			ExchTime: r.Uint64(), TradeID: r.Uint64(), Aggressor: wire.Aggressor(r.IntN(3))}
	case 3:
		m = wire.BookClear{Instrument: r.Uint32(), ExchTime: r.Uint64()}
	case 4:
		m = wire.InstrumentStatus{Instrument: r.Uint32(), Status: wire.Status(r.Uint32())}
	case 5:
		m = wire.BookChecksum{Instrument: r.Uint32(), CRC: r.Uint32(), Bids: uint16(r.Uint32()),
			Asks: uint16(r.Uint32()), ExchTime: r.Uint64()}
	case 6:
		m = wire.RetransmitRequest{Channel: uint16(r.Uint32()), Count: r.Uint32(), Token: r.Uint32(), Session: r.Uint64(), FirstSeq: r.Uint64()}
	case 7:
		m = wire.RetransmitReject{Channel: uint16(r.Uint32()), Reason: wire.RejectReason(r.Uint32()),
			Count: r.Uint32(), RetryAfterMs: r.Uint32(), Session: r.Uint64(), FirstSeq: r.Uint64()}
	case 8:
		m = wire.SnapshotRequest{Channel: uint16(r.Uint32()), Instrument: r.Uint32()}
	case 9:
		m = wire.SnapshotEnd{Channel: uint16(r.Uint32()), Instruments: r.Uint32(), LastSeq: r.Uint64()}
	case 10:
		m = wire.Subscribe{Channel: uint16(r.Uint32()), Mode: wire.SubscribeMode(r.Uint32()),
			Session: r.Uint64(), FromSeq: r.Uint64()}
	case 11:
		m = wire.RetransmitToken{Channel: uint16(r.Uint32()), Token: r.Uint32()}
	default:
		raw = make([]byte, wire.MsgHeaderLen+r.IntN(60))
		binary.LittleEndian.PutUint16(raw, uint16(len(raw)))
		raw[2] = byte(0x80 + r.IntN(0x80)) // no known type is ≥ 0x80
		raw[3] = byte(r.Uint32())
		for i := wire.MsgHeaderLen; i < len(raw); i++ {
			raw[i] = byte(r.Uint32())
		}
		return nil, raw
	}
	return m, m.Append(nil)
}

// Random messages through Builder → Parse → Iter → typed accessors come back
// equal, in order, with sequences counting up from the header's.
func TestRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for iter := 0; iter < 2000; iter++ {
		h := wire.Header{
			Flags:   wire.Flags(r.IntN(16)),
			Channel: uint16(r.Uint32()),
			Count:   uint16(r.Uint32()), // Reset must ignore it
			Session: r.Uint64(),
			Seq:     r.Uint64() >> 1,
		}
		limit := wire.HeaderLen + r.IntN(wire.MaxJumboPacket-wire.HeaderLen+1)
		var pb wire.Builder
		pb.Reset(make([]byte, 7, limit), limit, h) // buf's length is ignored
		var want []wire.Encoder
		var raws [][]byte
		for {
			m, raw := randMsg(r)
			room := pb.Room()
			var added bool
			if m == nil {
				added = pb.AddRaw(raw)
			} else {
				added = wire.Add(&pb, m)
			}
			if added != (len(raw) <= room) {
				t.Fatalf("added %v a %d-byte message with %d bytes of room", added, len(raw), room)
			}
			if !added {
				if pb.Room() != room {
					t.Fatal("a refused message changed the packet")
				}
				break
			}
			want, raws = append(want, m), append(raws, raw)
			if pb.Count() != len(raws) || pb.Room() != room-len(raw) || pb.Len() != limit-pb.Room() {
				t.Fatalf("Count %d Room %d Len %d after %d messages", pb.Count(), pb.Room(), pb.Len(), len(raws))
			}
		}
		sendTime := r.Int64()
		wantHdr := h
		wantHdr.Count = uint16(len(raws))
		if got := pb.Header(); got != wantHdr {
			t.Fatalf("Builder.Header() = %+v, want %+v", got, wantHdr)
		}
		pkt := pb.Finish(sendTime)
		if len(pkt) > limit {
			t.Fatalf("packet of %d bytes over the %d limit", len(pkt), limit)
		}
		wantHdr.SendTime = sendTime

		p := mustParse(t, pkt)
		if p.Header != wantHdr {
			t.Fatalf("header %+v, want %+v", p.Header, wantHdr)
		}
		if !bytes.Equal(p.Bytes(), pkt) || !bytes.Equal(p.Body(), pkt[wire.HeaderLen:]) {
			t.Fatal("Bytes or Body do not cover the packet")
		}
		i, off := 0, wire.HeaderLen
		for it := p.Messages(); it.Next(); i++ {
			msg := it.Message()
			if it.Seq() != h.Seq+uint64(i) || it.Offset() != off {
				t.Fatalf("message %d: Seq %d Offset %d, want %d %d", i, it.Seq(), it.Offset(), h.Seq+uint64(i), off)
			}
			if !bytes.Equal(msg.Bytes(), raws[i]) || msg.Len() != len(raws[i]) || msg.Type() != wire.Type(raws[i][2]) {
				t.Fatalf("message %d: % x, want % x", i, msg.Bytes(), raws[i])
			}
			off += msg.Len()
			got, known, err := decodeAny(msg.Bytes())
			if known != (want[i] != nil) || err != nil || got != want[i] {
				t.Fatalf("message %d: decoded %+v (known %v, err %v), want %+v", i, got, known, err, want[i])
			}
			if acc, ok := viaMessage(msg); ok && acc != want[i] {
				t.Fatalf("message %d: accessor %+v, want %+v", i, acc, want[i])
			}
		}
		if i != len(raws) {
			t.Fatalf("iterated %d messages, built %d", i, len(raws))
		}
	}
}

// An unknown type is skipped by its length and counted (DESIGN.md, "Message
// header": forward compatibility).
func TestUnknownTypeSkipped(t *testing.T) {
	lu := wire.LevelUpdate{Instrument: 1, Price: 2, Qty: 3, ExchTime: 4, Side: wire.Ask}
	tr := wire.Trade{Instrument: 5, Price: 6, Qty: 7, ExchTime: 8, TradeID: 9}
	hdr := wire.Header{Channel: 1, Count: 4, Session: 2, Seq: 100}.Append(nil)
	pkt := lu.Append(hdr)
	pkt = append(pkt, unhex(t,
		"0a00 7f 05",   // len 10, type 0x7f (unknown), flags 5
		"aabbccddeeff", // a body this version cannot read
		"0400 4f 00",   // len 4, type 0x4f (unknown): header only
	)...)
	pkt = tr.Append(pkt)

	p := mustParse(t, pkt)
	type seen struct {
		typ  wire.Type
		len  int
		seq  uint64
		inst bool
	}
	want := []seen{{wire.TypeLevelUpdate, 40, 100, true}, {0x7f, 10, 101, false}, {0x4f, 4, 102, false}, {wire.TypeTrade, 48, 103, true}}
	var got []seen
	for it := p.Messages(); it.Next(); {
		m := it.Message()
		_, inst := m.Instrument()
		got = append(got, seen{m.Type(), m.Len(), it.Seq(), inst})
		switch m.Type() {
		case wire.TypeLevelUpdate:
			if m.LevelUpdate() != lu {
				t.Errorf("LevelUpdate %+v", m.LevelUpdate())
			}
		case wire.TypeTrade:
			if m.Trade() != tr {
				t.Errorf("Trade %+v", m.Trade())
			}
		}
	}
	if len(got) != len(want) {
		t.Fatalf("visited %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("message %d: %+v, want %+v", i, got[i], want[i])
		}
	}

	// The unknown messages count: a header that leaves them out is wrong.
	wire.SetCount(pkt, 2)
	if _, err := wire.Parse(pkt); !errors.Is(err, wire.ErrCount) {
		t.Fatalf("count without unknown messages: err %v, want %v", err, wire.ErrCount)
	}
}

func TestParseHeartbeat(t *testing.T) {
	pkt := wire.Header{Flags: wire.FlagHeartbeat, Channel: 3, Session: 9, Seq: 501, SendTime: 77}.Append(nil)
	p := mustParse(t, pkt)
	if p.Count != 0 || p.Seq != 501 || !p.Has(wire.FlagHeartbeat) || p.Sequenced() || len(p.Body()) != 0 {
		t.Fatalf("heartbeat %+v", p.Header)
	}
	it := p.Messages()
	if it.Next() {
		t.Fatal("a heartbeat has messages")
	}
	if it.Next() {
		t.Fatal("Next after the end found a message")
	}
	var zeroPkt wire.Packet
	if zeroPkt.Body() != nil || zeroPkt.Bytes() != nil {
		t.Fatal("the zero Packet has bytes")
	}
	if it := zeroPkt.Messages(); it.Next() {
		t.Fatal("the zero Packet has messages")
	}
	var zero wire.Iter
	if zero.Next() {
		t.Fatal("the zero Iter has messages")
	}
}

// testPacket returns a valid packet of several message types (lengths 40,
// 48, 16, 10 (unknown) and 24) and the offsets where its messages start.
func testPacket(t testing.TB) (pkt []byte, starts []int) {
	var pb wire.Builder
	pb.Reset(nil, wire.DefaultMaxPacket, wire.Header{Channel: 1, Session: 2, Seq: 3})
	for _, m := range []wire.Encoder{
		wire.LevelUpdate{Instrument: 1, Price: 2, Qty: 3, ExchTime: 4, EndOfEvent: true},
		wire.Trade{Instrument: 1, Price: 2, Qty: 3, ExchTime: 4, TradeID: 5},
		wire.BookClear{Instrument: 1, ExchTime: 6},
	} {
		starts = append(starts, pb.Len())
		wire.Add(&pb, m)
	}
	starts = append(starts, pb.Len())
	pb.AddRaw(unhex(t, "0a00 7f 00 010203040506"))
	starts = append(starts, pb.Len())
	wire.Add(&pb, wire.BookChecksum{Instrument: 1, CRC: 7, Bids: 1, Asks: 1, ExchTime: 8})
	return pb.Finish(9), starts
}

// Every malformed shape of DESIGN.md's "Message header" paragraph fails with
// its exact sentinel and never panics.
func TestParseMalformed(t *testing.T) {
	good, starts := testPacket(t)
	mustParse(t, good)
	hdr := good[:wire.HeaderLen]
	withBody := func(count uint16, body ...[]byte) []byte {
		b := bytes.Clone(hdr)
		wire.SetCount(b, count)
		for _, x := range body {
			b = append(b, x...)
		}
		return b
	}
	lu := wire.LevelUpdate{Instrument: 1}.Append(nil)

	cases := []struct {
		name string
		pkt  []byte
		want error
	}{
		{"empty", nil, wire.ErrTruncated},
		{"bad magic", append([]byte("XC"), good[2:]...), wire.ErrBadMagic},
		{"bad version", append([]byte{'T', 'C', 2}, good[3:]...), wire.ErrBadVersion},
		{"length 0", withBody(1, unhex(t, "0000 02 00")), wire.ErrMsgLength},
		{"length 3", withBody(1, unhex(t, "0300 7f 00")), wire.ErrMsgLength},
		{"length past the end", withBody(1, unhex(t, "2900 02 00"), lu[4:]), wire.ErrMsgLength},
		{"length past the end of a later message", withBody(2, lu, unhex(t, "0500 7f 00")), wire.ErrMsgLength},
		{"trailing 1 byte", withBody(1, lu, []byte{4}), wire.ErrMsgLength},
		{"trailing 2 bytes", withBody(1, lu, []byte{4, 0}), wire.ErrMsgLength},
		{"trailing 3 bytes", withBody(1, lu, []byte{4, 0, 0x7f}), wire.ErrMsgLength},
		{"count too high", withBody(2, lu), wire.ErrCount},
		{"count too low", withBody(1, lu, lu), wire.ErrCount},
		{"count 0 with a message", withBody(0, lu), wire.ErrCount},
		{"count 1 without messages", withBody(1), wire.ErrCount},
		{"count 0xffff", withBody(0xffff, lu), wire.ErrCount},
	}
	// A known type whose length is one byte short of its fixed length, with
	// the bytes it states present, is malformed.
	for _, m := range samples() {
		b := m.Append(nil)
		b[0]--
		cases = append(cases, struct {
			name string
			pkt  []byte
			want error
		}{"short " + wire.Type(b[2]).String(), withBody(1, b[:len(b)-1]), wire.ErrMsgLength})
	}
	for _, c := range cases {
		if _, err := wire.Parse(c.pkt); !errors.Is(err, c.want) {
			t.Errorf("%s: err %v, want %v", c.name, err, c.want)
		}
	}

	// Every truncation of a valid packet is an error: a short header, a cut
	// message, or at a message boundary a count that no longer matches.
	boundary := map[int]bool{}
	for _, s := range starts {
		boundary[s] = true
	}
	for n := 0; n < len(good); n++ {
		var want error
		switch {
		case n < wire.HeaderLen:
			want = wire.ErrTruncated
		case boundary[n]:
			want = wire.ErrCount
		default:
			want = wire.ErrMsgLength
		}
		if _, err := wire.Parse(good[:n:n]); !errors.Is(err, want) {
			t.Fatalf("%d of %d bytes: err %v, want %v", n, len(good), err, want)
		}
	}
}
