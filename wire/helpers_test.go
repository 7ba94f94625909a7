package wire_test

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/tickcast/tickcast/wire"
)

// unhex decodes hex written in groups ("28 00 02 01", "1112 1314"); spaces
// and newlines are ignored.
func unhex(t testing.TB, groups ...string) []byte {
	t.Helper()
	s := strings.Join(strings.Fields(strings.Join(groups, " ")), "")
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatalf("bad hex in test: %v", err)
	}
	return b
}

// decodeAny decodes one message of any known type with its exported
// Decode* function; known is false for an unknown type.
func decodeAny(msg []byte) (m wire.Encoder, known bool, err error) {
	if len(msg) < wire.MsgHeaderLen {
		return nil, false, wire.ErrTruncated
	}
	return decodeAs(wire.Type(msg[2]), msg)
}

// decodeAs decodes msg with the Decode* function of type typ, whatever
// type msg says it is; known is false when typ is unknown.
func decodeAs(typ wire.Type, msg []byte) (m wire.Encoder, known bool, err error) {
	switch typ {
	case wire.TypeInstrumentDef:
		m, err = wire.DecodeInstrumentDef(msg)
	case wire.TypeLevelUpdate:
		m, err = wire.DecodeLevelUpdate(msg)
	case wire.TypeTrade:
		m, err = wire.DecodeTrade(msg)
	case wire.TypeBookClear:
		m, err = wire.DecodeBookClear(msg)
	case wire.TypeInstrumentStatus:
		m, err = wire.DecodeInstrumentStatus(msg)
	case wire.TypeBookChecksum:
		m, err = wire.DecodeBookChecksum(msg)
	case wire.TypeRetransmitRequest:
		m, err = wire.DecodeRetransmitRequest(msg)
	case wire.TypeRetransmitReject:
		m, err = wire.DecodeRetransmitReject(msg)
	case wire.TypeSnapshotRequest:
		m, err = wire.DecodeSnapshotRequest(msg)
	case wire.TypeSnapshotEnd:
		m, err = wire.DecodeSnapshotEnd(msg)
	case wire.TypeSubscribe:
		m, err = wire.DecodeSubscribe(msg)
	case wire.TypeRetransmitToken:
		m, err = wire.DecodeRetransmitToken(msg)
	default:
		return nil, false, nil
	}
	// The Decode method must agree with the function, value and error.
	ptr := reflect.New(reflect.TypeOf(m))
	if merr := ptr.Interface().(decoder).Decode(msg); merr != err || ptr.Elem().Interface() != m {
		panic(fmt.Sprintf("%v: Decode method gave %+v, %v; Decode function %+v, %v",
			typ, ptr.Elem().Interface(), merr, m, err))
	}
	return m, true, err
}

// decoder is the Decode method every message type has on its pointer.
type decoder interface{ Decode(b []byte) error }

// reserved lists, per known type, the flag bits the type defines and the
// byte ranges [from, to) that DESIGN.md marks reserved.
var reserved = map[wire.Type]struct {
	flags  uint8
	ranges [][2]int
}{
	wire.TypeInstrumentDef:     {0, [][2]int{{10, 12}}},
	wire.TypeLevelUpdate:       {wire.LevelFlagEndOfEvent, [][2]int{{33, 40}}},
	wire.TypeTrade:             {0, [][2]int{{41, 48}}},
	wire.TypeBookClear:         {0, nil},
	wire.TypeInstrumentStatus:  {0, [][2]int{{9, 16}}},
	wire.TypeBookChecksum:      {0, nil},
	wire.TypeRetransmitRequest: {0, [][2]int{{6, 8}}},
	wire.TypeRetransmitReject:  {0, [][2]int{{7, 8}}},
	wire.TypeSnapshotRequest:   {0, [][2]int{{6, 8}, {12, 16}}},
	wire.TypeSnapshotEnd:       {0, [][2]int{{6, 8}, {12, 16}}},
	wire.TypeSubscribe:         {0, [][2]int{{7, 8}, {24, 32}}},
	wire.TypeRetransmitToken:   {0, [][2]int{{6, 8}, {12, 16}}},
}

// canonical reports whether msg, a message of a known type, is exactly what
// its encoder writes: its length field and size are the type's fixed length,
// flag bits the type does not define are clear and reserved bytes are zero.
// Only such a message can re-encode to the same bytes.
func canonical(msg []byte) bool {
	if len(msg) < wire.MsgHeaderLen {
		return false
	}
	t := wire.Type(msg[2])
	fixed, known := t.MinLen()
	if !known || len(msg) != fixed || int(binary.LittleEndian.Uint16(msg)) != fixed {
		return false
	}
	r := reserved[t]
	if msg[3]&^r.flags != 0 {
		return false
	}
	for _, rg := range r.ranges {
		for _, c := range msg[rg[0]:rg[1]] {
			if c != 0 {
				return false
			}
		}
	}
	return true
}

// mustParse parses pkt or fails the test.
func mustParse(t testing.TB, pkt []byte) wire.Packet {
	t.Helper()
	p, err := wire.Parse(pkt)
	if err != nil {
		t.Fatalf("Parse(% x): %v", pkt, err)
	}
	return p
}

// viaMessage decodes a market message with the typed accessor of
// [wire.Message]; ok is false for control and unknown types, which have none.
func viaMessage(m wire.Message) (e wire.Encoder, ok bool) {
	switch m.Type() {
	case wire.TypeInstrumentDef:
		return m.InstrumentDef(), true
	case wire.TypeLevelUpdate:
		return m.LevelUpdate(), true
	case wire.TypeTrade:
		return m.Trade(), true
	case wire.TypeBookClear:
		return m.BookClear(), true
	case wire.TypeInstrumentStatus:
		return m.InstrumentStatus(), true
	case wire.TypeBookChecksum:
		return m.BookChecksum(), true
	}
	return nil, false
}

// golden is one message with its bytes written by hand from DESIGN.md.
type golden struct {
	name string
	msg  wire.Encoder
	want []byte
}

// checkGolden compares each message's encoding with its hand-written bytes,
// then decodes the bytes back, standalone and inside a parsed packet.
func checkGolden(t *testing.T, cases []golden) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := c.msg.Append(nil)
			if !bytes.Equal(got, c.want) {
				t.Fatalf("Append:\n got % x\nwant % x", got, c.want)
			}
			if len(got) != c.msg.Len() {
				t.Fatalf("len(Append(nil)) = %d, Len() = %d", len(got), c.msg.Len())
			}
			typ := wire.Type(c.want[2])
			if fixed, known := typ.MinLen(); !known || fixed != c.msg.Len() {
				t.Fatalf("%v.MinLen() = %d, %v; Len() = %d", typ, fixed, known, c.msg.Len())
			}
			if typ.String() != c.name {
				t.Errorf("Type(%#x).String() = %q, want %q", uint8(typ), typ.String(), c.name)
			}

			// Append must extend, never overwrite, what is already there.
			prefix := []byte{0xee, 0xdd}
			ext := c.msg.Append(prefix)
			if !bytes.Equal(ext[:2], []byte{0xee, 0xdd}) || !bytes.Equal(ext[2:], c.want) {
				t.Fatalf("Append(prefix) = % x", ext)
			}

			dec, known, err := decodeAny(c.want)
			if !known || err != nil {
				t.Fatalf("decode: known %v, err %v", known, err)
			}
			if dec != c.msg {
				t.Fatalf("decode:\n got %+v\nwant %+v", dec, c.msg)
			}

			// Inside a packet: the iterator's view and the typed accessor.
			var pb wire.Builder
			pb.Reset(make([]byte, 0, 256), 256, wire.Header{Channel: 3, Session: 9, Seq: 77})
			if !wire.Add(&pb, c.msg) {
				t.Fatal("Add refused the message")
			}
			p := mustParse(t, pb.Finish(1))
			it := p.Messages()
			if !it.Next() {
				t.Fatal("no message in packet")
			}
			m := it.Message()
			if m.Type() != typ || m.Flags() != c.want[3] || m.Len() != len(c.want) ||
				!bytes.Equal(m.Bytes(), c.want) || it.Offset() != wire.HeaderLen || it.Seq() != 77 {
				t.Fatalf("message view: type %v flags %#x len %d offset %d seq %d bytes % x",
					m.Type(), m.Flags(), m.Len(), it.Offset(), it.Seq(), m.Bytes())
			}
			if acc, ok := viaMessage(m); ok {
				if acc != c.msg {
					t.Fatalf("accessor:\n got %+v\nwant %+v", acc, c.msg)
				}
				id, ok := m.Instrument()
				if !ok || id != binary.LittleEndian.Uint32(c.want[4:]) {
					t.Fatalf("Instrument() = %#x, %v", id, ok)
				}
			} else if _, ok := m.Instrument(); ok {
				t.Fatalf("Instrument() reported an instrument for control type %v", typ)
			}
			if it.Next() {
				t.Fatal("more than one message in packet")
			}
		})
	}
}

// samples returns one message of every known type, every field set.
func samples() []wire.Encoder {
	return []wire.Encoder{
		wire.NewInstrumentDef(7, "BTCUSDT", "binance", -2, -8),
		wire.LevelUpdate{Instrument: 7, Price: 6_512_345, Qty: 120_000, ExchTime: 1_700_000_000_123_456_789, Side: wire.Ask, EndOfEvent: true},
		wire.Trade{Instrument: 7, Price: 6_512_300, Qty: 5_000, ExchTime: 1_700_000_000_123_456_790, TradeID: 991, Aggressor: wire.AggressorBuy},
		wire.BookClear{Instrument: 7, ExchTime: 1_700_000_000_000_000_001},
		wire.InstrumentStatus{Instrument: 7, Status: wire.StatusResyncing},
		wire.BookChecksum{Instrument: 7, CRC: 0xdeadbeef, Bids: 20, Asks: 19, ExchTime: 1_700_000_000_000_000_002},
		wire.RetransmitRequest{Channel: 2, Count: 10, Token: 0x5eed7042, Session: 0xabcdef, FirstSeq: 1000},
		wire.RetransmitReject{Channel: 2, Reason: wire.RejectTooOld, Count: 10, RetryAfterMs: 250, Session: 0xabcdef, FirstSeq: 1000},
		wire.SnapshotRequest{Channel: 2, Instrument: 7},
		wire.SnapshotEnd{Channel: 2, Instruments: 3, LastSeq: 12345},
		wire.Subscribe{Channel: 2, Mode: wire.SubscribeSnapshot, Session: 0xabcdef, FromSeq: 55},
		wire.RetransmitToken{Channel: 2, Token: 0x5eed7042},
	}
}
