package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/tickcast/tickcast/bench"
)

const benchUsage = `Usage: tickcast bench latency|throughput [flags]

The benchmark suite. Publisher and subscriber run as separate processes
(this binary, started again) on loopback multicast: a private pair of groups
in 239/8 on lo, TTL 0, random ports.

  latency     one-way latency at a fixed rate, beside the raw-UDP floor and,
              with --peer nats, an embedded NATS server, in the same run
  throughput  the highest rate sustained with zero loss at the subscriber

Run 'tickcast bench <benchmark> --help' for its flags.

Examples:
  tickcast bench latency --rate 600000 --duration 10s --peer nats --json lat.json --plot lat.png
  tickcast bench throughput --lines ab --max 8000000
`

const benchLatencyNotes = `
Each run benchmarks tickcast (publisher → lines A/B → subscriber library),
the raw-UDP floor (the same packets, pacing and batch syscalls with no
tickcast logic: what the machine allows) and the peers, one after the other,
at the same rate with the same synthetic messages.

The sender spins on the clock to a schedule (message i at start + i/rate)
and stamps every message with its scheduled time; the latency of a message
is the subscriber's handler time minus that scheduled time, on one clock: a
stalled sender cannot hide its stall (coordinated-omission free, as wrk2).
'uncorrected' is handler time minus the packet's send time, beside it.
Percentiles are in µs; ratios compare the series of the same run.

--json FILE writes {"scenario", "rate", "duration_s", "sent", "delivered",
"lost", "duplicates_delivered", "throughput_msgs", "latency_us": {"p50",
"p90", "p99", "p999", "p9999", "max"}, "peers": {"nats": {…}, "floor": {…}}}
for tickcast at the top level, with more figures besides (uncorrected
latency, ratios, per-run figures and ranges, packets/s, processes and CPUs).

--via relay adds the relay path in the same run: publisher → hub relay
(the publisher's lines in, a QUIC link out) → edge relay (the link in, its
own A/B groups out) → subscriber of the edge, four processes, with private
certificates made for the run. The table then shows each relay's latency
from the packet's send time, its added share, and what the two hops add to
the direct path (uncorrected latency); the JSON has the "relay" series under
"peers" with "hops".

This VM is noisy: read the ratios within one run and use --runs for ranges.

Examples:
  tickcast bench latency --rate 100000 --duration 10s --peer nats
  tickcast bench latency --rate 100000 --duration 10s --via relay
  tickcast bench latency --rate 600000 --lines ab --peer nats --runs 3 --json lat.json --hgrm hgrm --plot lat.png
`

const benchThroughputNotes = `
Trials of tickcast alone (publisher and subscriber processes, lines A/B or
A) at rising rates: doubling from --start while a trial succeeds, then
bisecting between the last success and the first failure until they are
within --step. A trial succeeds when the subscriber delivered every message
of the window (NACK repair allowed and reported, nothing given up, no reset),
the publisher kept at least 98% of the rate, and the p99 latency stayed
below --max-p99 (above it a queue was growing: the loss would only come
later). A failed trial is tried again --retries times (this VM stalls at
random).

--json FILE writes the best trial with the latency fields (rate = the highest
sustained rate), "packets_per_s", "datagrams_per_s" and every trial.

--via relay runs every trial through a hub and an edge relay (four
processes; the hub carries the feed to the edge over a QUIC link's data
path): the rate found is what that link carries with zero loss at the
edge's subscriber.

Examples:
  tickcast bench throughput --lines ab --start 250000 --max 8000000 --json tput.json
  tickcast bench throughput --via relay --start 250000 --max 4000000
`

func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		if len(args) == 0 {
			fmt.Fprint(stderr, benchUsage)
			return usagef("want latency or throughput")
		}
		fmt.Fprint(stdout, benchUsage)
		return errHelp
	}
	switch args[0] {
	case "latency":
		return runBenchLatency(ctx, args[1:], stdout, stderr)
	case "throughput":
		return runBenchThroughput(ctx, args[1:], stdout, stderr)
	case "child": // hidden: a benchmark's child process (see bench.ChildEnv)
		if !bench.IsChild() {
			return usagef("'bench child' is started by the benchmarks themselves")
		}
		return bench.RunChild(ctx, os.Stdin, stdout, stderr)
	}
	return usagef("unknown benchmark %q: want latency or throughput", args[0])
}

// benchCommon are the flags both benchmarks take.
type benchCommon struct {
	lines                  *string
	instruments, levels    *int
	busyPoll, pin          *bool
	maxPacket              *int
	iface, jsonOut, logLvl *string
	profileDir             *string
	quiet                  *bool
}

func addBenchCommon(fs interface {
	String(name, value, usage string) *string
	Int(name string, value int, usage string) *int
	Bool(name string, value bool, usage string) *bool
}) *benchCommon {
	return &benchCommon{
		lines:       fs.String("lines", "ab", "multicast lines: ab (A and B, the subscriber arbitrates) or a (A only)"),
		instruments: fs.Int("instruments", 100, "instruments in the synthetic feed"),
		levels:      fs.Int("levels", 50, "book levels per side in the synthetic feed"),
		busyPoll:    fs.Bool("busy-poll", false, "receivers spin on their sockets instead of parking (lower latency, costs a core)"),
		pin:         fs.Bool("pin", false, "pin each publisher process to CPU 0 and each receiver process to CPU 1"),
		maxPacket:   fs.Int("max-packet", 1200, "packet size limit in bytes (tickcast and floor), up to 8192"),
		iface:       fs.String("iface", "lo", "interface of the multicast lines"),
		jsonOut:     fs.String("json", "", "write the figures as JSON to this file"),
		logLvl:      fs.String("log-level", "warn", "the child processes' log level: debug, info, warn, error (their logs go to stderr)"),
		profileDir:  fs.String("cpuprofile", "", "write a CPU profile of every child process into this directory (go tool pprof)"),
		quiet:       fs.Bool("quiet", false, "no progress lines on stderr"),
	}
}

func (c *benchCommon) check() error {
	if *c.profileDir != "" {
		if err := os.MkdirAll(*c.profileDir, 0o755); err != nil {
			return fmt.Errorf("--cpuprofile: %w", err)
		}
	}
	if *c.lines != "ab" && *c.lines != "a" {
		return usagef("--lines %q: want ab or a", *c.lines)
	}
	if *c.instruments < 1 || *c.instruments > 65536 {
		return usagef("--instruments %d: want 1..65536", *c.instruments)
	}
	if *c.levels < 1 || *c.levels > 700 {
		return usagef("--levels %d: want 1..700", *c.levels)
	}
	if *c.maxPacket < 128 || *c.maxPacket > 8192 {
		return usagef("--max-packet %d: want 128..8192", *c.maxPacket)
	}
	switch *c.logLvl {
	case "debug", "info", "warn", "error":
	default:
		return usagef("--log-level %q: want debug, info, warn or error", *c.logLvl)
	}
	return nil
}

func (c *benchCommon) progress(stderr io.Writer) io.Writer {
	if *c.quiet {
		return nil
	}
	return stderr
}

func runBenchLatency(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("bench", "bench latency [flags]", benchLatencyNotes, stdout)
	rate := fs.Float64("rate", 100_000, "messages per second")
	duration := fs.Duration("duration", 10*time.Second, "recorded time of each run")
	warmup := fs.Duration("warmup", time.Second, "time before recording starts (0 = none)")
	peer := fs.String("peer", "", "peers to run beside tickcast, comma-separated: nats (\"\" = none)")
	tick := fs.Duration("tick", 0, "senders sleep between ticks at least this far apart instead of spinning on the clock (0 = spin: a µs schedule, a core each)")
	floor := fs.Bool("floor", true, "run the raw-UDP floor too")
	via := fs.String("via", "", "also run a path through relays: relay (publisher → hub → edge → subscriber; \"\" = direct only)")
	runs := fs.Int("runs", 1, "repeat the whole comparison this many times (figures merge; the range shows the spread)")
	hgrm := fs.String("hgrm", "", "write one .hgrm percentile distribution (µs) per series into this directory")
	plotFile := fs.String("plot", "", "draw the percentile distribution of every series into this file (.png, .svg or .pdf)")
	common := addBenchCommon(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := common.check(); err != nil {
		return err
	}
	if !(*rate > 0 && *rate <= bench.MaxRate) {
		return usagef("--rate %v: want a rate in (0, %g]", *rate, bench.MaxRate)
	}
	if *duration <= 0 {
		return usagef("--duration %v: must be positive", *duration)
	}
	if err := nonNegative("warmup", *warmup); err != nil {
		return err
	}
	if err := nonNegative("tick", *tick); err != nil {
		return err
	}
	if *runs < 1 {
		return usagef("--runs %d: at least 1", *runs)
	}
	var peers []string
	for _, p := range strings.Split(*peer, ",") {
		switch p = strings.TrimSpace(p); p {
		case "":
		case bench.SystemNATS:
			peers = append(peers, p)
		default:
			return usagef("--peer %q: the peers are: nats", p)
		}
	}
	if *via != "" && *via != "relay" {
		return usagef("--via %q: want relay (or nothing)", *via)
	}
	if *plotFile != "" && !strings.HasSuffix(*plotFile, ".png") && !strings.HasSuffix(*plotFile, ".svg") && !strings.HasSuffix(*plotFile, ".pdf") {
		return usagef("--plot %q: want a .png, .svg or .pdf file", *plotFile)
	}
	w := *warmup
	if w == 0 {
		w = -1 // the library's "none"
	}
	rep, err := bench.RunLatency(ctx, bench.LatencyConfig{
		Rate: *rate, Duration: *duration, Warmup: w, Tick: *tick, Instruments: *common.instruments, Levels: *common.levels,
		Lines: *common.lines, Peers: peers, NoFloor: !*floor, ViaRelay: *via == "relay", Runs: *runs, BusyPoll: *common.busyPoll,
		Pin: *common.pin, MaxPacket: *common.maxPacket, Interface: *common.iface, ChildLogLevel: *common.logLvl,
		ProfileDir: *common.profileDir, Progress: common.progress(stderr), ChildStderr: stderr,
	})
	if err != nil {
		return err
	}
	rep.WriteTable(stdout)
	if *common.jsonOut != "" {
		if err := writeJSONFile(*common.jsonOut, rep); err != nil {
			return err
		}
	}
	if *hgrm != "" {
		paths, err := bench.WriteHgrm(*hgrm, rep.All())
		if err != nil {
			return fmt.Errorf("--hgrm: %w", err)
		}
		fmt.Fprintf(stdout, "wrote %s\n", strings.Join(paths, ", "))
	}
	if *plotFile != "" {
		var series []bench.PlotSeries
		for _, s := range rep.All() {
			series = append(series, bench.PlotSeries{Name: s.System, Recorder: s.Latency})
			if s.System == bench.SystemTickcast && s.Uncorrected != nil {
				series = append(series, bench.PlotSeries{Name: "tickcast uncorrected", Recorder: s.Uncorrected})
			}
		}
		title := fmt.Sprintf("one-way latency at %.0f msg/s, lines %s (%d run(s) × %s)", rep.Rate, rep.Lines, rep.Runs, *duration)
		if err := bench.PlotPercentiles(*plotFile, title, series); err != nil {
			return fmt.Errorf("--plot: %w", err)
		}
		fmt.Fprintf(stdout, "wrote %s\n", *plotFile)
	}
	return nil
}

func runBenchThroughput(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("bench", "bench throughput [flags]", benchThroughputNotes, stdout)
	start := fs.Float64("start", 100_000, "first rate tried, messages per second")
	maxRate := fs.Float64("max", 8_000_000, "highest rate tried, messages per second")
	step := fs.Float64("step", 0.05, "stop bisecting when the last success and the first failure are within this fraction")
	duration := fs.Duration("trial", 3*time.Second, "recorded time of each trial")
	warmup := fs.Duration("warmup", 500*time.Millisecond, "time before each trial's recording (0 = none)")
	retries := fs.Int("retries", 1, "try a failed rate again this many times before calling it failed")
	tick := fs.Duration("tick", time.Millisecond, "the publisher sleeps between ticks at least this far apart, so the benchmark's sender does not take a core (0 = spin on the clock)")
	maxP99 := fs.Duration("max-p99", 100*time.Millisecond, "a trial whose p99 latency is higher failed: a queue grew (nothing lost yet)")
	via := fs.String("via", "", "run every trial through relays: relay (publisher → hub → QUIC link → edge → subscriber; \"\" = direct)")
	common := addBenchCommon(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := common.check(); err != nil {
		return err
	}
	if !(*start > 0 && *start <= *maxRate && *maxRate <= bench.MaxRate) {
		return usagef("--start %v, --max %v: want 0 < start <= max <= %g", *start, *maxRate, bench.MaxRate)
	}
	if !(*step > 0 && *step < 1) {
		return usagef("--step %v: want a fraction in (0, 1)", *step)
	}
	if *duration <= 0 {
		return usagef("--trial %v: must be positive", *duration)
	}
	if err := nonNegative("warmup", *warmup); err != nil {
		return err
	}
	if *retries < 0 {
		return usagef("--retries %d: must not be negative", *retries)
	}
	if err := nonNegative("tick", *tick); err != nil {
		return err
	}
	if *maxP99 <= 0 {
		return usagef("--max-p99 %v: must be positive", *maxP99)
	}
	w, r, tk := *warmup, *retries, *tick
	if w == 0 {
		w = -1
	}
	if tk == 0 {
		tk = -1
	}
	if r == 0 {
		r = -1
	}
	if *via != "" && *via != "relay" {
		return usagef("--via %q: want relay (or nothing)", *via)
	}
	rep, err := bench.RunThroughput(ctx, bench.ThroughputConfig{
		ViaRelay: *via == "relay", Lines: *common.lines, Start: *start, Max: *maxRate, Step: *step, Duration: *duration, Warmup: w, Retries: r, Tick: tk, MaxP99: *maxP99,
		Instruments: *common.instruments, Levels: *common.levels, BusyPoll: *common.busyPoll, Pin: *common.pin,
		MaxPacket: *common.maxPacket, Interface: *common.iface, ChildLogLevel: *common.logLvl,
		ProfileDir: *common.profileDir, Progress: common.progress(stderr), ChildStderr: stderr,
	})
	if err != nil {
		return err
	}
	rep.WriteTable(stdout)
	if *common.jsonOut != "" {
		return writeJSONFile(*common.jsonOut, rep)
	}
	return nil
}

// writeJSONFile writes v as indented JSON to path.
func writeJSONFile(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("--json: %w", err)
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("--json: %w", err)
	}
	return nil
}
