package relay

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"net/netip"
	"time"

	"github.com/tickcast/tickcast/egress"
	"github.com/tickcast/tickcast/gap"
	"github.com/tickcast/tickcast/intake"
	"github.com/tickcast/tickcast/wire"
)

// Channel is one channel a relay carries: where it comes from and where it
// goes. The zero value of a field means the default given beside it.
type Channel struct {
	// ID is the channel number.
	ID uint16
	// Lines are upstream multicast lines: a hub on the publisher's LAN
	// joins its A and B groups.
	Lines []intake.Line
	// Upstreams are QUIC links to upstream relays or the publisher. A link
	// with Live set is one more line (an edge: an A path and a B path to
	// one or two hubs); one without serves only NACKs and snapshots (a
	// hub's link to the publisher). Snapshots come from the first
	// connected link. At least one line or live upstream is required.
	Upstreams []intake.Link
	// UpstreamRetransmit is the UDP retransmit server to NACK on the
	// upstream LAN (a hub: the publisher's); the zero value NACKs over the
	// upstream links.
	UpstreamRetransmit netip.AddrPort
	// Out are the local re-multicast lines (explicit groups, interface,
	// TTL); none = the channel is served only over the link server.
	Out []egress.Line
	// Recovery are the groups of the relay's own recovery loop (package
	// recovery): every book of the channel, from the relay's feed state,
	// cycling, for late joiners on the relay's LAN without a link; none =
	// no loop. RecoveryRate caps each line in bytes per second (0 =
	// recovery.DefaultRate).
	Recovery     []egress.Line
	RecoveryRate float64
	// MaxPacket is the largest packet sent on; 0 = 1200.
	// Bigger upstream packets are split at message boundaries, never
	// merged.
	MaxPacket int
	// Cache bounds the relay's retransmit cache for the channel.
	Cache gap.CacheConfig
	// Heartbeat is sent downstream when nothing was forwarded for this
	// long while an upstream line is up; 0 = 100ms (the publisher's).
	Heartbeat time.Duration
	// Window and LineTimeout tune the upstream arbiter as in the
	// subscriber; 0 = 200µs and 300ms.
	Window, LineTimeout time.Duration
	// Tap, if set, sees every packet the relay forwards, in order, with the
	// time it was sent on (UnixNano): an audit trail, a capture, or the
	// fan-out drill's arrival times. It runs on the channel's dispatch
	// goroutine: keep it quick; p is valid only during the call.
	Tap func(p wire.Packet, sentAt int64)
}

// Config configures a [Relay]. The zero value of a field means the default
// given beside it.
type Config struct {
	// Channels relayed: at least one, each ID once.
	Channels []Channel
	// RetransmitAddr is the UDP address of the retransmit server that
	// answers NACKs on the relay's LAN for every channel ("" = none), under
	// the Retransmit policy (allowed networks, caps, per-requester rate).
	RetransmitAddr string
	Retransmit     gap.PolicyConfig
	// LinkAddr is the UDP address of the QUIC link server for downstream
	// relays and remote subscribers ("" = none); LinkTLS holds the relay's
	// certificate and the operator's CA (pki.ServerTLS), required with it.
	LinkAddr string
	LinkTLS  *tls.Config
	// AllowDownstream lists the certificate common names allowed on the
	// link server (issue 14); empty = every certificate from the operator's
	// CA. A downstream from the CA whose name is not listed is refused
	// right after its handshake, with a reason it logs ("not allowed"),
	// and counted in Stats.NotAllowed. [Relay.SetAllowDownstream] changes
	// the list while the relay runs. Needs LinkAddr; no name may be empty.
	AllowDownstream []string
	// LinkQueue is each downstream's live queue in packets; 0 = 8192. A
	// downstream whose queue is full loses live packets (counted, by its
	// certificate name) and recovers by NACK or snapshot.
	LinkQueue int
	// SlowCutoff disconnects a downstream that has not kept up this long
	// (its queue here stayed full, or it reported losing more than SlowLoss
	// of its datagrams), with a reason it can read; 0 = 2s, negative =
	// never. SlowLoss: 0 = 0.25 (link.ServerConfig).
	SlowCutoff time.Duration
	SlowLoss   float64
	// Logger; nil = slog.Default().
	Logger *slog.Logger
}

func (c *Config) normalize() error {
	if len(c.Channels) == 0 {
		return fmt.Errorf("relay: no channel configured")
	}
	if c.SlowLoss < 0 || c.SlowLoss >= 1 {
		return fmt.Errorf("relay: SlowLoss %g: want a share in [0, 1) (0 = the default, 0.25)", c.SlowLoss)
	}
	seen := map[uint16]bool{}
	for i := range c.Channels {
		ch := &c.Channels[i]
		if seen[ch.ID] {
			return fmt.Errorf("relay: channel %d configured twice", ch.ID)
		}
		seen[ch.ID] = true
		live := len(ch.Lines)
		for _, u := range ch.Upstreams {
			if u.Live {
				live++
			}
		}
		if live == 0 {
			return fmt.Errorf("relay: channel %d: no upstream: configure multicast Lines or a Live upstream link", ch.ID)
		}
		if len(ch.Out) == 0 && c.LinkAddr == "" {
			return fmt.Errorf("relay: channel %d: nowhere to send: configure Out lines or LinkAddr", ch.ID)
		}
		if ch.MaxPacket == 0 {
			ch.MaxPacket = wire.DefaultMaxPacket
		}
		if ch.Heartbeat == 0 {
			ch.Heartbeat = 100 * time.Millisecond
		}
		if ch.Heartbeat < time.Millisecond {
			return fmt.Errorf("relay: channel %d: Heartbeat %v below 1ms", ch.ID, ch.Heartbeat)
		}
	}
	if c.LinkAddr != "" && c.LinkTLS == nil {
		return fmt.Errorf("relay: LinkAddr %s needs LinkTLS (certificates from the operator's CA)", c.LinkAddr)
	}
	if len(c.AllowDownstream) > 0 && c.LinkAddr == "" {
		return fmt.Errorf("relay: AllowDownstream %q needs LinkAddr (it lists who may use the link server)", c.AllowDownstream)
	}
	for i, n := range c.AllowDownstream {
		if n == "" {
			return fmt.Errorf("relay: AllowDownstream[%d] is empty: want a certificate common name", i)
		}
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return nil
}
