// Package admin serves a daemon's admin listener: /metrics (Prometheus),
// /healthz (ready or not, and why) and /debug/pprof/. By default it listens
// on 127.0.0.1 only: the profiles and counters are for the operator.
package admin
