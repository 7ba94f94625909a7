package main

import (
	"context"
	"flag"
	"fmt"
	"github.com/tickcast/tickcast/egress"
	"io"
	"log/slog"

	"strings"
	"time"

	"github.com/tickcast/tickcast/internal/pki"
	"github.com/tickcast/tickcast/metrics"
	"github.com/tickcast/tickcast/publisher"
	"github.com/tickcast/tickcast/publisher/binance"
	"github.com/tickcast/tickcast/publisher/capture"
	"github.com/tickcast/tickcast/publisher/source"
	"github.com/tickcast/tickcast/publisher/synth"
	"github.com/tickcast/tickcast/recovery"
)

const publishNotes = `
Sources:
  synth    a deterministic random-walk market (--instruments, --levels, --rate, --seed)
  binance  Binance spot WebSocket + REST depth snapshots (--symbols)
  replay   a capture file written with --capture (--replay, --speed)

Lines: A is required, B is optional; each is an explicit group:port, interface
and TTL. TTL 0 keeps the feed on this host; use 1 (or more) to reach other hosts.
The QUIC link (--link) needs certificates: 'tickcast certs --dir certs' makes a
development CA; then --cert certs/server.pem --key certs/server-key.pem --ca certs/ca.pem.

Example (loopback):
  tickcast publish --a 239.255.0.1:31001 --b 239.255.0.2:31002 --iface lo --rate 200000
`

// lineFlags are the flags of one multicast line.
type lineFlags struct {
	group  addrPortFlag
	iface  string
	source addrFlag
	faults faultFlag
}

// The meaning of a line's --X-source flag, by direction.
const (
	sendSource = "the local IPv4 address to send from, for receivers that accept only it (default the interface's)"
	recvSource = "accept only this sender (the publisher's or relay's IPv4 address): join source-specifically (IGMPv3 SSM) and drop any other sender's datagrams (default any sender)"
)

// addLineFlags adds --NAME, --NAME-iface, --NAME-source and --NAME-faults;
// source says what --NAME-source means (sendSource or recvSource).
func addLineFlags(fs *flag.FlagSet, name, group, what, source string) *lineFlags {
	l := &lineFlags{}
	l.group.Set(group)
	fs.Var(&l.group, name, fmt.Sprintf("line %s multicast group:port%s", strings.ToUpper(name), what))
	fs.StringVar(&l.iface, name+"-iface", "", fmt.Sprintf("line %s interface name or IPv4 address (default --iface)", strings.ToUpper(name)))
	fs.Var(&l.source, name+"-source", fmt.Sprintf("line %s: %s", strings.ToUpper(name), source))
	fs.Var(&l.faults, name+"-faults", fmt.Sprintf("inject faults on line %s, e.g. drop=0.01,dup=0.001,reorder=0.01:3,delay=1ms (drills)", strings.ToUpper(name)))
	return l
}

func (l *lineFlags) ifaceOr(def string) string {
	if l.iface != "" {
		return l.iface
	}
	return def
}

func runPublish(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("publish", "publish [flags]", publishNotes, stdout)
	src := fs.String("source", "synth", "tick source: synth, binance or replay")
	instruments := fs.Int("instruments", 100, "synth: number of instruments")
	levels := fs.Int("levels", 200, "synth: levels per side")
	rate := fs.Float64("rate", 100_000, "synth: messages per second")
	seed := fs.Int64("seed", 1, "synth: random seed (same seed, same feed)")
	symbols := fs.String("symbols", "BTCUSDT,ETHUSDT", "binance: comma-separated spot symbols")
	binanceWS := fs.String("binance-ws", binance.DefaultWSURL, "binance: WebSocket base URL")
	binanceREST := fs.String("binance-rest", binance.DefaultRESTURL, "binance: REST base URL")
	replay := fs.String("replay", "", "replay: capture file to replay")
	speed := fs.Float64("speed", 1, "replay: speed factor (1 = real time, 0 = as fast as possible)")
	captureFile := fs.String("capture", "", "record what the source delivers to this file (replay it with --source replay)")
	channel := channelFlag(fs, "channel number (its own sequence space)")
	a := addLineFlags(fs, "a", "239.255.0.1:31001", " (required)", sendSource)
	b := addLineFlags(fs, "b", "239.255.0.2:31002", " (\"\" disables line B)", sendSource)
	iface := fs.String("iface", "lo", "interface of both lines unless --a-iface/--b-iface say otherwise")
	ttl := fs.Int("ttl", 0, "multicast TTL of both lines: 0 stays on this host, 1 reaches the subnet")
	loopback := fs.Bool("loopback", true, "also deliver to subscribers on this host")
	maxPacket := fs.Int("max-packet", 1200, "largest packet in bytes (1200 crosses a QUIC link unsplit; up to 8192 on jumbo-frame LANs)")
	linger := fs.Duration("linger", 0, "wait this long for more input before sending a packet that is not full (0 = never wait)")
	heartbeat := fs.Duration("heartbeat", 100*time.Millisecond, "heartbeat interval when idle")
	checksumEvery := fs.Duration("checksum-every", time.Second, "BookChecksum interval (negative = only after a resync)")
	recA := addLineFlags(fs, "recovery-a", "239.255.0.3:31003", " of the recovery loop: every book, cycling, for late joiners without a link (\"\" = no loop)", sendSource)
	recB := addLineFlags(fs, "recovery-b", "239.255.0.4:31004", " of the recovery loop (\"\" = loop on A only)", sendSource)
	recRate := fs.Float64("recovery-rate", recovery.DefaultRate, "recovery loop: bandwidth cap per line, bytes/s")
	rtxAddr := fs.String("retransmit", "127.0.0.1:31010", "UDP retransmit server address (\"\" = none)")
	var allowed prefixesFlag
	allowed.Set("127.0.0.0/8")
	fs.Var(&allowed, "retransmit-allow", "networks the retransmit server answers, comma-separated")
	linkAddr := fs.String("link", "", "QUIC link server address for snapshots, NACKs and remote subscribers (\"\" = none)")
	cert := fs.String("cert", "", "link: server certificate (PEM)")
	key := fs.String("key", "", "link: server key (PEM)")
	ca := fs.String("ca", "", "link: the operator's CA certificate (PEM); clients must present a certificate from it")
	duration := fs.Duration("duration", 0, "stop after this long (0 = until interrupted)")
	statsEvery := fs.Duration("stats-every", 5*time.Second, "log the counters this often (0 = never)")
	adm := addAdminFlags(fs)
	logger := logFlags(fs, stderr)
	log, err := parseLogged(fs, args, logger)
	if err != nil {
		return err
	}
	for name, d := range map[string]time.Duration{"linger": *linger, "duration": *duration, "stats-every": *statsEvery} {
		if err := nonNegative(name, d); err != nil {
			return err
		}
	}
	cfg := publisher.Config{
		Channel:           *channel,
		Lines:             publishLines(a, b, *iface, *ttl, *loopback),
		MaxPacket:         *maxPacket,
		Linger:            *linger,
		Heartbeat:         *heartbeat,
		ChecksumEvery:     *checksumEvery,
		RetransmitAddr:    *rtxAddr,
		RetransmitAllowed: allowed.p,
		LinkAddr:          *linkAddr,
		Logger:            log,
	}
	if recA.group.ap.IsValid() {
		if *recRate <= 0 {
			return usagef("--recovery-rate %v: want a positive bandwidth in bytes/s", *recRate)
		}
		cfg.Recovery = publisher.RecoveryLoop{Lines: recoveryLines(recA, recB, *iface, *ttl, *loopback), Rate: *recRate}
	}
	if *linkAddr != "" {
		if *cert == "" || *key == "" || *ca == "" {
			return usagef("--link needs --cert, --key and --ca (make them with 'tickcast certs')")
		}
		if cfg.LinkTLS, err = pki.ServerTLS(*cert, *key, *ca); err != nil {
			return err
		}
	}
	var s source.Source
	switch *src {
	case "synth":
		s, err = synth.New(synth.Config{Instruments: *instruments, Levels: *levels, Rate: *rate, Seed: *seed, Logger: log})
	case "binance":
		var syms []binance.Symbol
		for _, name := range strings.Split(*symbols, ",") {
			if name = strings.TrimSpace(name); name != "" {
				syms = append(syms, binance.Symbol{Name: name})
			}
		}
		s, err = binance.New(binance.Config{Symbols: syms, WSURL: *binanceWS, RESTURL: *binanceREST, Logger: log})
	case "replay":
		if *replay == "" {
			return usagef("--source replay needs --replay FILE")
		}
		s, err = capture.NewReplay(capture.ReplayConfig{Path: *replay, Speed: *speed, Logger: log})
	default:
		return usagef("--source %q: want synth, binance or replay", *src)
	}
	if err != nil {
		return usageError{err.Error()}
	}
	pub, err := publisher.New(cfg)
	if err != nil {
		return usageError{err.Error()}
	}
	if *captureFile != "" {
		w, err := capture.Create(*captureFile)
		if err != nil {
			return err
		}
		defer w.Close()
		s = teeSource{s, w}
	}
	if *duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, *duration)
		defer cancel()
	}
	if *statsEvery > 0 {
		go logStats(ctx, log, *statsEvery, pub)
	}
	actx, stopAdmin := context.WithCancel(ctx)
	waitAdmin, err := adm.start(actx, metrics.Publisher(pub), nil, log)
	if err != nil {
		stopAdmin()
		pub.Close()
		return err
	}
	err = pub.Run(ctx, s)
	stopAdmin()
	waitAdmin()
	st := pub.Stats()
	fmt.Fprintf(stdout, "published %d messages in %d packets; session %d, last sequence %d\n", st.Messages, st.Packets, st.Session, st.NextSeq-1)
	fmt.Fprintln(stdout, publisherBooks(pub))
	return err
}

// teeSource records what a source delivers.
type teeSource struct {
	src source.Source
	w   *capture.Writer
}

func (t teeSource) Run(ctx context.Context, sink source.Sink) error {
	return t.src.Run(ctx, capture.Tee(sink, t.w))
}

func logStats(ctx context.Context, log *slog.Logger, every time.Duration, pub *publisher.Publisher) {
	t := time.NewTicker(every)
	defer t.Stop()
	var last publisher.Stats
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		st := pub.Stats()
		log.Info("stats", "recovery_books", st.Recovery.Books, "recovery_cycle", st.Recovery.LastCycle, "msgs_per_s", float64(st.Messages-last.Messages)/every.Seconds(),
			"messages", st.Messages, "packets", st.Packets, "next_seq", st.NextSeq,
			"heartbeats", st.Heartbeats, "checksums", st.Checksums,
			"nack_requests", st.Retransmit.Requests, "nack_unvalidated", st.Retransmit.Unvalidated,
			"nack_answered_msgs", st.Retransmit.Answered, "link_clients", st.Link.Clients)
		last = st
	}
}

// recoveryLines are the recovery loop's groups, A and (if set) B.
func recoveryLines(a, b *lineFlags, iface string, ttl int, loopback bool) []egress.Line {
	var lines []egress.Line
	for i, l := range []*lineFlags{a, b} {
		if l.group.ap.IsValid() {
			lines = append(lines, egress.Line{Name: []string{"RA", "RB"}[i], Group: l.group.ap, Interface: l.ifaceOr(iface),
				TTL: ttl, Loopback: loopback, Source: l.source.a})
		}
	}
	return lines
}

// publishLines is line A and, if its group is set, line B.
func publishLines(a, b *lineFlags, iface string, ttl int, loopback bool) []egress.Line {
	var lines []egress.Line
	for _, l := range []struct {
		name string
		f    *lineFlags
	}{{"A", a}, {"B", b}} {
		if l.name == "A" || l.f.group.ap.IsValid() {
			lines = append(lines, egress.Line{Name: l.name, Group: l.f.group.ap, Interface: l.f.ifaceOr(iface),
				TTL: ttl, Loopback: loopback, Source: l.f.source.a, Faults: l.f.faults.spec()})
		}
	}
	return lines
}
