package deploy

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tickcast/tickcast/metrics"
)

var fqName = regexp.MustCompile(`fqName: "([^"]+)"`)

// describedFamilies returns the name of every family the metrics package's
// collectors describe. Describe reads no component (the families are fixed),
// so the collectors are made around nil components; a collector that starts
// reading one in Describe fails the test with a message saying so.
func describedFamilies(t *testing.T) map[string]bool {
	t.Helper()
	names := map[string]bool{}
	for what, c := range map[string]func() prometheus.Collector{
		"metrics.Publisher":  func() prometheus.Collector { return metrics.Publisher(nil) },
		"metrics.Subscriber": func() prometheus.Collector { return metrics.Subscriber(nil, 0) },
		"metrics.Relay":      func() prometheus.Collector { return metrics.Relay(nil) },
	} {
		descs, err := describe(c)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		for _, d := range descs {
			m := fqName.FindStringSubmatch(d.String())
			if m == nil {
				t.Fatalf("%s: no name in %s", what, d)
			}
			names[m[1]] = true
		}
	}
	if len(names) < 50 {
		t.Fatalf("only %d families described: the collectors changed?", len(names))
	}
	return names
}

// describe collects a collector's descriptions.
func describe(newCollector func() prometheus.Collector) (descs []*prometheus.Desc, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("Describe on a nil component panicked (%v): describe the families without the component, or list them in this test", r)
		}
	}()
	ch := make(chan *prometheus.Desc)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for d := range ch {
			descs = append(descs, d)
		}
	}()
	func() {
		defer close(ch)
		newCollector().Describe(ch)
	}()
	<-done
	return descs, nil
}

// knownFamilies is every family a rule or panel may use: the ones the
// metrics package describes.
func knownFamilies(t *testing.T) map[string]bool {
	return describedFamilies(t)
}

var (
	quoted     = regexp.MustCompile("\"(?:[^\"\\\\]|\\\\.)*\"|'(?:[^'\\\\]|\\\\.)*'|`[^`]*`")
	identifier = regexp.MustCompile(`[a-zA-Z_:][a-zA-Z0-9_:]*`)
)

// metricNames returns the tickcast metric names (tickcast_…) and recorded
// names (level:metric:operation) an expression uses. Strings are skipped,
// so label values never count.
func metricNames(expr string) (families, recorded []string) {
	for _, id := range identifier.FindAllString(quoted.ReplaceAllString(expr, `""`), -1) {
		switch {
		case strings.Contains(id, ":"):
			recorded = append(recorded, id)
		case strings.HasPrefix(id, "tickcast_"):
			families = append(families, id)
		}
	}
	return families, recorded
}

// isFamily reports whether a sample name belongs to a known family: the
// family itself, or a histogram's _bucket, _sum or _count series.
func isFamily(known map[string]bool, name string) bool {
	if known[name] {
		return true
	}
	for _, suffix := range []string{"_bucket", "_sum", "_count"} {
		if base, ok := strings.CutSuffix(name, suffix); ok && known[base] {
			return true
		}
	}
	return false
}

// checkNames fails the test for every name in expr that is neither a known
// family nor one of the recording rules.
func checkNames(t *testing.T, where, expr string, known map[string]bool, rules []string) {
	t.Helper()
	fams, recs := metricNames(expr)
	for _, n := range fams {
		if !isFamily(known, n) {
			t.Errorf("%s: %s is not a tickcast metric (not described by package metrics nor pending): %s", where, n, expr)
		}
	}
	for _, n := range recs {
		if !slices.Contains(rules, n) {
			t.Errorf("%s: %s is not a recording rule of tickcast.rules.yml: %s", where, n, expr)
		}
	}
}

func TestMetricNames(t *testing.T) {
	fams, recs := metricNames(`sum by (line) (rate(tickcast_line_packets_total{job=~"tickcast_x"}[1m])) / ignoring(line) a:tickcast_y:rate1m`)
	if !slices.Equal(fams, []string{"tickcast_line_packets_total"}) || !slices.Equal(recs, []string{"a:tickcast_y:rate1m"}) {
		t.Fatalf("got %q and %q", fams, recs)
	}
	known := describedFamilies(t)
	for _, n := range []string{"tickcast_line_up", "tickcast_messages_lost_total", "tickcast_downstream_cutoffs_total", "tickcast_publisher_messages_total"} {
		if !known[n] {
			t.Errorf("%s not among the described families", n)
		}
	}
	if isFamily(known, "tickcast_line_up_bucket_typo") || !isFamily(map[string]bool{"tickcast_latency_seconds": true}, "tickcast_latency_seconds_bucket") {
		t.Error("isFamily is wrong about histogram series")
	}
}
