package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/tickcast/tickcast/egress"
	"github.com/tickcast/tickcast/intake"
	"github.com/tickcast/tickcast/internal/pki"
	"github.com/tickcast/tickcast/latency"
	"github.com/tickcast/tickcast/relay"
)

// The relay path of the latency benchmark (--via relay): publisher → hub
// relay (the publisher's multicast lines in, a QUIC link server out) → edge
// relay (the link in, re-multicast on its own A/B groups) → subscriber of
// the edge, each its own process, on loopback.

// hopResult is what a relay child reports: its forward latency (the
// publisher's send time → the moment it sent the packet on) over the
// recorded window.
type hopResult = RelayResult

// RelayResult is what a relay child reports at the end of its run.
type RelayResult struct {
	Hop string `json:"hop"`
	// Forward is the latency from the publisher's send time to the moment
	// the relay sent the packet on, after the warm-up.
	Forward  *latency.Recorder `json:"forward"`
	Packets  uint64            `json:"packets"`
	Messages uint64            `json:"messages"`
	// The relay's upstream arbiter: NACKs sent, holes, rejects, messages
	// given up, the learned NACK round trip, and downs per upstream line.
	Nacks     uint64        `json:"nacks"`
	Gaps      uint64        `json:"gaps"`
	Rejects   uint64        `json:"rejects"`
	Lost      uint64        `json:"lost"`
	SRTT      time.Duration `json:"srtt"`
	LineDowns []uint64      `json:"line_downs"`
	// Downstream counts the live datagrams its link server sent its
	// downstreams still connected at the end; CutOff the downstreams it
	// cut off as slow consumers.
	Downstream uint64  `json:"downstream_datagrams"`
	CutOff     uint64  `json:"cut_off"`
	Proc       Process `json:"proc"`
}

// Hop is one relay's share of the relay path in a [Series].
type Hop struct {
	Hop string `json:"hop"`
	// LatencyUs is the publisher's packet send time → the moment this hop
	// sent the packet on, µs (the subscriber's uncorrected latency is the
	// same measure at the end of the path).
	LatencyUs Percentiles `json:"latency_from_send_us"`
	// AddedUs is this hop's share: its latency minus the previous hop's
	// (the first hop's: minus nothing, the publisher's multicast included),
	// percentile by percentile.
	AddedUs Percentiles `json:"added_us"`
}

// relayCerts writes a private CA and the hub's and edge's certificates to
// dir, for the relay children.
func relayCerts(dir string) error {
	if err := pki.WriteDevCA(dir); err != nil {
		return err
	}
	for _, name := range []string{"hub", "edge"} {
		if err := pki.IssueCert(dir, name, []string{"127.0.0.1", "localhost"}); err != nil {
			return err
		}
	}
	return nil
}

// runHubChild is the hub: the publisher's lines in, a link server out.
func runHubChild(ctx context.Context, c *childConfig, env *childEnv) (any, error) {
	tlsConf, err := pki.ServerTLS(pki.CertFile(c.CertDir, "hub"), pki.KeyFile(c.CertDir, "hub"), pki.CertFile(c.CertDir, "ca"))
	if err != nil {
		return nil, err
	}
	ch := relay.Channel{ID: c.channel(), UpstreamRetransmit: c.Retransmit, MaxPacket: c.MaxPacket, LineTimeout: c.LineTimeout}
	for i, g := range c.Groups {
		ch.Lines = append(ch.Lines, intake.Line{Name: string(rune('A' + i)), Group: g, Interface: c.Interface})
	}
	return runRelayChild(ctx, "hub", relay.Config{Channels: []relay.Channel{ch}, LinkAddr: c.Link, LinkTLS: tlsConf, Logger: env.log}, c, env)
}

// runEdgeChild is the edge: the hub's link in, re-multicast and a
// retransmit server out.
func runEdgeChild(ctx context.Context, c *childConfig, env *childEnv) (any, error) {
	tlsConf, err := pki.ClientTLS(pki.CertFile(c.CertDir, "edge"), pki.KeyFile(c.CertDir, "edge"), pki.CertFile(c.CertDir, "ca"))
	if err != nil {
		return nil, err
	}
	ch := relay.Channel{ID: c.channel(), MaxPacket: c.MaxPacket, LineTimeout: c.LineTimeout}
	ups := c.Upstreams
	if len(ups) == 0 {
		ups = []string{c.Link}
	}
	for i, u := range ups {
		ch.Upstreams = append(ch.Upstreams, intake.Link{Name: string(rune('A' + i)), Addr: u, TLS: tlsConf, Live: true})
	}
	for i, g := range c.Out {
		ch.Out = append(ch.Out, egress.Line{Name: string(rune('A' + i)), Group: g, Interface: c.Interface, Loopback: true})
	}
	cfg := relay.Config{Channels: []relay.Channel{ch}, RetransmitAddr: c.RelayRetransmit.String(), Logger: env.log}
	if !c.RelayRetransmit.IsValid() {
		cfg.RetransmitAddr = ""
	}
	return runRelayChild(ctx, "edge", cfg, c, env)
}

// runRelayChild runs one relay for the length of the run: ready once its
// upstream links (if any) are connected, the forward latency reset when
// the warm-up ends, done once the end of session has passed through it.
func runRelayChild(ctx context.Context, hop string, cfg relay.Config, c *childConfig, env *childEnv) (any, error) {
	r, err := relay.New(cfg)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	// The relay runs until this function stops it: with ServeUntilDone the
	// parent's "done" comes first, and the end of session may still be on
	// its way.
	runCtx, cancel := context.WithDeadline(context.Background(), time.Unix(0, c.DeadlineNs))
	defer cancel()
	errc := make(chan error, 1)
	go func() { errc <- r.Run(runCtx) }()
	stats := func() relay.ChannelStats { return r.Stats().Channels[0] }
	connected := func() bool {
		for _, l := range stats().Intake.Links {
			if !l.Connected {
				return false
			}
		}
		return true
	}
	if !waitUntil(ctx, c.DeadlineNs, connected) {
		return nil, fmt.Errorf("%s: the upstream link did not connect", hop)
	}
	env.ready()
	start, err := env.awaitStart(ctx)
	if err != nil {
		return nil, err
	}
	warm := time.Unix(0, start).Add(c.Feed.Warmup)
	select {
	case <-time.After(time.Until(warm)):
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if _, err := r.TakeLatency(c.channel()); err != nil { // drop the warm-up
		return nil, err
	}
	before := stats()
	eos := func() bool { return stats().EndOfSession > 0 }
	if c.ServeUntilDone {
		<-ctx.Done() // the parent's run is over (or the deadline passed)
		waitUntil(context.Background(), min(c.DeadlineNs, time.Now().Add(eosGrace).UnixNano()), eos)
	}
	if !waitUntil(ctx, c.DeadlineNs, eos) && !eos() {
		return nil, fmt.Errorf("%s: the end of session never came", hop)
	}
	fwd, err := r.TakeLatency(c.channel())
	if err != nil {
		return nil, err
	}
	rs := r.Stats()
	var downstream uint64
	for _, d := range rs.Downstreams {
		downstream += d.Datagrams
	}
	// Stay up a little: the subscriber may still NACK the edge.
	if !c.ServeUntilDone {
		select {
		case <-time.After(tailLinger):
		case <-ctx.Done():
		}
	}
	cancel()
	if err := <-errc; err != nil && !errors.Is(err, context.Canceled) {
		return nil, err
	}
	after := stats()
	g := after.Intake.Gap
	res := RelayResult{Hop: hop, Forward: fwd, Packets: after.Packets - before.Packets,
		Messages: after.Messages - before.Messages, Nacks: g.Nacks, Gaps: g.Gaps, Rejects: g.Rejects,
		Lost: g.Lost, SRTT: g.SRTT, Downstream: downstream, CutOff: rs.CutOff, Proc: self("tickcast " + hop + " relay")}
	for _, l := range after.Intake.Lines {
		res.LineDowns = append(res.LineDowns, l.Downs)
	}
	return res, nil
}

// channel is the channel a child relays: the benchmark's unless told.
func (c *childConfig) channel() uint16 {
	if c.Channel != 0 {
		return c.Channel
	}
	return benchChannel
}

// eosGrace bounds how long a relay child waits for the end of session
// once its parent is done with the run.
const eosGrace = 5 * time.Second

// waitUntil polls cond every millisecond until it holds (true) or the
// deadline (ns since the epoch) passes or ctx ends (false).
func waitUntil(ctx context.Context, deadlineNs int64, cond func() bool) bool {
	for !cond() {
		if ctx.Err() != nil || time.Now().UnixNano() > deadlineNs {
			return false
		}
		time.Sleep(time.Millisecond)
	}
	return true
}

// hops turns the relay children's results into the series' hop figures.
func hops(results []hopResult) []Hop {
	var out []Hop
	var prev Percentiles
	for _, r := range results {
		p := percentilesOf(r.Forward)
		out = append(out, Hop{Hop: r.Hop, LatencyUs: p, AddedUs: p.minus(prev)})
		prev = p
	}
	return out
}

// mergeHops merges the hops of every run, hop by hop.
func mergeHops(runs []*seriesRun) []Hop {
	var merged []hopResult
	for _, r := range runs {
		for i, h := range r.hops {
			if i == len(merged) {
				merged = append(merged, hopResult{Hop: h.Hop, Forward: latency.NewRecorder(maxLatency)})
			}
			merged[i].Forward.Merge(h.Forward)
		}
	}
	return hops(merged)
}

// writeRelayPath prints the relay path's hops and what it adds to the
// direct path, when the report has one.
func writeRelayPath(w io.Writer, r *LatencyReport) {
	rs := r.Peers[SystemRelay]
	if rs == nil || rs.UncorrectedUs == nil || r.UncorrectedUs == nil {
		return
	}
	fmt.Fprintf(w, "relay path, from the packet's send time (µs):\n")
	for _, h := range rs.Hops {
		fmt.Fprintf(w, "  %-10s p50 %8.0f  p99 %8.0f   added p50 %8.0f  p99 %8.0f\n", h.Hop, h.LatencyUs.P50, h.LatencyUs.P99, h.AddedUs.P50, h.AddedUs.P99)
	}
	u, d := *rs.UncorrectedUs, *r.UncorrectedUs
	fmt.Fprintf(w, "  %-10s p50 %8.0f  p99 %8.0f   (direct: p50 %.0f, p99 %.0f)\n", "subscriber", u.P50, u.P99, d.P50, d.P99)
	add := u.minus(d)
	fmt.Fprintf(w, "  two relays add p50 %.0f µs, p99 %.0f µs to the direct path: %.0f µs and %.0f µs a hop\n\n",
		add.P50, add.P99, add.P50/2, add.P99/2)
}
