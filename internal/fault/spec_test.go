package fault

import (
	"strings"
	"testing"
	"time"
)

func TestParseSpec(t *testing.T) {
	for _, tc := range []struct {
		spec string
		want Config
	}{
		{"", Config{}},
		{"none", Config{}},
		{"drop=0.01,burst=0.001:20,dup=0.01,reorder=0.01:3,delay=2ms,seed=7",
			Config{DropRate: 0.01, BurstRate: 0.001, BurstLen: 20, DupRate: 0.01, ReorderRate: 0.01, ReorderDepth: 3, Delay: 2 * time.Millisecond, Seed: 7}},
		{" seed=-3 , drop = 1 ", Config{DropRate: 1, Seed: -3}},
		{"reorder=0.5", Config{ReorderRate: 0.5}},
		{"delay=500us", Config{Delay: 500 * time.Microsecond}},
		{"drop=1%,dup=0.5%", Config{DropRate: 0.01, DupRate: 0.005}},
	} {
		got, err := ParseSpec(tc.spec)
		if err != nil {
			t.Errorf("ParseSpec(%q): %v", tc.spec, err)
			continue
		}
		if got != tc.want {
			t.Errorf("ParseSpec(%q) = %+v, want %+v", tc.spec, got, tc.want)
		}
		if back, err := ParseSpec(got.String()); err != nil || back != got {
			t.Errorf("ParseSpec(%q) = %+v, %v; want %+v back", got.String(), back, err, got)
		}
	}
}

func TestParseSpecErrors(t *testing.T) {
	for _, tc := range []struct{ spec, want string }{
		{"loss=0.1", `unknown key "loss" (keys: drop, burst, dup, reorder, delay, seed)`},
		{"drop=x", `drop rate "x": want a probability from 0 to 1`},
		{"drop=1.5", `drop rate "1.5": want a probability from 0 to 1`},
		{"drop=NaN", `drop rate "NaN"`},
		{"drop=0.1,drop=0.2", `drop given twice`},
		{"drop", `item "drop": want key=value`},
		{"drop=0.1,,dup=0.1", `item "": want key=value`},
		{"=0.1", `item "=0.1": want key=value`},
		{"burst=0.1", `burst=0.1: want RATE:LEN`},
		{"burst=0.1:0", `burst length "0": want an integer of at least 1`},
		{"burst=2:5", `burst rate "2"`},
		{"reorder=0.1:x", `reorder depth "x": want an integer of at least 1`},
		{"reorder=0.1:70000", `ReorderDepth 70000: out of range 0..65536`},
		{"delay=2", `delay=2: not a duration`},
		{"delay=-1ms", `Delay -1ms: out of range`},
		{"seed=1.5", `seed=1.5: not a 64-bit integer`},
	} {
		_, err := ParseSpec(tc.spec)
		if err == nil {
			t.Errorf("ParseSpec(%q) succeeded, want an error saying %q", tc.spec, tc.want)
			continue
		}
		if !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), `fault spec "`) {
			t.Errorf("ParseSpec(%q) = %q, want it to say %q", tc.spec, err, tc.want)
		}
	}
}

// FuzzParseSpec: no spec makes ParseSpec panic; what it accepts is valid and
// survives String and ParseSpec unchanged.
func FuzzParseSpec(f *testing.F) {
	for _, s := range []string{
		"", "none", "drop=0.01,burst=0.001:20,dup=0.01,reorder=0.01:3,delay=2ms,seed=7",
		"reorder=1", "delay=1.5us", "seed=-9223372036854775808", "drop=1e-9", "burst=0x1p-4:3",
		"drop=0.1,,", "loss=1", "burst=:",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, spec string) {
		c, err := ParseSpec(spec)
		if err != nil {
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("ParseSpec(%q) accepted an invalid config: %v", spec, err)
		}
		back, err := ParseSpec(c.String())
		if err != nil || back != c {
			t.Fatalf("ParseSpec(%q) = %+v; its String %q parses to %+v, %v", spec, c, c.String(), back, err)
		}
	})
}
