package capture

import (
	"bytes"
	"io"
	"testing"

	"github.com/tickcast/tickcast/publisher/synth"
)

// benchBatch returns a typical batch: about 64 KiB of synthetic events.
func benchBatch(b *testing.B) []byte {
	g, err := synth.NewGenerator(synth.Config{Seed: 1})
	if err != nil {
		b.Fatal(err)
	}
	return g.Next(nil, 1500, 1)
}

func BenchmarkWriterWrite(b *testing.B) {
	batch := benchBatch(b)
	w, _ := NewWriter(io.Discard)
	b.ReportAllocs()
	b.SetBytes(int64(len(batch)))
	for b.Loop() {
		if err := w.Write(1, batch); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkReaderNext(b *testing.B) {
	batch := benchBatch(b)
	var file bytes.Buffer
	w, _ := NewWriter(&file)
	for range 64 {
		w.Write(1, batch)
	}
	w.Close()
	r := bytes.NewReader(file.Bytes())
	rd, _ := NewReader(r)
	b.ReportAllocs()
	b.SetBytes(int64(len(batch)))
	for b.Loop() {
		if _, _, err := rd.Next(); err == io.EOF {
			r.Reset(file.Bytes())
			rd, _ = NewReader(r)
		} else if err != nil {
			b.Fatal(err)
		}
	}
}
