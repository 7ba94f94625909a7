package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/tickcast/tickcast/internal/fault"
)

// errHelp: --help was asked and printed; exit 0.
var errHelp = errors.New("help printed")

// newFlags returns a flag set whose errors become usage errors and whose
// --help prints the synopsis, the flags with their defaults, and notes.
func newFlags(name, synopsis, notes string, stdout io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("tickcast "+name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {
		fmt.Fprintf(stdout, "Usage: tickcast %s\n\n", synopsis)
		fs.SetOutput(stdout)
		fs.PrintDefaults()
		fs.SetOutput(io.Discard)
		if notes != "" {
			fmt.Fprintf(stdout, "\n%s\n", strings.TrimSpace(notes))
		}
	}
	return fs
}

// parse parses args; --help prints usage and returns errHelp, a bad flag a
// usage error with Go's one-line message.
func parse(fs *flag.FlagSet, args []string) error {
	// The flag package prints the usage on any error; only --help should.
	usage := fs.Usage
	fs.Usage = func() {}
	err := fs.Parse(args)
	fs.Usage = usage
	if errors.Is(err, flag.ErrHelp) {
		usage()
		return errHelp
	}
	if err != nil {
		return usageError{err.Error()}
	}
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q", fs.Arg(0))
	}
	return nil
}

// addrPortFlag is a host:port flag value ("" = unset).
// addrFlag is an IP address flag; "" = the zero Addr.
type addrFlag struct{ a netip.Addr }

func (f *addrFlag) String() string {
	if !f.a.IsValid() {
		return ""
	}
	return f.a.String()
}

func (f *addrFlag) Set(s string) error {
	if s == "" {
		f.a = netip.Addr{}
		return nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return fmt.Errorf("want an IPv4 address, e.g. 10.0.0.5")
	}
	f.a = a
	return nil
}

type addrPortFlag struct{ ap netip.AddrPort }

func (f *addrPortFlag) String() string {
	if !f.ap.IsValid() {
		return ""
	}
	return f.ap.String()
}

func (f *addrPortFlag) Set(s string) error {
	if s == "" {
		f.ap = netip.AddrPort{}
		return nil
	}
	ap, err := netip.ParseAddrPort(s)
	if err != nil {
		return fmt.Errorf("want ip:port, e.g. 239.255.0.1:31001")
	}
	f.ap = ap
	return nil
}

// prefixesFlag is a comma-separated list of networks.
type prefixesFlag struct{ p []netip.Prefix }

func (f *prefixesFlag) String() string {
	s := make([]string, len(f.p))
	for i, p := range f.p {
		s[i] = p.String()
	}
	return strings.Join(s, ",")
}

func (f *prefixesFlag) Set(s string) error {
	f.p = nil
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		p, err := netip.ParsePrefix(part)
		if err != nil {
			if a, aerr := netip.ParseAddr(part); aerr == nil {
				p = netip.PrefixFrom(a, a.BitLen())
			} else {
				return fmt.Errorf("%q is not a network (want e.g. 10.0.0.0/8)", part)
			}
		}
		f.p = append(f.p, p.Masked())
	}
	return nil
}

// faultFlag is a line fault spec for fault.ParseSpec ("" = none).
type faultFlag struct{ cfg *fault.Config }

func (f *faultFlag) String() string { return f.spec() }

// spec returns the flag in subscriber.Line.Faults form ("" = none).
func (f *faultFlag) spec() string {
	if f.cfg == nil {
		return ""
	}
	return f.cfg.String()
}

func (f *faultFlag) Set(s string) error {
	if s == "" {
		f.cfg = nil
		return nil
	}
	c, err := fault.ParseSpec(s)
	if err != nil {
		return err
	}
	f.cfg = &c
	return nil
}

// logFlags adds --log-level and returns a function making the logger.
func logFlags(fs *flag.FlagSet, stderr io.Writer) func() (*slog.Logger, error) {
	level := fs.String("log-level", "info", "log level: debug, info, warn, error")
	return func() (*slog.Logger, error) {
		var l slog.Level
		if err := l.UnmarshalText([]byte(*level)); err != nil {
			return nil, usagef("--log-level %q: want debug, info, warn or error", *level)
		}
		return slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: l})), nil
	}
}

// positive checks a duration flag.
func nonNegative(name string, d time.Duration) error {
	if d < 0 {
		return usagef("--%s %v: must not be negative", name, d)
	}
	return nil
}

// channelFlag adds --channel: a channel number, 0..65535, checked while
// parsing.
func channelFlag(fs *flag.FlagSet, usage string) *uint16 {
	c := channelValue(1)
	fs.Var(&c, "channel", usage)
	return (*uint16)(&c)
}

// channelValue is the --channel flag's value.
type channelValue uint16

func (c *channelValue) String() string { return strconv.Itoa(int(*c)) }

// Get makes the flag an integer to config files.
func (c *channelValue) Get() any { return int(*c) }

func (c *channelValue) Set(s string) error {
	v, err := strconv.ParseUint(s, 10, 16)
	if err != nil {
		return fmt.Errorf("want a channel number 0..65535")
	}
	*c = channelValue(v)
	return nil
}

// parseLogged parses args (see parse) and makes the --log-level logger.
func parseLogged(fs *flag.FlagSet, args []string, logger func() (*slog.Logger, error)) (*slog.Logger, error) {
	if err := parse(fs, args); err != nil {
		return nil, err
	}
	return logger()
}
