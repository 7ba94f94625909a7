package link

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"testing"
)

func TestFrameReader(t *testing.T) {
	t.Parallel()
	big := bytes.Repeat([]byte{7}, MaxStreamPacket)
	var in []byte
	in = appendFrame(in, []byte("one"))
	in = appendFrame(in, nil)
	in = appendFrame(in, big)
	in = appendFrame(in, []byte("two"))
	fr := newFrameReader(bytes.NewReader(in))
	for i, want := range [][]byte{[]byte("one"), {}, big, []byte("two")} {
		got, err := fr.next()
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("packet %d: %d bytes, %v", i, len(got), err)
		}
	}
	if _, err := fr.next(); err != io.EOF {
		t.Fatalf("at the end: %v, want io.EOF", err)
	}
	if cap(fr.buf) > MaxStreamPacket {
		t.Errorf("buffer grew to %d", cap(fr.buf))
	}
}

func TestFrameReaderRejectsBadInput(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name string
		in   []byte
		want error
	}{
		{"length above the cap", binary.LittleEndian.AppendUint32(nil, MaxStreamPacket+1), errFrameLength},
		{"absurd length", binary.LittleEndian.AppendUint32(nil, 0xffffffff), errFrameLength},
		{"cut length", []byte{1, 0}, io.ErrUnexpectedEOF},
		{"cut packet", appendFrame(nil, []byte("hello"))[:6], io.ErrUnexpectedEOF},
		{"length only", binary.LittleEndian.AppendUint32(nil, 3), io.ErrUnexpectedEOF},
	} {
		_, err := newFrameReader(bytes.NewReader(c.in)).next()
		if !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
	}
}

func TestAppendControlFrame(t *testing.T) {
	t.Parallel()
	b := appendControlFrame([]byte("prefix"), 3, 4, 5, liveSub(3))
	b = b[len("prefix"):]
	if n := binary.LittleEndian.Uint32(b); int(n) != len(b)-lenPrefix {
		t.Fatalf("length prefix %d for %d bytes", n, len(b)-lenPrefix)
	}
	pkt, err := newFrameReader(bytes.NewReader(b)).next()
	if err != nil {
		t.Fatal(err)
	}
	var r ctlRecorder
	if err := handleControl(pkt, &r); err != nil {
		t.Fatal(err)
	}
	if len(r.subs) != 1 || r.subs[0] != liveSub(3) {
		t.Errorf("decoded %+v", r.subs)
	}
}

// FuzzStreamReader feeds arbitrary bytes to the stream framing reader: it
// never panics, never returns more than MaxStreamPacket bytes, fails only
// with the documented errors, and what it returns re-frames to the input.
func FuzzStreamReader(f *testing.F) {
	f.Add([]byte{})
	f.Add(appendFrame(nil, mkPacket(0, 1, 1, 1, 2)))
	f.Add(appendFrame(appendFrame(nil, nil), []byte("x")))
	f.Add(binary.LittleEndian.AppendUint32(nil, 0xffffffff))
	f.Add(binary.LittleEndian.AppendUint32(nil, MaxStreamPacket))
	f.Add([]byte{5, 0, 0, 0, 'a', 'b'})
	f.Fuzz(func(t *testing.T, in []byte) {
		fr := newFrameReader(bytes.NewReader(in))
		var out []byte
		for {
			pkt, err := fr.next()
			if err != nil {
				if err != io.EOF && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, errFrameLength) {
					t.Fatalf("unexpected error %v", err)
				}
				if err == io.EOF && !bytes.Equal(out, in) {
					t.Fatal("clean end but the packets do not re-frame to the input")
				}
				break
			}
			if len(pkt) > MaxStreamPacket {
				t.Fatalf("%d-byte packet", len(pkt))
			}
			out = appendFrame(out, pkt)
			if !bytes.HasPrefix(in, out) {
				t.Fatal("packets do not re-frame to the input")
			}
		}
	})
}
