package impair

import (
	"fmt"
	"log/slog"
	"time"
)

// Defaults of a [Config].
const (
	// DefaultIdleTimeout expires a client's upstream socket after this long
	// without a packet either way (QUIC's default idle timeout is 30s).
	DefaultIdleTimeout = time.Minute
	// DefaultMaxSessions is how many clients a proxy serves at once.
	DefaultMaxSessions = 1024
	// DefaultMaxInFlight is how many packets a direction holds (delayed or
	// waiting for the rate cap) at most.
	DefaultMaxInFlight = 8192
)

// Config configures a [Proxy].
type Config struct {
	// Listen is the UDP address clients send to, host:port; port 0 picks a
	// free port ([Proxy.Addr] says which). Required.
	Listen string
	// Upstream is the UDP address the proxy forwards to, host:port. Required.
	Upstream string
	// Spec impairs both directions; the zero value impairs nothing.
	Spec Spec
	// Up, if set, replaces Spec for client → upstream packets.
	Up *Spec
	// Down, if set, replaces Spec for upstream → client packets.
	Down *Spec
	// Seed seeds the random choices: the same seed, specs and packet order
	// give the same impairments. 0 is a seed like any other.
	Seed int64
	// IdleTimeout closes a client's upstream socket after this long without
	// a packet either way; 0 = DefaultIdleTimeout.
	IdleTimeout time.Duration
	// MaxSessions is how many clients (source addresses) are served at
	// once; packets from more are dropped and counted. 0 =
	// DefaultMaxSessions.
	MaxSessions int
	// MaxInFlight caps the packets each direction holds; more are dropped
	// and counted (DirStats.Overflow). 0 = DefaultMaxInFlight.
	MaxInFlight int
	// Logger logs sessions and anomalies, never single packets; nil =
	// slog.Default().
	Logger *slog.Logger
}

// Validate reports the first bad field, naming it and its value.
func (c Config) Validate() error {
	if c.Listen == "" {
		return fmt.Errorf("impair: Listen is required")
	}
	if c.Upstream == "" {
		return fmt.Errorf("impair: Upstream is required")
	}
	for _, s := range []struct {
		name string
		s    *Spec
	}{{"Spec", &c.Spec}, {"Up", c.Up}, {"Down", c.Down}} {
		if s.s == nil {
			continue
		}
		if err := s.s.Validate(); err != nil {
			return fmt.Errorf("impair: %s: %w", s.name, err)
		}
	}
	if c.IdleTimeout < 0 {
		return fmt.Errorf("impair: IdleTimeout %v: must not be negative", c.IdleTimeout)
	}
	if c.MaxSessions < 0 {
		return fmt.Errorf("impair: MaxSessions %d: must not be negative", c.MaxSessions)
	}
	if c.MaxInFlight < 0 {
		return fmt.Errorf("impair: MaxInFlight %d: must not be negative", c.MaxInFlight)
	}
	return nil
}

// spec returns the spec of direction d.
func (c Config) spec(d Dir) Spec {
	switch {
	case d == Up && c.Up != nil:
		return *c.Up
	case d == Down && c.Down != nil:
		return *c.Down
	}
	return c.Spec
}

// Dir names a direction of the proxy, or both.
type Dir uint8

// The directions.
const (
	Up   Dir = 1 << iota // client → upstream
	Down                 // upstream → client
	Both = Up | Down
)

// String returns "up", "down" or "both".
func (d Dir) String() string {
	switch d {
	case Up:
		return "up"
	case Down:
		return "down"
	case Both:
		return "both"
	}
	return fmt.Sprintf("Dir(%d)", uint8(d))
}
