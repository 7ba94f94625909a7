package deploy

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// promtool returns the path of promtool, or skips the test saying what to
// install.
func promtool(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("promtool")
	if err != nil {
		t.Skip("promtool not found: install Debian's prometheus package (apt-get install prometheus) to check deploy/prometheus")
	}
	return p
}

// runTool runs a tool in dir and fails the test with its output if it fails.
func runTool(t *testing.T, dir, tool string, args ...string) string {
	t.Helper()
	cmd := exec.Command(tool, args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", filepath.Base(tool), strings.Join(args, " "), err, out)
	}
	return string(out)
}

func TestPromtoolCheckConfig(t *testing.T) {
	runTool(t, "prometheus", promtool(t), "check", "config", "prometheus.yml")
}

func TestPromtoolCheckRules(t *testing.T) {
	runTool(t, "prometheus", promtool(t), "check", "rules", "tickcast.rules.yml")
}

// TestPromtoolTestRules runs the rules' unit tests: each alert fires on its
// bad series and stays silent on the healthy ones.
func TestPromtoolTestRules(t *testing.T) {
	runTool(t, "prometheus", promtool(t), "test", "rules", "tickcast.rules.test.yml")
}

// ruleFile is the part of a Prometheus rule file the checks read.
type ruleFile struct {
	Groups []struct {
		Name  string `yaml:"name"`
		Rules []struct {
			Record string `yaml:"record"`
			Alert  string `yaml:"alert"`
			Expr   string `yaml:"expr"`
		} `yaml:"rules"`
	} `yaml:"groups"`
}

// ruleTests is the part of a promtool test file the checks read.
type ruleTests struct {
	Tests []struct {
		InputSeries []struct {
			Series string `yaml:"series"`
		} `yaml:"input_series"`
		PromQLExprTest []struct {
			Expr string `yaml:"expr"`
		} `yaml:"promql_expr_test"`
	} `yaml:"tests"`
}

func readYAML(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// recordingRules returns the names the rules record.
func recordingRules(t *testing.T) []string {
	t.Helper()
	var rf ruleFile
	readYAML(t, "prometheus/tickcast.rules.yml", &rf)
	var names []string
	for _, g := range rf.Groups {
		for _, r := range g.Rules {
			if r.Record != "" {
				names = append(names, r.Record)
			}
		}
	}
	return names
}

// TestRulesUseRealFamilies: every metric a rule, a rule test's input series
// or a rule test's expression names is a tickcast family (or a recording
// rule), so no alert silently watches a name nothing exports.
func TestRulesUseRealFamilies(t *testing.T) {
	known := knownFamilies(t)
	recorded := recordingRules(t)
	var rf ruleFile
	readYAML(t, "prometheus/tickcast.rules.yml", &rf)
	alerts := map[string]bool{}
	for _, g := range rf.Groups {
		for _, r := range g.Rules {
			checkNames(t, "tickcast.rules.yml "+r.Record+r.Alert, r.Expr, known, recorded)
			if r.Alert != "" {
				alerts[r.Alert] = true
			}
		}
	}
	for _, a := range []string{"TickcastLineDown", "TickcastMessagesLost", "TickcastChecksumMismatch", "TickcastStaleInstrument", "TickcastSlowDownstream", "TickcastUpstreamDown"} {
		if !alerts[a] {
			t.Errorf("no alert %s", a)
		}
	}
	var rt ruleTests
	readYAML(t, "prometheus/tickcast.rules.test.yml", &rt)
	for i, tc := range rt.Tests {
		for _, s := range tc.InputSeries {
			checkNames(t, "tickcast.rules.test.yml input series", s.Series, known, recorded)
		}
		for _, e := range tc.PromQLExprTest {
			checkNames(t, "tickcast.rules.test.yml expression", e.Expr, known, recorded)
		}
		if len(tc.InputSeries) == 0 {
			t.Errorf("rule test %d has no input series", i)
		}
	}
}
