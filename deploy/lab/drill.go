package lab

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/tickcast/tickcast/feed"
)

// The drills.
const (
	KillA     = "kill-a"     // the publisher's A interface dies mid-run, and comes back
	Loss      = "loss"       // kernel packet loss on both of the publisher's segments
	UplinkCut = "uplink-cut" // edge1's WAN uplink is cut, and restored
)

// Drills lists every drill, in the order the test runs them.
var Drills = []string{KillA, Loss, UplinkCut}

// Options configure a run; each zero value means the default given.
type Options struct {
	// Bin is the tickcast binary; "" builds ./cmd/tickcast of the module
	// ModuleDir (default: the module of the working directory) into the
	// run's directory.
	Bin       string
	ModuleDir string
	// Prometheus is the Prometheus binary; "" = "prometheus" on PATH.
	Prometheus string
	// Dir receives every daemon's output, the certificates and Prometheus's
	// storage; "" = a temporary directory, removed at the end unless Keep.
	Dir  string
	Keep bool

	Rate        float64       // messages per second; default 30000
	Duration    time.Duration // the publisher's session; default 20s, at least 10s
	Instruments int           // default 50
	Levels      int           // levels per side; default 50
	LossPercent int           // the loss drill's loss on each segment, each way; default 2

	Progress      io.Writer     // a progress line every ProgressEvery; nil = none
	ProgressEvery time.Duration // default 3s
}

func (o *Options) defaults() {
	if o.Rate == 0 {
		o.Rate = 30000
	}
	if o.Duration == 0 {
		o.Duration = 20 * time.Second
	}
	if o.Instruments == 0 {
		o.Instruments = 50
	}
	if o.Levels == 0 {
		o.Levels = 50
	}
	if o.LossPercent == 0 {
		o.LossPercent = 2
	}
	if o.ProgressEvery == 0 {
		o.ProgressEvery = 3 * time.Second
	}
	if o.Progress == nil {
		o.Progress = io.Discard
	}
}

// plan is a drill's fault: applied at from and undone at to (fractions of
// the publisher's session).
type plan struct {
	fault     string
	from, to  float64
	apply     func(ctx context.Context, l *labRun) error
	undo      func(ctx context.Context, l *labRun) error
	checkProm func(ctx context.Context, l *labRun) error
	after     func(ctx context.Context, l *labRun) // once the fault is undone
	gapless   []string                             // subscribers that must see no hole at all
}

func planFor(drill string, o Options) (plan, error) {
	switch drill {
	case KillA:
		return plan{
			fault: "ip link set a0 down in the publisher's namespace (its A interface), then up",
			from:  0.3, to: 0.6,
			apply:     func(ctx context.Context, l *labRun) error { return l.topo.SetLink(ctx, "pub", "a0", false) },
			undo:      func(ctx context.Context, l *labRun) error { return l.topo.SetLink(ctx, "pub", "a0", true) },
			checkProm: checkLineADown,
			gapless:   []string{"sub1", "sub2"},
		}, nil
	case Loss:
		return plan{
			fault: fmt.Sprintf("nftables numgen random mod 100 < %d drop on segments A and B (both ways)", o.LossPercent),
			from:  0.2, to: 0.7,
			apply:     func(ctx context.Context, l *labRun) error { return addLoss(ctx, o.LossPercent) },
			undo:      func(ctx context.Context, l *labRun) error { return removeLoss(ctx, l.report) },
			checkProm: checkHubGaps,
			gapless:   []string{"sub1", "sub2"},
		}, nil
	case UplinkCut:
		return plan{
			fault: "ip link set wan0 down in edge1's namespace (its WAN uplink), then up",
			from:  0.3, to: 0.5,
			apply:     func(ctx context.Context, l *labRun) error { return l.topo.SetLink(ctx, "edge1", "wan0", false) },
			undo:      func(ctx context.Context, l *labRun) error { return l.topo.SetLink(ctx, "edge1", "wan0", true) },
			checkProm: checkUplinkDown,
			after:     measureCatchUp,
			// edge1 repairs the outage from the hub's cache by NACK, so
			// its subscriber, too, loses nothing.
			gapless: []string{"sub1", "sub2"},
		}, nil
	}
	return plan{}, fmt.Errorf("unknown drill %q (want one of %s)", drill, strings.Join(Drills, ", "))
}

// labRun is one drill's state.
type labRun struct {
	o      Options
	drill  string
	dir    string
	topo   *Topology
	client *http.Client // dials in the management network
	procs  map[string]*Proc
	prom   *prometheus
	t0     time.Time // the publisher's start
	report *Report
	faultA time.Time // when the fault was applied and undone
	faultB time.Time
}

// Run runs one drill: it takes the lab's lock, sweeps a crashed run's
// leftovers, builds the topology, starts Prometheus and every daemon,
// applies the fault mid-run, waits for the publisher's end of session and
// the subscribers to settle, compares every subscriber's books with the
// publisher's, asks Prometheus what it saw, and removes everything it made,
// on every path out. A non-nil error means the lab could not be run (the
// report, if any, says how far it got); a drill that ran and failed has
// Pass false and its Failures.
func Run(ctx context.Context, drill string, o Options) (rep *Report, err error) {
	o.defaults()
	if o.Duration < 10*time.Second {
		return nil, fmt.Errorf("duration %v: at least 10s (the fault needs a few seconds in the middle)", o.Duration)
	}
	p, err := planFor(drill, o)
	if err != nil {
		return nil, err
	}
	if err := Preflight(o.Prometheus); err != nil {
		return nil, err
	}
	start := time.Now()
	lock, err := Lock(ctx)
	if err != nil {
		return nil, err
	}
	defer lock.Close()
	if err := Sweep(ctx); err != nil {
		return nil, fmt.Errorf("sweep of a previous run: %w", err)
	}
	l := &labRun{o: o, drill: drill, procs: map[string]*Proc{},
		report: &Report{Drill: drill, Rate: o.Rate, DurationS: o.Duration.Seconds(), Instruments: o.Instruments, Fault: p.fault}}
	rep = l.report
	l.dir = o.Dir
	if l.dir == "" {
		pattern := Prefix + "run-*"
		if o.Keep {
			pattern = Prefix + "keep-*" // not swept
		}
		if l.dir, err = os.MkdirTemp("", pattern); err != nil {
			return nil, err
		}
		if !o.Keep {
			defer os.RemoveAll(l.dir)
		}
	} else if err := os.MkdirAll(l.dir, 0o755); err != nil {
		return nil, err
	}
	if o.Keep || o.Dir != "" {
		rep.Logs = l.dir
	}
	defer func() {
		// Everything stops and goes, whatever happened above.
		var procs []*Proc
		for _, name := range []string{"sub1", "sub2", "edge1", "edge2", "hub", "pub", "prometheus"} {
			procs = append(procs, l.procs[name])
		}
		stopAll(10*time.Second, procs...)
		if cerr := l.topo.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("teardown: %w", cerr)
		}
		rep.ElapsedS = time.Since(start).Seconds()
		if err != nil || !rep.Pass {
			rep.Diagnostics = l.diagnostics()
		}
	}()
	if err := l.setup(ctx); err != nil {
		return rep, err
	}
	if err := l.drive(ctx, p); err != nil {
		return rep, err
	}
	l.finish(ctx, p)
	return rep, nil
}

// Preflight says what the lab needs and this machine lacks: root, ip, nft,
// prometheus (promBin, "" = on PATH); nil when nothing is missing.
func Preflight(promBin string) error {
	var missing []string
	if os.Geteuid() != 0 {
		missing = append(missing, "root (network namespaces need CAP_SYS_ADMIN and CAP_NET_ADMIN)")
	}
	if promBin == "" {
		promBin = "prometheus"
	}
	for _, bin := range []string{"ip", "nft", promBin} {
		if _, err := exec.LookPath(bin); err != nil {
			missing = append(missing, fmt.Sprintf("%s (not found on PATH: install %s)", bin, debianPackage(bin)))
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("the lab needs %s", strings.Join(missing, ", "))
	}
	return nil
}

func debianPackage(bin string) string {
	switch bin {
	case "ip":
		return "iproute2"
	case "nft":
		return "nftables"
	}
	return "prometheus"
}

// setup builds the binary (if needed), the topology and the certificates,
// starts Prometheus and every daemon but the publisher, and waits until
// they listen and the edges are linked to the hub.
func (l *labRun) setup(ctx context.Context) error {
	bin, err := l.binary(ctx)
	if err != nil {
		return err
	}
	l.o.Bin = bin
	if l.topo, err = BuildTopology(ctx); err != nil {
		return fmt.Errorf("topology: %w", err)
	}
	certs := filepath.Join(l.dir, "certs")
	if _, err := command(ctx, "", bin, "certs", "--dir", certs, "--names", "publisher,hub,edge1,edge2,sub1,sub2",
		"--hosts", strings.Join(allAddrs(), ",")); err != nil {
		return err
	}
	l.client = httpClientIn(l.topo.Hosts["mon"].NS)
	targets := map[string]string{}
	for _, h := range daemonOrder {
		targets[h] = l.topo.admin(h)
	}
	promBin := l.o.Prometheus
	if promBin == "" {
		promBin = "prometheus"
	}
	if promBin, err = exec.LookPath(promBin); err != nil {
		return err
	}
	if l.prom, err = startPrometheus(ctx, promBin, l.topo.Hosts["mon"].NS, l.dir, promListen, targets, daemonOrder, l.client); err != nil {
		return err
	}
	l.procs["prometheus"] = l.prom.proc
	l.report.PrometheusTargets = len(targets)
	f := feedParams{Rate: l.o.Rate, Duration: l.o.Duration, Instruments: l.o.Instruments, Levels: l.o.Levels}
	for _, h := range daemonOrder {
		if h == "pub" {
			continue
		}
		if err := l.start(h, bin, certs, f); err != nil {
			return err
		}
	}
	for _, h := range daemonOrder {
		if h == "pub" {
			continue
		}
		if err := l.waitFor(ctx, 30*time.Second, h+"'s admin listener", func() (bool, error) {
			_, err := scrape(ctx, l.client, l.topo.admin(h))
			return err == nil, nil
		}); err != nil {
			return err
		}
	}
	// The edges' links to the hub: the hub names each downstream by its
	// certificate.
	if err := l.waitFor(ctx, 30*time.Second, "the edges linked to the hub", func() (bool, error) {
		m, err := scrape(ctx, l.client, l.topo.admin("hub"))
		if err != nil {
			return false, nil
		}
		_, ok1 := m.lookup("tickcast_downstream_queued_packets", "name", "edge1")
		_, ok2 := m.lookup("tickcast_downstream_queued_packets", "name", "edge2")
		return ok1 && ok2, nil
	}); err != nil {
		return err
	}
	l.t0 = time.Now()
	if err := l.start("pub", bin, certs, f); err != nil {
		return err
	}
	// The feed flows end to end.
	return l.waitFor(ctx, 30*time.Second, "messages at every subscriber", func() (bool, error) {
		for _, s := range []string{"sub1", "sub2"} {
			m, err := scrape(ctx, l.client, l.topo.admin(s))
			if err != nil || m.sum("tickcast_messages_total") == 0 {
				return false, nil
			}
		}
		return true, nil
	})
}

// binary returns the tickcast binary, building it if none was given.
func (l *labRun) binary(ctx context.Context) (string, error) {
	if l.o.Bin != "" {
		return filepath.Abs(l.o.Bin)
	}
	return BuildTickcast(ctx, l.o.ModuleDir, l.dir)
}

// BuildTickcast builds ./cmd/tickcast of the module in moduleDir ("" = the
// module of the working directory) into dir and returns the binary's path.
func BuildTickcast(ctx context.Context, moduleDir, dir string) (string, error) {
	if moduleDir == "" {
		out, err := command(ctx, "", "go", "env", "GOMOD")
		if err != nil {
			return "", err
		}
		gomod := strings.TrimSpace(out)
		if gomod == "" || gomod == os.DevNull {
			return "", errors.New("not in a Go module: give the tickcast binary (--bin) or run from the module")
		}
		moduleDir = filepath.Dir(gomod)
	}
	bin := filepath.Join(dir, "tickcast")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/tickcast")
	cmd.Dir = moduleDir
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/tickcast in %s: %w: %s", moduleDir, err, out)
	}
	return bin, nil
}

// waitFor polls cond every 100ms until it holds, a daemon exits, ctx ends
// or limit passes.
func (l *labRun) waitFor(ctx context.Context, limit time.Duration, what string, cond func() (bool, error)) error {
	deadline := time.Now().Add(limit)
	for {
		ok, err := cond()
		if err != nil {
			return fmt.Errorf("waiting for %s: %w", what, err)
		}
		if ok {
			return nil
		}
		if name, err := l.exited(); name != "" {
			return fmt.Errorf("waiting for %s: %s exited: %v", what, name, err)
		}
		if ctx.Err() != nil {
			return fmt.Errorf("waiting for %s: %w", what, ctx.Err())
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no %s after %v", what, limit)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// exited names a daemon that exited before its time (the publisher may end
// its session), with how it ended.
func (l *labRun) exited() (string, error) {
	for name, p := range l.procs {
		if name == "pub" {
			continue
		}
		if done, err := p.Exited(); done {
			return name, err
		}
	}
	return "", nil
}

// drive applies the fault at its time and undoes it at its end, printing
// progress, then waits for the publisher's session to end.
func (l *labRun) drive(ctx context.Context, p plan) error {
	at := func(f float64) time.Time { return l.t0.Add(time.Duration(f * float64(l.o.Duration))) }
	if err := l.sleepUntil(ctx, at(p.from)); err != nil {
		return err
	}
	l.faultA = time.Now()
	l.progressf("%s: fault on: %s", l.drill, p.fault)
	if err := p.apply(ctx, l); err != nil {
		return fmt.Errorf("apply the fault: %w", err)
	}
	if err := l.sleepUntil(ctx, at(p.to)); err != nil {
		p.undo(context.Background(), l)
		return err
	}
	if err := p.undo(ctx, l); err != nil {
		return fmt.Errorf("undo the fault: %w", err)
	}
	l.faultB = time.Now()
	l.progressf("%s: fault off after %.1fs", l.drill, l.faultB.Sub(l.faultA).Seconds())
	l.report.FaultFromS, l.report.FaultToS = l.faultA.Sub(l.t0).Seconds(), l.faultB.Sub(l.t0).Seconds()
	if p.after != nil {
		p.after(ctx, l)
	}
	pub := l.procs["pub"]
	wctx, cancel := context.WithTimeout(ctx, time.Until(l.t0.Add(l.o.Duration+30*time.Second)))
	defer cancel()
	for {
		select {
		case <-pub.Done():
			_, err := pub.Exited()
			if err != nil {
				return fmt.Errorf("the publisher failed: %w", err)
			}
			l.progressf("%s: the publisher ended its session", l.drill)
			return nil
		case <-wctx.Done():
			return fmt.Errorf("the publisher did not end its session: %w", wctx.Err())
		case <-time.After(l.o.ProgressEvery):
			l.progress(ctx)
		}
	}
}

// measureCatchUp measures, after the uplink came back, when edge1's link
// to the hub was up again (its line A) and from when sub1, behind it, was
// live again for good: not recovering, its lines up, and over every second
// as many messages as sub2 (behind the other edge, live all along) within
// 2%, until the end of the session (an edge that forwards what it repaired
// and then gives up the rest is not live yet). Measurements, never
// thresholds; polled every 250ms until just before the session ends.
func measureCatchUp(ctx context.Context, l *labRun) {
	type sample struct {
		t      time.Time
		n1, n2 float64
	}
	var hist []sample
	var since time.Time // sub1 in step since, zero = not in step
	end := l.t0.Add(l.o.Duration - 500*time.Millisecond)
	for time.Now().Before(end) && ctx.Err() == nil {
		time.Sleep(250 * time.Millisecond)
		// sub2 first: a count of sub1 read after it is never behind by
		// the read's delay.
		m2, err2 := scrape(ctx, l.client, l.topo.admin("sub2"))
		m1, err1 := scrape(ctx, l.client, l.topo.admin("sub1"))
		e1, err3 := scrape(ctx, l.client, l.topo.admin("edge1"))
		if err1 != nil || err2 != nil || err3 != nil {
			continue
		}
		now := time.Now()
		if l.report.RelinkedS == nil && e1.sum("tickcast_line_up", "line", "A") == 1 {
			s := now.Sub(l.faultB).Seconds()
			l.report.RelinkedS = &s
			l.progressf("%s: edge1's uplink up again %.2fs after it was restored", l.drill, s)
		}
		hist = append(hist, sample{now, m1.sum("tickcast_messages_total"), m2.sum("tickcast_messages_total")})
		var old *sample
		for i := range hist {
			if now.Sub(hist[i].t) >= time.Second {
				old = &hist[i]
			}
		}
		inStep := false
		if old != nil && m1.sum("tickcast_recovering") == 0 && m1.sum("tickcast_line_up", "line", "A") == 1 {
			d1, d2 := hist[len(hist)-1].n1-old.n1, hist[len(hist)-1].n2-old.n2
			inStep = d2 > 0 && d1 >= 0.98*d2 && d1 <= 1.02*d2
		}
		switch {
		case !inStep:
			since = time.Time{}
		case since.IsZero():
			since = now
		}
	}
	if since.IsZero() {
		l.progressf("%s: sub1 not live again when the session ended", l.drill)
		return
	}
	s := since.Sub(l.faultB).Seconds()
	l.report.CaughtUpS = &s
	l.progressf("%s: sub1 live again %.2fs after the uplink was restored, to the end", l.drill, s)
}

// sleepUntil waits until t, printing progress.
func (l *labRun) sleepUntil(ctx context.Context, t time.Time) error {
	for {
		d := time.Until(t)
		if d <= 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(min(d, l.o.ProgressEvery)):
			if d > l.o.ProgressEvery {
				l.progress(ctx)
			}
		}
		if name, err := l.exited(); name != "" {
			return fmt.Errorf("%s exited mid-run: %v", name, err)
		}
	}
}

func (l *labRun) progressf(format string, args ...any) {
	fmt.Fprintf(l.o.Progress, "%s +%5.1fs  %s\n", time.Now().Format("15:04:05"), time.Since(l.t0).Seconds(), fmt.Sprintf(format, args...))
}

// progress prints one line: each subscriber's messages, loss and holes,
// the hub's lines.
func (l *labRun) progress(ctx context.Context) {
	var parts []string
	for _, s := range []string{"sub1", "sub2"} {
		m, err := scrape(ctx, l.client, l.topo.admin(s))
		if err != nil {
			parts = append(parts, s+" ?")
			continue
		}
		parts = append(parts, fmt.Sprintf("%s %.0f msgs lost %.0f gaps %.0f", s, m.sum("tickcast_messages_total"),
			m.sum("tickcast_messages_lost_total"), m.sum("tickcast_gaps_total")))
	}
	if m, err := scrape(ctx, l.client, l.topo.admin("hub")); err == nil {
		parts = append(parts, fmt.Sprintf("hub line A up %.0f B up %.0f gaps %.0f nacks %.0f", m.sum("tickcast_line_up", "line", "A"),
			m.sum("tickcast_line_up", "line", "B"), m.sum("tickcast_gaps_total"), m.sum("tickcast_nacks_sent_total")))
	}
	if m, err := scrape(ctx, l.client, l.topo.admin("edge1")); err == nil {
		parts = append(parts, fmt.Sprintf("edge1 uplink up %.0f", m.sum("tickcast_line_up", "line", "A")))
	}
	l.progressf("%s: %s", l.drill, strings.Join(parts, " | "))
}

// finish waits for the subscribers to settle, reads their counters, asks
// Prometheus, stops the subscribers (which print their books) and the
// relays, and judges.
func (l *labRun) finish(ctx context.Context, p plan) {
	r := l.report
	pubOut := l.procs["pub"].Output()
	pubBooks, ok := findDigest(pubOut)
	if !ok {
		r.Failures = append(r.Failures, "the publisher printed no books line")
	}
	r.PublisherBooks = pubBooks.String()
	r.LastSeq = pubBooks.Seq
	for line := range strings.Lines(pubOut) {
		var n, pk, sess, last uint64
		if _, err := fmt.Sscanf(line, "published %d messages in %d packets; session %d, last sequence %d", &n, &pk, &sess, &last); err == nil {
			r.Published = n
		}
	}
	// Settled: a subscriber has applied as many messages as the publisher
	// sent (a run without a reset applies every sequence once), or its count
	// has not moved for 5s (a run with a snapshot applies fewer; a stalled
	// one shows in the books).
	type count struct {
		n     float64
		since time.Time
	}
	last := map[string]count{}
	settled := l.waitFor(ctx, 40*time.Second, "the subscribers to settle", func() (bool, error) {
		done := true
		for _, s := range []string{"sub1", "sub2"} {
			m, err := scrape(ctx, l.client, l.topo.admin(s))
			if err != nil {
				return false, nil
			}
			n := m.sum("tickcast_messages_total")
			if c, ok := last[s]; !ok || c.n != n {
				last[s] = count{n, time.Now()}
			}
			if !(pubBooks.Seq > 0 && n >= float64(pubBooks.Seq)) && time.Since(last[s].since) < 5*time.Second {
				done = false
			}
		}
		return done, nil
	})
	if settled != nil {
		r.Failures = append(r.Failures, settled.Error())
	}
	final := map[string]metrics{}
	for _, h := range []string{"sub1", "sub2", "hub", "edge1", "edge2"} {
		m, err := scrape(ctx, l.client, l.topo.admin(h))
		if err != nil {
			r.Failures = append(r.Failures, fmt.Sprintf("final scrape of %s: %v", h, err))
			m = metrics{}
		}
		final[h] = m
	}
	// Prometheus: every target up, and the drill's own question.
	if up, err := l.prom.query(ctx, "up", time.Now()); err == nil {
		for _, s := range up {
			if len(s.Points) > 0 && s.Points[0].V == 1 {
				r.PrometheusTargetsUp++
			}
		}
	} else {
		r.Failures = append(r.Failures, err.Error())
	}
	if r.PrometheusTargetsUp < r.PrometheusTargets-1 { // the publisher has ended
		r.Failures = append(r.Failures, fmt.Sprintf("prometheus: %d of %d targets up after the run", r.PrometheusTargetsUp, r.PrometheusTargets))
	}
	// Each daemon's CPU over the publisher's session, as Prometheus has it.
	window := fmt.Sprintf("%ds", int(l.o.Duration.Seconds()))
	if cpu, err := l.prom.query(ctx, "rate(process_cpu_seconds_total["+window+"])", l.t0.Add(l.o.Duration)); err == nil {
		r.CPUCores = map[string]float64{}
		for _, s := range cpu {
			if len(s.Points) > 0 {
				r.CPUCores[s.Metric["job"]] = float64(int(s.Points[0].V*1000)) / 1000
			}
		}
	}
	if p.checkProm != nil {
		if err := p.checkProm(ctx, l); err != nil {
			r.Failures = append(r.Failures, err.Error())
		}
	}
	// The subscribers print their books when they stop.
	for _, s := range []string{"sub1", "sub2"} {
		if err := l.procs[s].Stop(15 * time.Second); err != nil {
			r.Failures = append(r.Failures, fmt.Sprintf("%s: %v", s, err))
		}
		r.Subscribers = append(r.Subscribers, subscriberReport(s, final[s], l.procs[s].Output(), pubBooks))
	}
	r.Hub = relayReport("hub", final["hub"])
	for _, e := range []string{"edge1", "edge2"} {
		r.Edges = append(r.Edges, relayReport(e, final[e]))
	}
	for _, h := range []string{"edge1", "edge2", "hub"} {
		if err := l.procs[h].Stop(10 * time.Second); err != nil {
			r.Failures = append(r.Failures, fmt.Sprintf("%s: %v", h, err))
		}
	}
	l.judge(p)
}

// judge sets Pass from what was measured.
func (l *labRun) judge(p plan) {
	r := l.report
	for _, s := range r.Subscribers {
		if !s.BooksMatch {
			r.Failures = append(r.Failures, fmt.Sprintf("%s: books %q, the publisher's %q", s.Name, s.Books, r.PublisherBooks))
		}
		if s.ChecksumChecks == 0 {
			r.Failures = append(r.Failures, fmt.Sprintf("%s: no book checksum verified", s.Name))
		}
		if s.ChecksumMismatches != 0 {
			r.Failures = append(r.Failures, fmt.Sprintf("%s: %d book checksum mismatches", s.Name, s.ChecksumMismatches))
		}
		for _, g := range p.gapless {
			if g == s.Name && (s.Lost != 0 || s.AppGaps != 0) {
				r.Failures = append(r.Failures, fmt.Sprintf("%s: lost %d messages, the application saw %d gaps", s.Name, s.Lost, s.AppGaps))
			}
		}
	}
	r.Pass = len(r.Failures) == 0
}

// findDigest returns the books line in a daemon's output.
func findDigest(out string) (feed.Digest, bool) {
	for line := range strings.Lines(out) {
		if d, ok := feed.ParseDigest(line); ok {
			return d, true
		}
	}
	return feed.Digest{}, false
}

func subscriberReport(name string, m metrics, out string, pub feed.Digest) SubscriberReport {
	resets := m.byLabel("tickcast_resets_total", "reason")
	s := SubscriberReport{
		Name: name, Edge: edgeOf[name],
		Delivered:          uint64(m.sum("tickcast_messages_total")),
		Lost:               uint64(m.sum("tickcast_messages_lost_total")),
		Gaps:               uint64(m.sum("tickcast_gaps_total")),
		AppGaps:            resets["unrecoverable gap"] + resets["queue overrun"],
		Nacks:              uint64(m.sum("tickcast_nacks_sent_total")),
		Retransmitted:      uint64(m.sum("tickcast_retransmitted_packets_total")),
		Snapshots:          uint64(m.sum("tickcast_snapshots_total")),
		LineDowns:          nonZero(m.byLabel("tickcast_line_downs_total", "line")),
		ChecksumChecks:     uint64(m.sum("tickcast_checksum_checks_total")),
		ChecksumMismatches: uint64(m.sum("tickcast_checksum_mismatches_total")),
		Resets:             nonZero(resets),
	}
	switch {
	case s.Snapshots > 0:
		s.RecoveredBy = "snapshot"
	case s.Retransmitted > 0 || s.Nacks > 0:
		s.RecoveredBy = "nack"
	default:
		s.RecoveredBy = "none needed"
	}
	d, ok := findDigest(out)
	if !ok {
		s.Books = "(no books line)"
		return s
	}
	s.Books = d.String()
	s.BooksMatch = d.Equal(pub)
	return s
}

func relayReport(name string, m metrics) RelayReport {
	return RelayReport{
		Name:       name,
		Forwarded:  uint64(m.sum("tickcast_relay_messages_total")),
		Gaps:       uint64(m.sum("tickcast_gaps_total")),
		GapsFilled: uint64(m.sum("tickcast_gaps_filled_total")),
		Nacks:      uint64(m.sum("tickcast_nacks_sent_total")),
		Lost:       uint64(m.sum("tickcast_messages_lost_total")),
		Recoveries: uint64(m.sum("tickcast_relay_recoveries_total")),
		LineDowns:  nonZero(m.byLabel("tickcast_line_downs_total", "line")),
		CutOffs:    nonZero(m.byLabel("tickcast_downstream_cutoffs_total", "name")),
	}
}

func nonZero(m map[string]uint64) map[string]uint64 {
	for k, v := range m {
		if v == 0 {
			delete(m, k)
		}
	}
	if len(m) == 0 {
		return nil
	}
	return m
}

// diagnostics are the last lines of every daemon's output.
func (l *labRun) diagnostics() string {
	var b strings.Builder
	for _, name := range []string{"pub", "hub", "edge1", "edge2", "sub1", "sub2", "prometheus"} {
		if p := l.procs[name]; p != nil {
			fmt.Fprintf(&b, "=== %s (pid %d, namespace %s)\n%s", name, p.PID(), p.NS, p.Tail(15))
		}
	}
	return b.String()
}

// start writes host's daemon's config file and starts it from the file.
func (l *labRun) start(host, bin, certs string, f feedParams) error {
	args, err := writeConfig(l.dir, host, l.topo.daemonArgs(host, certs, f))
	if err != nil {
		return err
	}
	l.procs[host], err = startIn(l.topo.Hosts[host].NS, host, l.dir, bin, args...)
	return err
}
