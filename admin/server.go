package admin

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"net/netip"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Config configures a [Server].
type Config struct {
	// Addr is the TCP listen address, e.g. "127.0.0.1:9310". A host that
	// is not a loopback address is refused unless Public is set.
	Addr string
	// Public allows Addr on a non-loopback address.
	Public bool
	// Collectors are registered on the server's own registry, besides the
	// Go runtime's and the process's collectors.
	Collectors []prometheus.Collector
	// Ready reports whether the daemon is ready (/healthz answers 200) or
	// why not (503 with the reason); nil = always ready.
	Ready func() error
	// Reload re-reads the daemon's configuration for POST /reload and says
	// what it did (200), or why it refused (409); nil = 404.
	Reload func() (string, error)
	// Logger; nil = slog.Default().
	Logger *slog.Logger
}

// Server is an admin listener. Create it with [New] (which binds the
// address), run it with [Server.Serve].
type Server struct {
	ln  net.Listener
	srv *http.Server
	log *slog.Logger

	closeOnce sync.Once
	closeErr  error
}

// New validates cfg, registers the collectors and binds the address.
func New(cfg Config) (*Server, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	host, _, err := net.SplitHostPort(cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("admin: address %q: %w", cfg.Addr, err)
	}
	if !cfg.Public {
		a, err := netip.ParseAddr(host)
		if err != nil || !a.IsLoopback() {
			return nil, fmt.Errorf("admin: address %q: not a loopback address (the admin listener serves profiles and counters; allow it explicitly to listen elsewhere)", cfg.Addr)
		}
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	for _, c := range cfg.Collectors {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("admin: register collector: %w", err)
		}
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorLog: slog.NewLogLogger(cfg.Logger.Handler(), slog.LevelWarn)}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		if cfg.Ready != nil {
			if err := cfg.Ready(); err != nil {
				http.Error(w, "not ready: "+err.Error(), http.StatusServiceUnavailable)
				return
			}
		}
		fmt.Fprintln(w, "ok")
	})
	if cfg.Reload != nil {
		mux.HandleFunc("POST /reload", func(w http.ResponseWriter, _ *http.Request) {
			msg, err := cfg.Reload()
			if err != nil {
				cfg.Logger.Warn("admin: reload", "err", err)
				http.Error(w, err.Error(), http.StatusConflict)
				return
			}
			cfg.Logger.Info("admin: " + msg)
			fmt.Fprintln(w, msg)
		})
	}
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("admin: listen on %s: %w", cfg.Addr, err)
	}
	return &Server{
		ln:  ln,
		srv: &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second},
		log: cfg.Logger.With("component", "admin"),
	}, nil
}

// Addr returns the bound address.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// Serve answers until ctx ends, then shuts the listener down and returns
// nil. Call it once.
func (s *Server) Serve(ctx context.Context) error {
	s.log.Info("admin listening", "addr", s.Addr(), "paths", "/metrics /healthz /reload /debug/pprof/")
	stop := context.AfterFunc(ctx, func() {
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		s.srv.Shutdown(sctx)
	})
	defer stop()
	if err := s.srv.Serve(s.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("admin: serve: %w", err)
	}
	return nil
}

// Close closes the listener (Serve then returns). It is idempotent.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		s.closeErr = errors.Join(s.srv.Close(), ignoreClosed(s.ln.Close()))
	})
	return s.closeErr
}

func ignoreClosed(err error) error {
	if errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}
