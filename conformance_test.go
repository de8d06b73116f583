package swrcache_test

import (
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/swrcache/swrcache/core"
	"github.com/swrcache/swrcache/examples/proxy/cacheproxy"
	"github.com/swrcache/swrcache/middleware"
)

// The conformance tables: what RFC 9111, RFC 9110 sections 13 and 14,
// RFC 5861, RFC 9211 and RFC 9213 ask of a shared cache, one table per
// area (conformance_*_test.go), each row naming the section it tests. Every
// row runs in FromResponse mode (conformanceConfig) through every target:
// a reverse proxy to an origin server, built as examples/proxy builds it,
// and each adapter with the origin's handler as the route's handler.
//
// The engine's clock is not exported, so a row's waits are real: a step
// says how long after the row's first response it is sent. All rows run
// at once (each on a Redis prefix, engine and servers of its own), so the
// suite takes about as long as its longest row, whatever -parallel says;
// each row's subtest then reports what it found. -run selects rows as
// usual.

// confTable is one area's rows.
type confTable struct {
	area string
	rows []confRow
}

// confTables lists the areas; each has a conformance_*_test.go file.
var confTables = []confTable{
	{"freshness", freshnessRows}, {"age", ageRows}, {"stale", staleRows}, {"revalidation", revalidationRows},
	{"conditionals", conditionalRows}, {"range", rangeRows}, {"invalidation", invalidationRows},
	{"cache-status", cacheStatusRows}, {"cdn-cache-control", targetedRows},
}

// confRow is one behaviour, driven by requests in order.
type confRow struct {
	name string
	rfc  string // the section it tests, such as "RFC 9111 §4.2.1"
	// givenConfig changes the route's conformanceConfig; nil keeps it.
	givenConfig func(*middleware.Config)
	// givenOrigin answers reads: the n-th GET or HEAD of a path gets
	// givenOrigin[n-1], or the last one once past the end.
	givenOrigin []confAnswer
	// givenWrite answers every other method; the zero value is a 204.
	givenWrite confAnswer
	steps      []confStep
}

// confStep is one request and what its client must see.
type confStep struct {
	at     time.Duration // since the row's first response arrived
	method string
	path   string
	header []string // name, value, ...; "Host" sets the request's host
	checks []confCheck
	// retry repeats the request until every check holds, for at most five
	// seconds: for what a background refresh does.
	retry bool
}

// Waits past a max-age=1 and past one second of staleness, with room for
// a busy machine.
const (
	oneSecondOn  = 1500 * time.Millisecond
	twoSecondsOn = 2600 * time.Millisecond
)

func whenGet(path string, header ...string) confStep { return whenDo(http.MethodGet, path, header...) }

func whenDo(method, path string, header ...string) confStep {
	return confStep{method: method, path: path, header: header}
}

// after sends the step d after the row's first response arrived: that
// response was stored by then, so d is at least its time in the cache.
func (s confStep) after(d time.Duration) confStep { s.at = d; return s }

// eventually repeats the step until its checks hold.
func (s confStep) eventually() confStep { s.retry = true; return s }

func (s confStep) expect(checks ...confCheck) confStep {
	s.checks = append(slices.Clip(s.checks), checks...)
	return s
}

func (s confStep) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s", s.method, s.path)
	for i := 0; i+1 < len(s.header); i += 2 {
		fmt.Fprintf(&b, " [%s: %s]", s.header[i], s.header[i+1])
	}
	if s.at > 0 {
		fmt.Fprintf(&b, " at %v", s.at)
	}
	return b.String()
}

// conformanceConfig is every row's route: FromResponse, a route TTL (the
// lifetime of a response that gives none, and the cap) of ten minutes,
// windows of a minute, and no refresh ahead of time, so that only the
// rows' requests reach the origin.
func conformanceConfig() middleware.Config {
	cfg := baseConfig()
	cfg.Freshness = middleware.FromResponse
	cfg.TTL, cfg.StaleWhileRevalidate, cfg.StaleIfError, cfg.RefreshAhead = 10*time.Minute, time.Minute, time.Minute, -1
	return cfg
}

func TestConformance(t *testing.T) {
	var runs []*confRun
	for _, target := range confTargets() {
		for _, table := range confTables {
			for _, row := range table.rows {
				t.Run(target.name+"/"+table.area+"/"+row.name, func(t *testing.T) {
					run := newConfRun(t, target, row)
					runs = append(runs, run)
					t.Parallel() // resumes once every run has played, below
					run.report(t)
				})
			}
		}
	}
	var wg sync.WaitGroup
	start := time.Now().Add(100 * time.Millisecond)
	for i, run := range runs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			run.play(start.Add(time.Duration(i) * 5 * time.Millisecond)) // spread the first requests
		}()
	}
	wg.Wait()
}

// confTarget serves a route's handler behind the cache.
type confTarget struct {
	name  string
	serve func(t *testing.T, e *core.Engine, cfg middleware.Config, h http.Handler) *httptest.Server
}

// confTargets are the proxy and every adapter, on a route that takes
// every method, so that writes reach the cache.
func confTargets() []confTarget {
	targets := []confTarget{{name: "proxy", serve: serveProxy}}
	everyMethod := map[string]func(*testing.T, *core.Engine, middleware.Config, http.Handler) *httptest.Server{
		"echo": serveEchoEveryMethod, "gin": serveGinEveryMethod,
	}
	for _, a := range adapters {
		serve := a.serve
		if s, ok := everyMethod[a.name]; ok {
			serve = s
		}
		targets = append(targets, confTarget{name: a.name, serve: serve})
	}
	return targets
}

// serveProxy serves h as an origin server, and examples/proxy's caching
// reverse proxy to it, with cfg.
func serveProxy(t *testing.T, e *core.Engine, cfg middleware.Config, h http.Handler) *httptest.Server {
	t.Helper()
	origin := httptest.NewServer(h)
	t.Cleanup(origin.Close)
	u, err := url.Parse(origin.URL)
	if err != nil {
		t.Fatal(err)
	}
	proxy, err := cacheproxy.New(e, u, cfg, cacheproxy.Options{
		Transport: origin.Client().Transport,  // its connections close with the origin
		ErrorLog:  log.New(io.Discard, "", 0), // a refresh still running when the row ends
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(proxy)
	t.Cleanup(srv.Close)
	return srv
}

// extraMethod is an unsafe method no framework routes by default.
const extraMethod = "PROPPATCH"

// everyMethod are the methods the conformance targets route: the safe
// ones, the writes, and one no framework routes by default.
var everyMethod = []string{http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodPost,
	http.MethodPut, http.MethodPatch, http.MethodDelete, extraMethod}

func serveEchoEveryMethod(t *testing.T, e *core.Engine, cfg middleware.Config, h http.Handler) *httptest.Server {
	t.Helper()
	return serveEchoFor(t, e, cfg, h, everyMethod...)
}

func serveGinEveryMethod(t *testing.T, e *core.Engine, cfg middleware.Config, h http.Handler) *httptest.Server {
	t.Helper()
	return serveGinFor(t, e, cfg, h, everyMethod...)
}

// confRun is one row through one target.
type confRun struct {
	row    confRow
	srv    *httptest.Server
	client *http.Client
	origin *confOrigin
	failed []string // written by play, read by report after it
}

func newConfRun(t *testing.T, target confTarget, row confRow) *confRun {
	t.Helper()
	cfg := conformanceConfig()
	if row.givenConfig != nil {
		row.givenConfig(&cfg)
	}
	o := newConfOrigin(row)
	// Every row runs at once: a Redis call may wait for the CPU longer
	// than the default 200ms, and these rows are not about Redis.
	e := newEngine(t, func(c *core.Config) {
		c.OpTimeout = 2 * time.Second
		if target.name == "proxy" { // as examples/proxy runs, with the memory tier in front of Redis
			c.Memory = core.MemoryConfig{MaxBytes: 8 << 20}
		}
	})
	srv := target.serve(t, e, cfg, o)
	client := *srv.Client()
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &confRun{row: row, srv: srv, client: &client, origin: o}
}

// play sends the row's first request at start and the others each at its
// time after the first response, and records what differs from the row's
// checks.
func (run *confRun) play(start time.Time) {
	time.Sleep(time.Until(start))
	for i, s := range run.row.steps {
		time.Sleep(time.Until(start.Add(s.at)))
		msg, err := run.step(s)
		if i == 0 {
			start = time.Now()
		}
		switch {
		case err != nil:
			run.failed = append(run.failed, fmt.Sprintf("step %d, %s: %v", i+1, s, err))
			return // the rest depends on it
		case msg != "":
			run.failed = append(run.failed, fmt.Sprintf("step %d, %s: %s", i+1, s, msg))
		}
	}
}

func (run *confRun) report(t *testing.T) {
	t.Helper()
	for _, f := range run.failed {
		t.Errorf("%s: %s", run.row.rfc, f)
	}
}

// step sends s, again while it is to be retried and its checks fail, and
// says what differs from them, or "".
func (run *confRun) step(s confStep) (string, error) {
	deadline := time.Now().Add(5 * time.Second)
	for {
		before := run.origin.count()
		got, err := run.send(s)
		if err != nil {
			return "", err
		}
		got.originCalls = run.origin.count() - before
		got.originSaw = run.origin.lastHeader()
		var msgs []string
		for _, c := range s.checks {
			if m := c(got); m != "" {
				msgs = append(msgs, m)
			}
		}
		if len(msgs) == 0 {
			return "", nil
		}
		if !s.retry || time.Now().After(deadline) {
			return fmt.Sprintf("%s (got %s)", strings.Join(msgs, "; "), got), nil
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (run *confRun) send(s confStep) (confObserved, error) {
	req, err := http.NewRequest(s.method, run.srv.URL+s.path, nil)
	if err != nil {
		return confObserved{}, err
	}
	for i := 0; i+1 < len(s.header); i += 2 {
		if s.header[i] == "Host" {
			req.Host = s.header[i+1]
			continue
		}
		req.Header.Add(s.header[i], s.header[i+1])
	}
	resp, err := run.client.Do(req)
	if err != nil {
		return confObserved{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return confObserved{}, err
	}
	return confObserved{reply: reply{resp.StatusCode, resp.Header, string(b)}}, nil
}

// confObserved is what one step saw: the reply, and the origin's side.
type confObserved struct {
	reply
	originCalls int         // requests the origin answered during the step
	originSaw   http.Header // the header of the last request the origin received, nil before any
}

func (o confObserved) String() string {
	body := o.body
	if len(body) > 60 {
		body = body[:60] + "..."
	}
	return fmt.Sprintf("%d %q, Cache-Status %q, Age %q, %d origin calls", o.status, body,
		strings.Join(o.header.Values("Cache-Status"), ", "), o.header.Get("Age"), o.originCalls)
}
