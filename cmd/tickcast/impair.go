package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/tickcast/tickcast/internal/impair"
)

const impairNotes = `
An impairing UDP proxy for drills between relays (QUIC runs over UDP; this
kernel has no netem): clients send to --listen, the proxy forwards to
--upstream and the replies back, each client with its own upstream socket.

Spec (--spec for both directions, --up-spec / --down-spec to override one):
comma-separated key=value items
  loss=P          random loss, P a probability (0.003) or a percentage (0.3%)
  burst=P:N       loss bursts: with probability P a packet and the next N-1 are lost
  dup=P           duplicate a packet
  delay=D         fixed one-way delay (15ms, 500us)
  jitter=D        uniform -D..+D added to the delay
  reorder=P[:D]   hold a packet D longer (default 5ms) so later ones overtake it
  rate=R          bandwidth cap: 10Mbit, 512kbit, 1Gbit, 1MB/s, 64KiB/s
  queue=SIZE      bytes that may wait for the cap, the rest is dropped (default 256KiB)

Every --stats-every it prints a line of counters per direction: in, out, lost,
dup, reordered, rate-dropped, queued bytes. It stops on Ctrl-C.

Example:
  tickcast impair --listen 127.0.0.1:4443 --upstream 127.0.0.1:4444 --spec "loss=5%,delay=125ms"
`

func runImpair(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("impair", "impair --listen ADDR --upstream ADDR [--spec SPEC] [flags]", impairNotes, stdout)
	listen := fs.String("listen", "", "UDP address clients send to, host:port (required)")
	upstream := fs.String("upstream", "", "UDP address to forward to, host:port (required)")
	spec := specFlag(fs, "spec", "impairments of both directions, e.g. loss=5%,delay=125ms (default none)")
	upSpec := specFlag(fs, "up-spec", "impairments client → upstream, instead of --spec")
	downSpec := specFlag(fs, "down-spec", "impairments upstream → client, instead of --spec")
	seed := fs.Int64("seed", 1, "random seed (same seed, same packets: same impairments)")
	idle := fs.Duration("idle", impair.DefaultIdleTimeout, "close a client's upstream socket after this long without packets")
	duration := fs.Duration("duration", 0, "stop after this long (0 = until interrupted)")
	statsEvery := fs.Duration("stats-every", 5*time.Second, "print the counters this often (0 = never)")
	logger := logFlags(fs, stderr)
	log, err := parseLogged(fs, args, logger)
	if err != nil {
		return err
	}
	if *listen == "" || *upstream == "" {
		return usagef("--listen and --upstream are required")
	}
	for name, d := range map[string]time.Duration{"idle": *idle, "duration": *duration, "stats-every": *statsEvery} {
		if err := nonNegative(name, d); err != nil {
			return err
		}
	}
	cfg := impair.Config{Listen: *listen, Upstream: *upstream, Up: *upSpec, Down: *downSpec, Seed: *seed, IdleTimeout: *idle, Logger: log}
	if *spec != nil {
		cfg.Spec = **spec
	}
	p, err := impair.New(cfg)
	if err != nil {
		return err
	}
	defer p.Close()
	if *duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, *duration)
		defer cancel()
	}
	fmt.Fprintf(stdout, "impair: %s → %s; up %s; down %s\n", p.Addr(), *upstream, p.Spec(impair.Up), p.Spec(impair.Down))
	done := make(chan struct{})
	if *statsEvery > 0 {
		go func() {
			defer close(done)
			t := time.NewTicker(*statsEvery)
			defer t.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-t.C:
					printImpairStats(stdout, p.Stats())
				}
			}
		}()
	} else {
		close(done)
	}
	err = p.Run(ctx)
	<-done
	printImpairStats(stdout, p.Stats())
	return err
}

// specFlag adds a flag taking an impair spec; nil when not given.
func specFlag(fs *flag.FlagSet, name, usage string) **impair.Spec {
	var s *impair.Spec
	fs.Func(name, usage, func(v string) error {
		sp, err := impair.ParseSpec(v)
		if err != nil {
			return err
		}
		s = &sp
		return nil
	})
	return &s
}

// printImpairStats writes one line of counters per direction.
func printImpairStats(w io.Writer, st impair.Stats) {
	for _, d := range []struct {
		name string
		s    impair.DirStats
	}{{"up", st.Up}, {"down", st.Down}} {
		fmt.Fprintf(w, "impair %-4s in %d out %d lost %d dup %d reordered %d rate-dropped %d queued %dB held %d blackholed %d overflow %d failed %d; clients %d\n",
			d.name, d.s.In, d.s.Out, d.s.Lost, d.s.Duplicated, d.s.Reordered, d.s.RateDropped, d.s.QueuedBytes, d.s.InFlight, d.s.Blackholed, d.s.Overflow, d.s.Failed, st.Sessions)
	}
}
