package config

import (
	"errors"
	"flag"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"
)

// addrs is a comma-separated list flag of IP addresses, like the daemons'.
type addrs []netip.Addr

func (a *addrs) String() string {
	s := make([]string, len(*a))
	for i, x := range *a {
		s[i] = x.String()
	}
	return strings.Join(s, ",")
}

func (a *addrs) Set(s string) error {
	*a = nil
	for part := range strings.SplitSeq(s, ",") {
		x, err := netip.ParseAddr(part)
		if err != nil {
			return fmt.Errorf("%q is not an IP address", part)
		}
		*a = append(*a, x)
	}
	return nil
}

func testFlags() *flag.FlagSet {
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	fs.String("source", "synth", "")
	fs.Int("ttl", 0, "")
	fs.Bool("loopback", true, "")
	fs.Duration("heartbeat", 100*time.Millisecond, "")
	fs.Float64("rate", 1000, "")
	fs.Var(&addrs{}, "allow", "")
	fs.String("config", "", "")
	return fs
}

func TestApply(t *testing.T) {
	f, err := Parse("p.toml", []byte(`
# a publisher
role = "publish"
source = "binance"
ttl = 1
loopback = false
heartbeat = "250ms"
rate = 5e5
allow = ["10.0.0.1", "10.0.0.2"]
`))
	if err != nil {
		t.Fatal(err)
	}
	if f.Role != "publish" || len(f.Keys) != 6 || f.Keys[0].Name != "source" || f.Keys[0].Line != 4 {
		t.Fatalf("parsed %+v", f)
	}
	fs := testFlags()
	fs.Parse([]string{"--ttl", "3"})
	explicit := map[string]bool{}
	fs.Visit(func(fl *flag.Flag) { explicit[fl.Name] = true })
	if err := f.Apply(fs, func(n string) bool { return explicit[n] }); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"source": "binance", "ttl": "3", "loopback": "false", "heartbeat": "250ms", "rate": "500000", "allow": "10.0.0.1,10.0.0.2"}
	for k, v := range want {
		if got := fs.Lookup(k).Value.String(); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	// An integer is a number too.
	g, _ := Parse("p.toml", []byte("role = \"publish\"\nrate = 7\n"))
	if err := g.Apply(fs, nil); err != nil || fs.Lookup("rate").Value.String() != "7" {
		t.Fatalf("integer rate: %v %s", err, fs.Lookup("rate").Value)
	}
}

func TestErrorsNameFileLineAndKey(t *testing.T) {
	for _, c := range []struct{ file, want string }{
		{"role = \"publish\"\n\nsoruce = \"synth\"\n", `p.toml:3: key "soruce": not a setting of "publish"`},
		{"role = \"publish\"\nttl = \"one\"\n", `p.toml:2: key "ttl": want an integer, got the string "one"`},
		{"role = \"publish\"\nttl = 1.5\n", `p.toml:2: key "ttl": want an integer, got the number 1.5`},
		{"role = \"publish\"\nloopback = 1\n", `p.toml:2: key "loopback": want true or false, got the integer 1`},
		{"role = \"publish\"\nheartbeat = 100\n", `p.toml:2: key "heartbeat": want a duration as a string`},
		{"role = \"publish\"\nheartbeat = \"soon\"\n", `p.toml:2: key "heartbeat": parse error`},
		{"role = \"publish\"\n\n\nallow = [\"10.0.0.1\", \"ten\"]\n", `p.toml:4: key "allow": "ten" is not an IP address`},
		{"role = \"publish\"\nallow = [true]\n", `p.toml:2: key "allow": want an array of strings, got an element true`},
		{"role = \"publish\"\nsource = { a = 1 }\n", `p.toml:2: key "source": want a string, got a table`},
		{"role = \"publish\"\nconfig = \"x.toml\"\n", `p.toml:2: key "config": not a setting`},
		{"role = \"publish\"\n[lines]\na = 1\n", `p.toml:2: tables are not used`},
		{"role = \"publish\"\nline.a = 1\n", `p.toml:2: key "line.a": dotted keys are not used`},
		{"ttl = 1\n", `p.toml:1: no role key`},
		{"role = 3\n", `p.toml:1: key "role": want the command's name`},
		{"role = \"publish\"\nttl = = 1\n", `p.toml:2:`},
		{"role = \"publish\"\nttl = 1\nttl = 2\n", `p.toml:3:`},
	} {
		f, err := Parse("p.toml", []byte(c.file))
		if err == nil {
			err = f.Apply(testFlags(), nil)
		}
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: error %v, want it to contain %q", c.file, err, c.want)
		}
		var ce *Error
		if err != nil && !errors.As(err, &ce) {
			t.Errorf("%q: %v is not a *config.Error", c.file, err)
		}
	}
}

func TestWriteRoundTrips(t *testing.T) {
	fs := testFlags()
	fs.Parse([]string{"--source", `we"ird\name`, "--allow", "10.0.0.1,10.0.0.2", "--heartbeat", "1s"})
	var b strings.Builder
	if err := Write(&b, "publish", fs, func(string) string { return "flag" }); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(b.String(), "config =") {
		t.Errorf("the config flag printed:\n%s", b.String())
	}
	f, err := Parse("out.toml", []byte(b.String()))
	if err != nil {
		t.Fatalf("%v in\n%s", err, b.String())
	}
	again := testFlags()
	if err := f.Apply(again, nil); err != nil {
		t.Fatal(err)
	}
	if ch := Changed(fs, again); len(ch) != 0 {
		t.Errorf("changed after a round trip: %v\n%s", ch, b.String())
	}
	again.Set("ttl", "9")
	again.Set("source", "replay")
	if ch := Changed(fs, again); !slices.Equal(ch, []string{"source", "ttl"}) {
		t.Errorf("Changed = %v, want [source ttl]", ch)
	}
}

// FuzzParse: no file makes Parse or Apply panic.
func FuzzParse(f *testing.F) {
	f.Add([]byte("role = \"publish\"\nttl = 1\nallow = [\"10.0.0.1\"]\nheartbeat = \"1s\"\n"))
	f.Add([]byte("role = \"relay\"\n[t]\nx = 1\n"))
	f.Add([]byte("role = 'x'\na.b = 1\nsource = { a = [1, 2] }\n"))
	f.Add([]byte("ttl = 2024-01-01T00:00:00Z\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		if file, err := Parse("f.toml", data); err == nil {
			file.Apply(testFlags(), nil)
		}
	})
}
