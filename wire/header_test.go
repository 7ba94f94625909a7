package wire_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/tickcast/tickcast/wire"
)

// goldenHeader is a packet header written from DESIGN.md's "Packet header"
// table, every field with distinct bytes.
func goldenHeader(t testing.TB) (wire.Header, []byte) {
	h := wire.Header{
		Flags:    wire.FlagRetransmission | wire.FlagEndOfSession,
		Channel:  0x0504,
		Count:    0x0706,
		Session:  0x1716151413121110,
		Seq:      0x1f1e1d1c1b1a1918,
		SendTime: 0x2726252423222120,
	}
	return h, unhex(t,
		"5443",             // 0: magic 'T' 'C'
		"01",               // 2: version 1
		"0a",               // 3: flags retransmission|end of session
		"0405",             // 4: channel
		"0607",             // 6: message count
		"1011121314151617", // 8: session
		"18191a1b1c1d1e1f", // 16: sequence of the first message
		"2021222324252627", // 24: send time ns
	)
}

func TestHeaderGolden(t *testing.T) {
	h, want := goldenHeader(t)
	got := h.Append(nil)
	if !bytes.Equal(got, want) {
		t.Fatalf("Append:\n got % x\nwant % x", got, want)
	}
	if len(got) != wire.HeaderLen {
		t.Fatalf("len(Append(nil)) = %d, want %d", len(got), wire.HeaderLen)
	}
	if ext := h.Append([]byte{0xee}); ext[0] != 0xee || !bytes.Equal(ext[1:], want) {
		t.Fatalf("Append(prefix) = % x", ext)
	}
	back, err := wire.ParseHeader(want)
	if err != nil || back != h {
		t.Fatalf("ParseHeader = %+v, %v; want %+v", back, err, h)
	}
	// Bytes after the header are not its business.
	if back, err := wire.ParseHeader(append(bytes.Clone(want), 1, 2, 3)); err != nil || back != h {
		t.Fatalf("ParseHeader with trailing bytes = %+v, %v", back, err)
	}
	// Negative send times survive (int64 through u64).
	h.SendTime = -5
	if back, _ := wire.ParseHeader(h.Append(nil)); back.SendTime != -5 {
		t.Fatalf("SendTime -5 came back as %d", back.SendTime)
	}
}

func TestParseHeaderErrors(t *testing.T) {
	_, good := goldenHeader(t)
	for n := 0; n < wire.HeaderLen; n++ {
		if _, err := wire.ParseHeader(good[:n]); !errors.Is(err, wire.ErrTruncated) {
			t.Fatalf("%d-byte header: err %v, want %v", n, err, wire.ErrTruncated)
		}
	}
	for _, c := range []struct {
		off  int
		val  byte
		want error
	}{
		{0, 'X', wire.ErrBadMagic},
		{1, 't', wire.ErrBadMagic},
		{2, 0, wire.ErrBadVersion},
		{2, 2, wire.ErrBadVersion},
		{2, 0xff, wire.ErrBadVersion},
	} {
		b := bytes.Clone(good)
		b[c.off] = c.val
		if _, err := wire.ParseHeader(b); !errors.Is(err, c.want) {
			t.Errorf("byte %d = %#x: err %v, want %v", c.off, c.val, err, c.want)
		}
		if _, err := wire.Parse(b); !errors.Is(err, c.want) {
			t.Errorf("Parse with byte %d = %#x: err %v, want %v", c.off, c.val, err, c.want)
		}
	}
}

func TestHeaderPredicates(t *testing.T) {
	for _, c := range []struct {
		flags     wire.Flags
		seq       uint64
		sequenced bool
	}{
		{0, 1, true},
		{wire.FlagRetransmission, 40, true},
		{0, 0, false}, // control packets carry sequence 0
		{wire.FlagHeartbeat, 41, false},
		{wire.FlagSnapshot, 40, false},
		{wire.FlagSnapshot | wire.FlagRetransmission, 40, false},
		{wire.FlagEndOfSession, 41, false},
	} {
		h := wire.Header{Flags: c.flags, Seq: c.seq, Count: 3}
		if got := h.Sequenced(); got != c.sequenced {
			t.Errorf("flags %#x seq %d: Sequenced() = %v, want %v", c.flags, c.seq, got, c.sequenced)
		}
		if h.End() != c.seq+3 {
			t.Errorf("End() = %d, want %d", h.End(), c.seq+3)
		}
	}
	h := wire.Header{Flags: wire.FlagHeartbeat | wire.FlagEndOfSession}
	if !h.Has(wire.FlagHeartbeat) || !h.Has(wire.FlagHeartbeat|wire.FlagEndOfSession) ||
		h.Has(wire.FlagSnapshot) || h.Has(wire.FlagHeartbeat|wire.FlagSnapshot) {
		t.Fatalf("Has misreads flags %#x", h.Flags)
	}
}

// The Set* helpers patch an encoded packet in place, touching only their field.
func TestSetters(t *testing.T) {
	h, b := goldenHeader(t)
	wire.SetFlags(b, wire.FlagSnapshot)
	wire.SetCount(b, 0x3231)
	wire.SetSeq(b, 0x4847464544434241)
	wire.SetSendTime(b, 0x5857565554535251)
	want := unhex(t,
		"5443 01",          // magic, version untouched
		"04",               // 3: flags snapshot
		"0405",             // 4: channel untouched
		"3132",             // 6: count
		"1011121314151617", // 8: session untouched
		"4142434445464748", // 16: sequence
		"5152535455565758", // 24: send time
	)
	if !bytes.Equal(b, want) {
		t.Fatalf("patched header:\n got % x\nwant % x", b, want)
	}
	back, err := wire.ParseHeader(b)
	h.Flags, h.Count, h.Seq, h.SendTime = wire.FlagSnapshot, 0x3231, 0x4847464544434241, 0x5857565554535251
	if err != nil || back != h {
		t.Fatalf("ParseHeader = %+v, %v; want %+v", back, err, h)
	}
}

func TestEnumStrings(t *testing.T) {
	for _, c := range []struct{ got, want string }{
		{wire.Type(0x7f).String(), "Unknown"},
		{wire.Bid.String(), "bid"},
		{wire.Ask.String(), "ask"},
		{wire.Side(9).String(), "side?"},
		{wire.StatusOK.String(), "ok"},
		{wire.StatusStale.String(), "stale"},
		{wire.StatusResyncing.String(), "resyncing"},
		{wire.StatusHalted.String(), "halted"},
		{wire.Status(0).String(), "unknown"},
		{wire.RejectTooOld.String(), "too old"},
		{wire.RejectRateLimited.String(), "rate limited"},
		{wire.RejectUnknownSession.String(), "unknown session"},
		{wire.RejectNotAllowed.String(), "not allowed"},
		{wire.RejectNotYetSent.String(), "not yet sent"},
		{wire.RejectReason(0).String(), "unknown reason"},
	} {
		if c.got != c.want {
			t.Errorf("String() = %q, want %q", c.got, c.want)
		}
	}
	if _, known := wire.Type(0x7f).MinLen(); known {
		t.Error("type 0x7f is known")
	}
}
