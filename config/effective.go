package config

import (
	"flag"
	"fmt"
	"io"
	"strings"
)

// Write prints the effective configuration: role, then every flag of fs but
// config as a TOML key = value line, sorted by name, each with a comment
// saying where its value came from (origin's answer for the name, e.g.
// "default", "file" or "flag"). What it prints is itself a valid file.
func Write(w io.Writer, role string, fs *flag.FlagSet, origin func(name string) string) error {
	if _, err := fmt.Fprintf(w, "%s = %s\n", RoleKey, quote(role)); err != nil {
		return err
	}
	var err error
	fs.VisitAll(func(fl *flag.Flag) {
		if err != nil || fl.Name == "config" {
			return
		}
		_, err = fmt.Fprintf(w, "%s = %s # %s\n", fl.Name, Value(fl), origin(fl.Name))
	})
	return err
}

// Value is the flag's current value in TOML.
func Value(fl *flag.Flag) string {
	s := fl.Value.String()
	switch kindOf(fl) {
	case kindBool, kindInt, kindFloat:
		if s != "" {
			return s
		}
	}
	return quote(s)
}

// Changed returns, sorted, the names of the flags whose values differ
// between two flag sets defined alike (the running configuration and a
// reloaded one).
func Changed(running, reloaded *flag.FlagSet) []string {
	var names []string
	running.VisitAll(func(fl *flag.Flag) {
		if o := reloaded.Lookup(fl.Name); o != nil && o.Value.String() != fl.Value.String() {
			names = append(names, fl.Name)
		}
	})
	return names
}

// quote is s as a TOML basic string.
func quote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\u%04X`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}
