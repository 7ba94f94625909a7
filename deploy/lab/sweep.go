package lab

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// lockName is the abstract unix socket that is the lab's lock: held while a
// run owns the names starting with Prefix, released by the kernel when the
// process ends however it ends, and nothing on disk to clean up.
const lockName = "@tickcast-lab"

// Lock takes the lab's lock, waiting for another run to finish, until ctx
// ends. Unlock by closing what it returns.
func Lock(ctx context.Context) (net.Listener, error) {
	for {
		l, err := net.Listen("unix", lockName)
		if err == nil {
			return l, nil
		}
		if !errors.Is(err, syscall.EADDRINUSE) {
			return nil, fmt.Errorf("lab lock %s: %w", lockName, err)
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("lab lock %s: another lab run holds it: %w", lockName, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// Sweep removes what a previous run that crashed left behind: its
// processes (found in its namespaces, killed by PID), its namespaces (and
// with them their veths, bridges and nft tables) and its temporary
// directories. Call it holding the lock: then nothing it finds is in use.
func Sweep(ctx context.Context) error {
	names, err := namespaces(ctx)
	if err != nil {
		return err
	}
	var errs []error
	for _, ns := range names {
		pids, err := pidsIn(ctx, ns)
		if err != nil {
			errs = append(errs, err)
		}
		for _, p := range pids {
			if pid, err := strconv.Atoi(p); err == nil && pid > 1 && pid != os.Getpid() {
				syscall.Kill(pid, syscall.SIGKILL)
			}
		}
		if err := ip(ctx, "netns", "del", ns); err != nil {
			errs = append(errs, err)
		}
	}
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), Prefix+"run-*"))
	for _, d := range dirs {
		if err := os.RemoveAll(d); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Leftovers lists what the lab may have created and should not exist when
// no run is under way: namespaces named with Prefix, links in this
// namespace whose name holds it, nft tables here named with it, temporary
// directories. Empty after every run.
func Leftovers(ctx context.Context) ([]string, error) {
	var left []string
	names, err := namespaces(ctx)
	if err != nil {
		return nil, err
	}
	for _, n := range names {
		left = append(left, "namespace "+n)
	}
	out, err := command(ctx, "", "ip", "-o", "link", "show")
	if err != nil {
		return nil, err
	}
	for line := range strings.Lines(out) {
		if f := strings.Fields(line); len(f) > 1 && (strings.Contains(f[1], Prefix) || isLabLink(strings.TrimSuffix(f[1], ":"))) {
			left = append(left, "link "+f[1])
		}
	}
	if out, err := command(ctx, "", "nft", "list", "tables"); err == nil {
		for line := range strings.Lines(out) {
			if strings.Contains(line, "tclab") {
				left = append(left, "nft "+strings.TrimSpace(line))
			}
		}
	}
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), Prefix+"run-*"))
	for _, d := range dirs {
		left = append(left, "directory "+d)
	}
	return left, nil
}

// isLabLink reports whether a link name is one the topology gives a bridge
// or a veth end ("segA", "hub-a0@if3", …): none may appear in this
// namespace.
func isLabLink(name string) bool {
	name, _, _ = strings.Cut(name, "@")
	for _, s := range segments {
		if name == s.bridge {
			return true
		}
		for _, p := range s.ports {
			if name == p.host+"-"+p.ifname {
				return true
			}
		}
	}
	return false
}
