package lab

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"strconv"
	"syscall"
	"time"
)

// segment is one layer-2 network: a bridge in the switch namespace and a
// veth pair per host port on it.
type segment struct {
	bridge string // bridge name in the switch namespace
	net    string // the /24's first three octets
	ports  []port
}

// port is one host's interface on a segment: ifname in the host's
// namespace, "host-ifname" on the bridge, address net.octet/24.
type port struct {
	host, ifname string
	octet        int
}

// The hosts of the lab, and the segments that join them (see the package
// doc's picture).
var (
	hostNames = []string{"pub", "hub", "edge1", "edge2", "sub1", "sub2", "mon"}
	segments  = []segment{
		{"segA", "10.71.1", []port{{"pub", "a0", 1}, {"hub", "a0", 2}}},
		{"segB", "10.71.2", []port{{"pub", "b0", 1}, {"hub", "b0", 2}}},
		{"wan", "10.71.3", []port{{"hub", "wan0", 1}, {"edge1", "wan0", 11}, {"edge2", "wan0", 12}}},
		{"lan1", "10.71.11", []port{{"edge1", "lan0", 1}, {"sub1", "lan0", 11}}},
		{"lan2", "10.71.12", []port{{"edge2", "lan0", 1}, {"sub2", "lan0", 11}}},
		{"mgmt", "10.71.99", []port{{"pub", "mgmt0", 1}, {"hub", "mgmt0", 2}, {"edge1", "mgmt0", 11},
			{"edge2", "mgmt0", 12}, {"sub1", "mgmt0", 21}, {"sub2", "mgmt0", 22}, {"mon", "mgmt0", 100}}},
	}
)

// addr is the port's address on segment s.
func (p port) addr(s segment) netip.Addr {
	return netip.MustParseAddr(fmt.Sprintf("%s.%d", s.net, p.octet))
}

// plannedTopology is the topology's hosts and addresses without creating
// anything: what the daemons' configurations are written from.
func plannedTopology() *Topology {
	t := &Topology{Hosts: map[string]*Host{}}
	for _, name := range hostNames {
		t.Hosts[name] = &Host{Name: name, NS: Prefix + name, Addrs: map[string]netip.Addr{}}
	}
	for _, s := range segments {
		for _, p := range s.ports {
			t.Hosts[p.host].Addrs[p.ifname] = p.addr(s)
		}
	}
	return t
}

// switchNS is the namespace holding every bridge.
const switchNS = Prefix + "switch"

// Host is one namespace of the lab.
type Host struct {
	Name  string                // "pub", "hub", "edge1", …
	NS    string                // its namespace, Prefix+Name
	Addrs map[string]netip.Addr // by interface name
}

// Addr is the host's address on interface ifname; it panics for an
// interface the host does not have (a bug in the lab, not a runtime state).
func (h *Host) Addr(ifname string) netip.Addr {
	a, ok := h.Addrs[ifname]
	if !ok {
		panic(fmt.Sprintf("lab: host %s has no interface %s", h.Name, ifname))
	}
	return a
}

// Topology is the lab's namespaces, bridges and veth pairs, built.
type Topology struct {
	Hosts map[string]*Host
	made  []string // namespaces created, in order
}

// BuildTopology creates the topology: the switch namespace with one bridge per
// segment (multicast snooping off: a segment floods multicast like a plain
// switch), a namespace per host with its loopback up and a veth to each of
// its segments, addressed /24. On failure it deletes what it made.
func BuildTopology(ctx context.Context) (t *Topology, err error) {
	t = &Topology{Hosts: map[string]*Host{}}
	defer func() {
		if err != nil {
			t.Close()
			t = nil
		}
	}()
	for _, name := range append([]string{"switch"}, hostNames...) {
		ns := Prefix + name
		if err := ip(ctx, "netns", "add", ns); err != nil {
			return nil, err
		}
		t.made = append(t.made, ns)
		if err := ip(ctx, "-n", ns, "link", "set", "lo", "up"); err != nil {
			return nil, err
		}
		if name != "switch" {
			t.Hosts[name] = &Host{Name: name, NS: ns, Addrs: map[string]netip.Addr{}}
		}
	}
	for _, s := range segments {
		if err := ip(ctx, "-n", switchNS, "link", "add", s.bridge, "type", "bridge", "mcast_snooping", "0"); err != nil {
			return nil, err
		}
		if err := ip(ctx, "-n", switchNS, "link", "set", s.bridge, "up"); err != nil {
			return nil, err
		}
		for _, p := range s.ports {
			h := t.Hosts[p.host]
			sw := p.host + "-" + p.ifname
			addr := p.addr(s)
			for _, args := range [][]string{
				{"-n", switchNS, "link", "add", sw, "type", "veth", "peer", "name", p.ifname, "netns", h.NS},
				{"-n", switchNS, "link", "set", sw, "master", s.bridge},
				{"-n", switchNS, "link", "set", sw, "up"},
				{"-n", h.NS, "addr", "add", addr.String() + "/24", "dev", p.ifname},
				{"-n", h.NS, "link", "set", p.ifname, "up"},
			} {
				if err := ip(ctx, args...); err != nil {
					return nil, err
				}
			}
			h.Addrs[p.ifname] = addr
		}
	}
	return t, nil
}

// Close deletes every namespace BuildTopology made, and so every veth, bridge and
// nft table in them. The lab's processes should have been stopped first; a
// process still in one (only the lab starts processes there) is killed by
// its PID, since a namespace a process holds outlives its name. It is
// idempotent.
func (t *Topology) Close() error {
	if t == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var errs []error
	for i := len(t.made) - 1; i >= 0; i-- {
		pids, _ := pidsIn(ctx, t.made[i])
		for _, p := range pids {
			if pid, err := strconv.Atoi(p); err == nil && pid > 1 && pid != os.Getpid() {
				syscall.Kill(pid, syscall.SIGKILL)
			}
		}
		if err := ip(ctx, "netns", "del", t.made[i]); err != nil {
			errs = append(errs, err)
		}
	}
	t.made = nil
	return errors.Join(errs...)
}

// SetLink sets interface ifname of host up or down: a cable pulled or a
// NIC dead (drills kill-a and uplink-cut).
func (t *Topology) SetLink(ctx context.Context, host, ifname string, up bool) error {
	state := "down"
	if up {
		state = "up"
	}
	return ip(ctx, "-n", t.Hosts[host].NS, "link", "set", ifname, state)
}

// allAddrs lists every address of the topology but the management
// network's: what the certificates are issued for.
func allAddrs() []string {
	var out []string
	for _, s := range segments {
		for _, p := range s.ports {
			out = append(out, fmt.Sprintf("%s.%d", s.net, p.octet))
		}
	}
	return out
}
