// Package deploy holds the operations artefacts for swrcache's Prometheus
// metrics, and the tests that keep them honest. It has no Go API.
//
//   - prometheus/swrcache-alerts.yml: alerting rules for the operating
//     guide's thresholds (hit ratio, cache latency, Redis memory and
//     clients, refresh failures, the breaker, Redis configuration);
//   - prometheus/swrcache-alerts.test.yml: promtool unit tests that show
//     each alert firing once its threshold has been crossed for its "for"
//     duration, and silent just below the threshold and before then;
//   - prometheus/scrape.yml: a minimal Prometheus configuration that
//     scrapes an app's /metrics and loads the rules;
//   - grafana/swrcache-dashboard.json: a Grafana dashboard with a
//     datasource variable, so it can be imported or provisioned as is.
//
// The tests run promtool check rules, test rules and check config on the
// files; parse the dashboard, check its structure, and have promtool parse
// every panel query; and check that every swrcache_* metric, label and
// label value the files use is in the tests' table of the metrics, which
// is itself compared with what package promcache registers. Without
// promtool on PATH the promtool tests skip, unless SWRCACHE_REQUIRE_TOOLS=1
// (set by CI) makes them fail. Debian's prometheus package ships promtool.
//
// README.md in this directory lists the alerts and how to load the files.
package deploy
