package capture

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/tickcast/tickcast/publisher/synth"
)

var quiet = slog.New(slog.DiscardHandler)

// writeFile writes recs to a capture file in a test directory.
func writeFile(t *testing.T, recs []record) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "test.tccap")
	if err := os.WriteFile(path, encode(t, recs), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// timedSink records batches and when they arrived.
type timedSink struct {
	sink
	at []time.Time
}

func (s *timedSink) Publish(b []byte) error {
	s.mu.Lock()
	s.at = append(s.at, time.Now())
	s.mu.Unlock()
	return s.sink.Publish(b)
}

func (s *timedSink) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.batches)
}

// waitFor polls cond until it holds or a generous deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// runBackground runs src until the returned stop is called; stop returns Run's error.
func runBackground(t *testing.T, run func(context.Context) error) (stop func() error) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx) }()
	var once sync.Once
	var err error
	stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case err = <-done:
			case <-time.After(30 * time.Second):
				t.Fatal("Run did not return after its context ended")
			}
		})
		return err
	}
	t.Cleanup(func() { stop() })
	return stop
}

func sameBatches(t *testing.T, got [][]byte, want []record) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d batches, want %d", len(got), len(want))
	}
	for i := range want {
		if !bytes.Equal(got[i], want[i].msgs) {
			t.Fatalf("batch %d differs", i)
		}
	}
}

func TestReplayAsFastAsPossible(t *testing.T) {
	t.Parallel()
	recs := testRecords(t, 200, int64(time.Minute)) // 200 minutes of recording
	rp, err := NewReplay(ReplayConfig{Path: writeFile(t, recs), Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	down := &sink{}
	if err := rp.Run(context.Background(), down); err != nil {
		t.Fatalf("Run: %v", err)
	}
	sameBatches(t, down.batches, recs)
	if st := rp.Stats(); st.Batches != 200 || st.Passes != 1 || st.Messages == 0 {
		t.Fatalf("stats %+v", st)
	}
}

func TestReplayKeepsRelativeTiming(t *testing.T) {
	t.Parallel()
	for _, speed := range []float64{1, 4} {
		gaps := []time.Duration{0, 30 * time.Millisecond, 30 * time.Millisecond, 100 * time.Millisecond, 0, 40 * time.Millisecond}
		recs := testRecords(t, len(gaps), 0)
		for i := 1; i < len(recs); i++ {
			recs[i].rx = recs[i-1].rx + int64(gaps[i])
		}
		rp, err := NewReplay(ReplayConfig{Path: writeFile(t, recs), Speed: speed, Logger: quiet})
		if err != nil {
			t.Fatal(err)
		}
		down := &timedSink{}
		start := time.Now()
		if err := rp.Run(context.Background(), down); err != nil {
			t.Fatal(err)
		}
		elapsed := time.Since(start)
		sameBatches(t, down.batches, recs)
		for i := range recs {
			// Never early: each batch comes no sooner than its recorded offset / speed.
			want := time.Duration(float64(recs[i].rx-recs[0].rx) / speed)
			if got := down.at[i].Sub(down.at[0]); got < want {
				t.Fatalf("speed %v: batch %d at +%v, recorded at +%v", speed, i, got, want)
			}
		}
		if span := time.Duration(float64(recs[len(recs)-1].rx-recs[0].rx) / speed); elapsed < span {
			t.Fatalf("speed %v: replay took %v, shorter than the recorded %v", speed, elapsed, span)
		}
	}
}

func TestReplayLoop(t *testing.T) {
	t.Parallel()
	recs := testRecords(t, 5, 1000)
	rp, err := NewReplay(ReplayConfig{Path: writeFile(t, recs), Loop: true, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	down := &timedSink{}
	stop := runBackground(t, func(ctx context.Context) error { return rp.Run(ctx, down) })
	waitFor(t, "three passes", func() bool { return down.count() >= 15 })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	got := down.snapshot()
	for i, b := range got {
		if !bytes.Equal(b, recs[i%len(recs)].msgs) {
			t.Fatalf("batch %d is not record %d", i, i%len(recs))
		}
	}
	if rp.Stats().Passes < 2 {
		t.Fatalf("stats %+v", rp.Stats())
	}
}

func TestReplayStopsWhileWaiting(t *testing.T) {
	t.Parallel()
	recs := testRecords(t, 2, int64(time.Hour))
	rp, _ := NewReplay(ReplayConfig{Path: writeFile(t, recs), Speed: 1, Logger: quiet})
	down := &timedSink{}
	stop := runBackground(t, func(ctx context.Context) error { return rp.Run(ctx, down) })
	waitFor(t, "the first batch", func() bool { return down.count() == 1 })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if down.count() != 1 {
		t.Fatal("published a batch due in an hour")
	}
}

func TestReplayDamagedFile(t *testing.T) {
	t.Parallel()
	recs := testRecords(t, 4, 1)
	file := encode(t, recs)
	path := filepath.Join(t.TempDir(), "cut.tccap")
	os.WriteFile(path, file[:len(file)-10], 0o644)
	rp, err := NewReplay(ReplayConfig{Path: path, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	down := &sink{}
	if err := rp.Run(context.Background(), down); !errors.Is(err, ErrTruncated) {
		t.Fatalf("Run on a truncated file: %v", err)
	}
	sameBatches(t, down.batches, recs[:3])

	closed := errors.New("closed")
	rp, _ = NewReplay(ReplayConfig{Path: writeFile(t, recs), Logger: quiet})
	if err := rp.Run(context.Background(), &sink{err: closed}); !errors.Is(err, closed) {
		t.Fatalf("Run on a closed sink: %v", err)
	}
}

func TestNewReplayValidates(t *testing.T) {
	t.Parallel()
	good := writeFile(t, testRecords(t, 2, 1))
	notCapture := filepath.Join(t.TempDir(), "x")
	os.WriteFile(notCapture, []byte("hello, world: not a capture"), 0o644)
	for _, cfg := range []ReplayConfig{
		{},
		{Path: good, Speed: -1},
		{Path: good, Speed: math.NaN()},
		{Path: good, Speed: math.Inf(1)},
		{Path: filepath.Join(t.TempDir(), "missing")},
		{Path: notCapture},
	} {
		if _, err := NewReplay(cfg); err == nil {
			t.Errorf("%+v accepted", cfg)
		} else {
			t.Logf("%v", err)
		}
	}
}

// TestSynthCaptureReplay records a paced synth run through Tee and replays the
// file: the replay publishes the same batches, byte for byte.
func TestSynthCaptureReplay(t *testing.T) {
	t.Parallel()
	src, err := synth.New(synth.Config{Instruments: 5, Levels: 20, Rate: 20_000, Seed: 3, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "synth.tccap")
	w, err := Create(path)
	if err != nil {
		t.Fatal(err)
	}
	live := &timedSink{}
	stop := runBackground(t, func(ctx context.Context) error { return src.Run(ctx, Tee(live, w)) })
	waitFor(t, "50 batches", func() bool { return live.count() >= 50 })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}

	rp, err := NewReplay(ReplayConfig{Path: path, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	replayed := &sink{}
	if err := rp.Run(context.Background(), replayed); err != nil {
		t.Fatal(err)
	}
	want := live.snapshot()
	if len(replayed.batches) != len(want) {
		t.Fatalf("replayed %d batches, recorded %d", len(replayed.batches), len(want))
	}
	for i := range want {
		if !bytes.Equal(replayed.batches[i], want[i]) {
			t.Fatalf("batch %d differs", i)
		}
	}
	if st := rp.Stats(); st.Messages != src.Stats().Messages {
		t.Fatalf("replayed %d messages, synth published %d", st.Messages, src.Stats().Messages)
	}
}
