package main

import (
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/tickcast/tickcast/config"
)

// daemonFlags are the flags every daemon (publish, relay, subscribe) has:
// --config, --log-level and the admin listener's.
type daemonFlags struct {
	role   string
	config *string
	level  *string
	adm    adminFlag

	// After parse: the logger, its level (changed by a reload), and where
	// each flag's value came from.
	log      *slog.Logger
	levelVar *slog.LevelVar
	explicit map[string]bool // given on the command line
	fromFile map[string]bool // set by the config file
}

func addDaemonFlags(fs *flag.FlagSet, role string) *daemonFlags {
	return &daemonFlags{
		role:   role,
		config: fs.String("config", "", "read settings from this TOML file: every key is a flag name (see 'tickcast check-config'); flags on the command line win"),
		level:  fs.String("log-level", "info", "log level: debug, info, warn, error"),
		adm:    addAdminFlags(fs),
	}
}

// parse parses the command line, then the --config file under it, and makes
// the logger.
func (d *daemonFlags) parse(fs *flag.FlagSet, args []string, stderr io.Writer) (*slog.Logger, error) {
	if err := parse(fs, args); err != nil {
		return nil, err
	}
	d.explicit = map[string]bool{}
	fs.Visit(func(f *flag.Flag) { d.explicit[f.Name] = true })
	d.fromFile = map[string]bool{}
	if *d.config != "" {
		f, err := config.Load(*d.config)
		if err != nil {
			return nil, err
		}
		if f.Role != d.role {
			return nil, fmt.Errorf("%s: a %q file given to 'tickcast %s'", f.Path, f.Role, d.role)
		}
		if err := f.Apply(fs, func(name string) bool { return d.explicit[name] }); err != nil {
			return nil, err
		}
		for _, k := range f.Keys {
			d.fromFile[k.Name] = !d.explicit[k.Name]
		}
	}
	d.levelVar = new(slog.LevelVar)
	if err := d.setLevel(*d.level); err != nil {
		return nil, err
	}
	d.log = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: d.levelVar}))
	return d.log, nil
}

// setLevel sets the log level from its text.
func (d *daemonFlags) setLevel(text string) error {
	var l slog.Level
	if err := l.UnmarshalText([]byte(text)); err != nil {
		return usagef("--log-level %q: want debug, info, warn or error", text)
	}
	d.levelVar.Set(l)
	return nil
}

// origin says where a flag's value came from: "flag", "file" or "default".
func (d *daemonFlags) origin(name string) string {
	switch {
	case d.explicit[name]:
		return "flag"
	case d.fromFile[name]:
		return "file"
	}
	return "default"
}

// daemonRoles are the commands that take a config file, by role name.
func daemonRoles() map[string]prepareFunc[plan] {
	return map[string]prepareFunc[plan]{
		"publish":   asPlan(preparePublish),
		"relay":     asPlan(prepareRelay),
		"subscribe": asPlan(prepareSubscribe),
	}
}

// asPlan is prepare returning its plan as a plan.
func asPlan[P plan](prepare prepareFunc[P]) prepareFunc[plan] {
	return func(args []string, stdout, stderr io.Writer) (plan, error) {
		p, err := prepare(args, stdout, stderr)
		if err != nil {
			return nil, err
		}
		return p, nil
	}
}

// splitList is a comma-separated list flag's values, spaces trimmed, empty ones
// dropped.
func splitList(s string) []string {
	var out []string
	for part := range strings.SplitSeq(s, ",") {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, part)
		}
	}
	return out
}
