package capture

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/tickcast/tickcast/wire"
)

// fuzzSeeds returns the FuzzReader seeds (also checked in under
// testdata/fuzz/FuzzReader).
func fuzzSeeds(t testing.TB) map[string][]byte {
	// A header, then 3 small records of market data (small seeds keep the
	// fuzzer's minimization quick).
	valid := encode(t, []record{
		{1000, wire.InstrumentDef{Instrument: 1, PriceExp: -2, QtyExp: -4}.Append(nil)},
		{2000, wire.LevelUpdate{Instrument: 1, Price: 100, Qty: 5, ExchTime: 3, EndOfEvent: true}.Append(nil)},
		{3000, wire.Trade{Instrument: 1, Price: 100, Qty: 1, TradeID: 1, Aggressor: wire.AggressorBuy}.Append(
			wire.BookClear{Instrument: 1}.Append(nil))},
	})
	withCRC := func(b []byte, rx int64, msgs []byte) []byte {
		var h [RecordHeaderLen]byte
		putRecordHeader(&h, rx, msgs)
		return append(append(bytes.Clone(b), h[:]...), msgs...)
	}
	head := valid[:HeaderLen]
	badCRC := bytes.Clone(valid)
	badCRC[len(badCRC)-1] ^= 0xff // last message byte: the CRC no longer matches
	huge := bytes.Clone(head)
	huge = append(huge, 1, 0, 0, 0, 0, 0, 0, 0) // rx time 1
	huge = append(huge, 0, 0, 0, 1)             // length 16 MiB
	huge = append(huge, 0, 0, 0, 0, 1, 2, 3)    // CRC, then 3 bytes of body
	return map[string][]byte{
		"valid":          valid,
		"header-only":    head,
		"truncated":      valid[:len(valid)-7],
		"bad-crc":        badCRC,
		"huge-length":    huge,
		"not-a-capture":  []byte("TC\x01\x00 a packet, not a capture file"),
		"control-record": withCRC(head, 5, wire.SnapshotRequest{Channel: 1}.Append(nil)), // valid CRC, control message inside
		"half-message":   withCRC(head, 5, wire.BookClear{Instrument: 1}.Append(nil)[:10]),
		"unknown-type":   withCRC(head, 5, []byte{6, 0, 0x30, 0, 9, 9}), // a future type: accepted
	}
}

func FuzzReader(f *testing.F) {
	for _, seed := range fuzzSeeds(f) {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		rd, err := NewReader(bytes.NewReader(data))
		if err != nil {
			if !errors.Is(err, ErrNotCapture) && !errors.Is(err, ErrVersion) &&
				!errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrTruncated) {
				t.Fatalf("header: unexpected error %v", err)
			}
			return
		}
		var out []byte
		for {
			rx, msgs, err := rd.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrTruncated) {
					t.Fatalf("unexpected error %v", err)
				}
				break
			}
			if err := validate(msgs); err != nil {
				t.Fatalf("the reader returned a batch the writer refuses: %v", err)
			}
			var h [RecordHeaderLen]byte
			putRecordHeader(&h, rx, msgs)
			out = append(append(out, h[:]...), msgs...)
		}
		// What reads back re-encodes to the same bytes.
		if want := data[HeaderLen:rd.Offset()]; !bytes.Equal(out, want) {
			t.Fatalf("re-encoded records differ from the input")
		}
	})
}
