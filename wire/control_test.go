package wire_test

import (
	"bytes"
	"errors"
	"reflect"
	"testing"

	"github.com/tickcast/tickcast/wire"
)

// The expected bytes below are written from DESIGN.md's "Control messages"
// table (and the doc comments of the extensions: Subscribe, the request's
// token, RetransmitToken), not from the encoders.
func TestControlGolden(t *testing.T) {
	checkGolden(t, []golden{
		{
			name: "RetransmitRequest",
			msg: wire.RetransmitRequest{
				Channel:  0x1211,
				Count:    0x24232221,
				Token:    0x2c2b2a29,
				Session:  0x3837363534333231,
				FirstSeq: 0x4847464544434241,
			},
			want: unhex(t,
				"2000 40 00",       // len 32, type 0x40, flags 0
				"1112",             // 4: channel
				"0000",             // 6: reserved
				"21222324",         // 8: count
				"292a2b2c",         // 12: token
				"3132333435363738", // 16: session
				"4142434445464748", // 24: first sequence
			),
		},
		{
			name: "RetransmitReject",
			msg: wire.RetransmitReject{
				Channel:      0x1211,
				Reason:       wire.RejectRateLimited,
				Count:        0x24232221,
				RetryAfterMs: 0x2c2b2a29,
				Session:      0x3837363534333231,
				FirstSeq:     0x4847464544434241,
			},
			want: unhex(t,
				"2000 41 00",       // len 32, type 0x41, flags 0
				"1112",             // 4: channel
				"02",               // 6: reason rate limited
				"00",               // 7: reserved
				"21222324",         // 8: count
				"292a2b2c",         // 12: retry-after ms
				"3132333435363738", // 16: session
				"4142434445464748", // 24: first sequence
			),
		},
		{
			name: "SnapshotRequest",
			msg:  wire.SnapshotRequest{Channel: 0x1211, Instrument: 0x24232221},
			want: unhex(t,
				"1000 42 00", // len 16, type 0x42, flags 0
				"1112",       // 4: channel
				"0000",       // 6: reserved
				"21222324",   // 8: instrument
				"00000000",   // 12: reserved
			),
		},
		{
			name: "SnapshotEnd",
			msg:  wire.SnapshotEnd{Channel: 0x1211, Instruments: 0x24232221, LastSeq: 0x4847464544434241},
			want: unhex(t,
				"1800 43 00",       // len 24, type 0x43, flags 0
				"1112",             // 4: channel
				"0000",             // 6: reserved
				"21222324",         // 8: instruments sent
				"00000000",         // 12: reserved
				"4142434445464748", // 16: last sequence reflected
			),
		},
		{
			name: "Subscribe",
			msg: wire.Subscribe{
				Channel: 0x1211,
				Mode:    wire.SubscribeFromSeq,
				Session: 0x3837363534333231,
				FromSeq: 0x4847464544434241,
			},
			want: unhex(t,
				"2000 44 00",       // len 32, type 0x44, flags 0
				"1112",             // 4: channel
				"03",               // 6: mode from sequence
				"00",               // 7: reserved
				"3132333435363738", // 8: session
				"4142434445464748", // 16: from sequence
				"0000000000000000", // 24: reserved
			),
		},
		{
			name: "RetransmitToken",
			msg:  wire.RetransmitToken{Channel: 0x1211, Token: 0x24232221},
			want: unhex(t,
				"1000 45 00", // len 16, type 0x45, flags 0
				"1112",       // 4: channel
				"0000",       // 6: reserved
				"21222324",   // 8: token
				"00000000",   // 12: reserved
			),
		},
	})
}

// A request without a token (the zero value) is the bytes of the original
// layout, bytes 12–15 zero: requesters that predate the token still parse.
func TestRetransmitRequestNoToken(t *testing.T) {
	got := wire.RetransmitRequest{Channel: 1, Count: 10, Session: 2, FirstSeq: 100}.Append(nil)
	want := unhex(t, "2000 40 00 0100 0000 0a000000 00000000 0200000000000000 6400000000000000")
	if !bytes.Equal(got, want) {
		t.Fatalf("Append:\n got % x\nwant % x", got, want)
	}
	if r, err := wire.DecodeRetransmitRequest(want); err != nil || r.Token != 0 {
		t.Fatalf("decoded %+v, %v", r, err)
	}
}

// A control request travels in a packet with the normal header, sequence 0
// and count 1 (DESIGN.md, "Control messages").
func TestAppendControl(t *testing.T) {
	req := wire.SnapshotRequest{Channel: 0x1211, Instrument: 0x24232221}
	got := wire.AppendControl([]byte{0xee}, 0x0605, 0x1716151413121110, 0x2726252423222120, req)
	want := unhex(t,
		"ee",               // caller's prefix, kept
		"5443 01 00",       // magic "TC", version 1, no flags
		"0506",             // 4: channel
		"0100",             // 6: count 1
		"1011121314151617", // 8: session
		"0000000000000000", // 16: sequence 0
		"2021222324252627", // 24: send time
		// The SnapshotRequest, as in TestControlGolden.
		"1000 42 00 1112 0000 21222324 00000000",
	)
	if !bytes.Equal(got, want) {
		t.Fatalf("AppendControl:\n got % x\nwant % x", got, want)
	}
	p := mustParse(t, got[1:])
	if p.Count != 1 || p.Seq != 0 || p.Sequenced() {
		t.Fatalf("control header %+v, Sequenced %v", p.Header, p.Sequenced())
	}
}

// Every Decode* function refuses another type, a length below its fixed
// length and input shorter than the message, with the matching sentinel.
func TestDecodeErrors(t *testing.T) {
	for _, msg := range samples() {
		good := msg.Append(nil)
		typ, n := wire.Type(good[2]), len(good)
		t.Run(typ.String(), func(t *testing.T) {
			if _, _, err := decodeAs(typ, good); err != nil {
				t.Fatalf("valid message: %v", err)
			}
			for i := 0; i < n; i++ {
				if _, _, err := decodeAs(typ, good[:i:i]); !errors.Is(err, wire.ErrTruncated) {
					t.Fatalf("prefix of %d bytes: err %v, want %v", i, err, wire.ErrTruncated)
				}
			}

			wrong := bytes.Clone(good)
			wrong[2] = byte(wire.TypeSubscribe)
			if typ == wire.TypeSubscribe {
				wrong[2] = byte(wire.TypeInstrumentDef)
			}
			if _, _, err := decodeAs(typ, wrong); !errors.Is(err, wire.ErrType) {
				t.Fatalf("wrong type: err %v, want %v", err, wire.ErrType)
			}

			short := bytes.Clone(good)
			short[0]-- // length field one below the fixed length
			if _, _, err := decodeAs(typ, short); !errors.Is(err, wire.ErrMsgLength) {
				t.Fatalf("length %d: err %v, want %v", n-1, err, wire.ErrMsgLength)
			}

			// The Decode method leaves its value alone on error.
			keep := reflect.New(reflect.TypeOf(msg))
			keep.Elem().Set(reflect.ValueOf(msg))
			if err := keep.Interface().(decoder).Decode(short); err == nil || keep.Elem().Interface() != msg {
				t.Fatalf("Decode method on a bad message: %v, value now %+v", err, keep.Elem().Interface())
			}

			// A longer message (a later version's extension) still decodes,
			// reading the fields it knows.
			long := append(bytes.Clone(good), 0xaa, 0xbb, 0xcc, 0xdd)
			long[0] += 4
			if got, _, err := decodeAs(typ, long); err != nil || got != msg {
				t.Fatalf("extended message: %+v, %v", got, err)
			}
		})
	}
}
