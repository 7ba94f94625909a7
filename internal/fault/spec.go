package fault

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// specKeys lists the keys ParseSpec knows, for its error messages.
const specKeys = "drop, burst, dup, reorder, delay, seed"

// ParseSpec reads a fault configuration in the command line's form: comma
// separated key=value items, each key at most once, in any order.
//
//	drop=RATE            Config.DropRate (RATE: 0.01 or 1%)
//	burst=RATE:LEN       Config.BurstRate and Config.BurstLen
//	dup=RATE             Config.DupRate
//	reorder=RATE[:DEPTH] Config.ReorderRate and Config.ReorderDepth
//	delay=DURATION       Config.Delay (time.ParseDuration: 2ms, 500us)
//	seed=N               Config.Seed
//
// An empty spec (or "none") is the zero Config. The result is validated;
// errors name the item and what is wrong with it.
func ParseSpec(spec string) (Config, error) {
	var c Config
	if err := SplitSpec(spec, specKeys, c.set); err != nil {
		return Config{}, fmt.Errorf("fault spec %q: %w", spec, err)
	}
	if err := c.Validate(); err != nil {
		return Config{}, fmt.Errorf("fault spec %q: %w", spec, err)
	}
	return c, nil
}

// set parses one item into c.
func (c *Config) set(key, val string) error {
	var err error
	switch key {
	case "drop":
		c.DropRate, err = ParseRate(key, val)
	case "dup":
		c.DupRate, err = ParseRate(key, val)
	case "burst":
		r, n, ok := strings.Cut(val, ":")
		if !ok {
			return fmt.Errorf("burst=%s: want RATE:LEN, for example burst=0.001:20", val)
		}
		if c.BurstRate, err = ParseRate(key, r); err != nil {
			return err
		}
		c.BurstLen, err = parseCount(key, "length", n, 1)
	case "reorder":
		r, d, ok := strings.Cut(val, ":")
		if c.ReorderRate, err = ParseRate(key, r); err != nil || !ok {
			return err
		}
		c.ReorderDepth, err = parseCount(key, "depth", d, 1)
	case "delay":
		if c.Delay, err = time.ParseDuration(val); err != nil {
			return fmt.Errorf("delay=%s: not a duration (for example 2ms or 500us)", val)
		}
	case "seed":
		if c.Seed, err = strconv.ParseInt(val, 10, 64); err != nil {
			return fmt.Errorf("seed=%s: not a 64-bit integer", val)
		}
	default:
		return fmt.Errorf("unknown key %q (keys: %s)", key, specKeys)
	}
	return err
}

// parseCount parses a count of at least lo.
func parseCount(key, what, s string, lo int) (int, error) {
	v, err := strconv.Atoi(s)
	if err != nil || v < lo {
		return 0, fmt.Errorf("%s %s %q: want an integer of at least %d", key, what, s, lo)
	}
	return v, nil
}

// String returns c in ParseSpec's form, with the fields at their zero value
// left out ("none" for the zero Config); ParseSpec(c.String()) gives c back.
func (c Config) String() string {
	var items []string
	rate := func(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
	if c.DropRate != 0 {
		items = append(items, "drop="+rate(c.DropRate))
	}
	if c.BurstRate != 0 || c.BurstLen != 0 {
		items = append(items, "burst="+rate(c.BurstRate)+":"+strconv.Itoa(c.BurstLen))
	}
	if c.DupRate != 0 {
		items = append(items, "dup="+rate(c.DupRate))
	}
	if c.ReorderRate != 0 || c.ReorderDepth != 0 {
		s := "reorder=" + rate(c.ReorderRate)
		if c.ReorderDepth != 0 {
			s += ":" + strconv.Itoa(c.ReorderDepth)
		}
		items = append(items, s)
	}
	if c.Delay != 0 {
		items = append(items, "delay="+c.Delay.String())
	}
	if c.Seed != 0 {
		items = append(items, "seed="+strconv.FormatInt(c.Seed, 10))
	}
	if len(items) == 0 {
		return "none"
	}
	return strings.Join(items, ",")
}
