package drill

import (
	"context"
	"fmt"
	"io"
	"math"
	"net"
	"net/netip"
	"os"
	"time"

	"github.com/tickcast/tickcast/bench"

	"github.com/tickcast/tickcast/egress"
	"github.com/tickcast/tickcast/intake"
	"github.com/tickcast/tickcast/internal/impair"
	"github.com/tickcast/tickcast/relay"
)

// WANConfig configures [WAN].
type WANConfig struct {
	Feed
	// Loss is the probability, 0..1, that a datagram is lost on a WAN
	// path, in each direction, independently on each path.
	Loss float64
	// RTT is the round trip of each WAN path (half of it each way); 0 =
	// 30ms.
	RTT time.Duration
	// Jitter adds a uniform ±Jitter to each datagram's one-way delay.
	Jitter time.Duration
	// BlackholeAt, if positive, drops everything on the A path from then
	// on (both directions): the edge must carry on over the B path.
	BlackholeAt time.Duration
	// Processes runs the hub and the edge as child processes of this
	// executable ('tickcast bench child hub|edge', with certificates made
	// for the run); the publisher, the WAN paths and the subscriber stay in
	// this process. Exec overrides how the children start (nil = this
	// executable; a test binary runs bench.ChildMain in its TestMain).
	Processes bool
	Exec      []string
}

func (c *WANConfig) normalize() error {
	if err := c.Feed.normalize(); err != nil {
		return err
	}
	if !(c.Loss >= 0 && c.Loss <= 1) {
		return fmt.Errorf("drill: Loss %v: want a probability in [0, 1]", c.Loss)
	}
	if c.RTT == 0 {
		c.RTT = 30 * time.Millisecond
	}
	if c.RTT < 0 || c.Jitter < 0 || c.BlackholeAt < 0 {
		return fmt.Errorf("drill: RTT %v, Jitter %v, BlackholeAt %v: must not be negative", c.RTT, c.Jitter, c.BlackholeAt)
	}
	if c.BlackholeAt >= c.Duration {
		return fmt.Errorf("drill: BlackholeAt %v: must be within Duration %v", c.BlackholeAt, c.Duration)
	}
	return nil
}

// HopLatency is one hop's latency: Cumulative from the publisher's send
// time to the moment the hop passed the packet on (the subscriber: its
// handler), and Added, this hop's share: the cumulative figure minus the
// previous hop's, percentile by percentile, and minus the path's one-way
// delay for the hop behind the WAN.
type HopLatency struct {
	Hop        string      `json:"hop"`
	Cumulative Percentiles `json:"latency_us"`
	Added      Percentiles `json:"added_latency_us"`
}

// WANResult is what [WAN] reports.
type WANResult struct {
	Result
	Loss     float64 `json:"loss"`
	RTTMs    float64 `json:"rtt_ms"`
	JitterMs float64 `json:"jitter_ms"`
	// BlackholeAtS is when the A path went black (null: it did not);
	// PathADown whether the edge saw it down.
	BlackholeAtS *float64 `json:"blackhole_at_s"`
	PathADown    bool     `json:"path_a_down"`
	// Hops: the hub, the edge (behind the WAN), the edge's subscriber.
	Hops []HopLatency `json:"hops"`
	// EdgeNacks are the NACKs the edge sent upstream over the WAN;
	// EdgeLost the messages it gave up (its downstreams then recover by
	// snapshot from it).
	EdgeNacks uint64 `json:"edge_nacks"`
	EdgeLost  uint64 `json:"edge_lost"`
	// EdgeGaps are the holes the edge saw (both paths lost a packet);
	// EdgeRejects the NACKs refused upstream; EdgeSRTTMs its learned NACK
	// round trip.
	EdgeGaps    uint64  `json:"edge_gaps"`
	EdgeRejects uint64  `json:"edge_rejects"`
	EdgeSRTTMs  float64 `json:"edge_srtt_ms"`
	// ProxyLost counts the datagrams the WAN paths dropped (both paths,
	// both directions, blackhole included).
	ProxyLost uint64 `json:"wan_datagrams_lost"`
	// GoalsMissed lists the latency goals the run missed (empty: met).
	GoalsMissed []string `json:"goals_missed"`
	// Relays are the hub's and the edge's processes and CPU (with
	// Processes; empty when they ran in this process).
	Relays []bench.Process `json:"relay_processes,omitempty"`
}

// Failures implements [Report]: nothing lost, no gap seen, books equal,
// the A path seen down when blackholed. The latency goal is apart
// ([WANResult.GoalsMissed]): timing on a shared machine is a measurement,
// not a verdict.
func (r *WANResult) Failures() []string {
	f := r.failures(true)
	if r.BlackholeAtS != nil && !r.PathADown {
		f = append(f, "the edge never saw the blackholed A path down")
	}
	return f
}

// goals fills GoalsMissed: the edge's added latency at p99.9 within two
// round trips (issue 8's goal).
func (r *WANResult) goals() {
	if len(r.Hops) > 1 {
		if add, limit := r.Hops[1].Added.P999, 2*r.RTTMs*1000; add > limit {
			r.GoalsMissed = append(r.GoalsMissed, fmt.Sprintf("the edge added %s at p99.9, more than 2 RTT (%s)", us(add), us(limit)))
		}
	}
}

// WriteText implements [Report].
func (r *WANResult) WriteText(w io.Writer) error {
	return writeTable(w, &r.Result, func(w io.Writer) {
		fmt.Fprintf(w, "WAN paths\tloss %.2f%%\tRTT %.1fms, jitter ±%.1fms, %d datagrams lost\n", r.Loss*100, r.RTTMs, r.JitterMs, r.ProxyLost)
		if r.BlackholeAtS != nil {
			fmt.Fprintf(w, "path A\tblackholed at %.1fs\tseen down by the edge: %v\n", *r.BlackholeAtS, r.PathADown)
		}
		fmt.Fprintf(w, "edge upstream\t%d NACKs\t%d holes, %d rejects, %d messages given up, NACK round trip %.1fms\n",
			r.EdgeNacks, r.EdgeGaps, r.EdgeRejects, r.EdgeLost, r.EdgeSRTTMs)
		for _, h := range r.Hops {
			fmt.Fprintf(w, "%s added\tp50 %s\tp99 %s  p99.9 %s  (cumulative %s)\n", h.Hop, us(h.Added.P50), us(h.Added.P99), us(h.Added.P999), h.Cumulative)
		}
		for _, p := range r.Relays {
			fmt.Fprintf(w, "%s\tpid %d\t%.2fs user + %.2fs sys (%.2f cores over the run)\n", p.Role, p.PID, p.UserS, p.SysS,
				(p.UserS+p.SysS)/math.Max(r.DurationS, 1e-9))
		}
		for _, g := range r.GoalsMissed {
			fmt.Fprintf(w, "goal missed\t%s\n", g)
		}
	}, r.Failures())
}

// WAN runs the WAN drill: publisher → hub relay (multicast in) → two
// impaired WAN paths (in-process UDP proxies: loss, delay, jitter; the A
// path optionally blackholed) → edge relay (QUIC in on an A and a B path,
// re-multicast out) → subscriber of the edge. Everything runs in this
// process on loopback. Promise: nothing lost at the edge's subscriber, no
// gap the application sees, books equal to the publisher's, and the edge's
// added latency at p99.9 within two round trips.
func WAN(ctx context.Context, cfg WANConfig) (*WANResult, error) {
	if err := cfg.normalize(); err != nil {
		return nil, err
	}
	w := &wanRig{cfg: cfg}
	defer w.close()
	rep := newRepairs()
	d, err := open(ctx, cfg.Feed, func(r *rig, s *session) (subTarget, error) {
		w.rig = r
		if cfg.Processes {
			return w.buildProcesses(ctx, s)
		}
		err := w.build(ctx, s)
		if err != nil {
			return subTarget{}, err
		}
		return subTarget{w.outA, w.outB, w.edge.rtx(), w.edge.LinkAddr()}, nil
	}, nil, nil, rep.record)
	if err != nil {
		return nil, err
	}
	r, s, pr, rs := d.r, d.s, d.pr, d.rs
	defer rs.stop()
	// Start once the edge holds both paths, so every hop sees the session
	// from its start (an edge process is ready only then).
	if !cfg.Processes {
		poll(ctx, cfg.Settle, func() bool {
			st := w.edge.Stats().Channels[0].Intake
			return len(st.Links) == 2 && st.Links[0].Connected && st.Links[1].Connected
		})
	}
	for _, p := range w.procs {
		if err := p.Start(); err != nil {
			return nil, fmt.Errorf("drill: %w", err)
		}
	}
	r.run(ctx, s)
	defer s.end()
	r.progress("WAN drill: %.0f msg/s for %v; hub → 2 paths (loss %.2f%%, RTT %v, jitter ±%v) → edge → subscriber",
		cfg.Rate, cfg.Duration, cfg.Loss*100, cfg.RTT, cfg.Jitter)

	res := &WANResult{Loss: cfg.Loss, RTTMs: millis(cfg.RTT), JitterMs: millis(cfg.Jitter)}
	if cfg.BlackholeAt > 0 {
		if err := r.sleepUntil(ctx, cfg.BlackholeAt); err != nil {
			return nil, err
		}
		w.proxies[0].SetBlackhole(true)
		at := time.Since(r.start).Seconds()
		res.BlackholeAtS = &at
		r.progress("path A blackholed")
	}
	if err := r.sleepUntil(ctx, cfg.Duration); err != nil {
		return nil, err
	}
	v, err := r.finish(ctx, s, rs, pr)
	if err != nil {
		return nil, err
	}
	hubFig, edgeFig, err := w.figures(ctx)
	if err != nil {
		return nil, err
	}
	if res.Result, err = r.report("wan", cfg.Duration, rs, pr, v, s); err != nil {
		return nil, err
	}
	res.PathADown = len(edgeFig.LineDowns) > 0 && edgeFig.LineDowns[0] > 0
	res.EdgeNacks, res.EdgeLost, res.EdgeGaps, res.EdgeRejects = edgeFig.Nacks, edgeFig.Lost, edgeFig.Gaps, edgeFig.Rejects
	res.EdgeSRTTMs = millis(edgeFig.SRTT)
	for _, f := range []bench.RelayResult{hubFig, edgeFig} {
		if f.Proc.PID != 0 {
			res.Relays = append(res.Relays, f.Proc)
		}
	}
	for _, p := range w.proxies {
		st := p.Stats()
		res.ProxyLost += st.Up.Lost + st.Down.Lost
	}
	hub, edge := percentiles(hubFig.Forward.Summary()), percentiles(edgeFig.Forward.Summary())
	oneWay := micros(cfg.RTT / 2)
	res.Hops = []HopLatency{
		{Hop: "hub", Cumulative: hub, Added: hub},
		{Hop: "edge", Cumulative: edge, Added: added(edge, hub, oneWay)},
		{Hop: "subscriber", Cumulative: res.Latency, Added: added(res.Latency, edge, 0)},
	}
	res.goals()
	return res, nil
}

// added returns cum − prev − base, percentile by percentile, floored at 0.
func added(cum, prev Percentiles, base float64) Percentiles {
	d := func(a, b float64) float64 { return math.Max(0, a-b-base) }
	return Percentiles{Count: cum.Count, P50: d(cum.P50, prev.P50), P99: d(cum.P99, prev.P99),
		P999: d(cum.P999, prev.P999), Max: d(cum.Max, prev.Max)}
}

// wanRig is the WAN drill's relays and paths.
type wanRig struct {
	*rig
	hops
	cfg        WANConfig
	hub, edge  *runningRelay         // in this process
	procs      []*bench.RelayProcess // or: the hub and the edge as child processes
	certDir    string                // their certificates
	proxies    []*impair.Proxy
	outA, outB netip.AddrPort // the edge's re-multicast groups
}

// runningRelay is a relay of the drill.
type runningRelay struct{ *relay.Relay }

func (rr *runningRelay) rtx() netip.AddrPort {
	ap, _ := netip.ParseAddrPort(rr.RetransmitAddr())
	return ap
}

// build starts the hub on the rig's lines, the two WAN paths to it and the
// edge behind them.
func (w *wanRig) build(ctx context.Context, s *session) error {
	f := w.feed
	ctx = w.begin(ctx)
	hub, err := newHub(w.rig, s)
	if err != nil {
		return err
	}
	w.relays = append(w.relays, hub)
	w.hub = &runningRelay{hub}
	w.spawn(ctx, hub.Run)
	if err := w.startPaths(ctx, hub.LinkAddr()); err != nil {
		return err
	}
	if w.outA, err = freeGroup(); err != nil {
		return err
	}
	if w.outB, err = freeGroup(); err != nil {
		return err
	}
	edge, err := relay.New(relay.Config{
		Channels: []relay.Channel{{
			ID: channel,
			Upstreams: []intake.Link{
				{Name: "A", Addr: w.proxies[0].Addr().String(), TLS: w.tp.ClientTLS(), Live: true},
				{Name: "B", Addr: w.proxies[1].Addr().String(), TLS: w.tp.ClientTLS(), Live: true},
			},
			Out: []egress.Line{
				{Name: "A", Group: w.outA, Interface: f.Interface, Loopback: true},
				{Name: "B", Group: w.outB, Interface: f.Interface, Loopback: true},
			},
			LineTimeout: f.LineTimeout,
		}},
		RetransmitAddr: "127.0.0.1:0",
		LinkAddr:       "127.0.0.1:0",
		LinkTLS:        w.tp.ServerTLS(),
		Logger:         f.Logger,
	})
	if err != nil {
		return fmt.Errorf("drill: edge: %w", err)
	}
	w.edge = &runningRelay{edge}
	w.relays = append(w.relays, edge)
	w.spawn(ctx, edge.Run)
	return nil
}

// close stops the relays and paths and waits for them.
func (w *wanRig) close() error {
	err := w.hops.close()
	for _, p := range w.procs {
		p.Stop()
	}
	w.procs = nil
	for _, p := range w.proxies {
		p.Close()
	}
	w.proxies = nil
	if w.certDir != "" {
		os.RemoveAll(w.certDir)
		w.certDir = ""
	}
	return err
}

// startPaths starts the two impaired WAN paths to the hub's link at hub.
func (w *wanRig) startPaths(ctx context.Context, hub string) error {
	for i := range 2 {
		spec := impair.Spec{Loss: w.cfg.Loss, Delay: w.cfg.RTT / 2, Jitter: w.cfg.Jitter}
		p, err := impair.New(impair.Config{Listen: "127.0.0.1:0", Upstream: hub, Spec: spec,
			Seed: w.feed.Seed + int64(i), Logger: w.feed.Logger})
		if err != nil {
			return fmt.Errorf("drill: WAN path %d: %w", i, err)
		}
		w.proxies = append(w.proxies, p)
		w.spawn(ctx, p.Run)
	}
	return nil
}

// buildProcesses starts the hub and the edge as child processes, with the
// WAN paths between them in this process, and returns where the
// subscriber joins (the edge's groups and retransmit server).
func (w *wanRig) buildProcesses(ctx context.Context, s *session) (subTarget, error) {
	f := w.feed
	ctx = w.begin(ctx)
	var err error
	if w.certDir, err = bench.TempCertDir(); err != nil {
		return subTarget{}, fmt.Errorf("drill: relay certificates: %w", err)
	}
	pubRtx, err := netip.ParseAddrPort(s.pub.RetransmitAddr())
	if err != nil {
		return subTarget{}, fmt.Errorf("drill: retransmit address: %w", err)
	}
	hubLink, err := freeLoopbackPort()
	if err != nil {
		return subTarget{}, err
	}
	edgeRtx, err := freeLoopbackPort()
	if err != nil {
		return subTarget{}, err
	}
	if w.outA, err = freeGroup(); err != nil {
		return subTarget{}, err
	}
	if w.outB, err = freeGroup(); err != nil {
		return subTarget{}, err
	}
	base := bench.RelayProcessConfig{Channel: channel, Interface: f.Interface, CertDir: w.certDir,
		LineTimeout: f.LineTimeout, Deadline: time.Now().Add(f.Duration + 2*f.Settle + time.Minute), Exec: w.cfg.Exec}
	hc := base
	hc.Role, hc.Lines, hc.UpstreamRetransmit, hc.Link = "hub", []netip.AddrPort{w.groupA, w.groupB}, pubRtx, hubLink.String()
	hub, err := bench.StartRelayProcess(ctx, hc)
	if err != nil {
		return subTarget{}, fmt.Errorf("drill: %w", err)
	}
	w.procs = append(w.procs, hub)
	if err := w.startPaths(ctx, hubLink.String()); err != nil {
		return subTarget{}, err
	}
	ec := base
	ec.Role, ec.Out, ec.Retransmit = "edge", []netip.AddrPort{w.outA, w.outB}, edgeRtx
	for _, p := range w.proxies {
		ec.Upstreams = append(ec.Upstreams, p.Addr().String())
	}
	edge, err := bench.StartRelayProcess(ctx, ec)
	if err != nil {
		return subTarget{}, fmt.Errorf("drill: %w", err)
	}
	w.procs = append(w.procs, edge)
	return subTarget{w.outA, w.outB, edgeRtx, ""}, nil
}

// figures returns the hub's and the edge's figures for the report: taken
// from the relays in this process, or the child processes' results (they
// end once the end of session has passed them).
func (w *wanRig) figures(ctx context.Context) (hub, edge bench.RelayResult, err error) {
	if len(w.procs) == 2 {
		ctx, cancel := context.WithTimeout(ctx, w.feed.Settle)
		defer cancel()
		if hub, err = w.procs[0].Result(ctx); err != nil {
			return hub, edge, fmt.Errorf("drill: hub process: %w", err)
		}
		if edge, err = w.procs[1].Result(ctx); err != nil {
			return hub, edge, fmt.Errorf("drill: edge process: %w", err)
		}
		return hub, edge, nil
	}
	if hub.Forward, err = w.hub.TakeLatency(channel); err != nil {
		return hub, edge, err
	}
	if edge.Forward, err = w.edge.TakeLatency(channel); err != nil {
		return hub, edge, err
	}
	g := w.edge.Stats().Channels[0].Intake
	edge.Nacks, edge.Lost, edge.Gaps, edge.Rejects, edge.SRTT = g.Gap.Nacks, g.Gap.Lost, g.Gap.Gaps, g.Gap.Rejects, g.Gap.SRTT
	for _, l := range g.Lines {
		edge.LineDowns = append(edge.LineDowns, l.Downs)
	}
	return hub, edge, nil
}

// freeLoopbackPort returns a UDP address on 127.0.0.1 free a moment ago.
func freeLoopbackPort() (netip.AddrPort, error) {
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("drill: a free port: %w", err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).AddrPort(), nil
}
