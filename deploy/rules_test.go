package deploy_test

import (
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
)

const (
	promDir    = "prometheus"
	alertsFile = "swrcache-alerts.yml"
	testsFile  = "swrcache-alerts.test.yml"
	scrapeFile = "scrape.yml"
)

// promtool returns the path of promtool. Without one on PATH it skips t,
// or fails it when SWRCACHE_REQUIRE_TOOLS=1.
func promtool(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("promtool")
	if err != nil {
		const hint = "promtool is not on PATH (Debian: apt-get install --no-install-recommends prometheus)"
		if os.Getenv("SWRCACHE_REQUIRE_TOOLS") == "1" {
			t.Fatalf("%s and SWRCACHE_REQUIRE_TOOLS=1", hint)
		}
		t.Skipf("%s; set SWRCACHE_REQUIRE_TOOLS=1 to fail instead of skipping", hint)
	}
	logVersion.Do(func() {
		out, _ := exec.Command(path, "--version").CombinedOutput()
		version, _, _ := strings.Cut(string(out), "\n")
		t.Logf("using %s: %s", path, version)
	})
	return path
}

var logVersion sync.Once

// runPromtool runs promtool with args in dir and fails t unless it exits 0
// (1 is a failure, 3 a lint problem).
func runPromtool(t *testing.T, dir string, args ...string) {
	t.Helper()
	cmd := exec.Command(promtool(t), args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	t.Logf("promtool %s:\n%s", strings.Join(args, " "), strings.TrimSpace(string(out)))
}

func TestAlertRulesPassPromtoolCheck(t *testing.T) {
	runPromtool(t, promDir, "check", "rules", alertsFile)
}

func TestAlertRulesPassTheirUnitTests(t *testing.T) {
	runPromtool(t, promDir, "test", "rules", testsFile)
}

func TestScrapeConfigLoadsTheRules(t *testing.T) {
	runPromtool(t, promDir, "check", "config", scrapeFile)
	if !strings.Contains(readFile(t, filepath.Join(promDir, scrapeFile)), alertsFile) {
		t.Errorf("%s does not load %s", scrapeFile, alertsFile)
	}
}

var (
	alertLine    = regexp.MustCompile(`(?m)^\s*- alert:\s*(\S+)\s*$`)
	alertName    = regexp.MustCompile(`^SWRCache[A-Z][A-Za-z0-9]*$`)
	severityLine = regexp.MustCompile(`(?m)^\s*severity:\s*(\S+)\s*$`)
)

// alerts splits the rules file into one chunk of text per alert, by name.
func alerts(t *testing.T) map[string]string {
	t.Helper()
	text := readFile(t, filepath.Join(promDir, alertsFile))
	locs := alertLine.FindAllStringSubmatchIndex(text, -1)
	if len(locs) == 0 {
		t.Fatalf("no alerts found in %s", alertsFile)
	}
	chunks := make(map[string]string, len(locs))
	for i, loc := range locs {
		end := len(text)
		if i+1 < len(locs) {
			end = locs[i+1][0]
		}
		name := text[loc[2]:loc[3]]
		if _, dup := chunks[name]; dup {
			t.Errorf("alert %s is defined twice", name)
		}
		chunks[name] = text[loc[0]:end]
	}
	return chunks
}

func TestAlertsFollowTheConventions(t *testing.T) {
	for name, rule := range alerts(t) {
		if !alertName.MatchString(name) {
			t.Errorf("alert %s: want a CamelCase name starting with SWRCache", name)
		}
		sev := severityLine.FindStringSubmatch(rule)
		if sev == nil || (sev[1] != "page" && sev[1] != "ticket") {
			t.Errorf("alert %s: want a severity label of page or ticket, got %q", name, sev)
		}
		for _, key := range []string{"expr:", "for:", "summary:", "description:"} {
			if !strings.Contains(rule, key) {
				t.Errorf("alert %s has no %s", name, strings.TrimSuffix(key, ":"))
			}
		}
	}
}

// ruleTest is one alert_rule_test entry's alert and its expectation:
// "exp_alerts: []" (silent) or a list (firing).
var ruleTest = regexp.MustCompile(`(?m)^\s*alertname:\s*(\S+)\s*\n\s*exp_alerts:\s*(\[\])?\s*$`)

func TestEveryAlertIsTestedFiringAndSilent(t *testing.T) {
	firing, silent := map[string]int{}, map[string]int{}
	for _, m := range ruleTest.FindAllStringSubmatch(readFile(t, filepath.Join(promDir, testsFile)), -1) {
		if m[2] == "" {
			firing[m[1]]++
		} else {
			silent[m[1]]++
		}
	}
	rules := alerts(t)
	for _, name := range slices.Sorted(maps.Keys(rules)) {
		t.Logf("%-31s firing cases: %d, silent cases: %d", name, firing[name], silent[name])
		// Silent twice: before "for" has elapsed, and just below the threshold.
		if firing[name] < 1 || silent[name] < 2 {
			t.Errorf("alert %s: %s needs a firing case and two silent ones (exp_alerts: []): "+
				"before its for has elapsed, and below its threshold", name, testsFile)
		}
	}
	for name := range firing {
		if rules[name] == "" {
			t.Errorf("%s tests alert %s, which %s does not define", testsFile, name, alertsFile)
		}
	}
}

func TestAlertFilesUseOnlyExportedMetrics(t *testing.T) {
	for _, name := range []string{alertsFile, testsFile} {
		checkMetricUse(t, name, readFile(t, filepath.Join(promDir, name)), prose)
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
