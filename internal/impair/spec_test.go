package impair

import (
	"strings"
	"testing"
	"time"
)

func TestParseSpec(t *testing.T) {
	for _, tc := range []struct {
		spec string
		want Spec
	}{
		{"", Spec{}},
		{"none", Spec{}},
		{"loss=0.3%,delay=15ms,jitter=2ms,reorder=1%,dup=0.1%,rate=10Mbit,queue=256KiB",
			Spec{Loss: 0.3 / 100, Delay: 15 * time.Millisecond, Jitter: 2 * time.Millisecond, Reorder: 0.01, Dup: 0.1 / 100, Rate: 1_250_000, Queue: 256 << 10}},
		{"loss=5%,delay=125ms", Spec{Loss: 0.05, Delay: 125 * time.Millisecond}},
		{" loss = 0.01 , burst = 0.1% : 20 ", Spec{Loss: 0.01, BurstRate: 0.001, BurstLen: 20}},
		{"reorder=0.5:20ms", Spec{Reorder: 0.5, ReorderExtra: 20 * time.Millisecond}},
		{"rate=512kbit", Spec{Rate: 64_000}},
		{"rate=1Gbit,queue=1MiB", Spec{Rate: 125_000_000, Queue: 1 << 20}},
		{"rate=64KiB/s,queue=1500", Spec{Rate: 64 << 10, Queue: 1500}},
		{"rate=1MB/s,queue=64KB", Spec{Rate: 1e6, Queue: 64e3}},
		{"rate=8bit,queue=1B", Spec{Rate: 1, Queue: 1}},
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
		{"drop=0.1", `unknown key "drop" (keys: loss, burst, dup, delay, jitter, reorder, rate, queue)`},
		{"loss=x", `loss rate "x": want a probability from 0 to 1`},
		{"loss=150%", `loss rate "150%"`},
		{"loss=-1%", `loss rate "-1%"`},
		{"loss=NaN", `loss rate "NaN"`},
		{"loss=1%,loss=2%", `loss given twice`},
		{"loss", `item "loss": want key=value`},
		{"loss=1%,,dup=1%", `item "": want key=value`},
		{"burst=1%", `burst=1%: want P:N`},
		{"burst=1%:0", `burst length "0": want an integer of at least 1`},
		{"delay=15", `delay "15": want a duration from 0 to 10s`},
		{"delay=-1ms", `delay "-1ms"`},
		{"delay=11s", `delay "11s"`},
		{"jitter=x", `jitter "x"`},
		{"delay=6s,jitter=5s", `Delay 6s + Jitter 5s + ReorderExtra 0s: more than 10s`},
		{"reorder=1%:x", `reorder delay "x"`},
		{"rate=10", `rate "10": want bits or bytes per second`},
		{"rate=10Mbps", `rate "10Mbps"`},
		{"rate=1bit", `rate "1bit"`},
		{"rate=200Gbit", `rate "200Gbit"`},
		{"rate=infGbit", `rate "infGbit"`},
		{"rate=0x10Mbit", `rate "0x10Mbit"`},
		{"queue=2GiB", `queue "2GiB": want a size from 1B to 1GiB`},
		{"queue=0", `queue "0"`},
		{"queue=64KiB", `Queue 65536: needs a Rate`},
	} {
		_, err := ParseSpec(tc.spec)
		if err == nil {
			t.Errorf("ParseSpec(%q) succeeded, want an error saying %q", tc.spec, tc.want)
			continue
		}
		if !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), `impair spec "`) {
			t.Errorf("ParseSpec(%q): %q, want it to say %q", tc.spec, err, tc.want)
		}
		if strings.Contains(err.Error(), "\n") {
			t.Errorf("ParseSpec(%q): a multi-line error %q", tc.spec, err)
		}
	}
}

func TestSpecValidate(t *testing.T) {
	for _, s := range []Spec{
		{Loss: 2}, {BurstRate: 0.1}, {Dup: -1}, {Reorder: 1.5}, {Delay: -1}, {Jitter: 11 * time.Second},
		{ReorderExtra: -1}, {Rate: -1}, {Rate: MaxRate + 1}, {Rate: 1, Queue: -1}, {Rate: 1, Queue: MaxQueue + 1},
	} {
		if err := s.Validate(); err == nil {
			t.Errorf("%+v: valid, want an error", s)
		}
	}
}

// FuzzParseSpec: bad input is an error, never a panic; what parses prints
// back to the same spec.
func FuzzParseSpec(f *testing.F) {
	for _, s := range []string{
		"", "none", "loss=0.3%,delay=15ms,jitter=2ms,reorder=1%,dup=0.1%,rate=10Mbit,queue=256KiB",
		"burst=0.1%:20", "reorder=0.5:20ms", "rate=12bit", "rate=1.5MiB/s,queue=1.5KiB", "loss=1e-3", "queue=1",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, spec string) {
		s, err := ParseSpec(spec)
		if err != nil {
			if s != (Spec{}) {
				t.Fatalf("ParseSpec(%q): error %v with a non-zero spec %+v", spec, err, s)
			}
			return
		}
		if err := s.Validate(); err != nil {
			t.Fatalf("ParseSpec(%q) = %+v, which does not validate: %v", spec, s, err)
		}
		back, err := ParseSpec(s.String())
		if err != nil || back != s {
			t.Fatalf("ParseSpec(%q) = %+v; its String %q parses to %+v, %v", spec, s, s.String(), back, err)
		}
	})
}
