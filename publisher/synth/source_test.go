package synth

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/tickcast/tickcast/wire"
)

var quiet = slog.New(slog.DiscardHandler)

// recorder is a sink that keeps a copy of every batch.
type recorder struct {
	mu      sync.Mutex
	batches [][]byte
	msgs    int
	delay   time.Duration // sleep in every Publish
	failAt  int           // fail the failAt-th Publish (1-based); 0 = never
}

func (r *recorder) Publish(b []byte) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.failAt > 0 && len(r.batches)+1 == r.failAt {
		return errClosed
	}
	r.batches = append(r.batches, bytes.Clone(b))
	for off := 0; off < len(b); off += int(binary.LittleEndian.Uint16(b[off:])) {
		r.msgs++
	}
	if r.delay > 0 {
		time.Sleep(r.delay)
	}
	return nil
}

var errClosed = errors.New("sink closed")

func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.msgs
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

// start runs src in the background; the returned stop cancels it and returns
// Run's error.
func start(t *testing.T, src *Source, sink *recorder) (stop func() error) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- src.Run(ctx, sink) }()
	stopped := false
	var err error
	stop = func() error {
		if !stopped {
			stopped = true
			cancel()
			select {
			case err = <-done:
			case <-time.After(30 * time.Second):
				t.Fatal("Run did not return after its context ended")
			}
		}
		return err
	}
	t.Cleanup(func() { stop() })
	return stop
}

// exchTime returns the exchange time field of a time-stamped message.
func exchTime(m wire.Message) (uint64, bool) {
	switch m.Type() {
	case wire.TypeLevelUpdate:
		return m.LevelUpdate().ExchTime, true
	case wire.TypeTrade:
		return m.Trade().ExchTime, true
	case wire.TypeBookClear:
		return m.BookClear().ExchTime, true
	}
	return 0, false
}

// zeroTimes returns a copy of b with every exchange time zeroed.
func zeroTimes(t *testing.T, b []byte) []byte {
	b = bytes.Clone(b)
	off := 0
	for _, m := range messages(t, b) {
		switch m.Type() {
		case wire.TypeLevelUpdate, wire.TypeTrade:
			clear(b[off+24 : off+32])
		case wire.TypeBookClear:
			clear(b[off+8 : off+16])
		}
		off += m.Len()
	}
	return b
}

// TestRunSchedule runs paced sources and checks every message: batches of
// whole events, consistent books, the generator's own stream, and exchange
// times exactly on the schedule.
func TestRunSchedule(t *testing.T) {
	for _, c := range []struct {
		name string
		cfg  Config
	}{
		{"steady", Config{Rate: 2000}},
		{"bursts", Config{Rate: 1000, Burst: 8, BurstEvery: 40 * time.Millisecond, BurstLen: 10 * time.Millisecond}},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			cfg := c.cfg
			cfg.Instruments, cfg.Levels, cfg.Seed, cfg.Logger = 4, 20, 11, quiet
			src, err := New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			sink := &recorder{}
			stop := start(t, src, sink)
			defs := 4 + 4*(1+2*20+1) // defs, then per book: clear, levels, status
			waitFor(t, "400 data messages", func() bool { return sink.count() >= defs+400 })
			if err := stop(); err != nil {
				t.Fatalf("Run: %v", err)
			}

			var all []byte
			for i, b := range sink.batches {
				if len(b) > batchLimit {
					t.Fatalf("batch %d: %d bytes", i, len(b))
				}
				ms := messages(t, b)
				last := ms[len(ms)-1]
				whole := last.Type() == wire.TypeInstrumentDef || last.Type() == wire.TypeInstrumentStatus ||
					last.Type() == wire.TypeLevelUpdate && last.LevelUpdate().EndOfEvent
				if !whole {
					t.Fatalf("batch %d ends inside an event (%v)", i, last.Type())
				}
				all = append(all, b...)
			}
			f := newFeed(t, 20)
			f.apply(all)

			// The stream is the generator's, whatever the pacing.
			g, _ := NewGenerator(cfg)
			want := g.Definitions(nil)
			for len(want) < len(all) {
				want = g.event(want)
			}
			if !bytes.Equal(zeroTimes(t, all), zeroTimes(t, want)) {
				t.Fatal("paced stream differs from the generator's")
			}

			// Exchange times: the start for definitions, the schedule for data.
			ms := messages(t, all)
			base := ms[4].BookClear().ExchTime
			sched := newSchedule(cfg)
			for i, m := range ms[defs:] {
				ts, ok := exchTime(m)
				if !ok {
					t.Fatalf("data message %d is a %v", i, m.Type())
				}
				if want := base + uint64(sched.at(int64(i))); ts != want {
					t.Fatalf("data message %d: exchange time %d, want start + %v", i, ts, time.Duration(sched.at(int64(i))))
				}
			}

			st := src.Stats()
			if st.Messages != uint64(len(ms)) || st.Batches != uint64(len(sink.batches)) ||
				st.Events != uint64(f.events) || st.Trades != uint64(f.trades) {
				t.Fatalf("stats %+v: %d messages, %d batches, %d events, %d trades",
					st, len(ms), len(sink.batches), f.events, f.trades)
			}
		})
	}
}

func TestRunStopsOnCancel(t *testing.T) {
	t.Parallel()
	src, _ := New(Config{Instruments: 10, Logger: quiet})
	sink := &recorder{}
	stop := start(t, src, sink)
	waitFor(t, "data", func() bool { return sink.count() > 20_000 })
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	n := sink.count()
	time.Sleep(20 * time.Millisecond)
	if sink.count() != n {
		t.Fatal("published after Run returned")
	}
}

func TestRunSinkError(t *testing.T) {
	t.Parallel()
	src, _ := New(Config{Instruments: 2, Levels: 10, Rate: 1e5, Logger: quiet})
	sink := &recorder{failAt: 3}
	err := src.Run(context.Background(), sink)
	if !errors.Is(err, errClosed) {
		t.Fatalf("Run: %v, want the sink's error", err)
	}
}

func TestRunCountsLateTicks(t *testing.T) {
	t.Parallel()
	src, _ := New(Config{Instruments: 2, Levels: 10, Rate: 1e5, Logger: quiet})
	sink := &recorder{delay: 2 * lateAfter} // every tick then finds messages due for longer
	stop := start(t, src, sink)
	waitFor(t, "late ticks", func() bool { return src.Stats().Late > 2 })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}

func TestRunOnce(t *testing.T) {
	t.Parallel()
	src, _ := New(Config{Instruments: 1, Levels: 5, Rate: 100, Logger: quiet})
	sink := &recorder{}
	stop := start(t, src, sink)
	waitFor(t, "definitions", func() bool { return sink.count() > 0 })
	if err := src.Run(context.Background(), sink); err == nil {
		t.Fatal("a second concurrent Run succeeded")
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}

// TestLargestBookFitsABatch: a book at the hard depth bound of the largest
// Levels still goes out as one event in one batch.
func TestLargestBookFitsABatch(t *testing.T) {
	g, err := NewGenerator(Config{Instruments: 1, Levels: MaxLevels})
	if err != nil {
		t.Fatal(err)
	}
	if n := wire.BookClearLen + 2*g.maxDepth*wire.LevelUpdateLen + wire.InstrumentStatusLen; n > batchLimit {
		t.Fatalf("a full book is %d bytes, more than a %d-byte batch", n, batchLimit)
	}
}
