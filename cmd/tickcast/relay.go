package main

import (
	"context"
	"crypto/tls"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/tickcast/tickcast/egress"
	"github.com/tickcast/tickcast/intake"
	"github.com/tickcast/tickcast/internal/link"
	"github.com/tickcast/tickcast/internal/pki"
	"github.com/tickcast/tickcast/metrics"
	"github.com/tickcast/tickcast/recovery"
	"github.com/tickcast/tickcast/relay"
)

const relayNotes = `
Carries one channel from an upstream to local multicast lines and to a QUIC
link server for downstream relays and remote subscribers, keeping a
retransmit cache and the books at this hop.

Upstream, one of (or both):
  --a/--b             the publisher's A/B multicast lines (a hub on its LAN),
                      with --upstream-retransmit its UDP retransmit server and
                      --upstream-link its link server (snapshots)
  --up-a/--up-b       QUIC links to one or two upstream relays, an A path and
                      a B path, arbitrated like two lines (an edge)
Downstream:
  --out-a/--out-b     local re-multicast (explicit groups, --out-iface, --ttl)
  --retransmit        UDP retransmit server answering NACKs on this LAN
  --link              QUIC link server: downstream relays, remote subscribers

Links need certificates from the operator's CA ('tickcast certs'); the same
--cert/--key serve as server and as client certificate.

Example (three terminals; certs from 'tickcast certs --names server,hub,edge,client'):
  tickcast publish --link 127.0.0.1:31020 --cert certs/server.pem --key certs/server-key.pem --ca certs/ca.pem
  tickcast relay --a 239.255.0.1:31001 --b 239.255.0.2:31002 --upstream-retransmit 127.0.0.1:31010 \
      --upstream-link 127.0.0.1:31020 --link 127.0.0.1:31120 \
      --cert certs/hub.pem --key certs/hub-key.pem --ca certs/ca.pem
  tickcast relay --up-a 127.0.0.1:31120 --out-a 239.255.1.1:31201 --out-b 239.255.1.2:31202 \
      --retransmit 127.0.0.1:31210 --link 127.0.0.1:31220 \
      --cert certs/edge.pem --key certs/edge-key.pem --ca certs/ca.pem
  tickcast subscribe --a 239.255.1.1:31201 --b 239.255.1.2:31202 --retransmit 127.0.0.1:31210 \
      --link 127.0.0.1:31220 --cert certs/client.pem --key certs/client-key.pem --ca certs/ca.pem
`

// relayPlan is a validated relay command: everything but the sockets.
type relayPlan struct {
	fs  *flag.FlagSet
	d   *daemonFlags
	log *slog.Logger
	cfg relay.Config

	duration, statsEvery time.Duration
}

func (p *relayPlan) flags() *flag.FlagSet { return p.fs }
func (p *relayPlan) daemon() *daemonFlags { return p.d }

// prepareRelay parses and checks the command line and config file, loads the
// certificates and builds the relay's configuration without opening a socket.
func prepareRelay(args []string, stdout, stderr io.Writer) (*relayPlan, error) {
	fs := newFlags("relay", "relay [flags]", relayNotes, stdout)
	channel := channelFlag(fs, "channel to relay")
	a := addLineFlags(fs, "a", "", " to join upstream (a hub; \"\" = none)", recvSource)
	b := addLineFlags(fs, "b", "", " to join upstream (a hub; \"\" = none)", recvSource)
	iface := fs.String("iface", "lo", "interface of the upstream lines unless --a-iface/--b-iface say otherwise")
	var upRtx addrPortFlag
	fs.Var(&upRtx, "upstream-retransmit", "UDP retransmit server to NACK upstream (a hub: the publisher's; \"\" = NACK over the upstream links)")
	upLink := fs.String("upstream-link", "", "QUIC link to the publisher or a relay for snapshots and NACKs only (a hub)")
	upA := fs.String("up-a", "", "QUIC link to an upstream relay taking its live feed: the A path (an edge)")
	upB := fs.String("up-b", "", "QUIC link to a second upstream relay (or the same): the B path")
	outA := addLineFlags(fs, "out-a", "", " to re-multicast on (\"\" = none)", sendSource)
	outB := addLineFlags(fs, "out-b", "", " to re-multicast on (\"\" = none)", sendSource)
	recA := addLineFlags(fs, "recovery-a", "", " of this relay's recovery loop on its LAN, from its books (\"\" = no loop)", sendSource)
	recB := addLineFlags(fs, "recovery-b", "", " of this relay's recovery loop (\"\" = loop on A only)", sendSource)
	recRate := fs.Float64("recovery-rate", recovery.DefaultRate, "recovery loop: bandwidth cap per line, bytes/s")
	outIface := fs.String("out-iface", "lo", "interface of the re-multicast lines unless --out-a-iface/--out-b-iface say otherwise")
	ttl := fs.Int("ttl", 0, "multicast TTL of the re-multicast lines: 0 stays on this host, 1 reaches the subnet")
	loopback := fs.Bool("loopback", true, "deliver the re-multicast to subscribers on this host too")
	rtxAddr := fs.String("retransmit", "", "UDP retransmit server answering NACKs on this LAN (\"\" = none)")
	var allowed prefixesFlag
	allowed.Set("127.0.0.0/8")
	fs.Var(&allowed, "retransmit-allow", "networks the retransmit server answers, comma-separated")
	linkAddr := fs.String("link", "", "QUIC link server for downstream relays and remote subscribers (\"\" = none)")
	cert := fs.String("cert", "", "links: this relay's certificate (PEM)")
	key := fs.String("key", "", "links: this relay's key (PEM)")
	ca := fs.String("ca", "", "links: the operator's CA certificate (PEM)")
	maxPacket := fs.Int("max-packet", 1200, "largest packet sent on; bigger upstream packets are split at message boundaries")
	heartbeat := fs.Duration("heartbeat", 100*time.Millisecond, "heartbeat interval downstream when idle (only while the upstream is alive)")
	allowDown := fs.String("allow-downstream", "", "certificate names allowed on --link, comma-separated (\"\" = every certificate from --ca); changes live on reload, closing a removed name's links")
	linkQueue := fs.Int("link-queue", 8192, "each downstream's live queue, in packets")
	slowCutoff := fs.Duration("slow-cutoff", 2*time.Second, "disconnect a downstream that has not kept up this long (its queue full, or losing more than --slow-loss), with the reason (negative = never)")
	slowLoss := fs.Float64("slow-loss", link.DefaultSlowLoss, "share of its datagrams a downstream may lose (reported by it) before it counts as slow; a WAN path's own loss must stay well under it")
	duration := fs.Duration("duration", 0, "stop after this long (0 = until interrupted)")
	statsEvery := fs.Duration("stats-every", 5*time.Second, "log the counters this often (0 = never)")
	d := addDaemonFlags(fs, "relay")
	log, err := d.parse(fs, args, stderr)
	if err != nil {
		return nil, err
	}
	for name, d := range map[string]time.Duration{"duration": *duration, "stats-every": *statsEvery} {
		if err := nonNegative(name, d); err != nil {
			return nil, err
		}
	}
	if *allowDown != "" && *linkAddr == "" {
		return nil, usagef("--allow-downstream needs --link")
	}
	needTLS := *linkAddr != "" || *upLink != "" || *upA != "" || *upB != ""
	var serverTLS, clientTLS *tls.Config
	if needTLS {
		if *cert == "" || *key == "" || *ca == "" {
			return nil, usagef("links (--link, --upstream-link, --up-a, --up-b) need --cert, --key and --ca (make them with 'tickcast certs')")
		}
		if serverTLS, err = pki.ServerTLS(*cert, *key, *ca); err != nil {
			return nil, err
		}
		if clientTLS, err = pki.ClientTLS(*cert, *key, *ca); err != nil {
			return nil, err
		}
	}
	ch := relay.Channel{ID: *channel, UpstreamRetransmit: upRtx.ap, MaxPacket: *maxPacket, Heartbeat: *heartbeat}
	for _, l := range []struct {
		name string
		f    *lineFlags
	}{{"A", a}, {"B", b}} {
		if l.f.group.ap.IsValid() {
			ch.Lines = append(ch.Lines, intake.Line{Name: l.name, Group: l.f.group.ap, Interface: l.f.ifaceOr(*iface), Source: l.f.source.a, Faults: l.f.faults.spec()})
		}
	}
	for _, u := range []struct {
		name, addr string
		live       bool
	}{{"A", *upA, true}, {"B", *upB, true}, {"upstream", *upLink, false}} {
		if u.addr != "" {
			ch.Upstreams = append(ch.Upstreams, intake.Link{Name: u.name, Addr: u.addr, TLS: clientTLS, Live: u.live})
		}
	}
	for _, l := range []struct {
		name string
		f    *lineFlags
	}{{"A", outA}, {"B", outB}} {
		if l.f.group.ap.IsValid() {
			ch.Out = append(ch.Out, egress.Line{Name: l.name, Group: l.f.group.ap, Interface: l.f.ifaceOr(*outIface), TTL: *ttl, Loopback: *loopback, Source: l.f.source.a, Faults: l.f.faults.spec()})
		}
	}
	if recA.group.ap.IsValid() {
		if *recRate <= 0 {
			return nil, usagef("--recovery-rate %v: want a positive bandwidth in bytes/s", *recRate)
		}
		ch.Recovery, ch.RecoveryRate = recoveryLines(recA, recB, *outIface, *ttl, *loopback), *recRate
	}
	cfg := relay.Config{
		Channels:        []relay.Channel{ch},
		RetransmitAddr:  *rtxAddr,
		LinkAddr:        *linkAddr,
		LinkTLS:         serverTLS,
		LinkQueue:       *linkQueue,
		AllowDownstream: splitList(*allowDown),
		SlowCutoff:      *slowCutoff,
		SlowLoss:        *slowLoss,
		Logger:          log,
	}
	cfg.Retransmit.Allowed = allowed.p
	return &relayPlan{fs: fs, d: d, log: log, cfg: cfg, duration: *duration, statsEvery: *statsEvery}, nil
}

func runRelay(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	p, err := prepareRelay(args, stdout, stderr)
	if err != nil {
		return err
	}
	return p.run(ctx, args, stdout)
}

// run opens the relay and runs it until ctx ends or --duration passes.
func (p *relayPlan) run(ctx context.Context, args []string, stdout io.Writer) error {
	r, err := relay.New(p.cfg)
	if err != nil {
		return usageError{err.Error()}
	}
	if p.duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, p.duration)
		defer cancel()
	}
	if p.statsEvery > 0 {
		go logRelayStats(ctx, r, p.statsEvery, p.log)
	}
	live := newLiveConfig(p, args, prepareRelay)
	live.on("allow-downstream", func(next *relayPlan) error {
		r.SetAllowDownstream(next.cfg.AllowDownstream)
		return nil
	})
	actx, stopAdmin := context.WithCancel(ctx)
	waitAdmin, err := p.d.adm.start(actx, metrics.Relay(r), relayReady(r), live.reload, p.log)
	if err != nil {
		stopAdmin()
		r.Close()
		return err
	}
	stopHUP := live.watchHUP(actx)
	err = r.Run(ctx)
	stopAdmin()
	stopHUP()
	waitAdmin()
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, relayStatsLine(r.Stats()))
	return nil
}

// relayReady is the relay's /healthz: ready once every channel has an
// upstream line up (relay.Relay.Ready).
func relayReady(r *relay.Relay) func() error { return r.Ready }

// logRelayStats logs one line of counters every interval until ctx ends.
func logRelayStats(ctx context.Context, r *relay.Relay, every time.Duration, log *slog.Logger) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			log.Info(relayStatsLine(r.Stats()))
		}
	}
}

// relayStatsLine is the relay's progress line.
func relayStatsLine(st relay.Stats) string {
	s := ""
	for _, c := range st.Channels {
		s += fmt.Sprintf("channel %d: %d msgs in %d packets, whole=%v, nacks served %d waited %d upstream %d refused %d, snapshots in %d served %d; ",
			c.ID, c.Messages, c.Packets, c.Whole, c.NacksServed, c.NacksWaited, c.NacksUpstream, c.NacksRefused, c.SnapshotsIn, c.SnapshotsServed)
		if g := c.Intake.Gap; g.Foreign > 0 || g.Phantom > 0 || g.FalseEnds > 0 {
			s += fmt.Sprintf("integrity: other sessions %d packets from %d senders, phantom %d, false ends %d; ",
				g.Foreign, len(c.Intake.ForeignSources), g.Phantom, g.FalseEnds)
		}
	}
	s += fmt.Sprintf("%d downstreams", len(st.Downstreams))
	for _, d := range st.Downstreams {
		if d.Dropped > 0 || d.Loss >= 0.01 {
			s += fmt.Sprintf(", %s dropped %d loss %.0f%%", d.Name, d.Dropped, d.Loss*100)
		}
	}
	return s
}
