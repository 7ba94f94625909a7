package lab

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// Proc is one daemon of the lab: a program started in a namespace with
// `ip netns exec` (which execs it: the PID is the daemon's), its stdout
// and stderr in files. It is stopped only by its PID.
type Proc struct {
	Name   string // "hub", "sub1", "prometheus", …
	NS     string
	Stdout string // file paths
	Stderr string
	cmd    *exec.Cmd
	done   chan struct{}
	err    error // valid once done is closed
}

// startIn starts bin with args in namespace ns, writing its output to
// dir/name.out and dir/name.err. The process gets SIGKILL if the driver
// dies (PR_SET_PDEATHSIG), so a crashed run leaves no daemon running.
func startIn(ns, name, dir, bin string, args ...string) (*Proc, error) {
	p := &Proc{Name: name, NS: ns, Stdout: filepath.Join(dir, name+".out"), Stderr: filepath.Join(dir, name+".err"), done: make(chan struct{})}
	out, err := os.Create(p.Stdout)
	if err != nil {
		return nil, err
	}
	errf, err := os.Create(p.Stderr)
	if err != nil {
		out.Close()
		return nil, err
	}
	p.cmd = exec.Command("ip", append([]string{"netns", "exec", ns, bin}, args...)...)
	p.cmd.Stdout, p.cmd.Stderr = out, errf
	p.cmd.Dir = dir
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := p.cmd.Start(); err != nil {
		out.Close()
		errf.Close()
		return nil, fmt.Errorf("start %s in %s: %w", name, ns, err)
	}
	go func() {
		p.err = p.cmd.Wait()
		out.Close()
		errf.Close()
		close(p.done)
	}()
	return p, nil
}

// PID is the process's id.
func (p *Proc) PID() int { return p.cmd.Process.Pid }

// Done is closed when the process has exited.
func (p *Proc) Done() <-chan struct{} { return p.done }

// Exited reports whether the process has exited, and how.
func (p *Proc) Exited() (bool, error) {
	select {
	case <-p.done:
		return true, p.err
	default:
		return false, nil
	}
}

// Wait waits for the process to exit, until ctx ends.
func (p *Proc) Wait(ctx context.Context) error {
	select {
	case <-p.done:
		return p.err
	case <-ctx.Done():
		return fmt.Errorf("%s still running: %w", p.Name, ctx.Err())
	}
}

// Stop sends SIGTERM to the process (by its PID), waits up to grace for it
// to exit, then sends SIGKILL and waits. It returns how the process ended
// (nil for a clean exit after SIGTERM). Safe to call on an exited process.
func (p *Proc) Stop(grace time.Duration) error {
	if done, err := p.Exited(); done {
		return err
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		return p.err
	case <-time.After(grace):
	}
	p.cmd.Process.Kill()
	<-p.done
	return fmt.Errorf("%s did not stop within %v of SIGTERM: killed", p.Name, grace)
}

// Output returns what the process wrote to stdout so far.
func (p *Proc) Output() string {
	b, _ := os.ReadFile(p.Stdout)
	return string(b)
}

// Tail returns the last n lines of the process's stderr and stdout, for a
// report of what went wrong.
func (p *Proc) Tail(n int) string {
	var b strings.Builder
	for _, f := range []string{p.Stderr, p.Stdout} {
		data, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
		if len(lines) > n {
			lines = lines[len(lines)-n:]
		}
		fmt.Fprintf(&b, "--- %s (last %d lines)\n%s\n", filepath.Base(f), len(lines), strings.Join(lines, "\n"))
	}
	return b.String()
}

// stopAll stops procs in order, each with grace, and joins their errors.
func stopAll(grace time.Duration, procs ...*Proc) error {
	var errs []error
	for _, p := range procs {
		if p == nil {
			continue
		}
		if err := p.Stop(grace); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", p.Name, err))
		}
	}
	return errors.Join(errs...)
}
