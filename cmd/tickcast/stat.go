package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"io"
	"net/http"
	"os"
	"strings"
	"time"
)

const statNotes = `
A live view of a running publisher, relay or subscriber, read from its admin
listener's /metrics (start the daemon with --admin 127.0.0.1:9310). URL is that
address (127.0.0.1:9310) or the page's URL (http://127.0.0.1:9310/metrics). The
role is told from the metrics present; each refresh shows what applies:

  PUBLISHER   per channel msg/s, pkt/s, next sequence, link clients, snapshots
              served, retransmit requests/s; per line packets/s, bytes/s, errors
  SUBSCRIBER  per channel msg/s, gaps/s, lost, NACKs/s, snapshots, checksums,
              queue drops, instrument states, latency p50/p99 by kind
  RELAY       per channel msg/s forwarded, gaps/s, lost, NACKs, books whole,
              recoveries, upstream links, hop latency
  lines       per line up/DOWN, packets/s, first (the share of new packets
              that came first on this line: which line wins), downs
  DOWNSTREAMS a relay's per downstream (certificate name) queue, lag,
              datagrams/s, drops/s, dropped, reported loss, cutoffs

Rates are over the last refresh interval; "12 (+3)" is a total and its
increase since stat started. ANOMALIES lists what needs a look: a line down,
messages lost or checksum mismatches since start, a slow downstream (lag over
--lag, packets dropped or cutoffs since start), stale instruments, an upstream
link down, failed writes, a failed scrape.

On a terminal the view is redrawn in place every --every; otherwise (a pipe,
a file, or with --once) each refresh is printed as a plain block. The first
block comes one interval after start: rates need two scrapes. Until
interrupted a failed scrape is shown and retried (a daemon restarting); with
--once or --count it ends stat with an error.

Examples:
  tickcast stat 127.0.0.1:9310
  tickcast stat --once 127.0.0.1:9311
  tickcast stat --every 5s --count 12 http://127.0.0.1:9312/metrics > stat.log
`

func runStat(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("stat", "stat [flags] URL", statNotes, stdout)
	every := fs.Duration("every", time.Second, "refresh interval (rates are over it)")
	once := fs.Bool("once", false, "print one plain block (two scrapes --every apart) and exit")
	count := fs.Int("count", 0, "exit after this many refreshes (0 = until interrupted)")
	lag := fs.Duration("lag", 250*time.Millisecond, "a downstream lagging more than this is reported as slow")
	arg, err := parseWithArg(fs, args)
	if err != nil {
		return err
	}
	if *every <= 0 {
		return usagef("--every %v: must be positive", *every)
	}
	if *count < 0 {
		return usagef("--count %d: must not be negative", *count)
	}
	if *once {
		*count = 1
	}
	u, err := metricsURL(arg)
	if err != nil {
		return usagef("URL %q: %v (want the admin address, e.g. 127.0.0.1:9310)", arg, err)
	}
	sc := &scraper{url: u, client: &http.Client{Timeout: max(*every, 2*time.Second)}, now: time.Now}
	first, err := sc.scrape(ctx)
	if err != nil {
		return err
	}
	tty := !*once && isTerminal(stdout)
	if tty {
		io.WriteString(stdout, "\x1b[H\x1b[2J"+"tickcast stat "+u+": "+strings.Join(roles(first), ", ")+"; the first rates in "+every.String()+"\n")
	}
	run := newStatRun(u, *lag, first)
	tick := time.NewTicker(*every)
	defer tick.Stop()
	var buf bytes.Buffer
	for n := 0; *count == 0 || n < *count; n++ {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		buf.Reset()
		cur, err := sc.scrape(ctx)
		switch {
		case err != nil && ctx.Err() != nil:
			return nil
		case err != nil && *count > 0:
			return err
		case err != nil:
			run.writeError(&buf, time.Now(), err)
		default:
			run.write(&buf, cur)
		}
		if tty {
			redraw(stdout, buf.Bytes())
			continue
		}
		if n > 0 {
			io.WriteString(stdout, "\n")
		}
		stdout.Write(buf.Bytes())
	}
	return nil
}

// parseWithArg parses flags and one positional argument, in any order.
func parseWithArg(fs *flag.FlagSet, args []string) (string, error) {
	usage := fs.Usage
	fs.Usage = func() {}
	defer func() { fs.Usage = usage }()
	var pos []string
	for {
		err := fs.Parse(args)
		if errors.Is(err, flag.ErrHelp) {
			usage()
			return "", errHelp
		}
		if err != nil {
			return "", usageError{err.Error()}
		}
		if fs.NArg() == 0 {
			break
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
	switch len(pos) {
	case 0:
		return "", usagef("no URL: give the daemon's admin address, e.g. tickcast stat 127.0.0.1:9310")
	case 1:
		return pos[0], nil
	}
	return "", usagef("unexpected argument %q: want one URL", pos[1])
}

// redraw writes a frame over the previous one: cursor home, each line
// cleared to its end, the rest of the screen cleared.
func redraw(w io.Writer, frame []byte) {
	var b bytes.Buffer
	b.WriteString("\x1b[H")
	b.Write(bytes.ReplaceAll(frame, []byte("\n"), []byte("\x1b[K\n")))
	b.WriteString("\x1b[J")
	w.Write(b.Bytes())
}

// isTerminal reports whether w is a terminal that understands ANSI escapes.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok || os.Getenv("TERM") == "dumb" {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
