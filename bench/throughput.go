package bench

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math"
	"time"
)

// ThroughputConfig configures [RunThroughput]. The zero value of a field
// means the default beside it.
type ThroughputConfig struct {
	// Lines is "ab" (both lines, the default) or "a".
	Lines string
	// ViaRelay runs every trial through the relay path (publisher → hub →
	// QUIC link → edge → subscriber, four processes): the rate is then
	// what the hub→edge link carries with zero loss at the edge's
	// subscriber.
	ViaRelay bool
	// Start is the first rate tried, in messages per second; 0 = 100 000.
	Start float64
	// Max is the highest rate tried; 0 = 8 000 000.
	Max float64
	// Step ends the search once the highest sustained and the lowest failed
	// rate are within this fraction of each other; 0 = 0.05.
	Step float64
	// Duration is each trial's recorded time; 0 = 3s.
	Duration time.Duration
	// Warmup runs before each trial's recording; 0 = 500ms, negative = none.
	Warmup time.Duration
	// Retries tries a failed rate again this many times before calling it
	// failed (this VM stalls at random); 0 = 1, negative = none.
	Retries int
	// Tick is the publisher's pacing (see [LatencyConfig]): 0 = 1ms, so
	// that the benchmark's own sender does not take a core from the system
	// under test; negative = spin.
	Tick time.Duration
	// MaxP99 fails a trial whose p99 latency is above it: queues grew
	// because something could not keep up, even if nothing was lost yet in
	// the trial's short window; 0 = 100ms.
	MaxP99 time.Duration
	// Instruments, Levels, BusyPoll, Pin, MaxPacket, Interface, Exec,
	// ChildLogLevel, ChildStderr, ProfileDir, Progress and Logger are as in
	// [LatencyConfig].
	Instruments   int
	Levels        int
	BusyPoll      bool
	Pin           bool
	MaxPacket     int
	Interface     string
	Exec          []string
	ChildLogLevel string
	ChildStderr   io.Writer
	ProfileDir    string
	Progress      io.Writer
	Logger        *slog.Logger
}

// Trial is one rate the throughput search tried.
type Trial struct {
	Rate float64 `json:"rate"`
	// OK: every message of the window was delivered, nothing was given up,
	// the publisher kept the rate and the p99 latency stayed below the
	// bound (no queue grew).
	OK bool `json:"ok"`
	// Why says what failed.
	Why            string      `json:"why,omitempty"`
	Sent           uint64      `json:"sent"`
	Delivered      uint64      `json:"delivered"`
	Lost           uint64      `json:"lost"`
	AchievedRate   float64     `json:"achieved_rate"`
	PacketsPerS    float64     `json:"packets_per_s"`
	DatagramsPerS  float64     `json:"datagrams_per_s"`
	SenderMaxLagUs float64     `json:"sender_max_lag_us"`
	Repair         Repair      `json:"repair"`
	LatencyUs      Percentiles `json:"latency_us"`
}

// ThroughputReport is the outcome of [RunThroughput]: the best sustained
// trial as a series (rate = the highest rate sustained with zero loss), and
// every trial.
type ThroughputReport struct {
	Series
	// Ceiling is true when the search reached Max without a failure: the
	// true limit is higher.
	Ceiling bool    `json:"ceiling"`
	TickS   float64 `json:"tick_s"` // the publisher's tick; 0 = it spins
	Trials  []Trial `json:"trials"`
	Host    Host    `json:"host"`
	Note    string  `json:"note"`
}

// WriteTable writes the report for a person.
func (r *ThroughputReport) WriteTable(w io.Writer) {
	pacing := "by spinning on the clock"
	if r.TickS > 0 {
		pacing = fmt.Sprintf("in %s ticks", time.Duration(r.TickS*1e9))
	}
	fmt.Fprintf(w, "throughput search, tickcast, lines %s, %s per trial, publisher paced %s (zero loss at the subscriber; NACK repair allowed)\n\n",
		r.Lines, time.Duration(r.DurationS*1e9), pacing)
	fmt.Fprintf(w, "%12s  %-4s  %10s  %10s  %7s  %10s  %12s  %5s  %8s  %8s  %s\n",
		"rate", "ok", "sent", "delivered", "lost", "achieved", "datagrams/s", "NACKs", "p50 µs", "p99 µs", "why")
	for _, t := range r.Trials {
		ok := "yes"
		if !t.OK {
			ok = "no"
		}
		fmt.Fprintf(w, "%12.0f  %-4s  %10d  %10d  %7d  %10.0f  %12.0f  %5d  %8s  %8s  %s\n",
			t.Rate, ok, t.Sent, t.Delivered, t.Lost, t.AchievedRate, t.DatagramsPerS, t.Repair.NACKs,
			fmtUs(t.LatencyUs.P50), fmtUs(t.LatencyUs.P99), t.Why)
	}
	fmt.Fprintln(w)
	switch {
	case r.Rate == 0:
		fmt.Fprintln(w, "no rate was sustained with zero loss")
	default:
		more := ""
		if r.Ceiling {
			more = " (the search's maximum: the limit is higher)"
		}
		fmt.Fprintf(w, "highest sustained rate: %.0f msg/s%s, %.0f packets/s (%.0f datagrams/s on all lines, %.0f bytes each)\n",
			r.Rate, more, r.PacketsPerS, r.DatagramsPerS, r.BytesPerDatagram)
		writeDetails(w, []*Series{&r.Series})
	}
	fmt.Fprintf(w, "\nnote: %s (%d CPUs).\n", r.Note, r.Host.CPUs)
}

// RunThroughput searches the highest rate tickcast sustains with zero loss
// at the subscriber: it doubles the rate from Start while trials succeed,
// then bisects between the last success and the first failure.
func RunThroughput(ctx context.Context, cfg ThroughputConfig) (*ThroughputReport, error) {
	if cfg.Start == 0 {
		cfg.Start = 100_000
	}
	if cfg.Max == 0 {
		cfg.Max = 8_000_000
	}
	if cfg.Step == 0 {
		cfg.Step = 0.05
	}
	switch {
	case cfg.Duration == 0:
		cfg.Duration = 3 * time.Second
	case cfg.Duration < 0:
		return nil, fmt.Errorf("bench: Duration %v is negative", cfg.Duration)
	}
	if cfg.Warmup == 0 {
		cfg.Warmup = 500 * time.Millisecond
	}
	if cfg.Retries == 0 {
		cfg.Retries = 1
	}
	switch {
	case cfg.Tick == 0:
		cfg.Tick = time.Millisecond
	case cfg.Tick < 0:
		cfg.Tick = 0
	}
	if cfg.MaxP99 == 0 {
		cfg.MaxP99 = 100 * time.Millisecond
	}
	if !(cfg.Step > 0 && cfg.Step < 1) {
		return nil, fmt.Errorf("bench: Step %v: want a fraction in (0, 1)", cfg.Step)
	}
	if cfg.Start > cfg.Max {
		return nil, fmt.Errorf("bench: Start %v above Max %v", cfg.Start, cfg.Max)
	}
	lc := LatencyConfig{
		Rate: cfg.Start, Duration: cfg.Duration, Warmup: cfg.Warmup, Instruments: cfg.Instruments, Levels: cfg.Levels, Tick: cfg.Tick,
		Lines: cfg.Lines, Runs: 1, BusyPoll: cfg.BusyPoll, Pin: cfg.Pin, MaxPacket: cfg.MaxPacket,
		Interface: cfg.Interface, Exec: cfg.Exec, ChildLogLevel: cfg.ChildLogLevel, ChildStderr: cfg.ChildStderr, ProfileDir: cfg.ProfileDir,
		Logger: cfg.Logger,
	}
	if err := lc.normalize(); err != nil {
		return nil, err
	}
	if _, err := NewSchedule(cfg.Max); err != nil {
		return nil, fmt.Errorf("bench: Max: %w", err)
	}
	r := &runner{cfg: lc}
	defer r.close()
	sys := systems[SystemTickcast]
	if cfg.ViaRelay {
		sys = systems[SystemRelay]
	}
	rep := &ThroughputReport{Host: thisHost(), Note: NoisyNote, TickS: cfg.Tick.Seconds()}
	var best *seriesRun
	try := func(rate float64) (bool, error) {
		rate = math.Round(rate/1000) * 1000
		for attempt := 0; ; attempt++ {
			sr, err := r.run(ctx, sys, rate, lc.Warmup, lc.Duration)
			if err != nil {
				return false, fmt.Errorf("bench: trial at %.0f msg/s: %w", rate, err)
			}
			t := judge(sys, rate, lc.Duration, cfg.MaxP99, sr)
			rep.Trials = append(rep.Trials, t)
			if cfg.Progress != nil {
				fmt.Fprintf(cfg.Progress, "trial %.0f msg/s: ok=%v sent %d delivered %d achieved %.0f %s\n",
					rate, t.OK, t.Sent, t.Delivered, t.AchievedRate, t.Why)
			}
			if t.OK {
				if rate >= rep.Rate {
					best, rep.Rate = sr, rate
				}
				return true, nil
			}
			if attempt >= cfg.Retries || ctx.Err() != nil {
				return false, ctx.Err()
			}
		}
	}
	good, bad := 0.0, 0.0
	for rate := cfg.Start; ; rate = min(rate*2, cfg.Max) {
		ok, err := try(rate)
		if err != nil {
			return nil, err
		}
		if !ok {
			bad = rate
			break
		}
		good = rate
		if rate >= cfg.Max {
			rep.Ceiling = true
			break
		}
	}
	for good > 0 && bad > 0 && (bad-good)/good > cfg.Step {
		mid := (good + bad) / 2
		ok, err := try(mid)
		if err != nil {
			return nil, err
		}
		if ok {
			good = mid
		} else {
			bad = mid
		}
	}
	if best != nil {
		rep.Series = *aggregate("throughput", sys, lc.Lines, rep.Rate, lc.Duration, []*seriesRun{best})
	} else {
		rep.Series = Series{Scenario: "throughput", System: sys.name, Lines: lc.Lines, DurationS: lc.Duration.Seconds()}
	}
	return rep, nil
}

// sustainedShare is how much of the asked rate the publisher must keep to
// sustain it.
const sustainedShare = 0.98

// judge says whether a trial sustained its rate.
func judge(sys system, rate float64, duration, maxP99 time.Duration, sr *seriesRun) Trial {
	s := aggregate("throughput", sys, "", rate, duration, []*seriesRun{sr})
	t := Trial{
		Rate: rate, Sent: sr.pub.Pace.InWindow, Delivered: sr.sub.Delivered, Lost: s.Lost,
		AchievedRate: sr.pub.Pace.achievedRate(), SenderMaxLagUs: s.SenderMaxLagUs, Repair: *s.Repair,
		LatencyUs: percentilesOf(sr.sub.Latency),
	}
	if sr.pub.WindowNs > 0 {
		secs := float64(sr.pub.WindowNs) / 1e9
		t.PacketsPerS, t.DatagramsPerS = float64(sr.pub.Packets)/secs, float64(sr.pub.Datagrams)/secs
	}
	switch {
	case !sr.pub.Pace.Complete:
		t.Why = "the publisher did not get every message out in time"
	case t.Lost > 0:
		t.Why = fmt.Sprintf("%d messages lost", t.Lost)
	case sr.sub.GaveUp > 0:
		t.Why = fmt.Sprintf("the subscriber gave up %d messages", sr.sub.GaveUp)
	case len(sr.sub.Resets) > 0:
		t.Why = fmt.Sprintf("the subscriber reset its books: %v", sr.sub.Resets)
	case t.AchievedRate < sustainedShare*rate:
		t.Why = fmt.Sprintf("the publisher kept only %.0f msg/s", t.AchievedRate)
	case t.LatencyUs.P99 > float64(maxP99)/1e3:
		t.Why = fmt.Sprintf("p99 latency %s: queues grew", usLabel(t.LatencyUs.P99))
	default:
		t.OK = true
	}
	return t
}
