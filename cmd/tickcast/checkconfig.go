package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/tickcast/tickcast/config"
)

const checkConfigNotes = `
Reads a daemon's config file the way 'tickcast publish|relay|subscribe
--config FILE' does, checks every key and value and what the command checks
before it opens sockets (certificates are loaded; interfaces and ports are
not tried), and prints the effective configuration: every setting, with
where its value comes from (file or default). The output is itself a valid
config file. Flags after FILE are the command's, and win over the file as
they would on the daemon's command line (e.g. --cert/--key/--ca of a test
CA when the file's certificates are not on this host). Exit status 0 when the file is valid, 1 with the file, line and
key of the first problem otherwise.

The file is flat TOML: role = "publish" | "relay" | "subscribe", then any of
that command's flags by name, without the dashes:
  role = "publish"
  a = "239.255.0.1:31001"
  a-iface = "eth1"
  ttl = 1
  heartbeat = "100ms"                  # durations are strings
  retransmit-allow = ["10.0.0.0/8"]    # lists: an array, or "a,b"
Examples for every role are in deploy/config/.
`

func runCheckConfig(_ context.Context, args []string, stdout, _ io.Writer) error {
	fs := newFlags("check-config", "check-config FILE [flags of its command]", checkConfigNotes, stdout)
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		if err := parse(fs, args); err != nil {
			return err
		}
		return usagef("want a config file")
	}
	path, extra := args[0], args[1:]
	f, err := config.Load(path)
	if err != nil {
		return err
	}
	roles := daemonRoles()
	prepare, ok := roles[f.Role]
	if !ok {
		names := make([]string, 0, len(roles))
		for name := range roles {
			names = append(names, name)
		}
		slices.Sort(names)
		return fmt.Errorf("%s: %s = %q: want one of %s", path, config.RoleKey, f.Role, strings.Join(names, ", "))
	}
	p, err := prepare(append([]string{"--config", path}, extra...), io.Discard, io.Discard)
	var ue usageError
	if errors.As(err, &ue) {
		return fmt.Errorf("%s: %s", path, ue.msg)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "# %s: a valid %s configuration. Every setting, and where its value comes from:\n", path, f.Role)
	return config.Write(stdout, f.Role, p.flags(), p.daemon().origin)
}
