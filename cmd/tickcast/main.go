// Command tickcast is the one binary of tickcast: publisher, subscriber,
// demo, benchmark suite, drills and development certificates.
//
//	tickcast demo                 everything on loopback, no setup
//	tickcast publish [flags]      the sequenced A/B feed
//	tickcast subscribe [flags]    join the feed, books and latency
//	tickcast bench latency|throughput [flags]
//	tickcast drill failover|loss|restart [flags]
//	tickcast check-config FILE    check a config file, print the effective settings
//	tickcast certs [flags]        a development CA and certificates
//	tickcast impair [flags]       an impairing UDP proxy for drills
//
// Every command takes --help.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// command is one subcommand: it parses args and runs until ctx ends.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

func commands() []command {
	return []command{
		{"demo", "run publisher and subscriber on loopback and show books and latency", runDemo},
		{"publish", "publish the sequenced A/B multicast feed", runPublish},
		{"subscribe", "join the feed: top of book, latency, stats", runSubscribe},
		{"relay", "carry a channel on: hub (multicast in) or edge (QUIC in), re-multicast, NACK and snapshot service", runRelay},
		{"stat", "a live view of a running daemon from its admin listener: rates, lines, downstreams, anomalies", runStat},
		{"bench", "latency and throughput benchmarks, with a NATS peer", runBench},
		{"drill", "failover, loss and restart drills", runDrill},
		{"check-config", "check a daemon's config file and print the effective configuration", runCheckConfig},
		{"certs", "make a development CA and certificates for the QUIC link", runCerts},
		{"impair", "an impairing UDP proxy: loss, delay, jitter, reorder, rate cap", runImpair},
	}
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// usageError is a bad command line: exit status 2.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return usageError{fmt.Sprintf(format, args...)} }

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stdout)
		return 0
	}
	for _, c := range commands() {
		if c.name != args[0] {
			continue
		}
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		err := c.run(ctx, args[1:], stdout, stderr)
		var ue usageError
		switch {
		case err == nil || errors.Is(err, errHelp):
			return 0
		case errors.As(err, &ue):
			fmt.Fprintf(stderr, "tickcast %s: %s (see 'tickcast %s --help')\n", c.name, ue.msg, c.name)
			return 2
		default:
			fmt.Fprintf(stderr, "tickcast %s: %v\n", c.name, err)
			return 1
		}
	}
	fmt.Fprintf(stderr, "tickcast: unknown command %q (see 'tickcast --help')\n", args[0])
	return 2
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "tickcast: low-latency market-data distribution\n\nUsage: tickcast <command> [flags]\n\nCommands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-10s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nRun 'tickcast <command> --help' for its flags. Start with: tickcast demo")
}
