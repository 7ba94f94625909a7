package bench

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"time"

	"github.com/tickcast/tickcast/latency"
)

// The systems a latency run compares.
const (
	SystemTickcast = "tickcast" // publisher → A/B multicast → subscriber library
	SystemRelay    = "relay"    // publisher → hub relay → QUIC link → edge relay → A/B multicast → subscriber
	SystemFloor    = "floor"    // raw UDP multicast: what the machine allows
	SystemNATS     = "nats"     // the peer: an embedded NATS server
)

// system is how one system is run: its two child roles.
type system struct {
	name, pub, sub string
}

var systems = map[string]system{
	SystemTickcast: {SystemTickcast, "pub", "sub"},
	SystemFloor:    {SystemFloor, "udp-pub", "udp-sub"},
	SystemNATS:     {SystemNATS, "nats-pub", "nats-sub"},
	SystemRelay:    {SystemRelay, "pub", "sub"},
}

// LatencyConfig configures [RunLatency]. The zero value of a field means the
// default beside it.
type LatencyConfig struct {
	// Rate in messages per second; 0 = 100 000.
	Rate float64
	// Duration is the recorded time of each run; 0 = 10s.
	Duration time.Duration
	// Warmup runs before recording; 0 = 1s, negative = none.
	Warmup time.Duration
	// Instruments in the synthetic feed; 0 = 100.
	Instruments int
	// Levels per side of each book; 0 = 50.
	Levels int
	// Tick, if positive, makes the senders sleep between ticks (at least
	// Tick apart; Go's timers wake about 1 ms late here) instead of
	// spinning on the clock: the schedule gets coarser, and the sender no
	// longer takes a core; 0 = spin.
	Tick time.Duration
	// Lines is "ab" (both lines, the default) or "a".
	Lines string
	// Peers to run beside tickcast: "nats".
	Peers []string
	// NoFloor skips the raw-UDP floor.
	NoFloor bool
	// ViaRelay adds the relay path (publisher → hub → edge → subscriber,
	// four processes) beside the direct one, in the same run.
	ViaRelay bool
	// Runs repeats the whole comparison; 0 = 1. The figures merge every
	// run; the range shows their spread.
	Runs int
	// BusyPoll makes the receivers spin (tickcast's subscriber and the
	// floor's receiver) instead of parking between packets.
	BusyPoll bool
	// Pin puts each publisher on CPU 0 and each receiver on CPU 1.
	Pin bool
	// MaxPacket is the packet size limit of tickcast and the floor; 0 = 1200.
	MaxPacket int
	// Interface of the multicast lines; "" = "lo".
	Interface string
	// Exec starts a child: its argv without the role; nil = this
	// executable as 'tickcast bench child' (see [ChildEnv]).
	Exec []string
	// ChildLogLevel is the children's log level; "" = warn.
	ChildLogLevel string
	// ChildStderr, if set, gets the children's stderr (their logs); it is
	// kept only to explain a failure otherwise.
	ChildStderr io.Writer
	// ProfileDir, if set, gets a CPU profile of every child process, named
	// after its system, role and run: tickcast-pub-1.pprof, …
	ProfileDir string
	// Progress, if set, gets one line per series run as it completes.
	Progress io.Writer
	// Logger; nil = slog.Default().
	Logger *slog.Logger
}

func (c *LatencyConfig) normalize() error {
	if IsChild() {
		// A child that ran benchmarks would start children of its own:
		// refuse rather than recurse.
		return fmt.Errorf("bench: a benchmark child does not run benchmarks (%s is set)", ChildEnv)
	}
	if c.Rate == 0 {
		c.Rate = 100_000
	}
	if _, err := NewSchedule(c.Rate); err != nil {
		return fmt.Errorf("bench: Rate: %w", err)
	}
	if c.Duration == 0 {
		c.Duration = 10 * time.Second
	}
	if c.Duration < 0 {
		return fmt.Errorf("bench: Duration %v is negative", c.Duration)
	}
	switch {
	case c.Warmup == 0:
		c.Warmup = time.Second
	case c.Warmup < 0:
		c.Warmup = 0
	}
	if c.Tick < 0 {
		return fmt.Errorf("bench: Tick %v is negative", c.Tick)
	}
	if c.Instruments == 0 {
		c.Instruments = 100
	}
	if c.Levels == 0 {
		c.Levels = 50
	}
	switch c.Lines {
	case "":
		c.Lines = "ab"
	case "ab", "a":
	default:
		return fmt.Errorf("bench: Lines %q: want ab or a", c.Lines)
	}
	for _, p := range c.Peers {
		if p != SystemNATS {
			return fmt.Errorf("bench: peer %q: the peers are: nats", p)
		}
	}
	if c.Runs == 0 {
		c.Runs = 1
	}
	if c.Runs < 0 {
		return fmt.Errorf("bench: Runs %d is negative", c.Runs)
	}
	if c.Interface == "" {
		c.Interface = "lo"
	}
	if c.Exec == nil {
		exe, err := defaultExec()
		if err != nil {
			return err
		}
		c.Exec = exe
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return nil
}

// LatencyReport is the outcome of [RunLatency]: tickcast's series at the top
// (its fields are the JSON document's top level), the floor and the peers
// under Peers.
type LatencyReport struct {
	Series
	Peers map[string]*Series `json:"peers,omitempty"`
	// Instruments and Levels describe the feed; BusyPoll and Pinned the
	// receivers.
	Instruments int     `json:"instruments"`
	Levels      int     `json:"levels"`
	TickS       float64 `json:"tick_s"` // the senders' tick; 0 = they spin
	WarmupS     float64 `json:"warmup_s"`
	BusyPoll    bool    `json:"busy_poll"`
	Pinned      bool    `json:"pinned"`
	Host        Host    `json:"host"`
	Method      string  `json:"method"`
	Note        string  `json:"note"`
}

// method says how latency is measured, for reports.
const method = "latency = receive (handler) time − scheduled send time per message, on one clock " +
	"(coordinated-omission free, as wrk2); the sender spins to a schedule of message i at start + i/rate; " +
	"uncorrected = handler time − packet send time; to the kernel = kernel receive timestamp − packet send time, per packet"

// All returns every series, tickcast first.
func (r *LatencyReport) All() []*Series {
	all := []*Series{&r.Series}
	for _, name := range []string{SystemRelay, SystemFloor, SystemNATS} {
		if s, ok := r.Peers[name]; ok {
			all = append(all, s)
		}
	}
	return all
}

// WriteTable writes the report for a person.
func (r *LatencyReport) WriteTable(w io.Writer) {
	lines := "A/B"
	if r.Lines == "a" {
		lines = "A only"
	}
	pacing := "senders spin on the clock"
	if r.TickS > 0 {
		pacing = fmt.Sprintf("senders tick every %s", time.Duration(r.TickS*1e9))
	}
	fmt.Fprintf(w, "latency at %.0f msg/s, %s recorded × %d run(s) after %s warm-up, lines %s, %d instruments, %s, busy-poll %v\n",
		r.Rate, time.Duration(r.DurationS*1e9), r.Runs, time.Duration(r.WarmupS*1e9), lines, r.Instruments, pacing, r.BusyPoll)
	fmt.Fprintf(w, "%s; µs\n\n", method)
	writeSeriesTable(w, r.All())
	fmt.Fprintln(w)
	writeRelayPath(w, r)
	writeDetails(w, r.All())
	fmt.Fprintf(w, "\nnote: %s (%d CPUs).\n", r.Note, r.Host.CPUs)
}

// RunLatency runs the latency benchmark: for each run, tickcast, the raw-UDP
// floor and the peers one after the other, each as a publisher and a
// subscriber child process on loopback multicast (NATS: an embedded server
// in this process), at the same rate with the same messages.
func RunLatency(ctx context.Context, cfg LatencyConfig) (*LatencyReport, error) {
	if err := cfg.normalize(); err != nil {
		return nil, err
	}
	r := &runner{cfg: cfg}
	defer r.close()
	order := []string{SystemTickcast}
	if cfg.ViaRelay {
		order = append(order, SystemRelay)
	}
	if !cfg.NoFloor {
		order = append(order, SystemFloor)
	}
	order = append(order, cfg.Peers...)
	runs := map[string][]*seriesRun{}
	for k := range cfg.Runs {
		for _, name := range order {
			sr, err := r.run(ctx, systems[name], cfg.Rate, cfg.Warmup, cfg.Duration)
			if err != nil {
				return nil, fmt.Errorf("bench: run %d/%d, %s: %w", k+1, cfg.Runs, name, err)
			}
			runs[name] = append(runs[name], sr)
			if cfg.Progress != nil {
				s := sr.sub.Latency.Summary()
				fmt.Fprintf(cfg.Progress, "run %d/%d %-8s sent %d delivered %d  p50 %s p99 %s p99.9 %s max %s\n",
					k+1, cfg.Runs, name, sr.pub.Pace.InWindow, sr.sub.Delivered, s.P50, s.P99, s.P999, s.Max)
			}
		}
	}
	rep := &LatencyReport{
		Series:      *aggregate("latency", systems[SystemTickcast], cfg.Lines, cfg.Rate, cfg.Duration, runs[SystemTickcast]),
		Instruments: cfg.Instruments,
		TickS:       cfg.Tick.Seconds(),
		Levels:      cfg.Levels,
		WarmupS:     cfg.Warmup.Seconds(),
		BusyPoll:    cfg.BusyPoll,
		Pinned:      cfg.Pin,
		Host:        thisHost(),
		Method:      method,
		Note:        NoisyNote,
	}
	for _, name := range order[1:] {
		if rep.Peers == nil {
			rep.Peers = map[string]*Series{}
		}
		rep.Peers[name] = aggregate("latency", systems[name], cfg.Lines, cfg.Rate, cfg.Duration, runs[name])
	}
	setRatios(rep.All())
	return rep, nil
}

// setRatios sets every series' ratios to the floor and to NATS.
func setRatios(all []*Series) {
	by := map[string]*Series{}
	for _, s := range all {
		by[s.System] = s
	}
	for _, s := range all {
		for _, o := range []string{SystemFloor, SystemNATS} {
			if base, ok := by[o]; ok && o != s.System && !(s.System == SystemFloor && o == SystemNATS) {
				if s.Ratio == nil {
					s.Ratio = map[string]Percentiles{}
				}
				s.Ratio[o] = s.LatencyUs.ratio(base.LatencyUs)
			}
		}
	}
}

// seriesRun is one run of one system.
type seriesRun struct {
	pub    pubResult
	sub    subResult
	server *Process // the NATS server's share of this process, for NATS
	hops   []hopResult
}

// runner runs the children of series.
type runner struct {
	cfg     LatencyConfig
	certDir string      // the relay path's certificates, made on first need
	nats    *natsServer // started on first need
	runs    int         // series run so far, to name profiles
}

func (r *runner) close() {
	if r.certDir != "" {
		os.RemoveAll(r.certDir)
		r.certDir = ""
	}
	if r.nats != nil {
		r.nats.close()
		r.nats = nil
	}
}

const (
	// childSetup bounds how long children take to get ready.
	childSetup = 30 * time.Second
	// startLead is the time between the start message and the start: the
	// publisher's definitions and books are on their way by then.
	startLead = 200 * time.Millisecond
)

// run runs one system once: the subscriber child first (joined before
// anything is sent), then the publisher, then the start for both.
func (r *runner) run(ctx context.Context, sys system, rate float64, warmup, duration time.Duration) (*seriesRun, error) {
	cfg := r.cfg
	nLines := len(cfg.Lines)
	groups, err := freeGroups(nLines)
	if err != nil {
		return nil, err
	}
	deadline := time.Now().Add(childSetup + warmup + 2*duration + 20*time.Second)
	base := childConfig{
		Feed: feedConfig{Rate: rate, Instruments: cfg.Instruments, Levels: cfg.Levels, Seed: 1,
			Warmup: warmup, Duration: duration, Tick: cfg.Tick},
		Interface:  cfg.Interface,
		MaxPacket:  cfg.MaxPacket,
		DeadlineNs: deadline.UnixNano(),
		BusyPoll:   cfg.BusyPoll,
		LogLevel:   cfg.ChildLogLevel,
	}
	var before Process
	switch sys.name {
	case SystemTickcast, SystemFloor, SystemRelay:
		base.Groups = groups
		if sys.name != SystemFloor {
			port, err := freeUDPPort()
			if err != nil {
				return nil, err
			}
			base.Retransmit = netipLoopback(port)
		}
	case SystemNATS:
		if r.nats == nil {
			if r.nats, err = startNATS(); err != nil {
				return nil, err
			}
		}
		base.NATSURL, base.Subject = r.nats.URL(), natsSubject
		before = self("")
	}
	pubCfg, subCfg := base, base
	pubCfg.Role, subCfg.Role = sys.pub, sys.sub
	var relays []childConfig
	if sys.name == SystemRelay {
		if relays, err = r.relayPath(&subCfg, base, nLines); err != nil {
			return nil, err
		}
	}
	if cfg.ProfileDir != "" {
		r.runs++
		cs := []*childConfig{&pubCfg, &subCfg}
		for i := range relays {
			cs = append(cs, &relays[i])
		}
		for _, c := range cs {
			c.CPUProfile = filepath.Join(cfg.ProfileDir, fmt.Sprintf("%s-%s-%d.pprof", sys.name, c.Role, r.runs))
		}
	}
	if cfg.Pin && runtime.NumCPU() >= 2 {
		pubCfg.CPUs, subCfg.CPUs = []int{0}, []int{1}
	}
	setupCtx, cancel := context.WithTimeout(ctx, childSetup)
	defer cancel()
	// The relays first, upstream first: each is ready once connected.
	var hopProcs []*childProc
	for _, rc := range relays {
		p, err := startChild(cfg.Exec, rc, cfg.ChildStderr)
		if err != nil {
			return nil, err
		}
		defer p.stop()
		if err := p.waitReady(setupCtx); err != nil {
			return nil, err
		}
		hopProcs = append(hopProcs, p)
	}
	sub, err := startChild(cfg.Exec, subCfg, cfg.ChildStderr)
	if err != nil {
		return nil, err
	}
	defer sub.stop()
	if err := sub.waitReady(setupCtx); err != nil {
		return nil, err
	}
	pub, err := startChild(cfg.Exec, pubCfg, cfg.ChildStderr)
	if err != nil {
		return nil, err
	}
	defer pub.stop()
	if err := pub.waitReady(setupCtx); err != nil {
		return nil, err
	}
	start := time.Now().Add(startLead).UnixNano()
	if err := sub.sendStart(start); err != nil {
		return nil, err
	}
	if err := pub.sendStart(start); err != nil {
		return nil, err
	}
	for _, p := range hopProcs {
		if err := p.sendStart(start); err != nil {
			return nil, err
		}
	}
	runCtx, cancelRun := context.WithDeadline(ctx, deadline.Add(10*time.Second))
	defer cancelRun()
	out := &seriesRun{}
	if err := pub.waitResult(runCtx, &out.pub); err != nil {
		return nil, err
	}
	if err := sub.waitResult(runCtx, &out.sub); err != nil {
		return nil, err
	}
	for _, p := range hopProcs {
		var h hopResult
		if err := p.waitResult(runCtx, &h); err != nil {
			return nil, err
		}
		out.hops = append(out.hops, h)
	}
	if sys.name == SystemNATS {
		after := self("nats server (in the bench process)")
		after.UserS -= before.UserS
		after.SysS -= before.SysS
		out.server = &after
	}
	return out, nil
}

// relayPath sets up the relay path of one run: certificates, the hub's
// link address, the edge's groups and retransmit server; the subscriber
// follows the edge. It returns the hub's and the edge's configurations.
func (r *runner) relayPath(sub *childConfig, base childConfig, nLines int) ([]childConfig, error) {
	if r.certDir == "" {
		dir, err := os.MkdirTemp("", "tickcast-bench-certs-")
		if err != nil {
			return nil, err
		}
		if err := relayCerts(dir); err != nil {
			os.RemoveAll(dir)
			return nil, fmt.Errorf("bench: relay certificates: %w", err)
		}
		r.certDir = dir
	}
	out, err := freeGroups(nLines)
	if err != nil {
		return nil, err
	}
	linkPort, err := freeUDPPort()
	if err != nil {
		return nil, err
	}
	rtxPort, err := freeUDPPort()
	if err != nil {
		return nil, err
	}
	hub, edge := base, base
	hub.Role, edge.Role = "hub", "edge"
	hub.Link = netipLoopback(linkPort).String()
	edge.Link, edge.Out, edge.RelayRetransmit = hub.Link, out, netipLoopback(rtxPort)
	hub.CertDir, edge.CertDir = r.certDir, r.certDir
	edge.Groups, edge.Retransmit = nil, netip.AddrPort{}
	sub.Groups, sub.Retransmit = out, edge.RelayRetransmit
	return []childConfig{hub, edge}, nil
}

// aggregate merges the runs of one system into its series.
func aggregate(scenario string, sys system, lines string, rate float64, duration time.Duration, runs []*seriesRun) *Series {
	s := &Series{
		Scenario:  scenario,
		System:    sys.name,
		Rate:      rate,
		DurationS: duration.Seconds(),
		Runs:      len(runs),
		Latency:   latency.NewRecorder(maxLatency),
	}
	if sys.name != SystemNATS {
		s.Lines = lines
		s.Uncorrected = latency.NewRecorder(maxLatency)
		s.Network = latency.NewRecorder(maxLatency)
	}
	if sys.name == SystemTickcast || sys.name == SystemRelay {
		s.Repair = &Repair{}
	}
	var packets, datagrams, bytes uint64
	var windowNs int64
	var achieved float64
	var mins, maxs []float64
	for _, r := range runs {
		sent, got := r.pub.Pace.InWindow, r.sub.Delivered
		lost := sent - min(got, sent)
		s.Sent += sent
		s.Delivered += got
		s.Lost += lost
		s.DuplicatesDelivered += r.sub.Duplicates
		s.Latency.Merge(r.sub.Latency)
		if s.Uncorrected != nil && r.sub.Uncorrected != nil {
			s.Uncorrected.Merge(r.sub.Uncorrected)
		}
		if s.Network != nil && r.sub.Network != nil {
			s.Network.Merge(r.sub.Network)
		}
		p := percentilesOf(r.sub.Latency)
		s.PerRun = append(s.PerRun, RunFigures{Sent: sent, Delivered: got, Lost: lost, LatencyUs: p})
		if mins == nil {
			mins, maxs = p.list(), p.list()
		}
		for i, v := range p.list() {
			mins[i], maxs[i] = min(mins[i], v), max(maxs[i], v)
		}
		packets += r.pub.Packets
		datagrams += r.pub.Datagrams
		bytes += r.pub.Bytes
		windowNs += r.pub.WindowNs
		achieved += r.pub.Pace.achievedRate()
		s.SenderMaxLagUs = max(s.SenderMaxLagUs, float64(r.pub.Pace.MaxLagNs)/1e3)
		if rep := s.Repair; rep != nil {
			rep.Gaps += r.sub.Gaps
			rep.GapsFilled += r.sub.GapsFilled
			rep.NACKs += r.sub.NACKs
			rep.Retransmitted += r.sub.Retransmitted
			rep.GaveUp += r.sub.GaveUp
			for k, v := range r.sub.Resets {
				if rep.Resets == nil {
					rep.Resets = map[string]uint64{}
				}
				rep.Resets[k] += v
			}
		}
		s.Processes = append(s.Processes, r.pub.Proc, r.sub.Proc)
		for _, h := range r.hops {
			s.Processes = append(s.Processes, h.Proc)
		}
		if r.server != nil {
			s.Processes = append(s.Processes, *r.server)
		}
		s.Warnings = append(s.Warnings, runWarnings(r)...)
	}
	if len(runs) == 0 {
		return s
	}
	s.Hops = mergeHops(runs)
	s.ThroughputMsgs = float64(s.Delivered) / (duration.Seconds() * float64(len(runs)))
	s.LatencyUs = percentilesOf(s.Latency)
	s.MeanUs = float64(s.Latency.Summary().Mean) / 1e3
	if s.Uncorrected != nil {
		u := percentilesOf(s.Uncorrected)
		s.UncorrectedUs = &u
	}
	if s.Network != nil && s.Network.Count() > 0 {
		n := percentilesOf(s.Network)
		s.NetworkUs = &n
	}
	if len(runs) > 1 {
		s.RangeUs = &PercentileRange{Min: percentilesFrom(mins), Max: percentilesFrom(maxs)}
	}
	if windowNs > 0 {
		secs := float64(windowNs) / 1e9
		s.PacketsPerS = float64(packets) / secs
		if sys.name != SystemNATS {
			s.DatagramsPerS = float64(datagrams) / secs
			if datagrams > 0 {
				s.BytesPerDatagram = float64(bytes) / float64(datagrams)
			}
		}
	}
	s.AchievedRate = achieved / float64(len(runs))
	slices.Sort(s.Warnings)
	s.Warnings = slices.Compact(s.Warnings)
	return s
}

// runWarnings says what went wrong in a run, short of failing it.
func runWarnings(r *seriesRun) []string {
	var w []string
	if !r.pub.Pace.Complete {
		w = append(w, "the sender did not get every message out before its deadline")
	}
	if !r.sub.EndSeen {
		w = append(w, "the receiver did not see the end of the run (it stopped at its deadline)")
	}
	if r.pub.Pace.LateBatches > 0 {
		w = append(w, "the sender fell more than 1 ms behind its schedule at times (see sender_max_lag_us)")
	}
	if r.pub.SendErrors > 0 {
		w = append(w, fmt.Sprintf("%d send errors", r.pub.SendErrors))
	}
	if r.sub.GaveUp > 0 && r.sub.Proc.Role == "nats subscriber" {
		w = append(w, "the NATS subscriber dropped messages (slow consumer)")
	}
	return w
}
