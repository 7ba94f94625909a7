package mcast

import (
	"encoding/binary"
	"testing"

	"golang.org/x/sys/unix"
)

// appendCmsg appends one control message as the kernel lays it out.
func appendCmsg(b []byte, level, typ int32, data []byte) []byte {
	start := len(b)
	b = append(b, make([]byte, cmsgHdr)...)
	n := cmsgHdr + len(data)
	if wordSize == 8 {
		binary.NativeEndian.PutUint64(b[start:], uint64(n))
		binary.NativeEndian.PutUint32(b[start+8:], uint32(level))
		binary.NativeEndian.PutUint32(b[start+12:], uint32(typ))
	} else {
		binary.NativeEndian.PutUint32(b[start:], uint32(n))
		binary.NativeEndian.PutUint32(b[start+4:], uint32(level))
		binary.NativeEndian.PutUint32(b[start+8:], uint32(typ))
	}
	b = append(b, data...)
	for len(b)%cmsgAlign != 0 {
		b = append(b, 0)
	}
	return b
}

// timespec encodes sec and nsec as the platform's struct timespec.
func timespec(sec, nsec int64) []byte {
	if wordSize == 8 {
		b := binary.NativeEndian.AppendUint64(nil, uint64(sec))
		return binary.NativeEndian.AppendUint64(b, uint64(nsec))
	}
	b := binary.NativeEndian.AppendUint32(nil, uint32(sec))
	return binary.NativeEndian.AppendUint32(b, uint32(nsec))
}

func TestParseControl(t *testing.T) {
	ts := timespec(1_700_000_000, 123_456_789)
	drops := binary.NativeEndian.AppendUint32(nil, 42)
	both := appendCmsg(appendCmsg(nil, unix.SOL_SOCKET, unix.SCM_TIMESTAMPNS, ts), unix.SOL_SOCKET, unix.SO_RXQ_OVFL, drops)
	if len(both) > oobSize {
		t.Fatalf("timestamp + drop counter need %d bytes, oobSize is %d", len(both), oobSize)
	}
	tests := []struct {
		name string
		oob  []byte
		want control
	}{
		{"empty", nil, control{}},
		{"timestamp", appendCmsg(nil, unix.SOL_SOCKET, unix.SCM_TIMESTAMPNS, ts), control{kernelTime: 1_700_000_000_123_456_789}},
		{"drops", appendCmsg(nil, unix.SOL_SOCKET, unix.SO_RXQ_OVFL, drops), control{drops: 42, hasDrops: true}},
		{"both", both, control{kernelTime: 1_700_000_000_123_456_789, drops: 42, hasDrops: true}},
		{"other level", appendCmsg(nil, unix.IPPROTO_IP, unix.SCM_TIMESTAMPNS, ts), control{}},
		{"short timestamp", appendCmsg(nil, unix.SOL_SOCKET, unix.SCM_TIMESTAMPNS, ts[:4]), control{}},
		{"truncated", both[:len(both)-8], control{kernelTime: 1_700_000_000_123_456_789}},
		{"length past the end", appendCmsg(nil, unix.SOL_SOCKET, unix.SCM_TIMESTAMPNS, ts)[:cmsgHdr+4], control{}},
	}
	for _, tc := range tests {
		if got := parseControl(tc.oob); got != tc.want {
			t.Errorf("%s: parseControl = %+v, want %+v", tc.name, got, tc.want)
		}
	}
}

// FuzzParseControl: parseControl reads kernel-written bytes by hand; no input
// makes it panic, and a well-formed timestamp always reads back.
func FuzzParseControl(f *testing.F) {
	ts := timespec(1_700_000_000, 5)
	f.Add(appendCmsg(nil, unix.SOL_SOCKET, unix.SCM_TIMESTAMPNS, ts))
	f.Add(appendCmsg(appendCmsg(nil, unix.SOL_SOCKET, unix.SO_RXQ_OVFL, []byte{1, 0, 0, 0}), unix.SOL_SOCKET, unix.SCM_TIMESTAMPNS, ts))
	f.Add([]byte{})
	f.Add(make([]byte, cmsgHdr))
	f.Fuzz(func(t *testing.T, oob []byte) {
		parseControl(oob)
		// Prefixing garbage that is a well-formed unknown message must not
		// hide a timestamp after it.
		b := appendCmsg(nil, 99, 99, oob[:min(len(oob), 64)])
		b = appendCmsg(b, unix.SOL_SOCKET, unix.SCM_TIMESTAMPNS, ts)
		if got := parseControl(b); got.kernelTime != 1_700_000_000_000_000_005 {
			t.Fatalf("timestamp after an unknown message: %+v", got)
		}
	})
}
