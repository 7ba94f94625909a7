package lab

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// Main is the command line of one drill (deploy/lab/drill-kill-a, …): it
// parses the flags, runs the drill with progress on stderr, prints the
// JSON report on stdout (and to --json FILE) and a summary on stderr, and
// exits 0 on PASS, 1 on FAIL, 2 when the lab could not run.
func Main(drill string) {
	os.Exit(mainRun(drill, os.Args[1:], os.Stdout, os.Stderr))
}

func mainRun(drill string, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("drill-"+drill, flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o Options
	fs.StringVar(&o.Bin, "bin", "", "tickcast binary (default: go build ./cmd/tickcast of this module)")
	fs.StringVar(&o.Prometheus, "prometheus", "", "Prometheus binary (default: prometheus on PATH)")
	fs.StringVar(&o.Dir, "dir", "", "directory for the daemons' output, certificates and Prometheus's storage, kept (default: a temporary one, removed)")
	fs.BoolVar(&o.Keep, "keep", false, "keep the temporary directory (its path is in the report's \"logs\")")
	fs.Float64Var(&o.Rate, "rate", 30000, "messages per second")
	fs.DurationVar(&o.Duration, "duration", 0, "the publisher's session, at least 10s (default 20s)")
	fs.IntVar(&o.Instruments, "instruments", 50, "instruments")
	fs.IntVar(&o.Levels, "levels", 50, "levels per side")
	fs.IntVar(&o.LossPercent, "loss", 2, "loss drill: percent dropped on each segment, each way")
	jsonFile := fs.String("json", "", "also write the JSON report to this file")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: go run ./deploy/lab/drill-%s [flags]   (as root; needs ip, nft and prometheus)\n\n", drill)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return 0
		}
		return 2
	}
	o.Progress = stderr
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	rep, err := Run(ctx, drill, o)
	if rep != nil {
		rep.WriteJSON(stdout)
		if *jsonFile != "" {
			if f, ferr := os.Create(*jsonFile); ferr == nil {
				rep.WriteJSON(f)
				f.Close()
			}
		}
		if err != nil || !rep.Pass {
			fmt.Fprint(stderr, rep.Diagnostics)
		}
		fmt.Fprint(stderr, rep.Summary())
	}
	if err != nil {
		fmt.Fprintf(stderr, "drill %s: %v\n", drill, err)
		return 2
	}
	if !rep.Pass {
		return 1
	}
	return 0
}
