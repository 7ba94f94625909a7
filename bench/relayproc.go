package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"time"
)

// RelayProcessConfig configures a relay run as a child process of this
// executable (see [StartRelayProcess]): the drills' hubs and edges.
type RelayProcessConfig struct {
	// Role is "hub" (multicast Lines in, a link server on Link) or "edge"
	// (Upstreams in, re-multicast on Out, a retransmit server on
	// Retransmit).
	Role string
	// Channel relayed.
	Channel uint16
	// Lines (hub): the publisher's groups on Interface; UpstreamRetransmit
	// its retransmit server.
	Lines              []netip.AddrPort
	Interface          string
	UpstreamRetransmit netip.AddrPort
	// Link (hub): the link server's address.
	Link string
	// Upstreams (edge): its upstream links, an A path and a B path.
	Upstreams []string
	// Out (edge): its re-multicast groups on Interface; Retransmit its
	// retransmit server (the zero value: none).
	Out        []netip.AddrPort
	Retransmit netip.AddrPort
	// CertDir holds ca.pem, hub.pem, hub-key.pem, edge.pem, edge-key.pem
	// ([TempCertDir] makes one).
	CertDir string
	// LineTimeout of the relay's arbiter; 0 = the library's.
	LineTimeout time.Duration
	// Deadline: the child gives up whatever happens.
	Deadline time.Time
	// Exec starts the child (argv without the role); nil = this executable
	// as 'tickcast bench child'. A test binary must run [ChildMain] in its
	// TestMain when [IsChild].
	Exec []string
	// Stderr gets the child's logs; nil = kept only to explain a failure.
	Stderr   io.Writer
	LogLevel string
}

// RelayProcess is a relay running in a child process.
type RelayProcess struct {
	p *childProc
}

// StartRelayProcess starts the relay and returns once it is set up (its
// upstream links connected).
func StartRelayProcess(ctx context.Context, cfg RelayProcessConfig) (*RelayProcess, error) {
	if cfg.Role != "hub" && cfg.Role != "edge" {
		return nil, fmt.Errorf("bench: relay role %q: want hub or edge", cfg.Role)
	}
	if IsChild() {
		return nil, errors.New("bench: a child does not start children")
	}
	exe := cfg.Exec
	if exe == nil {
		var err error
		if exe, err = defaultExec(); err != nil {
			return nil, err
		}
	}
	c := childConfig{
		Role: cfg.Role, Channel: cfg.Channel, Groups: cfg.Lines, Interface: cfg.Interface,
		Retransmit: cfg.UpstreamRetransmit, Link: cfg.Link, Upstreams: cfg.Upstreams, Out: cfg.Out,
		RelayRetransmit: cfg.Retransmit, CertDir: cfg.CertDir, LineTimeout: cfg.LineTimeout,
		DeadlineNs: cfg.Deadline.UnixNano(), LogLevel: cfg.LogLevel, ServeUntilDone: true,
	}
	p, err := startChild(exe, c, cfg.Stderr)
	if err != nil {
		return nil, err
	}
	setup, cancel := context.WithTimeout(ctx, childSetup)
	defer cancel()
	if err := p.waitReady(setup); err != nil {
		p.stop()
		return nil, fmt.Errorf("bench: %s: %w", cfg.Role, err)
	}
	return &RelayProcess{p: p}, nil
}

// PID is the child's process id.
func (r *RelayProcess) PID() int { return r.p.cmd.Process.Pid }

// Start tells the relay the run has started (now).
func (r *RelayProcess) Start() error { return r.p.sendStart(time.Now().UnixNano()) }

// Result tells the relay the run is over and returns its figures (taken
// when the end of session passed it; it served its downstreams until now);
// the child then exits.
func (r *RelayProcess) Result(ctx context.Context) (RelayResult, error) {
	r.p.stdin.Close()
	var res RelayResult
	err := r.p.waitResult(ctx, &res)
	return res, err
}

// Stop ends the child (by its PID) if it is still running and waits for
// it. Idempotent.
func (r *RelayProcess) Stop() { r.p.stop() }

// TempCertDir makes a directory with a private CA and the hub's and edge's
// certificates (for 127.0.0.1); the caller removes it.
func TempCertDir() (string, error) {
	dir, err := os.MkdirTemp("", "tickcast-relay-certs-")
	if err != nil {
		return "", err
	}
	if err := relayCerts(dir); err != nil {
		os.RemoveAll(dir)
		return "", err
	}
	return dir, nil
}
