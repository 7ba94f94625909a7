package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"runtime/pprof"
	"sync"
	"time"
)

// ChildEnv is the environment variable that marks a process as a benchmark
// child; its value is the child's role. The parent starts its own executable
// (os.Executable) with it set: the tickcast binary runs 'tickcast bench child',
// and a test binary's TestMain calls [RunChild] when [IsChild] says so:
//
//	func TestMain(m *testing.M) {
//		if bench.IsChild() {
//			os.Exit(bench.ChildMain())
//		}
//		os.Exit(m.Run())
//	}
const ChildEnv = "TICKCAST_BENCH_CHILD"

// IsChild reports whether this process was started as a benchmark child.
func IsChild() bool { return os.Getenv(ChildEnv) != "" }

// ChildMain runs this process's child role with the standard streams and
// returns the exit status: 0, or 1 after printing the error to stderr. It
// stops on SIGINT and SIGTERM like any run.
func ChildMain() int {
	ctx, stop := signalContext()
	defer stop()
	if err := RunChild(ctx, os.Stdin, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintf(os.Stderr, "tickcast bench child: %v\n", err)
		return 1
	}
	return 0
}

// childConfig is what the parent tells a child, as one JSON line on its
// standard input.
type childConfig struct {
	Role      string           `json:"role"`
	Feed      feedConfig       `json:"feed"`
	Groups    []netip.AddrPort `json:"groups,omitempty"` // line A, then B if used
	Interface string           `json:"interface,omitempty"`
	MaxPacket int              `json:"max_packet,omitempty"`
	// Retransmit is the publisher's retransmit server (tickcast roles).
	Retransmit netip.AddrPort `json:"retransmit,omitzero"`
	NATSURL    string         `json:"nats_url,omitempty"`
	// The relay path (relay.go): Link is the hub's link server (the hub
	// listens on it, the edge dials it); Out the edge's re-multicast
	// groups; RelayRetransmit the edge's retransmit server; CertDir holds
	// the certificates.
	Link            string           `json:"link,omitempty"`
	Out             []netip.AddrPort `json:"out,omitempty"`
	RelayRetransmit netip.AddrPort   `json:"relay_retransmit,omitzero"`
	CertDir         string           `json:"cert_dir,omitempty"`
	// Upstreams are an edge's links (an A and a B path) when it has more
	// than Link; Channel and LineTimeout override the benchmark's (the
	// drills' relays).
	Upstreams   []string      `json:"upstreams,omitempty"`
	Channel     uint16        `json:"channel,omitempty"`
	LineTimeout time.Duration `json:"line_timeout,omitempty"`
	// ServeUntilDone keeps a relay child serving after the end of session
	// until the parent closes its standard input (the drills' downstreams
	// may still need its NACK answers); its result comes then.
	ServeUntilDone bool   `json:"serve_until_done,omitempty"`
	Subject        string `json:"subject,omitempty"`
	// DeadlineNs is when the child gives up, whatever happens (ns since the
	// Unix epoch): every child loop is bounded.
	DeadlineNs int64 `json:"deadline_ns"`
	BusyPoll   bool  `json:"busy_poll,omitempty"`
	// CPUs pins the child to these CPUs; empty = no pinning.
	CPUs     []int  `json:"cpus,omitempty"`
	LogLevel string `json:"log_level,omitempty"`
	// CPUProfile, if set, is the file the child writes its CPU profile to.
	CPUProfile string `json:"cpu_profile,omitempty"`
}

// childMsg is one JSON line a child writes on its standard output.
type childMsg struct {
	Ready  *readyMsg       `json:"ready,omitempty"`
	Result json.RawMessage `json:"result,omitempty"`
	Error  string          `json:"error,omitempty"`
}

// readyMsg says the child is set up (sockets joined, connections made).
type readyMsg struct {
	PID int `json:"pid"`
}

// startMsg is the parent's second line to a child: when the run starts.
type startMsg struct {
	StartNs int64 `json:"start_ns"`
}

// childEnv is what a role gets besides its configuration.
type childEnv struct {
	log    *slog.Logger
	ready  func()     // tells the parent the child is set up
	starts chan int64 // the run's start time, once the parent sends it
}

// awaitStart returns the run's start time (ns since the Unix epoch), which
// the parent sends once every child of the run is ready.
func (e *childEnv) awaitStart(ctx context.Context) (int64, error) {
	select {
	case t := <-e.starts:
		return t, nil
	case <-ctx.Done():
		return 0, fmt.Errorf("waiting for the start: %w", ctx.Err())
	}
}

// role runs one kind of child: it calls env.ready once it is set up, waits
// for the start, runs, and returns its result (encoded as JSON for the
// parent).
type role func(ctx context.Context, c *childConfig, env *childEnv) (any, error)

// roles are the kinds of child, by name.
var roles = map[string]role{
	"pub":      runPubChild,
	"sub":      runSubChild,
	"udp-pub":  runUDPPubChild,
	"udp-sub":  runUDPSubChild,
	"nats-pub": runNATSPubChild,
	"nats-sub": runNATSSubChild,
	"hub":      runHubChild,
	"edge":     runEdgeChild,
}

// RunChild runs a benchmark child: it reads its configuration (one JSON
// line) from stdin, sets up its role and writes JSON lines to stdout:
// {"ready":…} once set up, then, after the parent's second line on stdin
// ({"start_ns":…}, when the run starts), {"result":…} or {"error":…}. Logs
// go to stderr. It
// returns when the run is over, when ctx ends, when its deadline passes, or
// as soon as stdin closes: the parent is gone, and a child never outlives it.
func RunChild(ctx context.Context, stdin io.Reader, stdout, stderr io.Writer) error {
	in := bufio.NewReader(stdin)
	line, err := in.ReadBytes('\n')
	if err != nil {
		return fmt.Errorf("read the configuration from stdin: %w", err)
	}
	var c childConfig
	if err := json.Unmarshal(line, &c); err != nil {
		return fmt.Errorf("decode the configuration: %w", err)
	}
	run, ok := roles[c.Role]
	if !ok {
		return fmt.Errorf("unknown role %q", c.Role)
	}
	ctx, cancel := context.WithDeadline(ctx, time.Unix(0, c.DeadlineNs))
	defer cancel()
	env := &childEnv{starts: make(chan int64, 1)}
	go func() {
		defer cancel() // stdin closed: the parent is done, or gone
		sc := bufio.NewScanner(in)
		for sc.Scan() {
			var m startMsg
			if json.Unmarshal(sc.Bytes(), &m) == nil && m.StartNs > 0 {
				select {
				case env.starts <- m.StartNs:
				default:
				}
			}
		}
	}()
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.LogLevel)); err != nil {
		level = slog.LevelWarn
	}
	env.log = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level})).With("child", c.Role)
	if len(c.CPUs) > 0 {
		if err := pinSelf(c.CPUs); err != nil {
			env.log.Warn("could not pin to CPUs", "cpus", c.CPUs, "err", err)
		}
	}
	if c.CPUProfile != "" {
		f, err := os.Create(c.CPUProfile)
		if err != nil {
			return fmt.Errorf("CPU profile: %w", err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return fmt.Errorf("CPU profile: %w", err)
		}
		defer pprof.StopCPUProfile()
	}
	var mu sync.Mutex
	enc := json.NewEncoder(stdout)
	send := func(m childMsg) error {
		mu.Lock()
		defer mu.Unlock()
		return enc.Encode(m)
	}
	env.ready = func() { send(childMsg{Ready: &readyMsg{PID: os.Getpid()}}) }
	res, err := run(ctx, &c, env)
	if err != nil {
		send(childMsg{Error: err.Error()})
		return err
	}
	b, err := json.Marshal(res)
	if err != nil {
		return fmt.Errorf("encode the result: %w", err)
	}
	if err := send(childMsg{Result: b}); err != nil {
		return fmt.Errorf("write the result: %w", err)
	}
	return nil
}

// errChildGone: a child exited without a result.
var errChildGone = errors.New("child exited without a result")
