// Package impair is an impairing UDP proxy for drills and tests between
// relays (DESIGN.md, "Testing on one machine": the kernel here has no netem,
// so a bad path between two QUIC endpoints is a proxy on 127.0.0.1).
//
//	client → proxy (Config.Listen) → upstream (Config.Upstream)
//	client ← proxy                 ← upstream
//
// Each client source address gets its own upstream socket, so several QUIC
// clients share one proxy and the upstream tells them apart; sockets idle
// for Config.IdleTimeout are closed. Each direction applies its [Spec]:
// random and burst loss and duplication (the line fault injector,
// internal/fault, decides those), a bandwidth cap with a bounded queue (a
// tbf qdisc: what does not fit is dropped and counted), a fixed delay with
// uniform jitter, and reordering (a fraction of packets held an extra
// while). [Proxy.SetBlackhole] drops everything, both ways, until switched
// off; [Proxy.SetSpec] changes a direction's spec while it runs.
//
// Held packets wait in one timer heap per direction, sent by that
// direction's one goroutine when due; at most Config.MaxInFlight are held,
// more are dropped and counted. Random choices come from Config.Seed: the
// same seed, specs and packet order give the same impairments. Forwarding
// allocates nothing in steady state.
//
//	p, err := impair.New(impair.Config{Listen: "127.0.0.1:0", Upstream: server, Spec: spec, Seed: 1})
//	...
//	go p.Run(ctx)
//	client dials p.Addr()
//
// [ParseSpec] reads the one-line form the command line takes (the line
// fault specs' form, fault.SplitSpec):
//
//	loss=0.3%,delay=15ms,jitter=2ms,reorder=1%,dup=0.1%,rate=10Mbit,queue=256KiB
package impair
