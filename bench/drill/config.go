package drill

import (
	"fmt"
	"io"
	"log/slog"
	"math"
	"time"

	"github.com/tickcast/tickcast/intake"
	"github.com/tickcast/tickcast/publisher"
)

// Feed is what every drill runs: a synthetic publisher sending the A/B feed
// on one interface and a subscriber of both lines, in one process. The zero
// value of a field means the default given beside it.
type Feed struct {
	// Rate is the synthetic source's rate in messages per second;
	// 0 = 100 000.
	Rate float64
	// Duration is how long the source runs (for Restart, both sessions
	// together); 0 = 10s.
	Duration time.Duration
	// Instruments and Levels shape the synthetic market; 0 = 20 and 200
	// levels per side.
	Instruments, Levels int
	// Interface carries the multicast lines (TTL 0, loopback on); "" = "lo".
	Interface string
	// LineTimeout marks a silent line down at the subscriber; 0 = 300ms
	// (three heartbeats of the publisher).
	LineTimeout time.Duration
	// Settle bounds each wait after the source stopped: for the subscriber
	// to catch up, then to apply the last sequence; 0 = 30s.
	Settle time.Duration
	// Gap tunes the subscriber's arbiter ([subscriber.Config.Gap]): NACK
	// retries and RTO bounds (the time a hole may take before it is given
	// up), and the buffer of packets held ahead of a hole (when it
	// overflows, the oldest hole is given up). The zero value is the
	// library's defaults; OnRepair is the drill's own.
	Gap intake.Tuning
	// Seed seeds the synthetic market (a restart's new session uses
	// Seed+1) and the injected loss.
	Seed int64
	// Logger receives the publisher's and subscriber's logs; nil =
	// slog.Default().
	Logger *slog.Logger
	// Progress, if not nil, gets one line as each step of the drill happens
	// (the kill, the restart, the end of the session).
	Progress io.Writer
}

// checksumEvery is how often the drill's publisher checksums the books that
// changed: every quarter second, so the subscriber's books are checked
// often during a drill.
const checksumEvery = 250 * time.Millisecond

func (f *Feed) normalize() error {
	if f.Rate == 0 {
		f.Rate = 100_000
	}
	if !(f.Rate > 0) || math.IsInf(f.Rate, 0) {
		return fmt.Errorf("drill: Rate %v: want a positive rate in messages per second", f.Rate)
	}
	if f.Duration == 0 {
		f.Duration = 10 * time.Second
	}
	if f.Duration < 0 {
		return fmt.Errorf("drill: Duration %v is negative", f.Duration)
	}
	if f.Instruments == 0 {
		f.Instruments = 20
	}
	if f.Levels == 0 {
		f.Levels = 200
	}
	if f.Instruments < 0 || f.Levels < 0 {
		return fmt.Errorf("drill: Instruments %d / Levels %d: must be positive", f.Instruments, f.Levels)
	}
	if f.Interface == "" {
		f.Interface = "lo"
	}
	if f.LineTimeout < 0 {
		return fmt.Errorf("drill: LineTimeout %v is negative", f.LineTimeout)
	}
	if f.Gap.MaxHeldPackets < 0 || f.Gap.MaxRetries < 0 || f.Gap.MaxRTO < 0 {
		return fmt.Errorf("drill: Gap.MaxHeldPackets %d / MaxRetries %d / MaxRTO %v: must not be negative",
			f.Gap.MaxHeldPackets, f.Gap.MaxRetries, f.Gap.MaxRTO)
	}
	if f.Settle == 0 {
		f.Settle = 30 * time.Second
	}
	if f.Settle < 0 {
		return fmt.Errorf("drill: Settle %v is negative", f.Settle)
	}
	if f.Logger == nil {
		f.Logger = slog.Default()
	}
	if f.Progress == nil {
		f.Progress = io.Discard
	}
	return nil
}

// at checks a point in time of the drill: 0 = the middle of the run.
func (f *Feed) at(name string, at time.Duration) (time.Duration, error) {
	if at == 0 {
		at = f.Duration / 2
	}
	if at <= 0 || at >= f.Duration {
		return 0, fmt.Errorf("drill: %s %v: must be within the run, between 0 and Duration %v", name, at, f.Duration)
	}
	return at, nil
}

// FailoverConfig configures [Failover].
type FailoverConfig struct {
	Feed
	// Line is the publisher line whose sender stops: [publisher.LineA]
	// (the zero value) or [publisher.LineB].
	Line int
	// At is when the line stops, from the start of the feed; 0 = the middle
	// of the run.
	At time.Duration
}

func (c *FailoverConfig) normalize() error {
	if err := c.Feed.normalize(); err != nil {
		return err
	}
	if c.Line != publisher.LineA && c.Line != publisher.LineB {
		return fmt.Errorf("drill: Line %d: want publisher.LineA or publisher.LineB", c.Line)
	}
	var err error
	c.At, err = c.at("At", c.At)
	return err
}

// LossConfig configures [Loss].
type LossConfig struct {
	Feed
	// LossA and LossB are the probabilities, 0..1, that a packet is lost on
	// line A and on line B at the subscriber, independently (line B's
	// decisions use another seed). Both zero is a valid, loss-free baseline.
	LossA, LossB float64
}

func (c *LossConfig) normalize() error {
	if err := c.Feed.normalize(); err != nil {
		return err
	}
	for name, p := range map[string]float64{"LossA": c.LossA, "LossB": c.LossB} {
		if !(p >= 0 && p <= 1) {
			return fmt.Errorf("drill: %s %v: want a probability in [0, 1]", name, p)
		}
	}
	return nil
}

// RestartConfig configures [Restart].
type RestartConfig struct {
	Feed
	// At is when the publisher is stopped, from the start of the feed;
	// 0 = the middle of the run.
	At time.Duration
	// Pause is how long no publisher runs before the new one starts;
	// 0 = it starts at once.
	Pause time.Duration
	// Crash stops the old publisher without an end of session (its lines
	// fall silent, as when its host dies): the subscriber may adopt the
	// new session only once the old one has been silent for the line-down
	// interval (DESIGN.md, "Liveness").
	Crash bool
}

func (c *RestartConfig) normalize() error {
	if err := c.Feed.normalize(); err != nil {
		return err
	}
	var err error
	if c.At, err = c.at("At", c.At); err != nil {
		return err
	}
	if c.Pause < 0 || c.At+c.Pause >= c.Duration {
		return fmt.Errorf("drill: Pause %v: the new publisher must start before the end of the run (At %v, Duration %v)", c.Pause, c.At, c.Duration)
	}
	return nil
}

// LateJoinConfig configures [LateJoin].
type LateJoinConfig struct {
	Feed
	// At is when the late joiners start, from the start of the feed;
	// 0 = 2s, or a third of Duration if that is sooner.
	At time.Duration
	// Subscribers is how many subscribers join late at At, each without a
	// link (lines A and B, the publisher's retransmit server and the
	// recovery loop's groups); 0 = none: only the loop runs, which shows
	// what it costs the publisher alone.
	Subscribers int
	// RecoveryRate caps each recovery loop line in bytes per second;
	// 0 = recovery.DefaultRate (4 MiB/s).
	RecoveryRate float64
}

// maxLateJoiners bounds LateJoinConfig.Subscribers.
const maxLateJoiners = 500

func (c *LateJoinConfig) normalize() error {
	if err := c.Feed.normalize(); err != nil {
		return err
	}
	if c.At == 0 {
		c.At = min(2*time.Second, c.Duration/3)
	}
	if c.At <= 0 || c.At >= c.Duration {
		return fmt.Errorf("drill: At %v: must be within the run, between 0 and Duration %v", c.At, c.Duration)
	}
	if c.Subscribers < 0 || c.Subscribers > maxLateJoiners {
		return fmt.Errorf("drill: Subscribers %d: want 0 to %d", c.Subscribers, maxLateJoiners)
	}
	if !(c.RecoveryRate >= 0) || math.IsInf(c.RecoveryRate, 0) {
		return fmt.Errorf("drill: RecoveryRate %v: want 0 (the default) or a rate in bytes per second", c.RecoveryRate)
	}
	return nil
}
