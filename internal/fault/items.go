package fault

import (
	"fmt"
	"strconv"
	"strings"
)

// SplitSpec walks a one-line spec in the form the command line takes: comma
// separated key=value items, each key at most once, in any order, spaces
// around keys and values ignored. It calls set for each item, in order, and
// stops at the first error. An empty spec (or "none") calls set never.
// keys lists the known keys for the error messages. The errors do not name
// the spec: callers wrap them with it. [ParseSpec] and the impairing proxy's
// spec (internal/impair) share this form.
func SplitSpec(spec, keys string, set func(key, val string) error) error {
	s := strings.TrimSpace(spec)
	if s == "" || s == "none" {
		return nil
	}
	seen := map[string]bool{}
	for item := range strings.SplitSeq(s, ",") {
		item = strings.TrimSpace(item)
		key, val, ok := strings.Cut(item, "=")
		key, val = strings.TrimSpace(key), strings.TrimSpace(val)
		if !ok || key == "" {
			return fmt.Errorf("item %q: want key=value (keys: %s)", item, keys)
		}
		if seen[key] {
			return fmt.Errorf("%s given twice", key)
		}
		seen[key] = true
		if err := set(key, val); err != nil {
			return err
		}
	}
	return nil
}

// ParseRate parses the probability of a spec item: a number from 0 to 1
// ("0.003") or a percentage from 0% to 100% ("0.3%"). key names the item in
// the error.
func ParseRate(key, s string) (float64, error) {
	num, pct := strings.CutSuffix(strings.TrimSpace(s), "%")
	v, err := strconv.ParseFloat(strings.TrimSpace(num), 64)
	if pct {
		v /= 100
	}
	if err != nil || !(v >= 0 && v <= 1) { // also rejects NaN
		return 0, fmt.Errorf("%s rate %q: want a probability from 0 to 1 (or 0%% to 100%%)", key, s)
	}
	return v, nil
}
