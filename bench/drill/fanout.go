package drill

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"math"
	"net/netip"
	"os"
	"sync"
	"time"

	"github.com/tickcast/tickcast/bench"
	"github.com/tickcast/tickcast/egress"
	"github.com/tickcast/tickcast/intake"
	"github.com/tickcast/tickcast/internal/impair"
	"github.com/tickcast/tickcast/internal/pki"
	"github.com/tickcast/tickcast/latency"
	"github.com/tickcast/tickcast/relay"
	"github.com/tickcast/tickcast/wire"
)

// FanoutConfig configures [Fanout].
type FanoutConfig struct {
	Feed
	// Edges is how many edge relays the hub feeds over QUIC links; 0 = 60
	// (the reference design's 40–60 sites).
	Edges int
	// Slow edges, besides those, reach the hub through a bandwidth cap of
	// SlowShare of the feed's bytes (0 = 0.1); they join after the first
	// second, once the feed's rate is measured. 0 = none.
	Slow      int
	SlowShare float64
	// Processes runs the hub as a child process of this executable, so its
	// CPU is its own (HubProcess); Exec as in [WANConfig]. Slow edges need
	// the hub in this process (their loss is read from its stats).
	Processes bool
	Exec      []string
}

func (c *FanoutConfig) normalize() error {
	if err := c.Feed.normalize(); err != nil {
		return err
	}
	if c.Edges == 0 {
		c.Edges = 60
	}
	if c.SlowShare == 0 {
		c.SlowShare = 0.1
	}
	switch {
	case c.Edges < 1 || c.Edges > 500:
		return fmt.Errorf("drill: Edges %d: want 1 to 500", c.Edges)
	case c.Slow < 0 || c.Slow > 50:
		return fmt.Errorf("drill: Slow %d: want 0 to 50", c.Slow)
	case !(c.SlowShare > 0 && c.SlowShare < 1):
		return fmt.Errorf("drill: SlowShare %v: want a share in (0, 1)", c.SlowShare)
	case c.Slow > 0 && c.Processes:
		return fmt.Errorf("drill: slow edges need the hub in this process (their loss is read from its stats), not Processes")
	case c.Slow > 0 && c.Duration < 3*time.Second:
		return fmt.Errorf("drill: Duration %v: slow edges need at least 3s (they join after the first)", c.Duration)
	}
	return nil
}

// SlowEdge is what became of one slow edge.
type SlowEdge struct {
	Name string `json:"name"`
	// MaxLoss is the highest loss the hub showed for it (0 to 1); CutOff
	// whether the hub cut it off as a slow consumer.
	MaxLoss float64 `json:"max_loss"`
	CutOff  bool    `json:"cut_off"`
}

// FanoutResult is what [Fanout] reports.
type FanoutResult struct {
	Result
	Edges int `json:"edges"`
	// BooksMatch counts the (healthy) edges whose books equal the
	// publisher's at the end; Mismatches says why the others do not.
	BooksMatch int      `json:"edges_books_match"`
	Mismatches []string `json:"mismatches"`
	// EdgesLost sums the messages the healthy edges gave up.
	EdgesLost uint64 `json:"edges_lost"`
	// Spread is, per packet, the time between the first and the last
	// healthy edge forwarding it (µs): "simultaneously" as a number.
	Spread Percentiles `json:"arrival_spread_us"`
	// EdgeLatency is the publisher's send → edge forward latency, all
	// healthy edges together (µs).
	EdgeLatency Percentiles `json:"edge_latency_us"`
	// HubPackets is what the hub forwarded; HubDatagrams the live
	// datagrams it sent its downstreams (about Edges × HubPackets).
	HubPackets   uint64 `json:"hub_packets"`
	HubDatagrams uint64 `json:"hub_datagrams"`
	// HubCutOff counts the downstreams the hub cut off; Slow the slow
	// edges.
	HubCutOff uint64     `json:"hub_cut_off"`
	Slow      []SlowEdge `json:"slow_edges"`
	// SlowCapBps is the slow edges' bandwidth cap, bits per second.
	SlowCapBps float64 `json:"slow_cap_bps"`
	// HubProcess is the hub's process and CPU (with Processes).
	HubProcess *bench.Process `json:"hub_process,omitempty"`
}

// Failures implements [Report]: the subscriber at edge 0 lost nothing and
// its books match; every healthy edge's books match the publisher's and it
// gave nothing up; every slow edge was seen losing or cut off.
func (r *FanoutResult) Failures() []string {
	f := r.failures(true)
	if r.BooksMatch != r.Edges {
		f = append(f, fmt.Sprintf("%d of %d edges' books differ from the publisher's: %v", r.Edges-r.BooksMatch, r.Edges, r.Mismatches))
	}
	if r.EdgesLost != 0 {
		f = append(f, fmt.Sprintf("the healthy edges gave up %d messages", r.EdgesLost))
	}
	for _, s := range r.Slow {
		if !s.CutOff && s.MaxLoss < 0.5 {
			f = append(f, fmt.Sprintf("slow edge %s was neither shown losing (max %.0f%%) nor cut off", s.Name, s.MaxLoss*100))
		}
	}
	return f
}

// WriteText implements [Report].
func (r *FanoutResult) WriteText(w io.Writer) error {
	return writeTable(w, &r.Result, func(w io.Writer) {
		fmt.Fprintf(w, "edges\t%d\tbooks match %d, messages given up %d\n", r.Edges, r.BooksMatch, r.EdgesLost)
		fmt.Fprintf(w, "arrival spread\tp50 %s\tp99 %s  p99.9 %s  max %s  (first to last edge, per packet, n=%d)\n",
			us(r.Spread.P50), us(r.Spread.P99), us(r.Spread.P999), us(r.Spread.Max), r.Spread.Count)
		fmt.Fprintf(w, "edge latency\tp50 %s\tp99 %s  p99.9 %s  max %s  (publisher send → edge forward)\n",
			us(r.EdgeLatency.P50), us(r.EdgeLatency.P99), us(r.EdgeLatency.P999), us(r.EdgeLatency.Max))
		fmt.Fprintf(w, "hub\t%d packets\t%d datagrams to its downstreams, %d cut off\n", r.HubPackets, r.HubDatagrams, r.HubCutOff)
		if p := r.HubProcess; p != nil {
			fmt.Fprintf(w, "hub process\tpid %d\t%.2fs user + %.2fs sys (%.2f cores over the run)\n", p.PID, p.UserS, p.SysS,
				(p.UserS+p.SysS)/math.Max(r.DurationS, 1e-9))
		}
		for _, s := range r.Slow {
			fmt.Fprintf(w, "slow edge %s\tcap %.0f kbit/s\tmax loss %.0f%%, cut off %v\n", s.Name, r.SlowCapBps/1000, s.MaxLoss*100, s.CutOff)
		}
	}, r.Failures())
}

// Fanout runs the fan-out drill: publisher → hub relay (multicast in) →
// Edges edge relays, each over its own QUIC link from the hub (and Slow
// more behind a bandwidth cap), a subscriber on edge 0's re-multicast.
// Everything runs in this process on loopback; the CPU figure is the whole
// process's. Promise: every healthy edge's books equal the publisher's,
// nothing lost, slow edges named or cut off; measured: the arrival spread
// across the edges and their latency.
func Fanout(ctx context.Context, cfg FanoutConfig) (*FanoutResult, error) {
	if err := cfg.normalize(); err != nil {
		return nil, err
	}
	fr := &fanoutRig{cfg: cfg}
	defer fr.close()
	d, err := open(ctx, cfg.Feed, func(r *rig, s *session) (subTarget, error) {
		fr.rig = r
		if err := fr.build(ctx, s); err != nil {
			return subTarget{}, err
		}
		return subTarget{fr.outA, fr.outB, fr.edges[0].rtx(), fr.edges[0].LinkAddr()}, nil
	}, nil, nil, nil)
	if err != nil {
		return nil, err
	}
	r, s, pr, rs := d.r, d.s, d.pr, d.rs
	defer rs.stop()
	r.progress("waiting for %d edges to connect", cfg.Edges)
	poll(ctx, cfg.Settle, func() bool {
		for _, e := range fr.edges {
			if st := e.Stats().Channels[0].Intake; !st.Links[0].Connected {
				return false
			}
		}
		return true
	})
	if fr.hubProc != nil {
		if err := fr.hubProc.Start(); err != nil {
			return nil, fmt.Errorf("drill: %w", err)
		}
	}
	r.run(ctx, s)
	defer s.end()
	r.progress("fan-out drill: %.0f msg/s for %v; hub → %d edges (+%d slow)", cfg.Rate, cfg.Duration, cfg.Edges, cfg.Slow)

	res := &FanoutResult{Edges: cfg.Edges}
	if cfg.Slow > 0 {
		if err := r.sleepUntil(ctx, time.Second); err != nil {
			return nil, err
		}
		bytes := float64(s.pub.Stats().Lines[0].Bytes)
		elapsed := time.Since(r.start).Seconds()
		res.SlowCapBps = math.Max(8000, cfg.SlowShare*8*bytes/elapsed)
		if err := fr.addSlow(ctx, res.SlowCapBps); err != nil {
			return nil, err
		}
		r.progress("%d slow edges joined behind %.0f kbit/s", cfg.Slow, res.SlowCapBps/1000)
	}
	maxLoss := map[string]float64{}
	watch := time.NewTicker(100 * time.Millisecond)
	defer watch.Stop()
	for end := r.start.Add(cfg.Duration); time.Now().Before(end); {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-watch.C:
		}
		if fr.hub == nil {
			continue
		}
		for _, d := range fr.hub.Stats().Downstreams {
			maxLoss[d.Name] = math.Max(maxLoss[d.Name], d.Loss)
		}
	}
	v, err := r.finish(ctx, s, rs, pr)
	if err != nil {
		return nil, err
	}
	if res.Result, err = r.report("fanout", cfg.Duration, rs, pr, v, s); err != nil {
		return nil, err
	}
	if err := fr.checkEdges(ctx, s, res); err != nil {
		return nil, err
	}
	if err := fr.hubFigures(ctx, res); err != nil {
		return nil, err
	}
	for _, name := range fr.slowNames {
		res.Slow = append(res.Slow, SlowEdge{Name: name, MaxLoss: maxLoss[name], CutOff: fr.cutOff(name)})
	}
	res.Spread = fr.spread()
	return res, nil
}

// maxSpread bounds the spread and latency histograms.
const maxSpread = time.Minute

// fanoutRig is the fan-out drill's hub, edges and slow paths.
type fanoutRig struct {
	*rig
	hops
	cfg        FanoutConfig
	hub        *runningRelay       // in this process
	hubProc    *bench.RelayProcess // or as a child process
	hubLink    string              // its link server
	certDir    string              // its certificates, with Processes
	edges      []*runningRelay
	arrivals   []*arrivals
	slowNames  []string
	proxies    []*impair.Proxy
	outA, outB netip.AddrPort // edge 0's re-multicast groups
	ctx        context.Context
}

// arrivals records when one edge forwarded each packet (by first sequence).
type arrivals struct {
	mu sync.Mutex
	at []arrival
}

type arrival struct {
	seq uint64
	at  int64
}

func (a *arrivals) tap(p wire.Packet, at int64) {
	a.mu.Lock()
	a.at = append(a.at, arrival{p.Seq, at})
	a.mu.Unlock()
}

// build starts the hub and the healthy edges.
func (fr *fanoutRig) build(ctx context.Context, s *session) error {
	fr.ctx = fr.begin(ctx)
	if err := fr.startHub(s); err != nil {
		return err
	}
	var err error
	if fr.outA, err = freeGroup(); err != nil {
		return err
	}
	if fr.outB, err = freeGroup(); err != nil {
		return err
	}
	for i := range fr.cfg.Edges {
		a := &arrivals{at: make([]arrival, 0, 1<<14)}
		e, err := fr.newEdge(fmt.Sprintf("edge-%02d", i), fr.hubLink, i == 0, a.tap)
		if err != nil {
			return err
		}
		fr.edges = append(fr.edges, e)
		fr.arrivals = append(fr.arrivals, a)
	}
	return nil
}

// newEdge starts one edge relay with one QUIC path from upstream; edge 0
// re-multicasts for the drill's subscriber and answers its NACKs.
func (fr *fanoutRig) newEdge(name, upstream string, first bool, tap func(wire.Packet, int64)) (*runningRelay, error) {
	f := fr.feed
	tlsConf, err := fr.edgeTLS(name)
	if err != nil {
		return nil, fmt.Errorf("drill: certificate for %s: %w", name, err)
	}
	ch := relay.Channel{
		ID:          channel,
		Upstreams:   []intake.Link{{Name: "A", Addr: upstream, TLS: tlsConf, Live: true}},
		LineTimeout: f.LineTimeout,
		Tap:         tap,
	}
	cfg := relay.Config{LinkAddr: "127.0.0.1:0", LinkTLS: fr.tp.ServerTLS(), Logger: f.Logger}
	if first {
		ch.Out = []egress.Line{
			{Name: "A", Group: fr.outA, Interface: f.Interface, Loopback: true},
			{Name: "B", Group: fr.outB, Interface: f.Interface, Loopback: true},
		}
		cfg.RetransmitAddr = "127.0.0.1:0"
	}
	cfg.Channels = []relay.Channel{ch}
	e, err := relay.New(cfg)
	if err != nil {
		return nil, fmt.Errorf("drill: %s: %w", name, err)
	}
	fr.relays = append(fr.relays, e)
	fr.spawn(fr.ctx, e.Run)
	return &runningRelay{e}, nil
}

// addSlow starts the slow edges, each behind its own capped path.
func (fr *fanoutRig) addSlow(ctx context.Context, capBps float64) error {
	spec := impair.Spec{Rate: int64(capBps / 8), Queue: 16 << 10}
	for i := range fr.cfg.Slow {
		p, err := impair.New(impair.Config{Listen: "127.0.0.1:0", Upstream: fr.hubLink, Down: &spec, Logger: fr.feed.Logger})
		if err != nil {
			return fmt.Errorf("drill: slow path %d: %w", i, err)
		}
		fr.proxies = append(fr.proxies, p)
		fr.spawn(fr.ctx, p.Run)
		name := fmt.Sprintf("slow-%02d", i)
		if _, err := fr.newEdge(name, p.Addr().String(), false, nil); err != nil {
			return err
		}
		fr.slowNames = append(fr.slowNames, name)
	}
	return nil
}

// cutOff reports whether the hub cut the downstream of that name off at
// least once (it redials and may be connected again).
func (fr *fanoutRig) cutOff(name string) bool {
	return fr.hub != nil && fr.hub.Stats().CutOffByName[name] > 0
}

// checkEdges waits for every healthy edge to reach the publisher's last
// sequence and compares its books.
func (fr *fanoutRig) checkEdges(ctx context.Context, s *session, res *FanoutResult) error {
	pubSums, pubSeq, err := s.pub.BookChecksums(ctx)
	if err != nil {
		return err
	}
	lat := latency.NewRecorder(maxSpread)
	for i, e := range fr.edges {
		var (
			sums  map[uint32]uint32
			seq   uint64
			whole bool
		)
		poll(ctx, fr.feed.Settle, func() bool {
			sums, seq, whole, err = e.BookSums(channel)
			return err == nil && whole && seq >= pubSeq
		})
		st := e.Stats().Channels[0]
		res.EdgesLost += st.Intake.Gap.Lost
		if v := compare(pubSums, sums); !whole || seq < pubSeq || !v.match {
			why := v.why
			if !whole || seq < pubSeq {
				why = fmt.Sprintf("at sequence %d (whole %v), the publisher at %d", seq, whole, pubSeq)
			}
			res.Mismatches = append(res.Mismatches, fmt.Sprintf("edge-%02d: %s", i, why))
		} else {
			res.BooksMatch++
		}
		l, err := e.TakeLatency(channel)
		if err != nil {
			return err
		}
		lat.Merge(l)
	}
	res.EdgeLatency = percentiles(lat.Summary())
	return nil
}

// spread returns, over the packets every healthy edge forwarded, the time
// from the first edge to the last.
func (fr *fanoutRig) spread() Percentiles {
	type span struct {
		first, last int64
		n           int
	}
	spans := map[uint64]*span{}
	for _, a := range fr.arrivals {
		a.mu.Lock()
		for _, x := range a.at {
			sp := spans[x.seq]
			if sp == nil {
				sp = &span{first: x.at, last: x.at}
				spans[x.seq] = sp
			}
			sp.first, sp.last = min(sp.first, x.at), max(sp.last, x.at)
			sp.n++
		}
		a.mu.Unlock()
	}
	rec := latency.NewRecorder(maxSpread)
	for _, sp := range spans {
		if sp.n == len(fr.arrivals) {
			rec.RecordNanos(sp.last - sp.first)
		}
	}
	return percentiles(rec.Summary())
}

// startHub starts the hub, in this process or as a child process.
func (fr *fanoutRig) startHub(s *session) error {
	if !fr.cfg.Processes {
		hub, err := newHub(fr.rig, s)
		if err != nil {
			return err
		}
		fr.relays = append(fr.relays, hub)
		fr.hub, fr.hubLink = &runningRelay{hub}, hub.LinkAddr()
		fr.spawn(fr.ctx, hub.Run)
		return nil
	}
	var err error
	if fr.certDir, err = bench.TempCertDir(); err != nil {
		return fmt.Errorf("drill: relay certificates: %w", err)
	}
	pubRtx, err := netip.ParseAddrPort(s.pub.RetransmitAddr())
	if err != nil {
		return fmt.Errorf("drill: retransmit address: %w", err)
	}
	link, err := freeLoopbackPort()
	if err != nil {
		return err
	}
	fr.hubLink = link.String()
	f := fr.feed
	fr.hubProc, err = bench.StartRelayProcess(fr.ctx, bench.RelayProcessConfig{
		Role: "hub", Channel: channel, Lines: []netip.AddrPort{fr.groupA, fr.groupB}, Interface: f.Interface,
		UpstreamRetransmit: pubRtx, Link: fr.hubLink, CertDir: fr.certDir, LineTimeout: f.LineTimeout,
		Deadline: time.Now().Add(f.Duration + 2*f.Settle + time.Minute), Exec: fr.cfg.Exec,
	})
	if err != nil {
		return fmt.Errorf("drill: %w", err)
	}
	return nil
}

// edgeTLS is an edge's client certificate: from the rig's PKI, or the hub
// process's CA (every edge then presents the certificate named "edge").
func (fr *fanoutRig) edgeTLS(name string) (*tls.Config, error) {
	if fr.certDir == "" {
		return fr.tp.NamedClientTLS(name)
	}
	return pki.ClientTLS(pki.CertFile(fr.certDir, "edge"), pki.KeyFile(fr.certDir, "edge"), pki.CertFile(fr.certDir, "ca"))
}

// hubFigures fills the hub's figures: from its stats, or its process's
// result (it ends once the end of session has passed it).
func (fr *fanoutRig) hubFigures(ctx context.Context, res *FanoutResult) error {
	if fr.hubProc == nil {
		hs := fr.hub.Stats()
		res.HubPackets, res.HubCutOff = hs.Channels[0].Packets, hs.CutOff
		for _, d := range hs.Downstreams {
			res.HubDatagrams += d.Datagrams
		}
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, fr.feed.Settle)
	defer cancel()
	hr, err := fr.hubProc.Result(ctx)
	if err != nil {
		return fmt.Errorf("drill: hub process: %w", err)
	}
	res.HubPackets, res.HubDatagrams, res.HubCutOff = hr.Packets, hr.Downstream, hr.CutOff
	res.HubProcess = &hr.Proc
	return nil
}

// close stops the relays and paths and waits for them.
func (fr *fanoutRig) close() error {
	err := fr.hops.close()
	if fr.hubProc != nil {
		fr.hubProc.Stop()
		fr.hubProc = nil
	}
	if fr.certDir != "" {
		os.RemoveAll(fr.certDir)
		fr.certDir = ""
	}
	for _, p := range fr.proxies {
		p.Close()
	}
	fr.proxies = nil
	return err
}
