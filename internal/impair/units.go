package impair

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// unit is a suffix and how many bytes (per second, for a rate) one stands for.
type unit struct {
	suffix string // lower case
	bytes  float64
}

// rateUnits are the suffixes of rate=, longest first so that "kbit" is not
// read as "bit". Bits are decimal (tc's kbit = 1000 bit), bytes either.
var rateUnits = []unit{
	{"gbit", 1e9 / 8}, {"mbit", 1e6 / 8}, {"kbit", 1e3 / 8}, {"bit", 1.0 / 8},
	{"gib/s", 1 << 30}, {"mib/s", 1 << 20}, {"kib/s", 1 << 10},
	{"gb/s", 1e9}, {"mb/s", 1e6}, {"kb/s", 1e3}, {"b/s", 1},
}

// sizeUnits are the suffixes of queue=; a bare number is bytes.
var sizeUnits = []unit{
	{"gib", 1 << 30}, {"mib", 1 << 20}, {"kib", 1 << 10},
	{"gb", 1e9}, {"mb", 1e6}, {"kb", 1e3}, {"b", 1}, {"", 1},
}

// parseQuantity reads a number with one of units' suffixes, in bytes.
func parseQuantity(s string, units []unit) (float64, bool) {
	l := strings.ToLower(strings.TrimSpace(s))
	for _, u := range units {
		num, ok := strings.CutSuffix(l, u.suffix)
		if !ok {
			continue
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(num), 64)
		if err != nil || math.IsNaN(v) || math.IsInf(v, 0) || v < 0 || strings.ContainsAny(num, "xXpP_") {
			return 0, false
		}
		return v * u.bytes, true
	}
	return 0, false
}

// parseRate reads rate=: 10Mbit, 1MB/s, …, in bytes per second, at least 1.
func parseRate(s string) (int64, error) {
	v, ok := parseQuantity(s, rateUnits)
	if !ok || math.Round(v) < 1 || v > MaxRate {
		return 0, fmt.Errorf("rate %q: want bits or bytes per second from 8bit (1B/s) to 100Gbit, for example 10Mbit, 512kbit, 1MB/s, 64KiB/s", s)
	}
	return int64(math.Round(v)), nil
}

// parseSize reads queue=: 256KiB, 64KB, 1500B or 1500, in bytes, at least 1.
func parseSize(s string) (int64, error) {
	v, ok := parseQuantity(s, sizeUnits)
	if !ok || math.Round(v) < 1 || v > MaxQueue {
		return 0, fmt.Errorf("queue %q: want a size from 1B to 1GiB, for example 256KiB, 64KB or 1500B", s)
	}
	return int64(math.Round(v)), nil
}

// formatRate writes a rate (bytes per second) so that parseRate reads it
// back exactly: in the largest bit unit that divides it.
func formatRate(r int64) string {
	bits := r * 8
	for _, u := range []struct {
		name string
		n    int64
	}{{"Gbit", 1e9}, {"Mbit", 1e6}, {"kbit", 1e3}} {
		if bits%u.n == 0 {
			return strconv.FormatInt(bits/u.n, 10) + u.name
		}
	}
	return strconv.FormatInt(bits, 10) + "bit"
}

// formatSize writes a size so that parseSize reads it back exactly.
func formatSize(n int64) string {
	for _, u := range []struct {
		name string
		n    int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if n%u.n == 0 {
			return strconv.FormatInt(n/u.n, 10) + u.name
		}
	}
	return strconv.FormatInt(n, 10) + "B"
}
