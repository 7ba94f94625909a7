package publisher_test

import (
	"context"
	"github.com/tickcast/tickcast/egress"
	"path/filepath"
	"testing"

	"github.com/tickcast/tickcast/publisher"
	"github.com/tickcast/tickcast/publisher/capture"
	"github.com/tickcast/tickcast/publisher/source"
	"github.com/tickcast/tickcast/publisher/synth"
	"github.com/tickcast/tickcast/wire"
)

// A capture replayed through a publisher produces the same sequenced feed:
// every message at the same sequence, BookChecksums included (their
// schedule follows the data's exchange times, not a timer).
func TestReplayProducesTheSameFeed(t *testing.T) {
	path := filepath.Join(t.TempDir(), "run.tcc")
	w, err := capture.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	gen, err := synth.NewGenerator(synth.Config{Instruments: 4, Levels: 30, Seed: 11})
	if err != nil {
		t.Fatal(err)
	}
	const batches = 300
	original := runFeed(t, teeSource{finiteSource{gen: gen, batches: batches}, w}, batches+1)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	replay, err := capture.NewReplay(capture.ReplayConfig{Path: path, Speed: 0})
	if err != nil {
		t.Fatal(err)
	}
	replayed := runFeed(t, replay, batches+1)
	if len(original) != len(replayed) {
		t.Fatalf("original feed has %d messages, the replay %d", len(original), len(replayed))
	}
	checksums := 0
	for i := range original {
		if string(original[i]) != string(replayed[i]) {
			t.Fatalf("seq %d differs", i+1)
		}
		if wire.Type(original[i][2]) == wire.TypeBookChecksum {
			checksums++
		}
	}
	if checksums == 0 {
		t.Fatal("no BookChecksum in the feed")
	}
}

type teeSource struct {
	src source.Source
	w   *capture.Writer
}

func (t teeSource) Run(ctx context.Context, sink source.Sink) error {
	return t.src.Run(ctx, capture.Tee(sink, t.w))
}

// runFeed publishes src on a fresh pair of lines until the publisher took
// wantBatches, then returns line A's messages in sequence order.
func runFeed(t *testing.T, src source.Source, wantBatches uint64) [][]byte {
	t.Helper()
	recv, group := listen(t)
	pub, err := publisher.New(publisher.Config{
		Lines:         []egress.Line{{Name: "A", Group: group, Interface: "lo", Loopback: true}},
		ChecksumEvery: 20_000_000, // 20ms of exchange time
	})
	if err != nil {
		t.Fatal(err)
	}
	var c lineCapture
	done := make(chan struct{})
	go readLine(t, recv, &c, done)
	ctx, cancel := context.WithCancel(context.Background())
	runErr := make(chan error, 1)
	go func() { runErr <- pub.Run(ctx, src) }()
	waitFor(t, "the source's data", func() bool { return pub.Stats().Batches == wantBatches })
	cancel()
	if err := <-runErr; err != nil {
		t.Fatal(err)
	}
	<-done
	var out [][]byte
	for seq := uint64(1); ; {
		raw := c.pkts[seq]
		if raw == nil {
			break
		}
		p, _ := wire.Parse(raw)
		for it := p.Messages(); it.Next(); {
			out = append(out, it.Message().Bytes())
		}
		seq = p.End()
	}
	if uint64(len(out)) != pub.Stats().NextSeq-1 {
		t.Fatalf("read %d messages, published %d", len(out), pub.Stats().NextSeq-1)
	}
	return out
}
