package bench

import (
	"context"
	"errors"
	"github.com/tickcast/tickcast/egress"
	"sync/atomic"
	"time"

	"github.com/tickcast/tickcast/latency"
	"github.com/tickcast/tickcast/publisher"
	"github.com/tickcast/tickcast/publisher/source"
	"github.com/tickcast/tickcast/subscriber"
)

const (
	// benchChannel is the channel the benchmark publishes.
	benchChannel = 7
	// tailLinger keeps the publisher up after the last message, so a
	// subscriber that missed the tail learns it from a heartbeat (every
	// 100 ms) and has it retransmitted.
	tailLinger = 300 * time.Millisecond
	// maxLatency is the largest latency the benchmark's histograms resolve;
	// larger ones are clamped and counted.
	maxLatency = time.Minute
)

// pubResult is what a sending child reports.
type pubResult struct {
	Pace paceStats `json:"pace"`
	// Packets, Datagrams and Bytes were sent during the window: packets
	// (each goes on every line), datagrams and bytes on all lines.
	Packets   uint64 `json:"packets"`
	Datagrams uint64 `json:"datagrams"`
	Bytes     uint64 `json:"bytes"`
	WindowNs  int64  `json:"window_ns"` // how long the counts above took
	// SendErrors counts failed sends.
	SendErrors uint64 `json:"send_errors,omitempty"`
	// Retransmitted counts the messages the retransmit server sent again.
	Retransmitted uint64  `json:"retransmitted,omitempty"`
	Proc          Process `json:"process"`
}

// subResult is what a receiving child reports.
type subResult struct {
	// Delivered counts the distinct messages of the window handed to the
	// application; Duplicates those handed over again.
	Delivered  uint64 `json:"delivered"`
	Duplicates uint64 `json:"duplicates"`
	// Latency is receive (handler) time − scheduled time per message;
	// Uncorrected is handler time − packet send time (tickcast and floor);
	// Network is the kernel's receive timestamp − packet send time, per
	// packet (tickcast and floor).
	Latency     *latency.Recorder `json:"latency"`
	Uncorrected *latency.Recorder `json:"uncorrected,omitempty"`
	Network     *latency.Recorder `json:"network,omitempty"`
	// EndSeen: the sender's end of session arrived (else the deadline ended
	// the run).
	EndSeen bool `json:"end_seen"`
	// Datagrams received on all lines.
	Datagrams uint64 `json:"datagrams"`
	// The tickcast subscriber's recovery counters.
	GaveUp        uint64            `json:"gave_up,omitempty"`
	Gaps          uint64            `json:"gaps,omitempty"`
	GapsFilled    uint64            `json:"gaps_filled,omitempty"`
	NACKs         uint64            `json:"nacks,omitempty"`
	Retransmitted uint64            `json:"retransmitted,omitempty"`
	Resets        map[string]uint64 `json:"resets,omitempty"`
	Proc          Process           `json:"process"`
}

// windowCounts snapshots a sender's counters (packets, datagrams, bytes)
// when the window starts and when it ends.
type windowCounts struct {
	read   func() [3]uint64
	t0, t1 int64
	at0    [3]uint64
	diff   [3]uint64
}

func (w *windowCounts) start() {
	w.t0, w.at0 = time.Now().UnixNano(), w.read()
}

func (w *windowCounts) end() {
	w.t1 = time.Now().UnixNano()
	now := w.read()
	for i := range now {
		w.diff[i] = now[i] - w.at0[i]
	}
}

// fill sets r's window counts.
func (w *windowCounts) fill(r *pubResult) {
	if w.t1 > w.t0 {
		r.Packets, r.Datagrams, r.Bytes, r.WindowNs = w.diff[0], w.diff[1], w.diff[2], w.t1-w.t0
	}
}

// pacedSource is the benchmark's [source.Source]: the feed, paced, through
// the real publisher.
type pacedSource struct {
	f        *feed
	env      *childEnv
	deadline int64
	win      windowCounts
	stop     atomic.Bool
	done     chan struct{} // closed when Run returns
	stats    paceStats     // set before done closes
	err      error
}

// Run publishes the definitions and books, says the child is ready, waits
// for the start, then paces the data to the sink (a batch per Publish), and
// returns when the run's last message went out.
func (s *pacedSource) Run(ctx context.Context, sink source.Sink) error {
	defer close(s.done)
	defer context.AfterFunc(ctx, func() { s.stop.Store(true) })()
	for _, b := range s.f.definitions() {
		if s.err = sink.Publish(b); s.err != nil {
			return s.err
		}
	}
	s.env.ready()
	if s.f.start, s.err = s.env.awaitStart(ctx); s.err != nil {
		return s.err
	}
	s.stats, s.err = s.f.pace(s.deadline, &s.stop, paceHooks{
		emit:        func(b []byte, _ int64) error { return sink.Publish(b) },
		windowStart: s.win.start,
		windowEnd:   s.win.end,
	})
	return s.err
}

// runPubChild is the tickcast publisher side: publisher.Publisher fed by a
// pacedSource, lines A (and B) on multicast.
func runPubChild(ctx context.Context, c *childConfig, env *childEnv) (any, error) {
	f, err := newFeed(c.Feed)
	if err != nil {
		return nil, err
	}
	cfg := publisher.Config{Channel: benchChannel, MaxPacket: c.MaxPacket, Logger: env.log}
	if c.Retransmit.IsValid() {
		cfg.RetransmitAddr = c.Retransmit.String()
	}
	for i, g := range c.Groups {
		cfg.Lines = append(cfg.Lines, egress.Line{Name: string(rune('A' + i)), Group: g, Interface: c.Interface, TTL: 0, Loopback: true})
	}
	p, err := publisher.New(cfg)
	if err != nil {
		return nil, err
	}
	src := &pacedSource{f: f, env: env, deadline: c.DeadlineNs, done: make(chan struct{})}
	src.win.read = func() [3]uint64 {
		st := p.Stats()
		n := [3]uint64{st.Packets, 0, 0}
		for _, l := range st.Lines {
			n[1] += l.Packets
			n[2] += l.Bytes
		}
		return n
	}
	runCtx, cancel := context.WithCancel(context.Background())
	defer cancel()
	errc := make(chan error, 1)
	go func() { errc <- p.Run(runCtx, src) }()
	defer context.AfterFunc(ctx, func() { src.stop.Store(true) })()
	select {
	case <-src.done:
		if src.err == nil {
			select {
			case <-time.After(tailLinger):
			case <-ctx.Done():
			}
		}
	case err := <-errc:
		if err == nil {
			err = errors.New("the publisher stopped before the run ended")
		}
		return nil, err
	}
	cancel()
	if err := <-errc; err != nil {
		return nil, err
	}
	if src.err != nil {
		return nil, src.err
	}
	st := p.Stats()
	r := pubResult{Pace: src.stats, Retransmitted: st.Retransmit.Answered, Proc: self("tickcast publisher")}
	for _, l := range st.Lines {
		r.SendErrors += l.Errors
	}
	src.win.fill(&r)
	return r, nil
}

// subHandler records every market message of the window: the application
// of the tickcast benchmark. It runs on the subscriber's dispatching
// goroutine, which owns it.
type subHandler struct {
	win                       window
	lat, uncorrected, network *latency.Recorder
	delivered, dups           uint64
	lastSeq                   uint64
	lastSend, now             int64 // the current packet's send time, and when its first message was handled
	eos                       chan struct{}
	eosSeen                   bool
}

func (h *subHandler) HandleEvent(e *subscriber.Event) {
	var exch uint64
	switch e.Kind {
	case subscriber.EventLevel:
		exch = e.Level.ExchTime
	case subscriber.EventTrade:
		exch = e.Trade.ExchTime
	case subscriber.EventEndOfSession:
		if !h.eosSeen {
			h.eosSeen = true
			close(h.eos)
		}
		return
	default:
		return
	}
	if e.Seq <= h.lastSeq {
		h.dups++
		return
	}
	h.lastSeq = e.Seq
	if !h.win.has(exch) {
		return
	}
	if e.SendTime != h.lastSend { // one clock reading per packet
		h.lastSend, h.now = e.SendTime, time.Now().UnixNano()
		if e.RecvTime != 0 {
			h.network.RecordNanos(e.RecvTime - e.SendTime)
		}
	}
	h.lat.RecordNanos(h.now - int64(exch))
	h.uncorrected.RecordNanos(h.now - e.SendTime)
	h.delivered++
}

// runSubChild is the tickcast subscriber side: the subscriber library on
// lines A (and B), NACKing the publisher's retransmit server.
func runSubChild(ctx context.Context, c *childConfig, env *childEnv) (any, error) {
	h := &subHandler{
		lat:         latency.NewRecorder(maxLatency),
		uncorrected: latency.NewRecorder(maxLatency),
		network:     latency.NewRecorder(maxLatency),
		eos:         make(chan struct{}),
	}
	cfg := subscriber.Config{Channel: benchChannel, RetransmitAddr: c.Retransmit, Handler: h, Logger: env.log,
		KernelTimestamps: true}
	for _, g := range c.Groups {
		cfg.Lines = append(cfg.Lines, subscriber.Line{Group: g, Interface: c.Interface})
	}
	cfg.BusyPoll = c.BusyPoll
	sub, err := subscriber.New(cfg)
	if err != nil {
		return nil, err
	}
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	errc := make(chan error, 1)
	go func() { errc <- sub.Run(runCtx) }()
	env.ready()
	if err := h.win.await(ctx, env, c.Feed); err == nil {
		select {
		case <-h.eos:
		case <-ctx.Done():
		}
	}
	cancel()
	if err := <-errc; err != nil {
		return nil, err
	}
	st := sub.Stats()
	r := subResult{
		Delivered: h.delivered, Duplicates: h.dups,
		Latency: h.lat, Uncorrected: h.uncorrected, Network: h.network,
		EndSeen:       h.eosSeen,
		GaveUp:        st.LostMessages,
		Gaps:          st.Gap.Gaps,
		GapsFilled:    st.Gap.GapsFilled,
		NACKs:         st.Gap.Nacks,
		Retransmitted: st.Gap.Retransmitted,
		Resets:        st.Resets,
		Proc:          self("tickcast subscriber"),
	}
	for _, l := range st.Lines {
		r.Datagrams += l.Datagrams
	}
	return r, nil
}
