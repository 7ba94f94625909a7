package deploy

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// dashboard is the part of a Grafana JSON model the checks read.
type dashboard struct {
	Title      string  `json:"title"`
	UID        string  `json:"uid"`
	Panels     []panel `json:"panels"`
	Templating struct {
		List []struct {
			Name       string          `json:"name"`
			Type       string          `json:"type"`
			Query      json.RawMessage `json:"query"`
			Datasource *datasource     `json:"datasource"`
		} `json:"list"`
	} `json:"templating"`
}

type panel struct {
	Title      string      `json:"title"`
	Type       string      `json:"type"`
	Datasource *datasource `json:"datasource"`
	Targets    []struct {
		Expr       string      `json:"expr"`
		Datasource *datasource `json:"datasource"`
	} `json:"targets"`
	Panels []panel `json:"panels"` // a collapsed row's
}

type datasource struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

func readDashboard(t *testing.T) dashboard {
	t.Helper()
	b, err := os.ReadFile("grafana/tickcast.json")
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("grafana/tickcast.json: %v", err)
	}
	return d
}

// expr is one PromQL expression of the dashboard and where it is.
type expr struct{ where, promql string }

var labelValues = regexp.MustCompile(`^label_values\((.*),\s*\w+\)$`)

// exprs returns every PromQL expression of the dashboard: the panels'
// targets and the query variables' selectors (label_values(selector, label)).
func (d dashboard) exprs(t *testing.T) []expr {
	t.Helper()
	var out []expr
	var walk func([]panel)
	walk = func(ps []panel) {
		for _, p := range ps {
			for i, tg := range p.Targets {
				out = append(out, expr{fmt.Sprintf("panel %q target %d", p.Title, i), tg.Expr})
			}
			walk(p.Panels)
		}
	}
	walk(d.Panels)
	for _, v := range d.Templating.List {
		if v.Type != "query" {
			continue
		}
		var q struct {
			Query string `json:"query"`
		}
		if err := json.Unmarshal(v.Query, &q); err != nil {
			t.Fatalf("variable %s: query: %v", v.Name, err)
		}
		m := labelValues.FindStringSubmatch(q.Query)
		if m == nil {
			t.Fatalf("variable %s: query %q is not label_values(selector, label)", v.Name, q.Query)
		}
		out = append(out, expr{"variable " + v.Name, m[1]})
	}
	return out
}

// TestDashboardShape: one Prometheus datasource variable that every panel
// and target uses, and the panels the operators asked for.
func TestDashboardShape(t *testing.T) {
	d := readDashboard(t)
	if d.Title == "" || d.UID == "" {
		t.Error("the dashboard needs a title and a uid")
	}
	var dsVar bool
	for _, v := range d.Templating.List {
		if v.Type == "datasource" && v.Name == "datasource" && string(v.Query) == `"prometheus"` {
			dsVar = true
		}
		if v.Type == "query" && (v.Datasource == nil || v.Datasource.UID != "${datasource}") {
			t.Errorf("variable %s does not use the datasource variable", v.Name)
		}
	}
	if !dsVar {
		t.Error("no Prometheus datasource variable named datasource")
	}
	titles := map[string]bool{}
	var walk func([]panel)
	walk = func(ps []panel) {
		for _, p := range ps {
			titles[p.Title] = true
			if p.Type != "row" && (p.Datasource == nil || p.Datasource.UID != "${datasource}") {
				t.Errorf("panel %q does not use the datasource variable", p.Title)
			}
			for _, tg := range p.Targets {
				if tg.Datasource == nil || tg.Datasource.UID != "${datasource}" {
					t.Errorf("panel %q: a target does not use the datasource variable", p.Title)
				}
				if strings.TrimSpace(tg.Expr) == "" {
					t.Errorf("panel %q: a target without an expression", p.Title)
				}
			}
			walk(p.Panels)
		}
	}
	walk(d.Panels)
	for _, want := range []string{"Packets/s by line", "Line up", "First-arrival share", "Gaps/s", "Messages lost", "NACKs/s",
		"Feed latency (send → handler)", "Latency quantiles", "Downstream lag", "Downstream drops/s", "Instruments by state"} {
		if !titles[want] {
			t.Errorf("no panel %q", want)
		}
	}
}

// TestDashboardUsesRealFamilies: every tickcast metric the dashboard
// queries is a family the metrics package describes (or a pending one), and
// every recorded name a rule of tickcast.rules.yml.
func TestDashboardUsesRealFamilies(t *testing.T) {
	known := knownFamilies(t)
	recorded := recordingRules(t)
	d := readDashboard(t)
	n := 0
	for _, e := range d.exprs(t) {
		checkNames(t, e.where, e.promql, known, recorded)
		if f, _ := metricNames(e.promql); len(f) > 0 {
			n++
		}
	}
	if n < 20 {
		t.Errorf("only %d expressions name a tickcast metric", n)
	}
}

// grafanaVars are the dashboard's variables and Grafana's, replaced by
// something PromQL parses.
var grafanaVars = strings.NewReplacer("$__rate_interval", "1m", "$__interval", "1m", "$__range", "1h",
	"$job", ".*", "$instance", ".*", "$channel", ".*")

// TestDashboardPromQLParses: every expression parses as PromQL (promtool
// checks them as the expressions of recording rules).
func TestDashboardPromQLParses(t *testing.T) {
	tool := promtool(t)
	type rule struct {
		Record string `yaml:"record"`
		Expr   string `yaml:"expr"`
	}
	var rules []rule
	for i, e := range readDashboard(t).exprs(t) {
		rules = append(rules, rule{fmt.Sprintf("dashboard:expr_%d:check", i), grafanaVars.Replace(e.promql)})
	}
	b, err := yaml.Marshal(map[string]any{"groups": []any{map[string]any{"name": "dashboard", "rules": rules}}})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "dashboard.rules.yml"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	runTool(t, dir, tool, "check", "rules", "dashboard.rules.yml")
}
