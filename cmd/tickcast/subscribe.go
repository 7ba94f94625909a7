package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/tickcast/tickcast/internal/pki"
	"github.com/tickcast/tickcast/latency"
	"github.com/tickcast/tickcast/metrics"
	"github.com/tickcast/tickcast/subscriber"
	"github.com/tickcast/tickcast/wire"
)

const subscribeNotes = `
Joins line A and line B (and optionally a QUIC link), arbitrates them, fills
gaps by NACK, recovers by snapshot over the link (or, without one, from the
publisher's recovery loop on --recovery-a/--recovery-b), rebuilds every book and
measures latency from the publisher's send time.

Output (--format text): every second the top of book of the first --top
instruments and a latency line. --format json: one JSON object per event
(definition, level, consistent, trade, status, reset, snapshot_book,
recovered, end_of_session, line) on its own line, for scripts.

Example (with 'tickcast publish --link 127.0.0.1:31020 …' running):
  tickcast subscribe --a 239.255.0.1:31001 --b 239.255.0.2:31002 --iface lo \
      --link 127.0.0.1:31020 --cert certs/client.pem --key certs/client-key.pem --ca certs/ca.pem
`

// subscribePlan is a validated subscribe command: everything but the
// sockets and the output.
type subscribePlan struct {
	fs  *flag.FlagSet
	d   *daemonFlags
	log *slog.Logger
	cfg subscriber.Config // without its Handler

	format, hgrm string
	top          int
	showStats    bool
	duration     time.Duration
}

func (p *subscribePlan) flags() *flag.FlagSet { return p.fs }
func (p *subscribePlan) daemon() *daemonFlags { return p.d }

// prepareSubscribe parses and checks the command line and config file, loads
// the certificates and builds the subscriber's configuration without opening
// a socket.
func prepareSubscribe(args []string, stdout, stderr io.Writer) (*subscribePlan, error) {
	fs := newFlags("subscribe", "subscribe [flags]", subscribeNotes, stdout)
	channel := channelFlag(fs, "channel to follow")
	a := addLineFlags(fs, "a", "239.255.0.1:31001", " (\"\" disables)", recvSource)
	b := addLineFlags(fs, "b", "239.255.0.2:31002", " (\"\" disables)", recvSource)
	iface := fs.String("iface", "lo", "interface of both lines unless --a-iface/--b-iface say otherwise")
	recA := addLineFlags(fs, "recovery-a", "239.255.0.3:31003", " of the publisher's recovery loop, joined without --link after a late join or a lost gap until every book is whole (\"\" = none)", recvSource)
	recB := addLineFlags(fs, "recovery-b", "239.255.0.4:31004", " of the recovery loop (\"\" = none)", recvSource)
	var rtx addrPortFlag
	rtx.Set("127.0.0.1:31010")
	fs.Var(&rtx, "retransmit", "UDP retransmit server to NACK (\"\" = NACK over the link, or not at all)")
	linkAddr := fs.String("link", "", "QUIC link servers for snapshots (and NACKs without --retransmit), comma separated in order of preference")
	linkLive := fs.Bool("link-live", false, "also take live packets from the links, each one more line (a remote subscriber)")
	cert := fs.String("cert", "", "link: client certificate (PEM)")
	key := fs.String("key", "", "link: client key (PEM)")
	ca := fs.String("ca", "", "link: the operator's CA certificate (PEM)")
	window := fs.Duration("window", 200*time.Microsecond, "arbitration window before a hole is NACKed")
	busyPoll := fs.Bool("busy-poll", false, "spin on the sockets instead of parking: lowest latency, costs a core")
	timestamps := fs.Bool("timestamps", true, "record kernel receive timestamps (network latency apart from Go scheduling)")
	format := fs.String("format", "text", "output: text (live view) or json (one event per line)")
	top := fs.Int("top", 10, "text: instruments shown")
	showStats := fs.Bool("stats", false, "print the counters at exit")
	hgrm := fs.String("hgrm", "", "write the feed latency histogram (.hgrm percentile distribution, µs) to this file at exit")
	duration := fs.Duration("duration", 0, "stop after this long (0 = until interrupted)")
	staleAfter := fs.Duration("stale-after", subscriber.DefaultStaleAfter, "an instrument the publisher reports ok is stale after this long without an update (tickcast_instruments{status=\"stale\"}; negative = never)")
	instrumentMetrics := fs.Int("instrument-metrics", 0, "--admin: export update age, updates and status of the first N instruments (0 = only counts per status)")
	d := addDaemonFlags(fs, "subscribe")
	log, err := d.parse(fs, args, stderr)
	if err != nil {
		return nil, err
	}
	if *format != "text" && *format != "json" {
		return nil, usagef("--format %q: want text or json", *format)
	}
	if err := nonNegative("duration", *duration); err != nil {
		return nil, err
	}
	cfg := subscriber.Config{
		Channel:          *channel,
		RetransmitAddr:   rtx.ap,
		Window:           *window,
		KernelTimestamps: *timestamps,
		BusyPoll:         *busyPoll,
		Logger:           log,

		InstrumentMetrics: *instrumentMetrics,
		StaleAfter:        *staleAfter,
	}
	for i, l := range []*lineFlags{a, b} {
		if l.group.ap.IsValid() {
			cfg.Lines = append(cfg.Lines, subscriber.Line{Name: []string{"A", "B"}[i], Group: l.group.ap, Interface: l.ifaceOr(*iface), Source: l.source.a, Faults: l.faults.spec()})
		}
	}
	for i, l := range []*lineFlags{recA, recB} {
		if l.group.ap.IsValid() {
			cfg.Recovery = append(cfg.Recovery, subscriber.Line{Name: []string{"RA", "RB"}[i], Group: l.group.ap, Interface: l.ifaceOr(*iface), Source: l.source.a, Faults: l.faults.spec()})
		}
	}
	if *linkAddr != "" {
		if *cert == "" || *key == "" || *ca == "" {
			return nil, usagef("--link needs --cert, --key and --ca (make them with 'tickcast certs')")
		}
		tlsCfg, err := pki.ClientTLS(*cert, *key, *ca)
		if err != nil {
			return nil, err
		}
		for addr := range strings.SplitSeq(*linkAddr, ",") {
			if addr = strings.TrimSpace(addr); addr != "" {
				cfg.Links = append(cfg.Links, subscriber.Link{Addr: addr, TLS: tlsCfg, Live: *linkLive})
			}
		}
	}
	return &subscribePlan{fs: fs, d: d, log: log, cfg: cfg, format: *format, hgrm: *hgrm, top: *top, showStats: *showStats, duration: *duration}, nil
}

func runSubscribe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	p, err := prepareSubscribe(args, stdout, stderr)
	if err != nil {
		return err
	}
	return p.run(ctx, args, stdout)
}

// run joins the feed and shows it until ctx ends or --duration passes.
func (p *subscribePlan) run(ctx context.Context, args []string, stdout io.Writer) error {
	cfg, log := p.cfg, p.log
	format, top, showStats, hgrm, duration := &p.format, &p.top, &p.showStats, &p.hgrm, &p.duration
	v := newView()
	var out *bufio.Writer
	var outMu sync.Mutex
	if *format == "json" {
		out = bufio.NewWriter(stdout)
		cfg.Handler = &jsonHandler{w: out, mu: &outMu, view: v}
	} else {
		cfg.Handler = v
	}
	sub, err := subscriber.New(cfg)
	if err != nil {
		return usageError{err.Error()}
	}
	if *duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, *duration)
		defer cancel()
	}
	total := newTotals()
	actx, stopAdmin := context.WithCancel(ctx)
	live := newLiveConfig(p, args, prepareSubscribe)
	waitAdmin, err := p.d.adm.start(actx, metrics.Subscriber(sub, cfg.Channel), sub.Ready, live.reload, log)
	if err != nil {
		stopAdmin()
		sub.Close()
		return err
	}
	stopHUP := live.watchHUP(actx)
	defer func() {
		stopHUP()
		stopAdmin()
		waitAdmin()
	}()
	done := make(chan error, 1)
	go func() { done <- sub.Run(ctx) }()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case err = <-done:
		case <-tick.C:
			lat := total.take(sub)
			if *format == "json" {
				outMu.Lock()
				out.Flush()
				outMu.Unlock()
				continue
			}
			fmt.Fprintf(stdout, "\n%s\n", time.Now().Format("15:04:05"))
			v.print(stdout, *top)
			fmt.Fprintf(stdout, "%s\n", latencyLine(lat, sub.Stats()))
			continue
		}
		break
	}
	total.take(sub)
	if out != nil {
		outMu.Lock()
		out.Flush()
		outMu.Unlock()
	}
	if *showStats {
		printStats(stdout, sub.Stats())
		fmt.Fprintln(stdout, subscriberBooks(sub))
	}
	if *hgrm != "" {
		if werr := writeHgrm(*hgrm, total.feed); werr != nil && err == nil {
			err = werr
		}
	}
	return err
}

// totals accumulates the per-second latency intervals into run totals.
type totals struct {
	feed, network, exchange *latency.Recorder
}

func newTotals() *totals {
	return &totals{latency.NewRecorder(time.Minute), latency.NewRecorder(time.Minute), latency.NewRecorder(time.Minute)}
}

// take folds the subscriber's latest interval into the totals and returns it.
func (t *totals) take(sub *subscriber.Subscriber) subscriber.Latency {
	l := sub.TakeLatency()
	t.feed.Merge(l.Feed)
	t.network.Merge(l.Network)
	t.exchange.Merge(l.Exchange)
	return l
}

func latencyLine(l subscriber.Latency, st subscriber.Stats) string {
	f, n := l.Feed.Summary(), l.Network.Summary()
	return fmt.Sprintf("latency (send→handler) p50 %v p99 %v p99.9 %v max %v | network p50 %v p99 %v | msgs %d gaps %d nacks %d lost %d snapshots %d",
		f.P50, f.P99, f.P999, f.Max, n.P50, n.P99, st.Messages, st.Gap.Gaps, st.Gap.Nacks, st.Gap.Lost, st.Snapshots)
}

func printStats(w io.Writer, st subscriber.Stats) {
	fmt.Fprintf(w, "\nmessages %d (last seq %d), lost %d, snapshots %d/%d requested, checksums %d checked %d mismatched, queue drops %d, resets %v\n",
		st.Messages, st.AppliedSeq, st.LostMessages, st.Snapshots, st.SnapshotRequests, st.ChecksumChecks, st.ChecksumMismatches, st.QueueDrops, st.Resets)
	fmt.Fprintf(w, "arbiter: delivered %d, gaps %d (filled %d), nacks %d for %d messages, retransmitted packets %d, reordered %d, heartbeats %d\n",
		st.Gap.Delivered, st.Gap.Gaps, st.Gap.GapsFilled, st.Gap.Nacks, st.Gap.NackedMessages, st.Gap.Retransmitted, st.Gap.Reordered, st.Gap.Heartbeats)
	for i, l := range st.Lines {
		fmt.Fprintf(w, "line %c: datagrams %d, packets %d, won %d, duplicates %d, malformed %d, foreign source %d, other session %d, up %v, downs %d\n",
			'A'+i, l.Datagrams, l.Packets, l.Won, l.Duplicates, l.Malformed, l.ForeignSource, l.Foreign, l.Up, l.Downs)
	}
	if lp := st.Loop; lp.Starts > 0 || lp.Joins > 0 {
		a := lp.Assembled
		fmt.Fprintf(w, "recovery loop: %d recoveries, joined %d times (now %v), books rebuilt %d, stale %d, ignored %d; read %d datagrams, %d books assembled, %d broken, %d failed their checksum\n",
			lp.Starts, lp.Joins, lp.Joined, lp.Books, lp.Stale, lp.Ignored, lp.Datagrams, a.Books, a.Broken, a.Mismatch)
	}
	fmt.Fprintf(w, "integrity: packets of sessions not followed %d, phantom messages dropped %d (%d claims cut), false end marks %d\n",
		st.Gap.Foreign, st.Gap.Phantom, st.Gap.PhantomCuts, st.Gap.FalseEnds)
	for _, f := range st.ForeignSources {
		src := f.Source.String()
		if !f.Source.IsValid() {
			src = "(link)"
		}
		fmt.Fprintf(w, "  not followed: %d packets from %s on line %s, last session %d\n", f.Packets, src, f.Line, f.Session)
	}
	if st.ForeignOther > 0 {
		fmt.Fprintf(w, "  not followed: %d packets from further senders\n", st.ForeignOther)
	}
	if rc := st.Retransmit; rc.Probes > 0 || rc.Requests > 0 {
		fmt.Fprintf(w, "retransmit client: validated %v (%d probes, %d tokens), requests %d, packets %d, rejects %d, malformed %d\n",
			rc.Tokens > 0, rc.Probes, rc.Tokens, rc.Requests, rc.Packets, rc.Rejects, rc.Malformed)
	}
}

func writeHgrm(path string, r *latency.Recorder) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := r.WriteHgrm(f, time.Microsecond); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	return f.Close()
}

// jsonHandler prints one JSON object per event.
type jsonHandler struct {
	w    *bufio.Writer
	mu   *sync.Mutex
	view *view // for symbols and exponents
}

type jsonEvent struct {
	Kind       string `json:"kind"`
	Seq        uint64 `json:"seq,omitempty"`
	Instrument uint32 `json:"instrument,omitempty"`
	Symbol     string `json:"symbol,omitempty"`
	Side       string `json:"side,omitempty"`
	Price      string `json:"price,omitempty"`
	Qty        string `json:"qty,omitempty"`
	Aggressor  string `json:"aggressor,omitempty"`
	TradeID    uint64 `json:"trade_id,omitempty"`
	ExchTimeNs uint64 `json:"exch_ns,omitempty"`
	Status     string `json:"status,omitempty"`
	Reset      string `json:"reset,omitempty"`
	BestBid    string `json:"best_bid,omitempty"`
	BestAsk    string `json:"best_ask,omitempty"`
	Line       *int   `json:"line,omitempty"`
	Up         *bool  `json:"up,omitempty"`
	LatencyNs  int64  `json:"latency_ns,omitempty"`
}

func (h *jsonHandler) HandleEvent(e *subscriber.Event) {
	h.view.HandleEvent(e)
	h.view.mu.Lock()
	in := h.view.inst(e.Instrument)
	sym, pe, qe := in.symbol, in.priceExp, in.qtyExp
	h.view.mu.Unlock()
	j := jsonEvent{Kind: e.Kind.String(), Seq: e.Seq, Instrument: e.Instrument}
	if e.Instrument != 0 {
		j.Symbol = sym
	}
	if e.SendTime != 0 {
		j.LatencyNs = time.Now().UnixNano() - e.SendTime
	}
	switch e.Kind {
	case subscriber.EventLevel:
		j.Side, j.Price, j.Qty, j.ExchTimeNs = e.Level.Side.String(), formatFixed(e.Level.Price, pe), formatFixed(e.Level.Qty, qe), e.Level.ExchTime
	case subscriber.EventTrade:
		j.Price, j.Qty, j.TradeID, j.ExchTimeNs = formatFixed(e.Trade.Price, pe), formatFixed(e.Trade.Qty, qe), e.Trade.TradeID, e.Trade.ExchTime
		j.Aggressor = map[wire.Aggressor]string{wire.AggressorBuy: "buy", wire.AggressorSell: "sell"}[e.Trade.Aggressor]
	case subscriber.EventStatus:
		j.Status = e.Status.String()
	case subscriber.EventReset:
		j.Reset = e.Reset.String()
	case subscriber.EventConsistent, subscriber.EventSnapshotBook:
		if l, ok := e.Book.BestBid(); ok {
			j.BestBid = formatFixed(l.Price, pe)
		}
		if l, ok := e.Book.BestAsk(); ok {
			j.BestAsk = formatFixed(l.Price, pe)
		}
	case subscriber.EventLine:
		j.Line, j.Up = &e.Line, &e.Up
	}
	b, _ := json.Marshal(j)
	h.mu.Lock()
	h.w.Write(b)
	h.w.WriteByte('\n')
	h.mu.Unlock()
}
