package publisher

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"time"

	"github.com/tickcast/tickcast/egress"
	"github.com/tickcast/tickcast/gap"
	"github.com/tickcast/tickcast/wire"
)

// Config configures a [Publisher]. The zero value of a field means the
// default given beside it.
type Config struct {
	// Channel is the channel published: its own sequence space and groups.
	Channel uint16
	// Session identifies this run; 0 = the start time in ns, so every start
	// is a fresh session and sequences restart at 1.
	Session uint64
	// Lines are the multicast lines the feed is sent on, usually an A and
	// a B line (explicit groups, interface and TTL; DESIGN.md, "Security
	// and abuse"); at least one. Every packet goes on every line, the lines
	// written in alternating chunks of 16 packets.
	Lines []egress.Line
	// MaxPacket is the largest packet in bytes; 0 = 1200 (crosses a link unsplit),
	// at most 8192 (jumbo-frame LANs).
	MaxPacket int
	// Linger waits this long for more input before sending a packet that is
	// not full; 0 = send as soon as the input queue is empty.
	Linger time.Duration
	// Heartbeat is sent on both lines when nothing was sent for this long;
	// 0 = 100ms.
	Heartbeat time.Duration
	// ChecksumEvery sends a BookChecksum this often for every instrument
	// whose book changed since its last one, on the feed's clock (exchange
	// times), so a replay gets them at the same sequences; 0 = 1s,
	// negative = only after a resync.
	ChecksumEvery time.Duration
	// QueueBatches bounds the input queue from the sources, in batches;
	// 0 = 256. A full queue blocks the source (nothing is dropped).
	QueueBatches int
	// Cache bounds the retransmit cache.
	Cache gap.CacheConfig
	// RetransmitAddr is the UDP address of the retransmit server ("" = none),
	// answering RetransmitAllowed networks (nil = loopback only).
	RetransmitAddr    string
	RetransmitAllowed []netip.Prefix
	// LinkAddr is the UDP address of the QUIC link server ("" = none), with
	// LinkTLS from the operator's CA (required with LinkAddr).
	LinkAddr string
	LinkTLS  *tls.Config
	// AllowDownstream lists the certificate common names allowed on the
	// link server; empty = every certificate from the operator's CA. Others
	// are refused after their handshake with a reason naming them
	// (link.CodeNotAllowed). [Publisher.SetAllowDownstream] changes it live.
	AllowDownstream []string
	// Recovery sends the recovery loop (package recovery): every
	// instrument's definition, status and book on its own groups, for late
	// joiners without a link. No Recovery.Lines = no loop.
	Recovery RecoveryLoop
	// Logger; nil = slog.Default().
	Logger *slog.Logger
}

// RecoveryLoop configures the publisher's recovery loop.
type RecoveryLoop struct {
	// Lines are the loop's groups (A and B); none = no loop.
	Lines []egress.Line
	// Rate caps each line in bytes per second; 0 = recovery.DefaultRate.
	Rate float64
}

func (c *Config) normalize() error {
	if c.Session == 0 {
		c.Session = uint64(time.Now().UnixNano())
	}
	if len(c.Lines) == 0 {
		return fmt.Errorf("publisher: no line: at least one multicast line is required")
	}
	for i := range c.Lines {
		if c.Lines[i].Name == "" {
			c.Lines[i].Name = string(rune('A' + i))
		}
	}
	if c.MaxPacket == 0 {
		c.MaxPacket = wire.DefaultMaxPacket
	}
	if c.MaxPacket < 128 || c.MaxPacket > wire.MaxJumboPacket {
		return fmt.Errorf("publisher: MaxPacket %d out of range 128..%d", c.MaxPacket, wire.MaxJumboPacket)
	}
	if c.Linger < 0 {
		return fmt.Errorf("publisher: Linger %v is negative", c.Linger)
	}
	if c.Heartbeat == 0 {
		c.Heartbeat = 100 * time.Millisecond
	}
	if c.Heartbeat < time.Millisecond {
		return fmt.Errorf("publisher: Heartbeat %v is below 1ms", c.Heartbeat)
	}
	if c.ChecksumEvery == 0 {
		c.ChecksumEvery = time.Second
	}
	if c.QueueBatches == 0 {
		c.QueueBatches = 256
	}
	if c.QueueBatches < 2 {
		return fmt.Errorf("publisher: QueueBatches %d below 2", c.QueueBatches)
	}
	if c.LinkAddr != "" && c.LinkTLS == nil {
		return fmt.Errorf("publisher: LinkAddr %s needs LinkTLS (certificates from the operator's CA)", c.LinkAddr)
	}
	if len(c.AllowDownstream) > 0 && c.LinkAddr == "" {
		return fmt.Errorf("publisher: AllowDownstream %q needs LinkAddr", c.AllowDownstream)
	}
	if i := slices.Index(c.AllowDownstream, ""); i >= 0 {
		return fmt.Errorf("publisher: AllowDownstream[%d] is empty: want a certificate common name", i)
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return nil
}
