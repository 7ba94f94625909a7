package main

import (
	"context"
	"flag"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tickcast/tickcast/admin"
)

// adminFlag is a daemon's --admin and --admin-public.
type adminFlag struct {
	addr   *string
	public *bool
}

func addAdminFlags(fs *flag.FlagSet) adminFlag {
	return adminFlag{
		addr:   fs.String("admin", "", "admin listener: /metrics (Prometheus), /healthz, POST /reload, /debug/pprof/, e.g. 127.0.0.1:9310 (\"\" = none)"),
		public: fs.Bool("admin-public", false, "allow --admin on a non-loopback address"),
	}
}

// start binds the admin listener (if --admin is set) and serves it until
// ctx ends; wait returns once it has stopped.
func (a adminFlag) start(ctx context.Context, c prometheus.Collector, ready func() error, reload func() (string, error), log *slog.Logger) (wait func(), err error) {
	if *a.addr == "" {
		return func() {}, nil
	}
	srv, err := admin.New(admin.Config{Addr: *a.addr, Public: *a.public, Collectors: []prometheus.Collector{c}, Ready: ready, Reload: reload, Logger: log})
	if err != nil {
		return nil, err
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(ctx); err != nil {
			log.Error("admin listener stopped", "err", err)
		}
	}()
	return func() { <-done }, nil
}
