package main

import (
	"context"
	"fmt"
	"github.com/tickcast/tickcast/egress"
	"io"
	"math/rand/v2"
	"net/netip"
	"text/tabwriter"
	"time"

	"github.com/tickcast/tickcast/internal/pki"
	"github.com/tickcast/tickcast/publisher"
	"github.com/tickcast/tickcast/publisher/source"
	"github.com/tickcast/tickcast/publisher/synth"
	"github.com/tickcast/tickcast/subscriber"
)

const demoNotes = `
Runs the whole chain on loopback in one process, with no setup and no root:
a synthetic publisher sends the sequenced feed on line A and line B (two
multicast groups on lo, TTL 0), serves NACKs over UDP and snapshots over a
QUIC link (with a throw-away CA made in memory), and a subscriber joins both
lines, rebuilds every book and measures latency. Every second it shows the top
of book and latency; at the end a summary, and whether every subscriber book
matches the publisher's (by CRC-32C).

--kill-a-after kills line A midway (its sender stops): watch the subscriber
carry on from line B with nothing lost.

Examples:
  tickcast demo
  tickcast demo --rate 500000 --duration 20s --kill-a-after 8s
`

func runDemo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("demo", "demo [flags]", demoNotes, stdout)
	duration := fs.Duration("duration", 10*time.Second, "how long the publisher runs")
	rate := fs.Float64("rate", 100_000, "messages per second")
	instruments := fs.Int("instruments", 20, "number of instruments")
	levels := fs.Int("levels", 200, "levels per side")
	killA := fs.Duration("kill-a-after", 0, "kill line A after this long (0 = never)")
	top := fs.Int("top", 8, "instruments shown")
	var faultsA, faultsB faultFlag
	fs.Var(&faultsA, "a-faults", "inject faults on line A at the subscriber, e.g. drop=0.01")
	fs.Var(&faultsB, "b-faults", "inject faults on line B at the subscriber, e.g. drop=0.01")
	busyPoll := fs.Bool("busy-poll", false, "the subscriber spins on its sockets: lowest latency, costs a core")
	quiet := fs.Bool("quiet", false, "print only the summary")
	logger := logFlags(fs, stderr)
	log, err := parseLogged(fs, args, logger)
	if err != nil {
		return err
	}
	if *duration <= 0 {
		return usagef("--duration %v: must be positive", *duration)
	}
	if err := nonNegative("kill-a-after", *killA); err != nil {
		return err
	}
	if *killA >= *duration {
		return usagef("--kill-a-after %v: must be shorter than --duration %v", *killA, *duration)
	}
	// A private pair of groups and ports, so two demos never mix.
	base := netip.AddrFrom4([4]byte{239, 255, byte(rand.IntN(250) + 1), 0})
	port := uint16(20000 + rand.IntN(30000))
	groupA := netip.AddrPortFrom(base.Next(), port)
	groupB := netip.AddrPortFrom(base.Next().Next(), port+1)
	tp, err := pki.NewTestPKI("127.0.0.1")
	if err != nil {
		return fmt.Errorf("demo CA: %w", err)
	}
	src, err := synth.New(synth.Config{Instruments: *instruments, Levels: *levels, Rate: *rate, Seed: 1, Logger: log})
	if err != nil {
		return usageError{err.Error()}
	}
	pub, err := publisher.New(publisher.Config{
		Channel: 1,
		Lines: []egress.Line{
			{Name: "A", Group: groupA, Interface: "lo", TTL: 0, Loopback: true},
			{Name: "B", Group: groupB, Interface: "lo", TTL: 0, Loopback: true},
		},
		RetransmitAddr: "127.0.0.1:0",
		LinkAddr:       "127.0.0.1:0",
		LinkTLS:        tp.ServerTLS(),
		Logger:         log,
	})
	if err != nil {
		return err
	}
	v := newView()
	sub, err := subscriber.New(subscriber.Config{
		Channel: 1,
		Lines: []subscriber.Line{
			{Name: "A", Group: groupA, Interface: "lo", Faults: faultsA.spec()},
			{Name: "B", Group: groupB, Interface: "lo", Faults: faultsB.spec()},
		},
		RetransmitAddr:   netip.MustParseAddrPort(pub.RetransmitAddr()),
		Links:            []subscriber.Link{{Addr: pub.LinkAddr(), TLS: tp.ClientTLS()}},
		KernelTimestamps: true,
		BusyPoll:         *busyPoll,
		Handler:          v,
		Logger:           log,
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "tickcast demo: %d instruments at %.0f msg/s for %v; line A %s, line B %s on lo\n",
		*instruments, *rate, *duration, groupA, groupB)

	subCtx, stopSub := context.WithCancel(ctx)
	defer stopSub()
	subDone := make(chan error, 1)
	go func() { subDone <- sub.Run(subCtx) }()
	pubCtx, stopPub := context.WithCancel(ctx)
	defer stopPub()
	pubDone := make(chan error, 1)
	gate := source.NewGate(src)
	start := time.Now()
	go func() { pubDone <- pub.Run(pubCtx, gate) }()

	total := newTotals()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	end := time.After(*duration)
	var kill <-chan time.Time
	if *killA > 0 {
		kill = time.After(*killA)
	}
	var pubErr error
loop:
	for {
		select {
		case pubErr = <-pubDone:
			break loop
		case <-ctx.Done():
			break loop
		case <-end:
			break loop
		case <-kill:
			pub.KillLine(publisher.LineA, true)
			fmt.Fprintf(stdout, "\n*** line A killed at %v: the subscriber carries on from line B ***\n", time.Since(start).Round(time.Millisecond))
		case <-tick.C:
			lat := total.take(sub)
			if !*quiet {
				fmt.Fprintf(stdout, "\n%s  (%v)\n", time.Now().Format("15:04:05"), time.Since(start).Round(time.Second))
				v.print(stdout, *top)
				fmt.Fprintln(stdout, latencyLine(lat, sub.Stats()))
			}
		}
	}
	elapsed := time.Since(start)
	// Hold the source back and let the subscriber take the tail (the
	// publisher stays up to answer NACKs), then compare every book at one
	// sequence.
	gate.Pause()
	var pubSums map[uint32]uint32
	var pubSeq uint64
	var subSums subscriber.BookSums
	waitUntil(ctx, 10*time.Second, func() bool {
		var err1, err2 error
		pubSums, pubSeq, err1 = pub.BookChecksums(ctx)
		subSums, err2 = sub.BookSums(ctx)
		return err1 == nil && err2 == nil && !subSums.Recovering && subSums.Seq == pubSeq
	})
	stopPub()
	if err := <-pubDone; err != nil && pubErr == nil {
		pubErr = err
	}
	final := pub.Stats()
	waitUntil(ctx, 2*time.Second, func() bool { return sub.Stats().Gap.Heartbeats > 0 && sub.Stats().AppliedSeq >= final.NextSeq-1 })
	stopSub()
	subErr := <-subDone
	total.take(sub)
	st := sub.Stats()
	match := pubSeq == subSums.Seq && len(pubSums) == len(subSums.Sums)
	for id, s := range pubSums {
		if subSums.Sums[id] != s {
			match = false
		}
	}
	printSummary(stdout, final, st, total, elapsed, match)
	if pubErr != nil {
		return pubErr
	}
	if subErr != nil {
		return subErr
	}
	if !match {
		return fmt.Errorf("the subscriber's books do not match the publisher's")
	}
	return nil
}

func printSummary(w io.Writer, pub publisher.Stats, st subscriber.Stats, total *totals, elapsed time.Duration, match bool) {
	f, n, e := total.feed.Summary(), total.network.Summary(), total.exchange.Summary()
	fmt.Fprintln(w, "\nsummary")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "messages sent\t%d\t(%.0f msg/s, %d packets)\n", pub.Messages, float64(pub.Messages)/elapsed.Seconds(), pub.Packets)
	fmt.Fprintf(tw, "messages delivered\t%d\tlast sequence %d\n", st.Gap.Delivered, st.AppliedSeq)
	fmt.Fprintf(tw, "gaps\t%d\trecovered %d (by the other line or NACK), lost %d messages\n", st.Gap.Gaps, st.Gap.GapsFilled, st.LostMessages)
	fmt.Fprintf(tw, "NACKs\t%d\tretransmitted packets %d\n", st.Gap.Nacks, st.Gap.Retransmitted)
	fmt.Fprintf(tw, "snapshots\t%d\tresets %v\n", st.Snapshots, st.Resets)
	fmt.Fprintf(tw, "checksums\t%d\tmismatches %d\n", st.ChecksumChecks, st.ChecksumMismatches)
	for i, l := range st.Lines {
		fmt.Fprintf(tw, "line %c\t%d packets\twon %d, duplicates %d, went down %d×\n", 'A'+i, l.Packets, l.Won, l.Duplicates, l.Downs)
	}
	fmt.Fprintf(tw, "latency send→handler\tp50 %v\tp99 %v  p99.9 %v  max %v  (n=%d packets)\n", f.P50, f.P99, f.P999, f.Max, f.Count)
	fmt.Fprintf(tw, "latency send→kernel rx\tp50 %v\tp99 %v  p99.9 %v  max %v\n", n.P50, n.P99, n.P999, n.Max)
	fmt.Fprintf(tw, "latency schedule→handler\tp50 %v\tp99 %v  p99.9 %v  max %v  (per message, from the synthetic schedule)\n", e.P50, e.P99, e.P999, e.Max)
	fmt.Fprintf(tw, "books match publisher\t%v\t\n", match)
	tw.Flush()
}

// waitUntil polls cond every 10ms until it holds, ctx ends or limit passes.
func waitUntil(ctx context.Context, limit time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(limit)
	for !cond() {
		if ctx.Err() != nil || time.Now().After(deadline) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
	return true
}
