package deploy_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

const dashboardFile = "grafana/swrcache-dashboard.json"

type datasource struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

// wantDatasource is the datasource every panel, query and query variable
// refers to: the "datasource" template variable, which works both in the
// import dialog and with file provisioning (which leaves __inputs alone).
var wantDatasource = datasource{Type: "prometheus", UID: "${datasource}"}

type dashboard struct {
	UID           string `json:"uid"`
	SchemaVersion int    `json:"schemaVersion"`
	Templating    struct {
		List []variable `json:"list"`
	} `json:"templating"`
	Panels []panel `json:"panels"`
}

type variable struct {
	Type       string      `json:"type"`
	Name       string      `json:"name"`
	Query      any         `json:"query"`
	Datasource *datasource `json:"datasource"`
}

type panel struct {
	ID         int                      `json:"id"`
	Type       string                   `json:"type"`
	Title      string                   `json:"title"`
	Datasource *datasource              `json:"datasource"`
	GridPos    struct{ X, Y, W, H int } `json:"gridPos"`
	Targets    []struct {
		RefID      string      `json:"refId"`
		Expr       string      `json:"expr"`
		Datasource *datasource `json:"datasource"`
	} `json:"targets"`
	Panels []panel `json:"panels"` // of a collapsed row
}

// loadDashboard returns the dashboard file's text and its parse.
func loadDashboard(t *testing.T) (string, dashboard) {
	t.Helper()
	text := readFile(t, dashboardFile)
	var keys map[string]json.RawMessage
	if err := json.Unmarshal([]byte(text), &keys); err != nil {
		t.Fatalf("%s: %v", dashboardFile, err)
	}
	for _, k := range []string{"uid", "title", "tags", "time", "schemaVersion", "templating", "annotations", "panels"} {
		if _, ok := keys[k]; !ok {
			t.Errorf("%s has no %q", dashboardFile, k)
		}
	}
	var d dashboard
	if err := json.Unmarshal([]byte(text), &d); err != nil {
		t.Fatalf("%s: %v", dashboardFile, err)
	}
	return text, d
}

// panelsOf returns every panel, those inside collapsed rows included.
func panelsOf(ps []panel) []panel {
	var all []panel
	for _, p := range ps {
		all = append(all, p)
		all = append(all, panelsOf(p.Panels)...)
	}
	return all
}

var uidPattern = regexp.MustCompile(`^[a-zA-Z0-9_-]{8,40}$`)

func TestDashboardStructure(t *testing.T) {
	_, d := loadDashboard(t)
	if !uidPattern.MatchString(d.UID) {
		t.Errorf("uid %q: want 8 to 40 letters, digits, - or _", d.UID)
	}
	if d.SchemaVersion < 36 {
		t.Errorf("schemaVersion %d: want a current one (36 or later)", d.SchemaVersion)
	}
	vars := map[string]variable{}
	for _, v := range d.Templating.List {
		vars[v.Name] = v
		if v.Type == "query" && (v.Datasource == nil || *v.Datasource != wantDatasource) {
			t.Errorf("variable %s: datasource %v, want %v", v.Name, v.Datasource, wantDatasource)
		}
	}
	if v, ok := vars["datasource"]; !ok || v.Type != "datasource" || v.Query != "prometheus" {
		t.Errorf("want a variable named datasource of type datasource, query prometheus; got %+v", v)
	}
	if v, ok := vars["job"]; !ok || v.Type != "query" {
		t.Errorf("want a query variable named job; got %+v", v)
	}

	ids := map[int]string{}
	var boxes []panel
	for _, p := range panelsOf(d.Panels) {
		name := fmt.Sprintf("panel %d %q", p.ID, p.Title)
		if p.ID <= 0 {
			t.Errorf("%s: want a positive id", name)
		} else if other, dup := ids[p.ID]; dup {
			t.Errorf("%s: id already used by %q", name, other)
		}
		ids[p.ID] = p.Title
		g := p.GridPos
		if g.W <= 0 || g.H <= 0 || g.X < 0 || g.Y < 0 || g.X+g.W > 24 {
			t.Errorf("%s: gridPos %+v does not fit the 24-column grid", name, g)
		}
		for _, b := range boxes {
			if g.X < b.GridPos.X+b.GridPos.W && b.GridPos.X < g.X+g.W && g.Y < b.GridPos.Y+b.GridPos.H && b.GridPos.Y < g.Y+g.H {
				t.Errorf("%s overlaps panel %d %q", name, b.ID, b.Title)
			}
		}
		boxes = append(boxes, p)
		if p.Type == "row" {
			continue
		}
		if p.Type == "" || p.Title == "" {
			t.Errorf("%s: want a type and a title", name)
		}
		if p.Datasource == nil || *p.Datasource != wantDatasource {
			t.Errorf("%s: datasource %v, want %v", name, p.Datasource, wantDatasource)
		}
		if len(p.Targets) == 0 {
			t.Errorf("%s has no targets", name)
		}
		refs := map[string]bool{}
		for _, q := range p.Targets {
			if q.RefID == "" || refs[q.RefID] {
				t.Errorf("%s: target refId %q is empty or repeated", name, q.RefID)
			}
			refs[q.RefID] = true
			if strings.TrimSpace(q.Expr) == "" {
				t.Errorf("%s: target %s has no expr", name, q.RefID)
			}
			if q.Datasource != nil && *q.Datasource != wantDatasource {
				t.Errorf("%s: target %s: datasource %v, want %v", name, q.RefID, q.Datasource, wantDatasource)
			}
		}
	}
}

// rangeSelector matches a range selector such as [5m] or [$__rate_interval].
var rangeSelector = regexp.MustCompile(`\[[^\]]*\]`)

func TestDashboardQueriesUseRateIntervalAndExportedMetrics(t *testing.T) {
	text, d := loadDashboard(t)
	checkMetricUse(t, dashboardFile, text, prose) // names anywhere: queries, variables, descriptions
	for _, p := range panelsOf(d.Panels) {
		for _, q := range p.Targets {
			where := fmt.Sprintf("panel %d %q target %s", p.ID, p.Title, q.RefID)
			checkMetricUse(t, where, q.Expr, queries)
			for _, r := range rangeSelector.FindAllString(q.Expr, -1) {
				if r != "[$__rate_interval]" {
					t.Errorf("%s: range %s, want [$__rate_interval]", where, r)
				}
			}
		}
	}
}

// gvar matches a Grafana variable reference: $name, ${name} or ${name:format}.
var gvar = regexp.MustCompile(`\$\{(\w+)(?::\w+)?\}|\$(\w+)|\[\[\w+\]\]`)

// substitute replaces the Grafana variables in expr with sample values, as
// Grafana would before sending the query; an unknown variable is an error.
func substitute(expr string, vars map[string]string) (string, error) {
	var unknown []string
	out := gvar.ReplaceAllStringFunc(expr, func(ref string) string {
		m := gvar.FindStringSubmatch(ref)
		name := m[1] + m[2]
		v, ok := vars[name]
		if !ok {
			unknown = append(unknown, ref)
		}
		return v
	})
	if unknown != nil {
		return "", fmt.Errorf("unknown Grafana variables %v", unknown)
	}
	return out, nil
}

func TestDashboardQueriesParse(t *testing.T) {
	_, d := loadDashboard(t)
	vars := map[string]string{"__rate_interval": "5m", "__interval": "1m", "__range": "1h"}
	for _, v := range d.Templating.List {
		vars[v.Name] = "sample-" + v.Name
	}
	// Each query becomes a recording rule, so promtool parses it.
	var rules strings.Builder
	rules.WriteString("groups:\n  - name: dashboard\n    rules:\n")
	n := 0
	for _, p := range panelsOf(d.Panels) {
		for _, q := range p.Targets {
			expr, err := substitute(q.Expr, vars)
			if err != nil {
				t.Errorf("panel %d %q target %s: %v", p.ID, p.Title, q.RefID, err)
				continue
			}
			quoted, _ := json.Marshal(expr) // a JSON string is a YAML double-quoted scalar
			fmt.Fprintf(&rules, "      - record: dashboard:panel_%d:%s\n        expr: %s\n", p.ID, q.RefID, quoted)
			n++
		}
	}
	if n == 0 {
		t.Fatal("the dashboard has no queries")
	}
	path := filepath.Join(t.TempDir(), "dashboard-queries.yml")
	if err := os.WriteFile(path, []byte(rules.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d dashboard queries written as recording rules", n)
	runPromtool(t, ".", "check", "rules", path)
}

func TestSubstituteRejectsUnknownVariables(t *testing.T) {
	vars := map[string]string{"job": "j", "__rate_interval": "5m"}
	got, err := substitute(`rate(x{job=~"${job}", a="$job"}[$__rate_interval])`, vars)
	if want := `rate(x{job=~"j", a="j"}[5m])`; err != nil || got != want {
		t.Errorf("substitute = %q, %v; want %q", got, err, want)
	}
	for _, expr := range []string{`x{job=~"$jbo"}`, `x{job=~"${job:regex}", n="$node"}`, `x{job="[[job]]"}`} {
		if _, err := substitute(expr, vars); err == nil {
			t.Errorf("substitute(%s) accepted an unknown variable", expr)
		}
	}
}
