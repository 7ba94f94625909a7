package lab

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
)

// bareValue is a value written unquoted in TOML: a number or a boolean.
var bareValue = regexp.MustCompile(`^(-?[0-9]+(\.[0-9]+)?|true|false)$`)

// writeConfig writes a daemon's command line (the command, then its flags)
// as the daemon's config file, dir/name.toml, and returns the command line
// that starts it from the file: every daemon of the lab runs the way the
// systemd units run one, with --config. A flag without a value is a boolean
// set to true.
func writeConfig(dir, name string, args []string) ([]string, error) {
	if len(args) == 0 {
		return nil, fmt.Errorf("lab: %s: no command", name)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# %s: written by the lab (deploy/lab) from its topology\nrole = %q\n", name, args[0])
	for i := 1; i < len(args); i++ {
		key, ok := strings.CutPrefix(args[i], "--")
		if !ok {
			return nil, fmt.Errorf("lab: %s: %q is not a flag", name, args[i])
		}
		value := "true"
		if k, v, eq := strings.Cut(key, "="); eq {
			key, value = k, v
		} else if i+1 < len(args) && !strings.HasPrefix(args[i+1], "--") {
			value = args[i+1]
			i++
		}
		if !bareValue.MatchString(value) {
			value = strconv.Quote(value)
		}
		fmt.Fprintf(&b, "%s = %s\n", key, value)
	}
	path := filepath.Join(dir, name+".toml")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		return nil, fmt.Errorf("lab: %w", err)
	}
	return []string{args[0], "--config", path}, nil
}
