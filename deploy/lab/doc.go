// Package lab is the multi-host lab of issue 14 on one machine: a topology
// of network namespaces joined by veth pairs and bridges (the "hosts" of
// DESIGN.md's picture: publisher → A/B multicast → hub relay → QUIC WAN →
// edge relays → LAN multicast → subscribers), the real tickcast binary
// started in each namespace with `ip netns exec`, a real Prometheus
// scraping every daemon's admin listener, and the drills that break it:
// the publisher's A interface killed, kernel packet loss (nftables numgen)
// on both of the publisher's segments, and an edge's WAN uplink cut and
// restored.
//
//	                      ┌──────── segment A (bridge segA) ────────┐
//	 pub  a0 10.71.1.1 ───┤                                         ├─── a0 10.71.1.2  hub
//	      b0 10.71.2.1 ───┤──────── segment B (bridge segB) ────────├─── b0 10.71.2.2
//	                      └─────────────────────────────────────────┘    wan0 10.71.3.1
//	                                                                        │ WAN (bridge wan)
//	                                          ┌─────────────────────────────┴─────┐
//	                              edge1 wan0 10.71.3.11                 edge2 wan0 10.71.3.12
//	                                    lan0 10.71.11.1                       lan0 10.71.12.1
//	                                     │ LAN 1 (bridge lan1)                 │ LAN 2 (bridge lan2)
//	                              sub1  lan0 10.71.11.11                sub2  lan0 10.71.12.11
//
//	mgmt (bridge mgmt, 10.71.99.0/24): every host's mgmt0, the admin
//	listeners, and Prometheus in namespace mon at 10.71.99.100:9090.
//
// Every bridge lives in one more namespace, the switch, so nothing is
// created in the machine's own namespace and no traffic leaves the
// namespaces the lab creates. Every namespace's name starts with [Prefix];
// a run first removes whatever a crashed run left behind (its namespaces,
// their processes, its temporary directories), holding a lock (an abstract
// unix socket) so two runs never share the names.
//
// The books are compared across processes by the line `tickcast publish`
// prints after its session ended and `tickcast subscribe --stats` prints at
// exit (package feed, Digest): the same digest at the same sequence means
// the same books. Prometheus is queried over its HTTP API for what the
// operator would see (line A of the hub down during the outage).
//
// Run runs one drill; the commands deploy/lab/drill-kill-a, drill-loss and
// drill-uplink-cut run it from a shell, and lab_test.go runs all three
// (root, ip, nft and prometheus needed; it says which is missing).
package lab
