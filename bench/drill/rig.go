package drill

import (
	"context"
	"errors"
	"fmt"
	"github.com/tickcast/tickcast/egress"
	"math"
	"math/rand/v2"
	"net"
	"net/netip"
	"runtime/pprof"
	"time"

	"github.com/tickcast/tickcast/internal/fault"
	"github.com/tickcast/tickcast/internal/pki"
	"github.com/tickcast/tickcast/publisher"
	"github.com/tickcast/tickcast/publisher/synth"
	"github.com/tickcast/tickcast/subscriber"
)

// channel is the channel every drill publishes.
const channel = 1

// rig is one drill's machinery: a private pair of multicast groups, an
// in-memory CA for the QUIC link, and the addresses of the publisher's
// retransmit and link servers, which a restarted publisher binds again.
type rig struct {
	feed           Feed
	groupA, groupB netip.AddrPort
	tp             *pki.TestPKI
	rtxAddr        string // "127.0.0.1:0" until the first publisher bound it
	linkAddr       string
	start          time.Time // when the first session started
	cpuStart       time.Duration
	ended          time.Time     // when the last session was told to end
	cpu            time.Duration // CPU time the process used from the start to then
	// loop are the recovery loop's groups (A, B) the publishers send on,
	// capped at loopRate bytes per second per line (0 = the default);
	// none = no loop.
	loop     []netip.AddrPort
	loopRate float64
}

func newRig(f Feed) (*rig, error) {
	r := &rig{feed: f, rtxAddr: "127.0.0.1:0", linkAddr: "127.0.0.1:0"}
	var err error
	if r.groupA, err = freeGroup(); err != nil {
		return nil, err
	}
	if r.groupB, err = freeGroup(); err != nil {
		return nil, err
	}
	for r.groupB.Addr() == r.groupA.Addr() {
		if r.groupB, err = freeGroup(); err != nil {
			return nil, err
		}
	}
	if r.tp, err = pki.NewTestPKI("127.0.0.1"); err != nil {
		return nil, fmt.Errorf("drill: link CA: %w", err)
	}
	return r, nil
}

// freeGroup returns a random group in 239.0.0.0/8 (administratively scoped)
// with a UDP port that was free on this host a moment ago, so drills running
// side by side never see each other's traffic.
func freeGroup() (netip.AddrPort, error) {
	c, err := net.ListenPacket("udp4", "0.0.0.0:0")
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("drill: find a free port: %w", err)
	}
	port := c.LocalAddr().(*net.UDPAddr).Port
	c.Close()
	for {
		v := rand.Uint32()
		if b := byte(v); b == 0 || b == 255 {
			continue // x.x.x.0 and x.x.x.255: some tools treat them specially
		}
		return netip.AddrPortFrom(netip.AddrFrom4([4]byte{239, byte(v >> 16), byte(v >> 8), byte(v)}), uint16(port)), nil
	}
}

// progress writes one line of the drill's story, stamped with the time
// since the start.
func (r *rig) progress(format string, args ...any) {
	at := time.Duration(0)
	if !r.start.IsZero() {
		at = time.Since(r.start)
	}
	fmt.Fprintf(r.feed.Progress, "%8s  %s\n", at.Round(time.Millisecond), fmt.Sprintf(format, args...))
}

// sleepUntil waits until d after the start, or until ctx ends.
func (r *rig) sleepUntil(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(time.Until(r.start.Add(d)))
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// session is one publisher run with its synthetic source. The source runs
// apart from the publisher, so a drill can stop the data and still have
// the publisher serve NACKs while the subscriber catches up.
type session struct {
	pub              *publisher.Publisher
	src              *synth.Source
	stopSrc, stopPub context.CancelFunc
	srcDone, pubDone chan error
	srcErr, pubErr   error
	srcEnded, ended  bool
	// Live packets the link server sent to its clients, and dropped
	// because a client's queue was full, sampled just before the end.
	linkSent, linkDropped uint64
}

// newSession makes a publisher on the rig's groups and ports with a
// synthetic market of the given seed; the first one binds the ports that
// later ones reuse.
func (r *rig) newSession(seed int64) (*session, error) {
	f := r.feed
	src, err := synth.New(synth.Config{Instruments: f.Instruments, Levels: f.Levels, Rate: f.Rate, Seed: seed, Logger: f.Logger})
	if err != nil {
		return nil, fmt.Errorf("drill: %w", err)
	}
	line := func(name string, g netip.AddrPort) egress.Line {
		return egress.Line{Name: name, Group: g, Interface: f.Interface, TTL: 0, Loopback: true}
	}
	var loop publisher.RecoveryLoop
	for i, g := range r.loop {
		loop.Lines = append(loop.Lines, line("R"+string(rune('A'+i)), g))
	}
	loop.Rate = r.loopRate
	pub, err := publisher.New(publisher.Config{
		Recovery:       loop,
		Channel:        channel,
		Lines:          []egress.Line{line("A", r.groupA), line("B", r.groupB)},
		ChecksumEvery:  checksumEvery,
		RetransmitAddr: r.rtxAddr,
		LinkAddr:       r.linkAddr,
		LinkTLS:        r.tp.ServerTLS(),
		Logger:         f.Logger,
	})
	if err != nil {
		return nil, fmt.Errorf("drill: %w", err)
	}
	r.rtxAddr, r.linkAddr = pub.RetransmitAddr(), pub.LinkAddr()
	return &session{pub: pub, src: src, srcDone: make(chan error, 1), pubDone: make(chan error, 1)}, nil
}

// run starts the publisher, then the source; the first session of the rig
// sets its start time.
func (r *rig) run(ctx context.Context, s *session) {
	pctx, stopPub := context.WithCancel(ctx)
	sctx, stopSrc := context.WithCancel(ctx)
	s.stopPub, s.stopSrc = stopPub, stopSrc
	if r.start.IsZero() {
		r.start, r.cpuStart = time.Now(), cpuTime()
	}
	// Labelled, so a CPU profile tells the publisher's work from the
	// subscribers' (cpulabel.go); the goroutines they start inherit it.
	go pprof.Do(pctx, publisherLabel, func(ctx context.Context) { s.pubDone <- s.pub.Run(ctx, nil) })
	go pprof.Do(sctx, publisherLabel, func(ctx context.Context) { s.srcDone <- s.src.Run(ctx, s.pub) })
}

// endSource stops the data; the publisher goes on with heartbeats and
// answers NACKs. Idempotent.
func (s *session) endSource() error {
	if s.srcEnded || s.stopSrc == nil {
		return s.srcErr
	}
	s.srcEnded = true
	s.stopSrc()
	s.srcErr = <-s.srcDone
	return s.srcErr
}

// end stops the source and the publisher, which sends what is queued and an
// end of session on both lines and closes its sockets. Idempotent.
func (s *session) end() error {
	err := s.endSource()
	if !s.ended && s.stopPub != nil {
		s.ended = true
		for _, p := range s.pub.Stats().Link.Peers {
			s.linkSent += p.Datagrams
			s.linkDropped += p.Dropped
		}
		s.stopPub()
		s.pubErr = <-s.pubDone
	}
	return errors.Join(err, s.pubErr)
}

// runningSub is the drill's subscriber while it runs.
type runningSub struct {
	sub    *subscriber.Subscriber
	cancel context.CancelFunc
	done   chan error
	err    error
}

// publisherTarget is the publisher's own lines, retransmit server and link:
// where the drills without relays subscribe.
func (r *rig) publisherTarget(s *session) (subTarget, error) {
	rtx, err := netip.ParseAddrPort(s.pub.RetransmitAddr())
	if err != nil {
		return subTarget{}, fmt.Errorf("drill: retransmit address %q: %w", s.pub.RetransmitAddr(), err)
	}
	return subTarget{r.groupA, r.groupB, rtx, s.pub.LinkAddr()}, nil
}

// subTarget is where a drill's subscriber joins: two groups, a UDP
// retransmit server and a link server (the publisher's, or an edge relay's).
type subTarget struct {
	groupA, groupB netip.AddrPort
	rtx            netip.AddrPort
	link           string
}

// subscribeAt starts a subscriber of t: both its lines, with loss injected
// as given (nil = none), NACKs over UDP to t's retransmit server and
// snapshots over its QUIC link (if any); onRepair, if set, gets every hole
// filled.
func (r *rig) subscribeAt(ctx context.Context, t subTarget, h subscriber.Handler, faultsA, faultsB *fault.Config, onRepair func(time.Duration, int)) (*runningSub, error) {
	return r.subscribe(ctx, r.subConfig(t, h, faultsA, faultsB, onRepair))
}

// subConfig is the configuration of a subscriber of t (see subscribeAt).
func (r *rig) subConfig(t subTarget, h subscriber.Handler, faultsA, faultsB *fault.Config, onRepair func(time.Duration, int)) subscriber.Config {
	f := r.feed
	g := f.Gap
	g.OnRepair = onRepair
	return subscriber.Config{
		Channel: channel,
		Lines: []subscriber.Line{
			{Name: "A", Group: t.groupA, Interface: f.Interface, Faults: faultSpec(faultsA)},
			{Name: "B", Group: t.groupB, Interface: f.Interface, Faults: faultSpec(faultsB)},
		},
		RetransmitAddr:   t.rtx,
		Links:            r.linksTo(t.link),
		LineTimeout:      f.LineTimeout,
		KernelTimestamps: true,
		Handler:          h,
		Gap:              g,
		Logger:           f.Logger,
	}
}

// subscribe starts a subscriber of cfg.
func (r *rig) subscribe(ctx context.Context, cfg subscriber.Config) (*runningSub, error) {
	sub, err := subscriber.New(cfg)
	if err != nil {
		return nil, fmt.Errorf("drill: %w", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	rs := &runningSub{sub: sub, cancel: cancel, done: make(chan error, 1)}
	go func() { rs.done <- sub.Run(cctx) }()
	return rs, nil
}

// linksTo is a subscriber's link to addr, none when addr is "".
func (r *rig) linksTo(addr string) []subscriber.Link {
	if addr == "" {
		return nil
	}
	return []subscriber.Link{{Addr: addr, TLS: r.tp.ClientTLS()}}
}

// faultSpec returns c in the subscriber's Line.Faults form ("" = none).
func faultSpec(c *fault.Config) string {
	if c == nil {
		return ""
	}
	return c.String()
}

// stop stops the subscriber and returns what Run returned. Idempotent.
func (rs *runningSub) stop() error {
	if rs.cancel != nil {
		rs.cancel()
		rs.err = <-rs.done
		rs.cancel = nil
	}
	return rs.err
}

// discard runs a session that will not be used, so that its publisher
// closes the sockets New opened.
func (r *rig) discard(s *session) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	r.run(ctx, s)
	s.end()
}

// report stops the subscriber and fills the figures common to every drill.
// ran is how long the sources of the ended sessions ran in all.
func (r *rig) report(drill string, ran time.Duration, rs *runningSub, pr *probe, v verdict, sessions ...*session) (Result, error) {
	if err := rs.stop(); err != nil {
		return Result{}, fmt.Errorf("drill: subscriber: %w", err)
	}
	pubs := make([]publisher.Stats, len(sessions))
	var linkSent, linkDropped uint64
	for i, s := range sessions {
		pubs[i] = s.pub.Stats()
		linkSent += s.linkSent
		linkDropped += s.linkDropped
	}
	res := Result{Drill: drill, Seed: r.feed.Seed, Rate: r.feed.Rate, DurationS: ran.Seconds(),
		MaxHeldPackets: r.feed.Gap.MaxHeldPackets, MaxRetries: r.feed.Gap.MaxRetries, MaxRTOMs: millis(r.feed.Gap.MaxRTO)}
	res.fill(pubs, rs.sub.Stats(), rs.sub.TakeLatency(), pr, v)
	res.Diagnostics.LinkLiveSent, res.Diagnostics.LinkLiveDropped = linkSent, linkDropped
	if wall := r.ended.Sub(r.start); wall > 0 {
		res.CPUCores = math.Round(100*r.cpu.Seconds()/wall.Seconds()) / 100
	}
	if ran > 0 {
		res.SentRate = float64(res.Sent) / ran.Seconds()
	}
	return res, nil
}

// poll calls cond every 5ms until it holds (true), or until limit passes or
// ctx ends (false).
func poll(ctx context.Context, limit time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(limit)
	for !cond() {
		if ctx.Err() != nil || time.Now().After(deadline) {
			return false
		}
		time.Sleep(5 * time.Millisecond)
	}
	return true
}

// verdict is how a session ended for the subscriber.
type verdict struct {
	match bool
	why   string // why the books do not match ("" when they do)
}

// finish ends session s the way a drill ends: it stops the data, lets the
// subscriber catch up while the publisher still answers NACKs (a hole at
// the very end would otherwise have nobody to ask) and until the last
// checksums are out, stops the publisher (end of session), waits for the
// subscriber to apply the last sequence, and compares every book with the
// publisher's by checksum.
func (r *rig) finish(ctx context.Context, s *session, rs *runningSub, pr *probe) (verdict, error) {
	if err := s.endSource(); err != nil {
		return verdict{}, fmt.Errorf("drill: synthetic source: %w", err)
	}
	stopped := time.Now()
	r.progress("source stopped after %d messages; waiting for the subscriber", s.pub.Stats().Messages)
	inStep := func(last uint64) bool {
		if _, ok := pr.sessionSeen(s.pub.Session()); !ok {
			return false
		}
		st := rs.sub.Stats()
		return !st.Recovering && st.AppliedSeq >= last
	}
	// The checksums of the books changed last go out within checksumEvery.
	quiet := checksumEvery + 100*time.Millisecond
	poll(ctx, r.feed.Settle, func() bool {
		return time.Since(stopped) > quiet && inStep(s.pub.Stats().NextSeq-1)
	})
	r.ended = time.Now()
	r.cpu = cpuTime() - r.cpuStart
	if err := s.end(); err != nil {
		return verdict{}, fmt.Errorf("drill: publisher: %w", err)
	}
	pubSums, pubSeq, err := s.pub.BookChecksums(ctx)
	if err != nil {
		return verdict{}, err
	}
	r.progress("session ended at sequence %d", pubSeq)
	var sums subscriber.BookSums
	ok := poll(ctx, r.feed.Settle, func() bool {
		if !inStep(pubSeq) {
			return false
		}
		if sums, err = rs.sub.BookSums(ctx); err != nil {
			return false
		}
		return sums.Seq == pubSeq && !sums.Recovering
	})
	if ctx.Err() != nil {
		return verdict{}, ctx.Err()
	}
	if !ok {
		st := rs.sub.Stats()
		return verdict{why: fmt.Sprintf("the subscriber did not catch up within %v: at sequence %d (recovering %v), the publisher at %d",
			r.feed.Settle, st.AppliedSeq, st.Recovering, pubSeq)}, nil
	}
	return compare(pubSums, sums.Sums), nil
}

// compare checks every book of the subscriber against the publisher's.
func compare(pub, sub map[uint32]uint32) verdict {
	if len(pub) != len(sub) {
		return verdict{why: fmt.Sprintf("the subscriber has %d books, the publisher %d", len(sub), len(pub))}
	}
	bad, first := 0, uint32(0)
	for id, want := range pub {
		if got, ok := sub[id]; !ok || got != want {
			if bad == 0 || id < first {
				first = id
			}
			bad++
		}
	}
	if bad > 0 {
		return verdict{why: fmt.Sprintf("%d of %d books differ (instrument %d: subscriber %08x, publisher %08x)",
			bad, len(pub), first, sub[first], pub[first])}
	}
	return verdict{match: true}
}

// drillRun is what every drill starts with: a rig, a publishing session and
// a subscriber following it through a probe.
type drillRun struct {
	r  *rig
	s  *session
	rs *runningSub
	pr *probe
}

// start builds the rig, starts a subscriber of the publisher (with the
// given line faults and repair hook) and then the publisher, so the
// subscriber sees the session from its first message. The caller defers
// d.stop().
func start(ctx context.Context, f Feed, faultsA, faultsB *fault.Config, onRepair func(time.Duration, int)) (*drillRun, error) {
	d, err := open(ctx, f, func(r *rig, s *session) (subTarget, error) { return r.publisherTarget(s) }, faultsA, faultsB, onRepair)
	if err != nil {
		return nil, err
	}
	d.r.run(ctx, d.s)
	return d, nil
}

// open builds the rig and its session, lets build start whatever stands
// between them and the subscriber (relays, paths) and say where the
// subscriber joins, then starts the subscriber; the publisher is not
// running yet. Whatever build started is the caller's to close, whatever
// the error.
func open(ctx context.Context, f Feed, build func(r *rig, s *session) (subTarget, error), faultsA, faultsB *fault.Config, onRepair func(time.Duration, int)) (*drillRun, error) {
	r, err := newRig(f)
	if err != nil {
		return nil, err
	}
	s, err := r.newSession(f.Seed)
	if err != nil {
		return nil, err
	}
	target, err := build(r, s)
	if err != nil {
		r.discard(s)
		return nil, err
	}
	d := &drillRun{r: r, s: s, pr: newProbe()}
	if d.rs, err = r.subscribeAt(ctx, target, d.pr, faultsA, faultsB, onRepair); err != nil {
		r.discard(s)
		return nil, err
	}
	return d, nil
}

// stop ends the session (if still running) and the subscriber.
func (d *drillRun) stop() {
	d.s.end()
	d.rs.stop()
}
