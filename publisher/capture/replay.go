package capture

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"sync/atomic"
	"time"

	"github.com/tickcast/tickcast/publisher/source"
)

// ReplayConfig configures a [Replay].
type ReplayConfig struct {
	// Path is the capture file to replay; required.
	Path string
	// Speed scales the recorded pace: 1 replays in real time, 10 ten times
	// faster; 0 means as fast as the sink takes the batches.
	Speed float64
	// Loop replays the file again from the start after its end, forever (its
	// definitions and book clears come again); false means Run returns at the
	// end of the file.
	Loop bool
	// Logger receives lifecycle logs; nil means slog.Default().
	Logger *slog.Logger
}

// ReplayStats counts what a [Replay] published.
type ReplayStats struct {
	Batches  uint64 // Publish calls: records replayed
	Messages uint64 // messages published
	Passes   uint64 // passes over the file completed
}

// Replay is a [source.Source] that publishes the records of a capture file,
// each batch as it was recorded, paced by the recorded receive times.
type Replay struct {
	cfg     ReplayConfig
	log     *slog.Logger
	running atomic.Bool

	batches, messages, passes atomic.Uint64
}

var _ source.Source = (*Replay)(nil)

// NewReplay validates cfg and checks that cfg.Path is a capture file.
func NewReplay(cfg ReplayConfig) (*Replay, error) {
	if cfg.Path == "" {
		return nil, errors.New("capture: ReplayConfig.Path is empty")
	}
	if !(cfg.Speed >= 0) || math.IsInf(cfg.Speed, 0) {
		return nil, fmt.Errorf("capture: ReplayConfig.Speed = %v: want 0 (as fast as possible) or a positive factor", cfg.Speed)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	f, err := os.Open(cfg.Path)
	if err != nil {
		return nil, fmt.Errorf("capture: ReplayConfig.Path: %w", err)
	}
	defer f.Close()
	if _, err := NewReader(f); err != nil {
		return nil, fmt.Errorf("capture: ReplayConfig.Path = %s: %w", cfg.Path, err)
	}
	return &Replay{cfg: cfg, log: cfg.Logger}, nil
}

// Stats returns the counters so far; it is safe to call while Run runs.
func (r *Replay) Stats() ReplayStats {
	return ReplayStats{Batches: r.batches.Load(), Messages: r.messages.Load(), Passes: r.passes.Load()}
}

// Run publishes the file's batches to sink in order, the first at once and
// each next one when the recorded receive-time gap, divided by Speed, has
// passed since the first (a clock that went back in the recording counts as
// no gap). It returns nil when ctx ends or, without Loop, at the end of the
// file; an error when the file is damaged (the batches before the damage were
// published) or the sink fails.
func (r *Replay) Run(ctx context.Context, sink source.Sink) error {
	if !r.running.CompareAndSwap(false, true) {
		return errors.New("capture: replay Run called while already running")
	}
	defer r.running.Store(false)
	f, err := os.Open(r.cfg.Path)
	if err != nil {
		return fmt.Errorf("capture: replay: %w", err)
	}
	defer f.Close()
	r.log.Info("capture: replaying", "path", r.cfg.Path, "speed", r.cfg.Speed, "loop", r.cfg.Loop)

	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	for {
		n, err := r.pass(ctx, f, sink, timer)
		if err != nil || ctx.Err() != nil {
			return err
		}
		r.passes.Add(1)
		if !r.cfg.Loop || n == 0 {
			st := r.Stats()
			r.log.Info("capture: replay done", "path", r.cfg.Path, "batches", st.Batches, "messages", st.Messages)
			return nil
		}
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return fmt.Errorf("capture: replay: rewind %s: %w", r.cfg.Path, err)
		}
	}
}

// pass replays the file once from its current position (its start) and
// returns the number of batches published. It returns early, without error,
// when ctx ends.
func (r *Replay) pass(ctx context.Context, f io.Reader, sink source.Sink, timer *time.Timer) (int, error) {
	rd, err := NewReader(f)
	if err != nil {
		return 0, fmt.Errorf("capture: replay %s: %w", r.cfg.Path, err)
	}
	var (
		start   time.Time
		first   int64 // receive time of the first record
		elapsed int64 // recorded time since the first record, never decreasing
	)
	for n := 0; ; n++ {
		rx, msgs, err := rd.Next()
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, fmt.Errorf("capture: replay %s: %w", r.cfg.Path, err)
		}
		if n == 0 {
			start, first = time.Now(), rx
		}
		elapsed = max(elapsed, rx-first)
		if r.cfg.Speed > 0 {
			due := start.Add(time.Duration(float64(elapsed) / r.cfg.Speed))
			if wait := time.Until(due); wait > 0 {
				timer.Reset(wait)
				select {
				case <-ctx.Done():
					return n, nil
				case <-timer.C:
				}
			}
		}
		if ctx.Err() != nil {
			return n, nil
		}
		if err := sink.Publish(msgs); err != nil {
			return n, fmt.Errorf("capture: replay: publish: %w", err)
		}
		r.batches.Add(1)
		r.messages.Add(uint64(countMessages(msgs)))
	}
}

// countMessages counts the messages of a validated batch.
func countMessages(b []byte) int {
	n := 0
	for off := 0; off < len(b); off += int(b[off]) | int(b[off+1])<<8 {
		n++
	}
	return n
}
