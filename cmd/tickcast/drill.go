package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"strings"
	"time"

	"github.com/tickcast/tickcast/bench/drill"
	"github.com/tickcast/tickcast/intake"
	"github.com/tickcast/tickcast/publisher"
)

const drillUsage = `Usage: tickcast drill failover|loss|restart|wan|fanout|late-join [flags]

Drills break the feed on purpose and check that the subscriber keeps its
promises. Each runs a synthetic publisher and a subscriber in this process on
loopback multicast (a private pair of groups in 239/8 on lo, TTL 0, random
ports), for a bounded time, then ends the session, waits for the subscriber to
apply the last sequence and compares every book with the publisher's.

  failover  line A (or B) stops sending mid-stream
  loss      both lines lose packets at random, repaired by the other line or NACK
  restart   the publisher restarts with a new session on the same groups and ports
  wan       publisher → hub → lossy, delayed A/B WAN paths → edge → subscriber
  fanout    publisher → hub → 60 edges over QUIC (optionally slow ones behind a cap)
  late-join subscribers without a link join late and rebuild every book from the recovery loop

It prints a short table and PASS or FAIL (exit status 1), and writes the
figures as JSON with --json. Run 'tickcast drill <drill> --help' for its flags.

Examples:
  tickcast drill failover --rate 600000 --duration 10s --kill a --at 5s
  tickcast drill loss --loss-a 0.05 --loss-b 0.05 --rate 100000 --duration 10s --json loss.json
  tickcast drill restart --rate 100000 --duration 10s --at 5s
  tickcast drill wan --loss 0.05 --rtt 250ms --rate 20000 --duration 10s --blackhole-at 5s
  tickcast drill fanout --edges 60 --rate 20000 --duration 10s --slow 1
  tickcast drill late-join --instruments 100 --levels 200 --rate 100000 --duration 10s --at 3s
`

const drillJSONNotes = `
JSON (--json): "sent", "delivered", "lost", "app_gaps", "line_down_detected_ms",
"max_latency_us", "books_match", and more figures besides (latency_us, gaps,
resets, line_downs, checksums, …); null where a figure does not apply.
PASS means: nothing lost, the books match the publisher's, and the drill's own
promise below.`

const failoverNotes = `
The publisher's line A (or B) sender stops at --at while the subscriber runs;
the subscriber must carry on from the other line.
PASS: lost 0, app_gaps 0, books_match true, and the dead line reported down
(line_down_detected_ms: from the kill to the subscriber's line-down event).
` + drillJSONNotes + `

Example:
  tickcast drill failover --rate 600000 --duration 10s --kill a --at 5s --json failover.json
`

const lossNotes = `
Each subscriber line loses packets at random, independently (injected in the
subscriber as they are received, each line with its own seed). Holes are filled
by the other line or by NACK to the publisher's UDP retransmit server.
PASS: lost 0, app_gaps 0, books_match true.
` + drillJSONNotes + `
The loss drill adds "nacks", "retransmitted", "recovery_us" {p50, p99, p999,
max, count} (how long each hole stayed open, from the arbiter) and
"nack_recovery_us" (the same for holes that needed a NACK).

Example:
  tickcast drill loss --loss-a 0.01 --loss-b 0.01 --rate 100000 --duration 10s
`

const restartNotes = `
At --at the publisher stops gracefully (end of session; with --crash its lines
just fall silent, as when its host dies); after --pause a new publisher starts a new session on the same groups, retransmit port and link
port, with another synthetic market. The subscriber runs throughout and must
follow the new session.
PASS: lost 0, books_match true against the NEW publisher, 2 sessions joined.
` + drillJSONNotes + `
The restart drill adds "sessions" and "resync_ms" (from the old publisher's
stop to the subscriber's first event of the new session).

Example:
  tickcast drill restart --rate 100000 --duration 10s --at 5s
`

// drillFlags are the flags every drill takes.
type drillFlags struct {
	fs          *flag.FlagSet
	rate        *float64
	duration    *time.Duration
	instruments *int
	levels      *int
	iface       *string
	lineTimeout *time.Duration
	settle      *time.Duration
	seed        *int64
	maxHeld     *int
	maxRetries  *int
	maxRTO      *time.Duration
	jsonPath    *string
	quiet       *bool
	logger      func() (*slog.Logger, error)
}

func newDrillFlags(name, notes string, stdout, stderr io.Writer) *drillFlags {
	fs := newFlags("drill "+name, "drill "+name+" [flags]", notes, stdout)
	d := &drillFlags{fs: fs}
	d.rate = fs.Float64("rate", 100_000, "messages per second from the synthetic source")
	d.duration = fs.Duration("duration", 10*time.Second, "how long the feed runs")
	d.instruments = fs.Int("instruments", 20, "number of instruments")
	d.levels = fs.Int("levels", 200, "levels per side")
	d.iface = fs.String("iface", "lo", "interface of the multicast lines (TTL 0)")
	d.lineTimeout = fs.Duration("line-timeout", 300*time.Millisecond, "the subscriber marks a line down after this long without a packet")
	d.settle = fs.Duration("settle", 30*time.Second, "at the end, longest wait for the subscriber to apply the last sequence")
	d.maxHeld = fs.Int("max-held", 0, "packets the subscriber holds ahead of a hole before it gives the hole up (0 = the library's default, 4096)")
	d.maxRetries = fs.Int("max-retries", 0, "NACKs per hole before the subscriber gives it up (0 = the library's default, 6)")
	d.maxRTO = fs.Duration("max-rto", 0, "longest wait between two NACKs of a hole (0 = the library's default, 50ms)")
	d.seed = fs.Int64("seed", 1, "seed of the synthetic market and of the injected loss")
	d.jsonPath = fs.String("json", "", "write the figures as JSON to this file (- = standard output, the table then goes to standard error)")
	d.quiet = fs.Bool("quiet", false, "print only the table, not the steps as they happen")
	d.logger = logFlags(fs, stderr)
	if f := fs.Lookup("log-level"); f != nil {
		// A drill reports through its table: only warnings by default.
		f.DefValue = "warn"
		f.Value.Set("warn")
	}
	return d
}

// feed parses args and checks the common flags.
func (d *drillFlags) feed(args []string) (drill.Feed, error) {
	if err := parse(d.fs, args); err != nil {
		return drill.Feed{}, err
	}
	switch {
	case !(*d.rate > 0):
		return drill.Feed{}, usagef("--rate %v: must be positive", *d.rate)
	case *d.duration <= 0:
		return drill.Feed{}, usagef("--duration %v: must be positive", *d.duration)
	case *d.instruments <= 0:
		return drill.Feed{}, usagef("--instruments %d: must be positive", *d.instruments)
	case *d.levels <= 0:
		return drill.Feed{}, usagef("--levels %d: must be positive", *d.levels)
	case *d.lineTimeout <= 0:
		return drill.Feed{}, usagef("--line-timeout %v: must be positive", *d.lineTimeout)
	case *d.settle <= 0:
		return drill.Feed{}, usagef("--settle %v: must be positive", *d.settle)
	case *d.maxHeld < 0:
		return drill.Feed{}, usagef("--max-held %d: must not be negative", *d.maxHeld)
	case *d.maxRetries < 0:
		return drill.Feed{}, usagef("--max-retries %d: must not be negative", *d.maxRetries)
	case *d.maxRTO < 0 || *d.maxRTO > 0 && *d.maxRTO < 500*time.Microsecond:
		return drill.Feed{}, usagef("--max-rto %v: want 0 (the default) or at least 500µs", *d.maxRTO)
	case *d.iface == "":
		return drill.Feed{}, usagef("--iface: required")
	}
	log, err := d.logger()
	if err != nil {
		return drill.Feed{}, err
	}
	return drill.Feed{
		Rate: *d.rate, Duration: *d.duration, Instruments: *d.instruments, Levels: *d.levels,
		Interface: *d.iface, LineTimeout: *d.lineTimeout, Settle: *d.settle, Seed: *d.seed, Logger: log,
		Gap: intake.Tuning{MaxHeldPackets: *d.maxHeld, MaxRetries: *d.maxRetries, MaxRTO: *d.maxRTO},
	}, nil
}

// checkAt checks a point in time flag: 0 = the middle of the run.
func checkAt(name string, at, duration time.Duration) error {
	if at < 0 || at >= duration {
		return usagef("--%s %v: must be within --duration %v", name, at, duration)
	}
	return nil
}

func runDrill(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usagef("which drill? want failover, loss, restart, wan, fanout or late-join")
	}
	switch args[0] {
	case "-h", "--help", "-help", "help":
		fmt.Fprint(stdout, drillUsage)
		return errHelp
	case "failover":
		return runFailover(ctx, args[1:], stdout, stderr)
	case "loss":
		return runLoss(ctx, args[1:], stdout, stderr)
	case "restart":
		return runRestart(ctx, args[1:], stdout, stderr)
	case "wan":
		return runWAN(ctx, args[1:], stdout, stderr)
	case "fanout":
		return runFanout(ctx, args[1:], stdout, stderr)
	case "late-join":
		return runLateJoin(ctx, args[1:], stdout, stderr)
	}
	return usagef("unknown drill %q: want failover, loss, restart, wan, fanout or late-join", args[0])
}

func runFailover(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	d := newDrillFlags("failover", failoverNotes, stdout, stderr)
	kill := d.fs.String("kill", "a", "the line whose sender stops: a or b")
	at := d.fs.Duration("at", 0, "when the line stops, from the start (0 = the middle of --duration)")
	feed, err := d.feed(args)
	if err != nil {
		return err
	}
	cfg := drill.FailoverConfig{Feed: feed, At: *at}
	switch strings.ToLower(*kill) {
	case "a":
		cfg.Line = publisher.LineA
	case "b":
		cfg.Line = publisher.LineB
	default:
		return usagef("--kill %q: want a or b", *kill)
	}
	if err := checkAt("at", *at, feed.Duration); err != nil {
		return err
	}
	return d.report(ctx, "failover", func(ctx context.Context, progress io.Writer) (drill.Report, error) {
		cfg.Progress = progress
		return drill.Failover(ctx, cfg)
	}, stdout, stderr)
}

func runLoss(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	d := newDrillFlags("loss", lossNotes, stdout, stderr)
	lossA := d.fs.Float64("loss-a", 0.01, "probability, 0..1, that a packet is lost on line A")
	lossB := d.fs.Float64("loss-b", 0.01, "probability, 0..1, that a packet is lost on line B")
	feed, err := d.feed(args)
	if err != nil {
		return err
	}
	for name, p := range map[string]float64{"loss-a": *lossA, "loss-b": *lossB} {
		if !(p >= 0 && p <= 1) {
			return usagef("--%s %v: want a probability between 0 and 1 (0.01 = 1%%)", name, p)
		}
	}
	cfg := drill.LossConfig{Feed: feed, LossA: *lossA, LossB: *lossB}
	return d.report(ctx, "loss", func(ctx context.Context, progress io.Writer) (drill.Report, error) {
		cfg.Progress = progress
		return drill.Loss(ctx, cfg)
	}, stdout, stderr)
}

func runRestart(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	d := newDrillFlags("restart", restartNotes, stdout, stderr)
	at := d.fs.Duration("at", 0, "when the publisher restarts, from the start (0 = the middle of --duration)")
	pause := d.fs.Duration("pause", 0, "how long no publisher runs before the new one starts")
	crash := d.fs.Bool("crash", false, "the old publisher dies without an end of session: the new session is adopted once the old one was silent for the line-down interval (300ms)")
	feed, err := d.feed(args)
	if err != nil {
		return err
	}
	if err := checkAt("at", *at, feed.Duration); err != nil {
		return err
	}
	start := *at
	if start == 0 {
		start = feed.Duration / 2
	}
	if *pause < 0 || start+*pause >= feed.Duration {
		return usagef("--pause %v: must not be negative, and the new publisher must start within --duration %v", *pause, feed.Duration)
	}
	cfg := drill.RestartConfig{Feed: feed, At: *at, Pause: *pause, Crash: *crash}
	return d.report(ctx, "restart", func(ctx context.Context, progress io.Writer) (drill.Report, error) {
		cfg.Progress = progress
		return drill.Restart(ctx, cfg)
	}, stdout, stderr)
}

// report runs the drill, writes its JSON and table, and turns FAIL into an
// error (exit status 1).
func (d *drillFlags) report(ctx context.Context, name string, run func(context.Context, io.Writer) (drill.Report, error), stdout, stderr io.Writer) error {
	out := stdout
	if *d.jsonPath == "-" {
		out = stderr
	}
	progress := out
	if *d.quiet {
		progress = io.Discard
	}
	rep, err := run(ctx, progress)
	if err != nil {
		return err
	}
	if *d.jsonPath != "" {
		b, err := json.MarshalIndent(rep, "", "  ")
		if err != nil {
			return err
		}
		b = append(b, '\n')
		if *d.jsonPath == "-" {
			if _, err := stdout.Write(b); err != nil {
				return err
			}
		} else if err := os.WriteFile(*d.jsonPath, b, 0o644); err != nil {
			return fmt.Errorf("write --json %s: %w", *d.jsonPath, err)
		}
	}
	fmt.Fprintln(out)
	if err := rep.WriteText(out); err != nil {
		return err
	}
	if f := rep.Failures(); len(f) > 0 {
		return fmt.Errorf("%s drill failed: %s", name, strings.Join(f, "; "))
	}
	return nil
}

const wanNotes = `
Publisher → hub relay (the publisher's multicast lines) → two WAN paths (an
A and a B path, in-process impairing UDP proxies: --loss each way, --rtt,
--jitter) → edge relay (QUIC in on both paths, re-multicast out) →
subscriber of the edge, all in this process on loopback, or with
--processes the hub and the edge as separate processes (their CPU is in
"relay_processes"). --blackhole-at drops everything on the A path from
then on.
` + drillJSONNotes + `
The WAN drill adds "loss", "rtt_ms", "jitter_ms", "blackhole_at_s",
"path_a_down", "edge_nacks", "edge_lost", "wan_datagrams_lost" and "hops":
per hop (hub, edge, subscriber) "latency_us" from the publisher's send time
and "added_latency_us", its share (the edge's without the path's one-way
delay). The latency goal (the edge's added p99.9 within 2 RTT) is
reported in "goals_missed" and the table, apart from PASS: timing on a
shared machine is a measurement, not a verdict.

Example:
  tickcast drill wan --loss 0.003 --rtt 30ms --rate 20000 --duration 10s
  tickcast drill wan --loss 0.05 --rtt 250ms --jitter 5ms --blackhole-at 5s
`

func runWAN(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	d := newDrillFlags("wan", wanNotes, stdout, stderr)
	loss := d.fs.Float64("loss", 0.003, "probability, 0..1, that a datagram is lost on a WAN path, each way")
	rtt := d.fs.Duration("rtt", 30*time.Millisecond, "round trip of each WAN path")
	jitter := d.fs.Duration("jitter", 0, "uniform ± jitter on each datagram's one-way delay")
	blackholeAt := d.fs.Duration("blackhole-at", 0, "drop everything on the A path from this time on (0 = never)")
	processes := d.fs.Bool("processes", false, "run the hub and the edge as separate processes (this executable, started again)")
	feed, err := d.feed(args)
	if err != nil {
		return err
	}
	if !(*loss >= 0 && *loss <= 1) {
		return usagef("--loss %v: want a probability between 0 and 1 (0.003 = 0.3%%)", *loss)
	}
	if *rtt <= 0 || *jitter < 0 {
		return usagef("--rtt %v must be positive, --jitter %v not negative", *rtt, *jitter)
	}
	if *blackholeAt < 0 || *blackholeAt >= feed.Duration {
		return usagef("--blackhole-at %v: must be within --duration %v", *blackholeAt, feed.Duration)
	}
	cfg := drill.WANConfig{Feed: feed, Loss: *loss, RTT: *rtt, Jitter: *jitter, BlackholeAt: *blackholeAt, Processes: *processes}
	return d.report(ctx, "wan", func(ctx context.Context, progress io.Writer) (drill.Report, error) {
		cfg.Progress = progress
		return drill.WAN(ctx, cfg)
	}, stdout, stderr)
}

const fanoutNotes = `
Publisher → hub relay (the publisher's multicast lines) → --edges edge
relays, each over its own QUIC link from the hub, all in this process on
loopback (the CPU figure is the whole process's), or with --processes the hub
as a separate process ("hub_process": its own CPU); a subscriber follows
edge 0's re-multicast. With --slow N, N more edges join after the first second
through impairing proxies capped at --slow-share of the feed's bytes.
` + drillJSONNotes + `
The fan-out drill adds "edges", "edges_books_match", "edges_lost",
"arrival_spread_us" (per packet, from the first healthy edge forwarding it to
the last: p50, p99, p99.9, max), "edge_latency_us" (publisher send → edge
forward, all healthy edges), "hub_packets", "hub_datagrams", "hub_cut_off",
"slow_edges" (name, max_loss, cut_off) and "slow_cap_bps". PASS also needs
every healthy edge's books equal to the publisher's with nothing given up,
and every slow edge shown losing half its datagrams or cut off.

Examples:
  tickcast drill fanout --edges 60 --rate 20000 --duration 10s
  tickcast drill fanout --edges 60 --rate 20000 --duration 10s --slow 1
`

func runFanout(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	d := newDrillFlags("fanout", fanoutNotes, stdout, stderr)
	edges := d.fs.Int("edges", 60, "edge relays fed by the hub over QUIC (1 to 500)")
	slow := d.fs.Int("slow", 0, "slow edges, besides, behind a bandwidth cap (0 to 50)")
	share := d.fs.Float64("slow-share", 0.1, "the slow edges' cap as a share of the feed's bytes (0 to 1)")
	processes := d.fs.Bool("processes", false, "run the hub as a separate process, so its CPU is its own (not with --slow)")
	feed, err := d.feed(args)
	if err != nil {
		return err
	}
	switch {
	case *edges < 1 || *edges > 500:
		return usagef("--edges %d: want 1 to 500", *edges)
	case *slow < 0 || *slow > 50:
		return usagef("--slow %d: want 0 to 50", *slow)
	case !(*share > 0 && *share < 1):
		return usagef("--slow-share %v: want a share between 0 and 1 (0.1 = 10%%)", *share)
	case *slow > 0 && *processes:
		return usagef("--slow with --processes: slow edges need the hub in this process (their loss is read from its stats)")
	case *slow > 0 && feed.Duration < 3*time.Second:
		return usagef("--duration %v: slow edges need at least 3s (they join after the first second)", feed.Duration)
	}
	cfg := drill.FanoutConfig{Feed: feed, Edges: *edges, Slow: *slow, SlowShare: *share, Processes: *processes}
	return d.report(ctx, "fanout", func(ctx context.Context, progress io.Writer) (drill.Report, error) {
		cfg.Progress = progress
		return drill.Fanout(ctx, cfg)
	}, stdout, stderr)
}

const lateJoinNotes = `
The publisher sends the feed and the recovery loop: every instrument's
definition, status and book, one at a time, cycling, on two groups of its own
at --recovery-rate bytes per second per line. At --at, --subscribers
subscribers start without a link (lines A and B, the publisher's retransmit
server, the loop's groups): each rebuilds every book from the loop, then
leaves its groups. With --subscribers 0 nothing joins: only the loop runs,
which shows what it costs the publisher alone.
PASS: every late joiner whole (EventRecovered), its books_match true, lost 0,
no checksum mismatch, the loop's groups joined once and left; the loop
completed a cycle.
` + drillJSONNotes + `
The late-join drill's "lost", "app_gaps", "checksum_mismatches", "resets" and
"books_match" cover every late joiner, the other figures are the first one's.
It adds "subscribers", "whole", "whole_p50_ms", "whole_max_ms" (from a late
joiner's start to EventRecovered), "joiners" (each: whole_ms, late_join_ms,
loop_books, loop_stale, joins, left, lost, books_match, …), "loop_cycle_ms",
"loop_cycle_max_ms", "loop_cycles", "loop_books", "loop_hot_books",
"loop_rate_cap", "loop_bytes_per_s" and "live_bytes_per_s" (per line, from the
start until the source stopped), "loop_share_of_live", "books_bytes" (one copy
of every book as the loop sends them), "loop_cycle_bytes",
"process_cpu_cores" and "publisher_cpu_cores" {run, before_join, after_join}
(the publisher's share by profiler label; null if another CPU profile ran).
The goal, every late joiner whole within one loop cycle + 100ms ("goal_ms"),
is reported in "goals_missed" and the table, apart from PASS.

Examples:
  tickcast drill late-join --instruments 100 --levels 200 --rate 100000 --duration 10s --at 3s
  tickcast drill late-join --instruments 100 --levels 200 --subscribers 0
`

func runLateJoin(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	d := newDrillFlags("late-join", lateJoinNotes, stdout, stderr)
	at := d.fs.Duration("at", 0, "when the late joiners start, from the start (0 = 2s, or a third of --duration if sooner)")
	subs := d.fs.Int("subscribers", 1, "subscribers that join late, without a link (0 = none: only the loop runs)")
	rate := d.fs.Float64("recovery-rate", 0, "the recovery loop's cap, bytes per second per line (0 = the default, 4 MiB/s)")
	feed, err := d.feed(args)
	if err != nil {
		return err
	}
	if err := checkAt("at", *at, feed.Duration); err != nil {
		return err
	}
	switch {
	case *subs < 0 || *subs > 500:
		return usagef("--subscribers %d: want 0 to 500", *subs)
	case !(*rate >= 0) || math.IsInf(*rate, 0):
		return usagef("--recovery-rate %v: want 0 (the default) or bytes per second", *rate)
	}
	cfg := drill.LateJoinConfig{Feed: feed, At: *at, Subscribers: *subs, RecoveryRate: *rate}
	return d.report(ctx, "late-join", func(ctx context.Context, progress io.Writer) (drill.Report, error) {
		cfg.Progress = progress
		return drill.LateJoin(ctx, cfg)
	}, stdout, stderr)
}
