package capture

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tickcast/tickcast/publisher/synth"
	"github.com/tickcast/tickcast/wire"
)

// record is one batch and its receive time.
type record struct {
	rx   int64
	msgs []byte
}

// testRecords returns n batches of synthetic market data, definitions first,
// with receive times gap ns apart.
func testRecords(t testing.TB, n int, gap int64) []record {
	t.Helper()
	g, err := synth.NewGenerator(synth.Config{Instruments: 3, Levels: 4, Seed: int64(n)})
	if err != nil {
		t.Fatal(err)
	}
	recs := []record{{rx: 1_700_000_000_000_000_000, msgs: g.Definitions(nil)}}
	for i := 1; i < n; i++ {
		rx := recs[0].rx + int64(i)*gap
		recs = append(recs, record{rx: rx, msgs: g.Next(nil, 1+i%7, uint64(rx))})
	}
	return recs
}

// encode writes recs to a capture in memory.
func encode(t testing.TB, recs []record) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := NewWriter(&buf)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		if err := w.Write(r.rx, r.msgs); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// decode reads every record of a capture and the error that ended it (nil at
// a clean end).
func decode(b []byte) ([]record, error) {
	rd, err := NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	var recs []record
	for {
		rx, msgs, err := rd.Next()
		if err == io.EOF {
			return recs, nil
		}
		if err != nil {
			return recs, err
		}
		recs = append(recs, record{rx, bytes.Clone(msgs)})
	}
}

func TestRoundTrip(t *testing.T) {
	recs := testRecords(t, 50, 1_000_000)
	recs = append(recs, record{rx: -5, msgs: recs[1].msgs}) // any receive time, even a strange one
	before := time.Now()
	file := encode(t, recs)

	rd, err := NewReader(bytes.NewReader(file))
	if err != nil {
		t.Fatal(err)
	}
	if c := rd.Created(); c.Before(before.Add(-time.Second)) || c.After(time.Now().Add(time.Second)) {
		t.Errorf("Created() = %v, written at %v", c, before)
	}
	for i, want := range recs {
		rx, msgs, err := rd.Next()
		if err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
		if rx != want.rx || !bytes.Equal(msgs, want.msgs) {
			t.Fatalf("record %d differs", i)
		}
	}
	for range 2 {
		if _, _, err := rd.Next(); err != io.EOF {
			t.Fatalf("after the last record: %v, want io.EOF", err)
		}
	}
	if rd.Offset() != int64(len(file)) {
		t.Fatalf("Offset() = %d at the end of a %d-byte file", rd.Offset(), len(file))
	}
}

func TestCreate(t *testing.T) {
	path := t.TempDir() + "/x.tccap"
	w, err := Create(path)
	if err != nil {
		t.Fatal(err)
	}
	recs := testRecords(t, 3, 1)
	for _, r := range recs {
		if err := w.Write(r.rx, r.msgs); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if err := w.Write(1, recs[1].msgs); !errors.Is(err, ErrClosed) {
		t.Fatalf("Write after Close: %v", err)
	}
	if _, err := NewReplay(ReplayConfig{Path: path}); err != nil {
		t.Fatal(err)
	}
}

func TestWriteRefusesBadBatches(t *testing.T) {
	w, _ := NewWriter(io.Discard)
	lu := wire.LevelUpdate{Instrument: 1, Price: 1, Qty: 1, EndOfEvent: true}.Append(nil)
	req := wire.RetransmitRequest{Channel: 1, Count: 1}.Append(nil)
	for name, b := range map[string][]byte{
		"empty":   nil,
		"partial": lu[:20],
		"short":   {2, 0, 2, 0},
		"control": req,
		"too big": make([]byte, MaxRecord+1),
	} {
		if err := w.Write(1, b); err == nil {
			t.Errorf("%s batch accepted", name)
		}
	}
	unknown := []byte{8, 0, 0x30, 0, 1, 2, 3, 4} // a type this version does not know
	if err := w.Write(1, append(unknown, lu...)); err != nil {
		t.Errorf("unknown message type refused: %v", err)
	}
}

// sink records batches.
type sink struct {
	mu      sync.Mutex
	batches [][]byte
	err     error
}

func (s *sink) Publish(b []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return s.err
	}
	s.batches = append(s.batches, bytes.Clone(b))
	return nil
}

func (s *sink) snapshot() [][]byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.batches)
}

// failWriter fails every write.
type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestTee(t *testing.T) {
	recs := testRecords(t, 20, 1)
	var buf bytes.Buffer
	w, _ := NewWriter(&buf)
	down := &sink{}
	tee := Tee(down, w)
	before := time.Now().UnixNano()
	for _, r := range recs {
		if err := tee.Publish(r.msgs); err != nil {
			t.Fatal(err)
		}
	}
	after := time.Now().UnixNano()
	w.Close()
	got, err := decode(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(recs) || len(down.batches) != len(recs) {
		t.Fatalf("%d recorded, %d forwarded, want %d", len(got), len(down.batches), len(recs))
	}
	for i := range recs {
		if !bytes.Equal(got[i].msgs, recs[i].msgs) || !bytes.Equal(down.batches[i], recs[i].msgs) {
			t.Fatalf("batch %d differs", i)
		}
		if got[i].rx < before || got[i].rx > after || i > 0 && got[i].rx < got[i-1].rx {
			t.Fatalf("batch %d: receive time %d outside [%d, %d] or going back", i, got[i].rx, before, after)
		}
	}

	// A failing recorder still forwards, then reports.
	bad, _ := NewWriter(failWriter{})
	down = &sink{}
	big := bytes.Repeat(recs[1].msgs, 64<<10/len(recs[1].msgs)+1) // past the buffer: written through
	if err := Tee(down, bad).Publish(big); err == nil || len(down.batches) != 1 {
		t.Fatalf("Tee on a failing writer: %v, %d forwarded", err, len(down.batches))
	}
	// The sink's own error comes first.
	w2, _ := NewWriter(io.Discard)
	closed := errors.New("closed")
	if err := Tee(&sink{err: closed}, w2).Publish(recs[1].msgs); !errors.Is(err, closed) {
		t.Fatalf("Tee on a closed sink: %v", err)
	}
}

func TestTruncated(t *testing.T) {
	recs := testRecords(t, 4, 1)
	file := encode(t, recs)
	ends := map[int]int{HeaderLen: 0} // record boundary → records before it
	off := HeaderLen
	for i, r := range recs {
		off += RecordHeaderLen + len(r.msgs)
		ends[off] = i + 1
	}
	for cut := 0; cut < len(file); cut++ {
		got, err := decode(file[:cut])
		switch n, boundary := ends[cut]; {
		case cut == 0:
			if !errors.Is(err, ErrNotCapture) {
				t.Fatalf("empty file: %v", err)
			}
		case cut < HeaderLen:
			if !errors.Is(err, ErrTruncated) || !strings.Contains(err.Error(), "file header") {
				t.Fatalf("cut at %d: %v", cut, err)
			}
		case boundary:
			if err != nil || len(got) != n {
				t.Fatalf("cut at record boundary %d: %d records, %v", cut, len(got), err)
			}
		default:
			if !errors.Is(err, ErrTruncated) || !errors.Is(err, io.ErrUnexpectedEOF) || !strings.Contains(err.Error(), "offset") {
				t.Fatalf("cut at %d: %v, want a truncation error naming the offset", cut, err)
			}
			for i := range got {
				if !bytes.Equal(got[i].msgs, recs[i].msgs) {
					t.Fatalf("cut at %d: record %d differs", cut, i)
				}
			}
		}
	}
	_, err := decode(file[:len(file)-3])
	t.Logf("a truncated file reads as: %v", err)
}

func TestCorruptionDetected(t *testing.T) {
	recs := testRecords(t, 3, 7)
	file := encode(t, recs)
	for i := range file {
		for _, bit := range []byte{0x01, 0x80} {
			bad := bytes.Clone(file)
			bad[i] ^= bit
			got, err := decode(bad)
			if err == nil {
				t.Fatalf("flipping bit %#x of byte %d went unnoticed (%d records)", bit, i, len(got))
			}
			switch {
			case i < len(Magic):
				if !errors.Is(err, ErrNotCapture) {
					t.Fatalf("byte %d: %v", i, err)
				}
			case i == len(Magic):
				if !errors.Is(err, ErrVersion) {
					t.Fatalf("byte %d: %v", i, err)
				}
			case i < HeaderLen:
				if !errors.Is(err, ErrCorrupt) {
					t.Fatalf("byte %d: %v", i, err)
				}
			default:
				if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrTruncated) || !strings.Contains(err.Error(), "offset") {
					t.Fatalf("byte %d: %v, want corruption naming the offset", i, err)
				}
			}
		}
	}
	bad := bytes.Clone(file)
	bad[HeaderLen+RecordHeaderLen+5] ^= 1
	_, err := decode(bad)
	t.Logf("a damaged record reads as: %v", err)
	if want := fmt.Sprintf("offset %d", HeaderLen); !strings.Contains(err.Error(), want) {
		t.Fatalf("%v does not name %s", err, want)
	}
}

func TestHugeLengthIsBounded(t *testing.T) {
	file := encode(t, testRecords(t, 1, 1))[:HeaderLen]
	var h [RecordHeaderLen]byte
	putRecordHeader(&h, 1, []byte{1})
	h[8], h[9], h[10], h[11] = 0xff, 0xff, 0xff, 0x7f // 2 GiB
	if _, err := decode(append(file, h[:]...)); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("2 GiB record: %v", err)
	}
	h[8], h[9], h[10], h[11] = 0, 0, 0, 1 // 16 MiB, but only 3 bytes there
	short := append(file, append(h[:], 1, 2, 3)...)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	if _, err := decode(short); !errors.Is(err, ErrTruncated) {
		t.Fatalf("16 MiB record in a short file: %v", err)
	}
	runtime.ReadMemStats(&after)
	if n := after.TotalAlloc - before.TotalAlloc; n > 1<<20 {
		t.Fatalf("reading a 3-byte record claiming 16 MiB allocated %d bytes", n)
	}
}
