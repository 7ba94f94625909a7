package drill

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/netip"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tickcast/tickcast/latency"
	"github.com/tickcast/tickcast/publisher"
	"github.com/tickcast/tickcast/recovery"
	"github.com/tickcast/tickcast/subscriber"
)

// goalSlack is what the late-join goal allows beyond one loop cycle.
const goalSlack = 100 * time.Millisecond

// LateJoinResult is what [LateJoin] reports. Its [Result] is the first late
// joiner's (delivered, latency, gaps, lines, checksums, diagnostics), except
// lost, app_gaps, checksum_mismatches, resets and books_match, which cover
// every late joiner (with none, only the publisher's figures are set).
type LateJoinResult struct {
	Result
	AtMs        float64 `json:"join_at_ms"`  // when the late joiners started
	Subscribers int     `json:"subscribers"` // late joiners started
	Whole       int     `json:"whole"`       // of them, every book whole (EventRecovered)
	// WholeP50Ms and WholeMaxMs summarize the late joiners' time from
	// their start to EventRecovered; null with none whole.
	WholeP50Ms *float64     `json:"whole_p50_ms"`
	WholeMaxMs *float64     `json:"whole_max_ms"`
	Joiners    []LateJoiner `json:"joiners"`

	// The recovery loop, from the publisher's counters (per line).
	LoopCycleMs    float64 `json:"loop_cycle_ms"`     // the last complete cycle at the end
	LoopCycleMaxMs float64 `json:"loop_cycle_max_ms"` // the longest cycle seen during the run
	LoopCycles     uint64  `json:"loop_cycles"`
	LoopBooks      uint64  `json:"loop_books"`     // instrument snapshots sent
	LoopHotBooks   uint64  `json:"loop_hot_books"` // of them, slots given to a book that changed recently
	LoopRateCap    float64 `json:"loop_rate_cap"`  // the configured cap, bytes per second per line
	// LoopBytesPerS and LiveBytesPerS are what the loop and the live feed
	// sent per line, per second, from the start until the source stopped;
	// LoopShare is their ratio.
	LoopBytesPerS float64 `json:"loop_bytes_per_s"`
	LiveBytesPerS float64 `json:"live_bytes_per_s"`
	LoopShare     float64 `json:"loop_share_of_live"`
	// BooksBytes is one copy of every book as the loop sends it (the mean
	// bytes of a snapshot sent × instruments); LoopCycleBytes is what one
	// complete cycle sent, hot slots included.
	BooksBytes     float64 `json:"books_bytes"`
	LoopCycleBytes float64 `json:"loop_cycle_bytes"`

	// ProcessCores is the whole process's CPU (publisher and every
	// subscriber); PublisherCores the publisher's share (its source,
	// sequencer, lines, servers and loop, by profiler label; the runtime's
	// own work, such as GC, is not in it), null when the process could
	// not be profiled (another CPU profile was running).
	ProcessCores   Cores  `json:"process_cpu_cores"`
	PublisherCores *Cores `json:"publisher_cpu_cores"`

	// GoalMs is the goal for the slowest late joiner: one loop cycle (the
	// longest seen) + 100ms; GoalsMissed says if it was missed. A goal is
	// a measurement on a shared machine, not a verdict.
	GoalMs      float64  `json:"goal_ms"`
	GoalsMissed []string `json:"goals_missed"`
}

// Cores is CPU time per second of wall time, in cores, over the run and
// before and after the late joiners started.
type Cores struct {
	Run    float64 `json:"run"`
	Before float64 `json:"before_join"`
	After  float64 `json:"after_join"`
}

func (c Cores) String() string {
	return fmt.Sprintf("%.2f (before the join %.2f, after %.2f)", c.Run, c.Before, c.After)
}

// LateJoiner is one late joiner's figures.
type LateJoiner struct {
	// WholeMs is the time from its start to EventRecovered (every book
	// whole); null if that never came.
	WholeMs *float64 `json:"whole_ms"`
	// LateJoinMs is the time from its start to its late-join reset (it
	// had seen the feed and joined the loop); null if none.
	LateJoinMs *float64 `json:"late_join_ms"`
	LoopBooks  uint64   `json:"loop_books"` // books rebuilt from the loop
	Stale      uint64   `json:"loop_stale"` // copies too old for its ring of recent deliveries
	Ignored    uint64   `json:"loop_ignored"`
	Announced  uint64   `json:"snapshot_books"` // EventSnapshotBook seen
	Joins      uint64   `json:"joins"`          // times it joined the loop's groups
	Left       bool     `json:"left"`           // not in them at the end
	Delivered  uint64   `json:"delivered"`
	Lost       uint64   `json:"lost"`
	Checksums  uint64   `json:"checksums"`
	Mismatches uint64   `json:"checksum_mismatches"`
	BooksMatch bool     `json:"books_match"`
	Mismatch   string   `json:"mismatch,omitempty"`
	// Resets are the resets it saw, by reason (one late join expected).
	Resets map[string]uint64 `json:"resets"`
	// Where trouble came from: holes the arbiter saw, deliveries dropped
	// because the handler was behind or from a recovery's backlog, and
	// line-down events.
	Gaps        uint64 `json:"gaps"`
	QueueDrops  uint64 `json:"queue_drops"`
	HeldDropped uint64 `json:"held_dropped"`
	LineDowns   uint64 `json:"line_downs"`
}

// Failures implements [Report]: every late joiner became whole, left the
// loop's groups after joining them once, lost nothing, saw no checksum
// mismatch, and ended with the publisher's books; the loop completed a
// cycle. The time to whole is a goal ([LateJoinResult.GoalsMissed]).
func (r *LateJoinResult) Failures() []string {
	f := r.failures(true)
	if r.Mismatches != 0 {
		f = append(f, fmt.Sprintf("%d checksum mismatches", r.Mismatches))
	}
	if r.LoopCycles == 0 {
		f = append(f, "the recovery loop never completed a cycle")
	}
	var notWhole, stayed, joins []int
	for i, j := range r.Joiners {
		if j.WholeMs == nil {
			notWhole = append(notWhole, i)
		}
		if !j.Left {
			stayed = append(stayed, i)
		}
		if j.Joins != 1 {
			joins = append(joins, i)
		}
	}
	if len(notWhole) > 0 {
		j := r.Joiners[notWhole[0]]
		f = append(f, fmt.Sprintf("%d of %d late joiners never became whole (%s; #%d: %d books from the loop, %d stale, %d ignored, in the groups %v)",
			len(notWhole), len(r.Joiners), indices(notWhole), notWhole[0], j.LoopBooks, j.Stale, j.Ignored, !j.Left))
	}
	if len(stayed) > 0 {
		f = append(f, fmt.Sprintf("%d late joiners did not leave the loop's groups (%s)", len(stayed), indices(stayed)))
	}
	if len(joins) > 0 {
		f = append(f, fmt.Sprintf("%d late joiners did not join the loop's groups exactly once (%s: %d joins)",
			len(joins), indices(joins), r.Joiners[joins[0]].Joins))
	}
	return f
}

// indices names the first few late joiners of is.
func indices(is []int) string {
	var b strings.Builder
	for n, i := range is {
		if n == 8 {
			fmt.Fprintf(&b, ", …")
			break
		}
		if n > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "#%d", i)
	}
	return b.String()
}

// WriteText implements [Report].
func (r *LateJoinResult) WriteText(w io.Writer) error {
	return writeTable(w, &r.Result, func(w io.Writer) {
		fmt.Fprintf(w, "late joiners\t%d\tstarted at %.0fms without a link; %d whole, %d left the loop's groups\n",
			r.Subscribers, r.AtMs, r.Whole, r.left())
		if r.WholeMaxMs != nil {
			fmt.Fprintf(w, "time to whole\tp50 %.1fms\tmax %.1fms (goal: one cycle + 100ms = %.1fms)\n", *r.WholeP50Ms, *r.WholeMaxMs, r.GoalMs)
		}
		if len(r.Joiners) <= 8 {
			for i, j := range r.Joiners {
				whole, lj := "never", "-"
				if j.WholeMs != nil {
					whole = fmt.Sprintf("%.1fms", *j.WholeMs)
				}
				if j.LateJoinMs != nil {
					lj = fmt.Sprintf("%.1fms", *j.LateJoinMs)
				}
				fmt.Fprintf(w, "  joiner #%d\twhole %s\tlate join seen %s, %d books from the loop (%d stale), joins %d, left %v, lost %d\n",
					i, whole, lj, j.LoopBooks, j.Stale, j.Joins, j.Left, j.Lost)
			}
		}
		fmt.Fprintf(w, "recovery loop\tcycle %.1fms\tlongest %.1fms, %d cycles, %d books sent (%d hot)\n",
			r.LoopCycleMs, r.LoopCycleMaxMs, r.LoopCycles, r.LoopBooks, r.LoopHotBooks)
		fmt.Fprintf(w, "loop bandwidth\t%.2f MB/s\tper line (cap %.2f MB/s), %.1f%% of the live feed's %.2f MB/s\n",
			r.LoopBytesPerS/1e6, r.LoopRateCap/1e6, 100*r.LoopShare, r.LiveBytesPerS/1e6)
		fmt.Fprintf(w, "books\t%.2f MB\tone copy of every book; %.2f MB per cycle\n", r.BooksBytes/1e6, r.LoopCycleBytes/1e6)
		fmt.Fprintf(w, "process CPU\t%.2f cores\t%s\n", r.ProcessCores.Run, r.ProcessCores)
		if p := r.PublisherCores; p != nil {
			fmt.Fprintf(w, "publisher CPU\t%.2f cores\t%s\n", p.Run, p)
		} else {
			fmt.Fprintf(w, "publisher CPU\t-\tnot profiled (another CPU profile was running)\n")
		}
		for _, g := range r.GoalsMissed {
			fmt.Fprintf(w, "goal missed\t%s\t\n", g)
		}
	}, r.Failures())
}

func (r *LateJoinResult) left() int {
	n := 0
	for _, j := range r.Joiners {
		if j.Left {
			n++
		}
	}
	return n
}

// joiner is one late joiner: the probe, and when it became whole.
type joiner struct {
	*probe
	rs       *runningSub
	started  time.Time
	books    atomic.Uint64 // EventSnapshotBook
	mu       sync.Mutex
	whole    time.Time // first EventRecovered
	lateJoin time.Time // first late-join reset
}

// HandleEvent implements subscriber.Handler.
func (j *joiner) HandleEvent(e *subscriber.Event) {
	switch e.Kind {
	case subscriber.EventSnapshotBook:
		j.books.Add(1)
		return
	case subscriber.EventRecovered:
		j.mark(&j.whole)
	case subscriber.EventReset:
		if e.Reset == subscriber.ResetLateJoin {
			j.mark(&j.lateJoin)
		}
	}
	j.probe.HandleEvent(e)
}

func (j *joiner) mark(t *time.Time) {
	now := time.Now()
	j.mu.Lock()
	if t.IsZero() {
		*t = now
	}
	j.mu.Unlock()
}

// since returns how long after its start t came, if it did.
func (j *joiner) since(t *time.Time) *float64 {
	j.mu.Lock()
	defer j.mu.Unlock()
	if t.IsZero() {
		return nil
	}
	ms := millis(t.Sub(j.started))
	return &ms
}

func (j *joiner) isWhole() bool {
	j.mu.Lock()
	defer j.mu.Unlock()
	return !j.whole.IsZero()
}

// LateJoin runs the late-join drill: a publisher sends the feed and the
// recovery loop (package recovery) on two groups of its own; at cfg.At,
// cfg.Subscribers subscribers start without a link, on lines A and B, the
// publisher's retransmit server and the loop's groups. Each must rebuild
// every book from the loop, leave its groups, follow the feed without
// losing anything and end with the publisher's books. It measures each
// one's time to whole, the loop's cycle and bandwidth, and the publisher's
// CPU. It returns an error only if the drill could not run (or ctx ended);
// a broken promise is in [LateJoinResult.Failures].
func LateJoin(ctx context.Context, cfg LateJoinConfig) (*LateJoinResult, error) {
	if err := cfg.normalize(); err != nil {
		return nil, err
	}
	r, err := newRig(cfg.Feed)
	if err != nil {
		return nil, err
	}
	r.loopRate = cfg.RecoveryRate
	for len(r.loop) < 2 {
		g, err := freeGroup()
		if err != nil {
			return nil, err
		}
		if g.Addr() != r.groupA.Addr() && g.Addr() != r.groupB.Addr() && !slices.ContainsFunc(r.loop, func(l netip.AddrPort) bool { return l.Addr() == g.Addr() }) {
			r.loop = append(r.loop, g)
		}
	}
	s, err := r.newSession(cfg.Seed)
	if err != nil {
		return nil, err
	}
	prof, profErr := startLabelProfile()
	defer func() {
		if prof != nil {
			prof.stop()
		}
	}()
	r.run(ctx, s)
	defer s.end()
	capRate := cfg.RecoveryRate
	if capRate == 0 {
		capRate = recovery.DefaultRate
	}
	r.progress("late-join drill: %.0f msg/s for %v, %d instruments × %d levels, line A %s, line B %s, recovery loop %s and %s at %.2f MB/s on %s; %d subscribers join at %v",
		cfg.Rate, cfg.Duration, cfg.Instruments, cfg.Levels, r.groupA, r.groupB, r.loop[0], r.loop[1], capRate/1e6, cfg.Interface, cfg.Subscribers, cfg.At)

	// The loop's cycle, sampled until the source stops.
	var cycleMax atomic.Int64
	sctx, stopSampling := context.WithCancel(ctx)
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for {
			if c := int64(s.pub.Stats().Recovery.LastCycle); c > cycleMax.Load() {
				cycleMax.Store(c)
			}
			select {
			case <-sctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	defer func() { stopSampling(); <-sampled }()

	if err := r.sleepUntil(ctx, cfg.At); err != nil {
		return nil, err
	}
	// The publisher's CPU before the join; the profile goes on for after.
	joinAt, cpuAt := time.Now(), cpuTime()
	var before, after map[string]time.Duration
	var beforeWall, afterWall time.Duration
	if prof != nil {
		p := prof
		prof = nil
		if before, beforeWall, profErr = p.stop(); profErr == nil {
			prof, profErr = startLabelProfile()
		}
	}

	target, err := r.publisherTarget(s)
	if err != nil {
		return nil, err
	}
	target.link = "" // no link: the loop it is
	js := make([]*joiner, 0, cfg.Subscribers)
	defer func() {
		for _, j := range js {
			j.rs.stop()
		}
	}()
	for range cfg.Subscribers {
		j := &joiner{probe: newProbe()}
		sc := r.subConfig(target, j, nil, nil, nil)
		for _, g := range r.loop {
			sc.Recovery = append(sc.Recovery, subscriber.Line{Group: g, Interface: cfg.Interface})
		}
		j.started = time.Now()
		if j.rs, err = r.subscribe(ctx, sc); err != nil {
			return nil, err
		}
		js = append(js, j)
	}
	if len(js) > 0 {
		r.progress("%d subscribers started without a link (%v to start them all), the publisher at sequence %d",
			len(js), time.Since(joinAt).Round(time.Millisecond), s.pub.Stats().NextSeq-1)
		allWhole := func() bool {
			for _, j := range js {
				if !j.isWhole() {
					return false
				}
			}
			return true
		}
		if poll(ctx, time.Until(r.start.Add(cfg.Duration)), allWhole) {
			r.progress("every late joiner whole (cycle %v)", s.pub.Stats().Recovery.LastCycle.Round(time.Millisecond))
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
	}

	if err := r.sleepUntil(ctx, cfg.Duration); err != nil {
		return nil, err
	}
	if err := s.endSource(); err != nil {
		return nil, fmt.Errorf("drill: synthetic source: %w", err)
	}
	ran := time.Since(r.start)
	stopSampling()
	<-sampled
	atStop := s.pub.Stats()

	vs, err := r.finishAll(ctx, s, js)
	if err != nil {
		return nil, err
	}
	if prof != nil {
		p := prof
		prof = nil
		after, afterWall, profErr = p.stop()
	}

	// The late joiners' figures, then stop them.
	res := &LateJoinResult{AtMs: millis(cfg.At), Subscribers: len(js), Joiners: make([]LateJoiner, len(js)), LoopRateCap: capRate}
	stats := make([]subscriber.Stats, len(js))
	for i, j := range js {
		st := j.rs.sub.Stats()
		stats[i] = st
		_, resets := j.gaps()
		res.Joiners[i] = LateJoiner{
			WholeMs: j.since(&j.whole), LateJoinMs: j.since(&j.lateJoin),
			LoopBooks: st.Loop.Books, Stale: st.Loop.Stale, Ignored: st.Loop.Ignored, Announced: j.books.Load(),
			Joins: st.Loop.Joins, Left: !st.Loop.Joined,
			Delivered: st.Gap.Delivered, Lost: st.LostMessages, Checksums: st.ChecksumChecks, Mismatches: st.ChecksumMismatches,
			BooksMatch: vs[i].match, Mismatch: vs[i].why, Resets: resets,
			Gaps: st.Gap.Gaps, QueueDrops: st.QueueDrops, HeldDropped: st.HeldDropped,
		}
		for _, l := range st.Lines {
			res.Joiners[i].LineDowns += l.Downs
		}
	}
	var stopErr error
	for _, j := range js {
		if err := j.rs.stop(); err != nil {
			stopErr = errors.Join(stopErr, fmt.Errorf("drill: subscriber: %w", err))
		}
	}
	if stopErr != nil {
		return nil, stopErr
	}
	pubs := []publisher.Stats{s.pub.Stats()}
	res.Result = Result{Drill: "late-join", Seed: cfg.Seed, Rate: cfg.Rate, DurationS: ran.Seconds(),
		MaxHeldPackets: cfg.Gap.MaxHeldPackets, MaxRetries: cfg.Gap.MaxRetries, MaxRTOMs: millis(cfg.Gap.MaxRTO)}
	if len(js) > 0 {
		res.fill(pubs, stats[0], js[0].rs.sub.TakeLatency(), js[0].probe, vs[0])
	} else {
		res.fill(pubs, subscriber.Stats{}, subscriber.Latency{Feed: latency.NewRecorder(time.Second)}, newProbe(), verdict{match: true})
	}
	res.aggregate(js)
	res.SentRate = float64(res.Sent) / ran.Seconds()
	res.loopFigures(atStop, ran, time.Duration(cycleMax.Load()), cfg.Instruments)

	wall, afterW := r.ended.Sub(r.start), r.ended.Sub(joinAt)
	cpuEnd := r.cpuStart + r.cpu
	res.ProcessCores = Cores{Run: cores(r.cpu, wall), Before: cores(cpuAt-r.cpuStart, joinAt.Sub(r.start)), After: cores(cpuEnd-cpuAt, afterW)}
	res.CPUCores = res.ProcessCores.Run
	if profErr == nil && before != nil && after != nil {
		b, a := before["publisher"], after["publisher"]
		res.PublisherCores = &Cores{Run: cores(b+a, beforeWall+afterWall), Before: cores(b, beforeWall), After: cores(a, afterWall)}
	} else if profErr != nil {
		cfg.Logger.Warn("drill: the publisher's CPU is not measured", "err", profErr)
	}
	res.goals()
	return res, nil
}

// cores is cpu per second of wall, to the hundredth.
func cores(cpu, wall time.Duration) float64 {
	if wall <= 0 {
		return 0
	}
	return math.Round(100*cpu.Seconds()/wall.Seconds()) / 100
}

// aggregate makes lost, app gaps, checksum mismatches, resets and books
// match cover every late joiner.
func (r *LateJoinResult) aggregate(js []*joiner) {
	r.Lost, r.AppGaps, r.Mismatches, r.BooksMatch, r.Mismatch = 0, 0, 0, true, ""
	r.Resets = map[string]uint64{}
	var whole []float64
	for i, j := range r.Joiners {
		r.Lost += j.Lost
		r.Mismatches += j.Mismatches
		gaps, _ := js[i].gaps()
		r.AppGaps += gaps
		for k, v := range j.Resets {
			r.Resets[k] += v
		}
		if !j.BooksMatch && r.BooksMatch {
			r.BooksMatch, r.Mismatch = false, fmt.Sprintf("late joiner #%d: %s", i, j.Mismatch)
		}
		if j.WholeMs != nil {
			whole = append(whole, *j.WholeMs)
		}
	}
	r.Whole = len(whole)
	if len(whole) > 0 {
		sort.Float64s(whole)
		p50, top := whole[(len(whole)-1)/2], whole[len(whole)-1]
		r.WholeP50Ms, r.WholeMaxMs = &p50, &top
	}
}

// loopFigures takes the loop's figures from the publisher's counters when
// the source stopped, ran after the start.
func (r *LateJoinResult) loopFigures(st publisher.Stats, ran, cycleMax time.Duration, instruments int) {
	l := st.Recovery
	r.LoopCycleMs, r.LoopCycles, r.LoopBooks, r.LoopHotBooks = millis(l.LastCycle), l.Cycles, l.Books, l.Hot
	r.LoopCycleMaxMs = millis(max(cycleMax, l.LastCycle))
	if ran > 0 {
		r.LoopBytesPerS = float64(l.Bytes) / ran.Seconds()
		if len(st.Lines) > 0 {
			r.LiveBytesPerS = float64(st.Lines[0].Bytes) / ran.Seconds()
		}
	}
	if r.LiveBytesPerS > 0 {
		r.LoopShare = r.LoopBytesPerS / r.LiveBytesPerS
	}
	if l.Books > 0 {
		r.BooksBytes = float64(l.Bytes) / float64(l.Books) * float64(instruments)
	}
	if l.Cycles > 0 {
		r.LoopCycleBytes = float64(l.Bytes) / float64(l.Cycles)
	}
}

// goals fills GoalMs and GoalsMissed: every late joiner whole within one
// loop cycle (the longest seen) + 100ms.
func (r *LateJoinResult) goals() {
	r.GoalMs = r.LoopCycleMaxMs + millis(goalSlack)
	r.GoalsMissed = []string{}
	if r.WholeMaxMs != nil && *r.WholeMaxMs > r.GoalMs {
		slow := 0
		for _, j := range r.Joiners {
			if j.WholeMs != nil && *j.WholeMs > r.GoalMs {
				slow++
			}
		}
		r.GoalsMissed = append(r.GoalsMissed, fmt.Sprintf("%d of %d late joiners took longer than one cycle + 100ms (%.1fms) to be whole, the slowest %.1fms",
			slow, len(r.Joiners), r.GoalMs, *r.WholeMaxMs))
	}
}

// finishAll ends session s with several subscribers, as [rig.finish] does
// with one: it stops the data, lets every subscriber catch up while the
// publisher still answers NACKs and until the last checksums are out,
// stops the publisher, waits for each to apply the last sequence, and
// compares its books with the publisher's by checksum. One deadline
// (Feed.Settle) bounds each of the two waits for all of them.
func (r *rig) finishAll(ctx context.Context, s *session, js []*joiner) ([]verdict, error) {
	if err := s.endSource(); err != nil {
		return nil, fmt.Errorf("drill: synthetic source: %w", err)
	}
	stopped := time.Now()
	r.progress("source stopped after %d messages; waiting for %d subscribers", s.pub.Stats().Messages, len(js))
	inStep := func(j *joiner, last uint64) bool {
		st := j.rs.sub.Stats()
		return !st.Recovering && st.AppliedSeq >= last
	}
	quiet := checksumEvery + 100*time.Millisecond
	poll(ctx, r.feed.Settle, func() bool {
		if time.Since(stopped) <= quiet {
			return false
		}
		last := s.pub.Stats().NextSeq - 1
		for _, j := range js {
			if !inStep(j, last) {
				return false
			}
		}
		return true
	})
	r.ended = time.Now()
	r.cpu = cpuTime() - r.cpuStart
	if err := s.end(); err != nil {
		return nil, fmt.Errorf("drill: publisher: %w", err)
	}
	pubSums, pubSeq, err := s.pub.BookChecksums(ctx)
	if err != nil {
		return nil, err
	}
	r.progress("session ended at sequence %d", pubSeq)
	deadline := time.Now().Add(r.feed.Settle)
	vs := make([]verdict, len(js))
	for i, j := range js {
		var sums subscriber.BookSums
		ok := poll(ctx, time.Until(deadline), func() bool {
			if !inStep(j, pubSeq) {
				return false
			}
			if sums, err = j.rs.sub.BookSums(ctx); err != nil {
				return false
			}
			return sums.Seq == pubSeq && !sums.Recovering
		})
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if !ok {
			st := j.rs.sub.Stats()
			vs[i] = verdict{why: fmt.Sprintf("it did not catch up within %v: at sequence %d (recovering %v, in the loop's groups %v), the publisher at %d",
				r.feed.Settle, st.AppliedSeq, st.Recovering, st.Loop.Joined, pubSeq)}
			continue
		}
		vs[i] = compare(pubSums, sums.Sums)
	}
	return vs, nil
}
