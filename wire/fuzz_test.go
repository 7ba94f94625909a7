package wire_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"

	"github.com/tickcast/tickcast/wire"
)

// Fuzz targets for every decoder in the package (CONVENTIONS.md: "Every
// decoder … has a FuzzXxx target"). Besides the f.Add seeds below, real
// packets of every kind are checked in under testdata/fuzz/<FuzzName>/ and
// kept in step with seedPackets by TestSeedCorpus.

// isSentinel reports whether err is one of the package's malformed-input errors.
func isSentinel(err error) bool {
	for _, s := range []error{wire.ErrTruncated, wire.ErrBadMagic, wire.ErrBadVersion,
		wire.ErrMsgLength, wire.ErrCount, wire.ErrType} {
		if errors.Is(err, s) {
			return true
		}
	}
	return false
}

// FuzzParse: Parse never panics; what it accepts iterates as exactly Count
// messages covering the bytes after the header, every accessor runs on every
// message, and canonical messages of known types re-encode to their bytes.
func FuzzParse(f *testing.F) {
	f.Add(unhex(f,
		"5443 01 00",                           // magic, version 1, no flags
		"0100 0300",                            // channel 1, count 3
		"0200000000000000",                     // session 2
		"0a00000000000000",                     // sequence 10
		"0000000000000000",                     // send time 0
		"1000 04 00 07000000 0100000000000000", // BookClear instrument 7
		"0a00 7f 00 aabbccddeeff",              // unknown type 0x7f, 10 bytes
		"0400 4f ff",                           // unknown type 0x4f, header only
	))
	f.Add(unhex(f,
		"5443 01 01",       // magic, version 1, heartbeat
		"0100 0000",        // channel 1, count 0
		"0200000000000000", // session 2
		"0b00000000000000", // next sequence 11
		"0000000000000000", // send time 0
	))
	// A header with count 1 (magic, version 1, no flags, channel 1, count 1,
	// session 2, sequence 10, send time 0) in front of a malformed message.
	hdr1 := "5443 01 00 0100 0100 0200000000000000 0a00000000000000 0000000000000000"
	f.Add(unhex(f, hdr1,
		"0000 02 00", // length 0: malformed, must not loop
	))
	f.Add(unhex(f, hdr1,
		"2700 02 01",       // LevelUpdate stating 39 bytes, one short of its 40
		"07000000",         // instrument
		"0100000000000000", // price
		"0200000000000000", // qty
		"0300000000000000", // exchange time
		"01 000000000000",  // side ask, 6 reserved bytes of 7
	))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := wire.Parse(data)
		if err != nil {
			if !isSentinel(err) {
				t.Fatalf("Parse error %v is not a sentinel", err)
			}
			return
		}
		if !bytes.Equal(p.Header.Append(nil), data[:wire.HeaderLen]) {
			t.Fatalf("header %+v does not re-encode to % x", p.Header, data[:wire.HeaderLen])
		}
		n, sum := 0, 0
		for it := p.Messages(); it.Next(); n++ {
			m := it.Message()
			sum += m.Len()
			if it.Seq() != p.Seq+uint64(n) || it.Offset() != wire.HeaderLen+sum-m.Len() {
				t.Fatalf("message %d: Seq %d Offset %d", n, it.Seq(), it.Offset())
			}
			// Every accessor on every message, whatever its type.
			_, _ = m.Type(), m.Flags()
			_, _ = m.Instrument()
			_, _, _ = m.InstrumentDef(), m.LevelUpdate(), m.Trade()
			_, _, _ = m.BookClear(), m.InstrumentStatus(), m.BookChecksum()

			dec, known, err := decodeAny(m.Bytes())
			if !known {
				continue
			}
			if err != nil {
				t.Fatalf("message %d (%v) passed Parse but not its decoder: %v", n, m.Type(), err)
			}
			if acc, ok := viaMessage(m); ok && acc != dec {
				t.Fatalf("message %d: accessor %+v, decoder %+v", n, acc, dec)
			}
			if canonical(m.Bytes()) && !bytes.Equal(dec.Append(nil), m.Bytes()) {
				t.Fatalf("message %d: % x re-encodes as % x", n, m.Bytes(), dec.Append(nil))
			}
		}
		if n != int(p.Count) || sum != len(data)-wire.HeaderLen {
			t.Fatalf("iterated %d messages of %d bytes; header says %d, body is %d bytes",
				n, sum, p.Count, len(data)-wire.HeaderLen)
		}
	})
}

// FuzzDecodeControl: each Decode* function on arbitrary bytes never panics,
// fails only with a sentinel, and a canonical message it accepts re-encodes
// to the same bytes. (Despite the name it covers the market decoders too:
// they share the same checks.)
func FuzzDecodeControl(f *testing.F) {
	f.Add(unhex(f,
		"2000 40 00",        // RetransmitRequest, 32 bytes
		"0100 0000",         // channel 1, reserved
		"0a000000 00000000", // count 10, no token
		"0200000000000000",  // session 2
		"6400000000000000",  // first sequence 100
	))
	f.Add(unhex(f,
		"2000 40 00",        // RetransmitRequest, 32 bytes
		"0100 0000",         // channel 1, reserved
		"0a000000 efbeadde", // count 10, token 0xdeadbeef
		"0200000000000000",  // session 2
		"6400000000000000",  // first sequence 100
	))
	f.Add(unhex(f,
		"1000 45 00",        // RetransmitToken, 16 bytes
		"0100 0000",         // channel 1, reserved
		"efbeadde 00000000", // token 0xdeadbeef, reserved
	))
	f.Add(unhex(f,
		"1000 45 00",        // RetransmitToken, 16 bytes
		"0100 ffff",         // channel 1, reserved bytes set (not canonical)
		"01000000 ffffffff", // token 1, reserved bytes set
	))
	f.Add(unhex(f, "1000 45 00 0100 0000 efbe")) // RetransmitToken cut inside the token
	f.Add(unhex(f,
		"2000 41 00",        // RetransmitReject, 32 bytes
		"0100 02 00",        // channel 1, reason rate limited, reserved
		"0a000000 fa000000", // count 10, retry after 250 ms
		"0200000000000000",  // session 2
		"6400000000000000",  // first sequence 100
	))
	f.Add(unhex(f,
		"1400 42 00",        // SnapshotRequest stating 20 bytes (an extension)
		"0100 0000",         // channel 1, reserved
		"00000000 00000000", // all instruments, reserved
		"deadbeef",          // 4 bytes this version does not read
	))
	f.Add(unhex(f, "1800 43 00 0100")) // SnapshotEnd cut after the channel
	f.Fuzz(func(t *testing.T, data []byte) {
		for typ := wire.Type(0); typ < 0x50; typ++ {
			fixed, known := typ.MinLen()
			if !known {
				continue
			}
			m, _, err := decodeAs(typ, data)
			if err != nil {
				if !errors.Is(err, wire.ErrTruncated) && !errors.Is(err, wire.ErrType) && !errors.Is(err, wire.ErrMsgLength) {
					t.Fatalf("%v: error %v is not a sentinel", typ, err)
				}
				continue
			}
			l := int(binary.LittleEndian.Uint16(data))
			if wire.Type(data[2]) != typ || l < fixed || l > len(data) {
				t.Fatalf("%v accepted type %#x length %d in %d bytes", typ, data[2], l, len(data))
			}
			if canonical(data[:l]) && !bytes.Equal(m.Append(nil), data[:l]) {
				t.Fatalf("%v: % x re-encodes as % x", typ, data[:l], m.Append(nil))
			}
		}
	})
}

// FuzzSplit: Split never panics, refuses exactly what Parse refuses or what
// cannot fit, and otherwise cuts correctly (see checkSplit).
func FuzzSplit(f *testing.F) {
	f.Add(unhex(f,
		// Header: no flags, channel 1, count 3, session 2, sequence 10, send time 0.
		"5443 01 00 0100 0300 0200000000000000 0a00000000000000 0000000000000000",
		"1000 04 00 07000000 0100000000000000",                    // BookClear, 16 bytes
		"1000 05 00 07000000 01 00000000000000",                   // InstrumentStatus, 16 bytes
		"1800 06 00 07000000 01020304 0100 0200 0300000000000000", // BookChecksum, 24 bytes
	), uint16(32+24)) // one message a part
	f.Add(unhex(f,
		// Header: snapshot, channel 1, count 2, session 2, sequence 10, send time 0.
		"5443 01 04 0100 0200 0200000000000000 0a00000000000000 0000000000000000",
		"1000 04 00 07000000 0100000000000000",                    // BookClear
		"1800 43 00 0100 0000 01000000 00000000 0a00000000000000", // SnapshotEnd
	), uint16(50)) // SnapshotEnd cannot fit
	f.Fuzz(func(t *testing.T, data []byte, limit16 uint16) {
		limit := int(limit16)
		buf := make([]byte, 0, 64)
		parts, err := splitAll(data, limit, buf)
		p, perr := wire.Parse(data)
		if perr != nil {
			if err != perr || len(parts) != 0 {
				t.Fatalf("malformed packet (%v): split err %v, %d parts", perr, err, len(parts))
			}
			return
		}
		longest := 0
		for it := p.Messages(); it.Next(); {
			longest = max(longest, it.Message().Len())
		}
		if len(data) > limit && longest > limit-wire.HeaderLen {
			if !errors.Is(err, wire.ErrTooLarge) || len(parts) != 0 {
				t.Fatalf("a %d-byte message split at %d: err %v, %d parts", longest, limit, err, len(parts))
			}
			return
		}
		if err != nil {
			t.Fatalf("split %d bytes at %d: %v", len(data), limit, err)
		}
		checkSplit(t, data, limit, parts)
	})
}
