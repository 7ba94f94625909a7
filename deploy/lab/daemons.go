package lab

import (
	"fmt"
	"path/filepath"
	"strings"
	"time"
)

// The lab's addresses and ports (see the package doc's picture).
const (
	groupA, groupB       = "239.255.0.1:31001", "239.255.0.2:31002" // the publisher's lines
	lanGroupA, lanGroupB = "239.255.1.1:31201", "239.255.1.2:31202" // each edge's re-multicast
	adminPort            = 9310
	promListen           = "10.71.99.100:9090"
)

// edgeOf is the edge relay each subscriber host sits behind.
var edgeOf = map[string]string{"sub1": "edge1", "sub2": "edge2"}

// daemonOrder is the order the daemons start in, upstream last, so
// everyone downstream is listening when the feed begins; they stop in the
// reverse order of the stream (subscribers first) at the end.
var daemonOrder = []string{"hub", "edge1", "edge2", "sub1", "sub2", "pub"}

// feedParams are the feed's size and pace.
type feedParams struct {
	Rate        float64
	Duration    time.Duration // the publisher's session
	Instruments int
	Levels      int
}

// admin is the host's admin listener address on the management network.
func (t *Topology) admin(host string) string {
	return fmt.Sprintf("%s:%d", t.Hosts[host].Addr("mgmt0"), adminPort)
}

// certArgs are --cert/--key/--ca of name's certificate in dir.
func certArgs(dir, name string) []string {
	return []string{"--cert", filepath.Join(dir, name+".pem"), "--key", filepath.Join(dir, name+"-key.pem"), "--ca", filepath.Join(dir, "ca.pem")}
}

// daemonArgs is the command line of host's daemon. Every flag that names an
// interface, a group, an address or a TTL is given, nothing left to a
// default: the lab is also the example of a deployment. The relays and
// subscribers get a --duration long past the publisher's, a bound if the
// driver never stops them (it stops them first, by SIGTERM).
func (t *Topology) daemonArgs(host, certs string, f feedParams) []string {
	h := t.Hosts[host]
	pub, hub := t.Hosts["pub"], t.Hosts["hub"]
	bound := (f.Duration + 2*time.Minute).String()
	adminArgs := []string{"--admin", t.admin(host), "--admin-public", "--log-level", "info"}
	var args []string
	switch host {
	case "pub":
		args = []string{"publish", "--source", "synth",
			"--rate", fmt.Sprint(f.Rate), "--instruments", fmt.Sprint(f.Instruments), "--levels", fmt.Sprint(f.Levels), "--seed", "14",
			"--a", groupA, "--a-iface", "a0", "--b", groupB, "--b-iface", "b0", "--iface", "b0", "--ttl", "1", "--loopback=false",
			"--recovery-a", "", "--recovery-b", "",
			// The repair path (NACKs, snapshots) is on B's address, so a dead A leaves it.
			"--retransmit", pub.Addr("b0").String() + ":31010", "--retransmit-allow", "10.71.0.0/16",
			"--link", pub.Addr("b0").String() + ":31020",
			"--duration", f.Duration.String(), "--stats-every", "5s"}
		args = append(args, certArgs(certs, "publisher")...)
	case "hub":
		args = []string{"relay",
			"--a", groupA, "--a-iface", "a0", "--a-source", pub.Addr("a0").String(),
			"--b", groupB, "--b-iface", "b0", "--b-source", pub.Addr("b0").String(), "--iface", "b0",
			"--upstream-retransmit", pub.Addr("b0").String() + ":31010",
			"--upstream-link", pub.Addr("b0").String() + ":31020",
			"--link", h.Addr("wan0").String() + ":31120",
			"--duration", bound, "--stats-every", "5s"}
		args = append(args, certArgs(certs, "hub")...)
	case "edge1", "edge2":
		lan := h.Addr("lan0").String()
		args = []string{"relay",
			"--up-a", hub.Addr("wan0").String() + ":31120", "--iface", "wan0",
			"--out-a", lanGroupA, "--out-b", lanGroupB, "--out-iface", "lan0", "--ttl", "1", "--loopback=false",
			"--retransmit", lan + ":31210", "--retransmit-allow", strings.TrimSuffix(lan, ".1") + ".0/24",
			"--link", lan + ":31220",
			"--duration", bound, "--stats-every", "5s"}
		args = append(args, certArgs(certs, host)...)
	case "sub1", "sub2":
		edge := t.Hosts[edgeOf[host]].Addr("lan0").String()
		args = []string{"subscribe",
			"--a", lanGroupA, "--a-source", edge, "--b", lanGroupB, "--b-source", edge, "--iface", "lan0",
			"--recovery-a", "", "--recovery-b", "",
			"--retransmit", edge + ":31210", "--link", edge + ":31220",
			"--stats", "--top", "3", "--duration", bound}
		args = append(args, certArgs(certs, host)...)
	default:
		panic("lab: no daemon on host " + host)
	}
	return append(args, adminArgs...)
}
