package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/tickcast/tickcast/egress"
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

// publishPlan is a validated publish command: everything but the sockets.
type publishPlan struct {
	fs  *flag.FlagSet
	d   *daemonFlags
	log *slog.Logger
	cfg publisher.Config
	src source.Source // what the publisher runs (teed to the capture at run)

	synth   *synth.Source   // when --source synth: instruments change live
	binance *binance.Source // when --source binance: symbols change live

	captureFile          string
	duration, statsEvery time.Duration
}

// preparePublish parses and checks the command line and config file and
// builds the publisher's configuration and source without opening a socket.
func preparePublish(args []string, stdout, stderr io.Writer) (*publishPlan, error) {
	fs := newFlags("publish", "publish [flags]", publishNotes, stdout)
	src := fs.String("source", "synth", "tick source: synth, binance or replay")
	instruments := fs.Int("instruments", 100, "synth: number of instruments (changes live on reload)")
	levels := fs.Int("levels", 200, "synth: levels per side")
	rate := fs.Float64("rate", 100_000, "synth: messages per second")
	seed := fs.Int64("seed", 1, "synth: random seed (same seed, same feed)")
	symbols := fs.String("symbols", "BTCUSDT,ETHUSDT", "binance: comma-separated spot symbols (change live on reload)")
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
	allowDown := fs.String("allow-downstream", "", "link: certificate names allowed, comma-separated (\"\" = every certificate from --ca); changes live on reload, closing a removed name's links")
	cert := fs.String("cert", "", "link: server certificate (PEM)")
	key := fs.String("key", "", "link: server key (PEM)")
	ca := fs.String("ca", "", "link: the operator's CA certificate (PEM); clients must present a certificate from it")
	duration := fs.Duration("duration", 0, "stop after this long (0 = until interrupted)")
	statsEvery := fs.Duration("stats-every", 5*time.Second, "log the counters this often (0 = never)")
	d := addDaemonFlags(fs, "publish")
	log, err := d.parse(fs, args, stderr)
	if err != nil {
		return nil, err
	}
	for name, d := range map[string]time.Duration{"linger": *linger, "duration": *duration, "stats-every": *statsEvery} {
		if err := nonNegative(name, d); err != nil {
			return nil, err
		}
	}
	p := &publishPlan{fs: fs, d: d, log: log, captureFile: *captureFile, duration: *duration, statsEvery: *statsEvery}
	p.cfg = publisher.Config{
		Channel:           *channel,
		Lines:             publishLines(a, b, *iface, *ttl, *loopback),
		MaxPacket:         *maxPacket,
		Linger:            *linger,
		Heartbeat:         *heartbeat,
		ChecksumEvery:     *checksumEvery,
		RetransmitAddr:    *rtxAddr,
		RetransmitAllowed: allowed.p,
		LinkAddr:          *linkAddr,
		AllowDownstream:   splitList(*allowDown),
		Logger:            log,
	}
	if *allowDown != "" && *linkAddr == "" {
		return nil, usagef("--allow-downstream needs --link")
	}
	if recA.group.ap.IsValid() {
		if *recRate <= 0 {
			return nil, usagef("--recovery-rate %v: want a positive bandwidth in bytes/s", *recRate)
		}
		p.cfg.Recovery = publisher.RecoveryLoop{Lines: recoveryLines(recA, recB, *iface, *ttl, *loopback), Rate: *recRate}
	}
	if *linkAddr != "" {
		if *cert == "" || *key == "" || *ca == "" {
			return nil, usagef("--link needs --cert, --key and --ca (make them with 'tickcast certs')")
		}
		if p.cfg.LinkTLS, err = pki.ServerTLS(*cert, *key, *ca); err != nil {
			return nil, err
		}
	}
	switch *src {
	case "synth":
		p.synth, err = synth.New(synth.Config{Instruments: *instruments, Levels: *levels, Rate: *rate, Seed: *seed, Logger: log})
		p.src = p.synth
	case "binance":
		p.binance, err = binance.New(binance.Config{Symbols: binanceSymbols(*symbols), WSURL: *binanceWS, RESTURL: *binanceREST, Logger: log})
		p.src = p.binance
	case "replay":
		if *replay == "" {
			return nil, usagef("--source replay needs --replay FILE")
		}
		p.src, err = capture.NewReplay(capture.ReplayConfig{Path: *replay, Speed: *speed, Logger: log})
	default:
		return nil, usagef("--source %q: want synth, binance or replay", *src)
	}
	if err != nil {
		return nil, usageError{err.Error()}
	}
	return p, nil
}

func (p *publishPlan) flags() *flag.FlagSet { return p.fs }
func (p *publishPlan) daemon() *daemonFlags { return p.d }

// setInstruments applies a reloaded instruments count to the running synth
// source: added instruments are introduced in the same session, removed ones
// cleared and halted.
func (p *publishPlan) setInstruments(next *publishPlan) error {
	if p.synth == nil {
		return errors.New("applies to --source synth only")
	}
	return p.synth.SetInstruments(intFlag(next.fs, "instruments"))
}

// setSymbols applies a reloaded symbol list to the running Binance source.
func (p *publishPlan) setSymbols(next *publishPlan) error {
	if p.binance == nil {
		return errors.New("applies to --source binance only")
	}
	return p.binance.SetSymbols(binanceSymbols(next.fs.Lookup("symbols").Value.String()))
}

// intFlag is the value of an int flag of fs.
func intFlag(fs *flag.FlagSet, name string) int {
	return fs.Lookup(name).Value.(flag.Getter).Get().(int)
}

// binanceSymbols is the --symbols list.
func binanceSymbols(list string) []binance.Symbol {
	var syms []binance.Symbol
	for _, name := range splitList(list) {
		syms = append(syms, binance.Symbol{Name: name})
	}
	return syms
}

func runPublish(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	p, err := preparePublish(args, stdout, stderr)
	if err != nil {
		return err
	}
	return p.run(ctx, args, stdout, stderr)
}

// run opens the publisher and runs it until ctx ends or --duration passes.
func (p *publishPlan) run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	log := p.log
	pub, err := publisher.New(p.cfg)
	if err != nil {
		return usageError{err.Error()}
	}
	s := p.src
	if p.captureFile != "" {
		w, err := capture.Create(p.captureFile)
		if err != nil {
			pub.Close()
			return err
		}
		defer w.Close()
		s = teeSource{s, w}
	}
	if p.duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, p.duration)
		defer cancel()
	}
	if p.statsEvery > 0 {
		go logStats(ctx, log, p.statsEvery, pub)
	}
	live := newLiveConfig(p, args, preparePublish)
	live.on("instruments", p.setInstruments)
	live.on("symbols", p.setSymbols)
	live.on("allow-downstream", func(next *publishPlan) error {
		pub.SetAllowDownstream(next.cfg.AllowDownstream)
		return nil
	})
	actx, stopAdmin := context.WithCancel(ctx)
	waitAdmin, err := p.d.adm.start(actx, metrics.Publisher(pub), pub.Ready, live.reload, log)
	if err != nil {
		stopAdmin()
		pub.Close()
		return err
	}
	stopHUP := live.watchHUP(actx)
	err = pub.Run(ctx, s)
	stopAdmin()
	stopHUP()
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
