package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"

	"github.com/tickcast/tickcast/config"
)

// plan is a validated daemon command (publishPlan, relayPlan, subscribePlan).
type plan interface {
	flags() *flag.FlagSet
	daemon() *daemonFlags
}

// prepareFunc parses and checks a daemon's command line and config file
// (preparePublish, prepareRelay, prepareSubscribe).
type prepareFunc[P plan] func(args []string, stdout, stderr io.Writer) (P, error)

// liveConfig reloads a running daemon's configuration: on SIGHUP or POST
// /reload it prepares the command again from the same command line (so the
// file is read again, and flags still win over it) and compares the result
// with what runs. Keys registered with on (and log-level, for every daemon)
// are applied; if any other key changed, the reload is refused, naming the
// keys, and nothing changes.
type liveConfig[P plan] struct {
	d       *daemonFlags
	args    []string
	prepare prepareFunc[P]
	live    map[string]func(next P) error

	mu      sync.Mutex    // one reload at a time
	running *flag.FlagSet // the configuration in effect
}

func newLiveConfig[P plan](running P, args []string, prepare prepareFunc[P]) *liveConfig[P] {
	return &liveConfig[P]{d: running.daemon(), args: args, prepare: prepare, running: running.flags(), live: map[string]func(P) error{}}
}

// on registers how key changes while running.
func (l *liveConfig[P]) on(key string, apply func(next P) error) { l.live[key] = apply }

// errNoConfig: a reload asked of a daemon started without --config.
var errNoConfig = errors.New("started without --config: nothing to reload")

// reload re-reads the configuration and applies what changed; it returns
// what it did.
func (l *liveConfig[P]) reload() (string, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if *l.d.config == "" {
		return "", errNoConfig
	}
	next, err := l.prepare(l.args, io.Discard, io.Discard)
	if err != nil {
		return "", fmt.Errorf("reload refused, the running configuration stays: %w", err)
	}
	changed := config.Changed(l.running, next.flags())
	if len(changed) == 0 {
		return "reloaded " + *l.d.config + ": nothing changed", nil
	}
	var fixed []string
	for _, name := range changed {
		if _, ok := l.live[name]; !ok && name != "log-level" {
			fixed = append(fixed, fmt.Sprintf("%q", name))
		}
	}
	if len(fixed) > 0 {
		return "", fmt.Errorf("reload refused, the running configuration stays: %s cannot change while running (restart to apply)", strings.Join(fixed, ", "))
	}
	for i, name := range changed {
		value := next.flags().Lookup(name).Value.String()
		if name == "log-level" {
			err = l.d.setLevel(value)
		} else {
			err = l.live[name](next)
		}
		if err != nil {
			err = fmt.Errorf("reload: key %q: %w", name, err)
			if i > 0 {
				err = fmt.Errorf("%w (applied before it: %s)", err, strings.Join(changed[:i], ", "))
			}
			return "", err
		}
		if err := l.running.Set(name, value); err != nil {
			return "", fmt.Errorf("reload: key %q: %w", name, err)
		}
	}
	return "reloaded " + *l.d.config + ": applied " + strings.Join(changed, ", "), nil
}

// watchHUP reloads on every SIGHUP until ctx ends or stop is called, and
// logs the outcome.
func (l *liveConfig[P]) watchHUP(ctx context.Context) (stop func()) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				if msg, err := l.reload(); err != nil {
					l.d.log.Warn("SIGHUP", "err", err)
				} else {
					l.d.log.Info("SIGHUP: " + msg)
				}
			}
		}
	}()
	return func() {
		signal.Stop(hup)
		cancel()
		<-done
	}
}
