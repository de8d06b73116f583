package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// loadPhase is what one phase of a load test saw.
type loadPhase struct {
	Name       string  `json:"phase"` // "off" or "on"
	Requests   int     `json:"requests"`
	Errors     int     `json:"errors"` // transport errors and 5xx
	RPS        float64 `json:"rps"`
	P50        float64 `json:"p50_ms"`
	P99        float64 `json:"p99_ms"`
	Max        float64 `json:"max_ms"`
	HitRatio   float64 `json:"hit_ratio"`    // responses served from the cache, by Cache-Status
	Origin     int     `json:"origin_calls"` // responses the origin made for this request, by Cache-Status
	RSSBytes   float64 `json:"rss_bytes,omitempty"`
	HeapBytes  float64 `json:"heap_bytes,omitempty"`
	MemoryTier float64 `json:"memory_tier_bytes,omitempty"`

	firstErr   error // the first failure, for stderr
	metricsErr error // why --metrics gave nothing
}

// runLoad drives a set of URLs at a rate, with the cache off and then on,
// as the operating guide asks ("simulate 2x peak RPS with cache disabled,
// then enable; verify p99 stability and memory bounds"), and reports each
// phase's throughput, latency, hit ratio, origin calls and the app's
// memory (from its /metrics, when given).
func runLoad(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("load", "load --url URL [--url URL ...] [flags]", stderr)
	var urls listFlag
	urls.whole = true
	fs.Var(&urls, "url", "a `URL` to request, repeatable; they are requested in turn")
	urlsFile := fs.String("urls", "", "a `file` of URLs, one per line (- for stdin)")
	rate := fs.Int("rate", 0, "requests per second across all workers; 0 means as fast as they go")
	workers := fs.Int("concurrency", 16, "requests in flight at once")
	duration := fs.Duration("duration", 10*time.Second, "how long each phase lasts")
	warmup := fs.Duration("warmup", 2*time.Second, "how long the cache is warmed, unmeasured, before the \"on\" phase")
	var headers listFlag
	headers.whole = true
	fs.Var(&headers, "header", "a request `header`, 'Name: value', sent in both phases, repeatable")
	off := fs.String("off-header", "Cache-Control: no-cache", "the request `header` that turns the cache off for the \"off\" phase (a route with HonorNoCache, or a Skipper of your own, honours it); empty skips that phase")
	metrics := fs.String("metrics", "", "the app's Prometheus `URL` (its /metrics), read after each phase for its memory")
	output := outputFlag(fs)
	if code, done := parse(fs, args); done {
		return code
	}
	if code, bad := checkOutput(fs, *output); bad {
		return code
	}
	list := slices.Clone(urls.list)
	if *urlsFile != "" {
		more, err := readLines(*urlsFile)
		if err != nil {
			fmt.Fprintf(stderr, "swrcache load: %v\n", err)
			return exitUsage
		}
		list = append(list, more...)
	}
	for _, u := range list {
		if parsed, err := url.Parse(u); err != nil || (parsed.Scheme != "http" && parsed.Scheme != "https") || parsed.Host == "" {
			return usageError(fs, "%q is not an http(s) URL", u)
		}
	}
	if *metrics != "" {
		if parsed, err := url.Parse(*metrics); err != nil || (parsed.Scheme != "http" && parsed.Scheme != "https") || parsed.Host == "" {
			return usageError(fs, "--metrics %q is not an http(s) URL", *metrics)
		}
	}
	switch {
	case len(list) == 0:
		return usageError(fs, "no URL: give --url or --urls")
	case *workers < 1 || *rate < 0 || *duration <= 0 || *warmup < 0:
		return usageError(fs, "--concurrency must be at least 1, --rate and --warmup not negative, --duration positive")
	}
	hdr, err := parseHeaders(headers.list)
	if err != nil {
		return usageError(fs, "%v", err)
	}
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: *workers * 2}}
	defer client.CloseIdleConnections()
	l := &loader{client: client, urls: list, header: hdr, workers: *workers, rate: *rate, metrics: *metrics}
	var phases []loadPhase
	if *off != "" {
		offHdr, err := parseHeaders([]string{*off})
		if err != nil {
			return usageError(fs, "--off-header: %v", err)
		}
		phases = append(phases, l.phase(ctx, "off", *duration, offHdr))
	}
	if *warmup > 0 {
		l.phase(ctx, "warmup", *warmup, nil)
	}
	phases = append(phases, l.phase(ctx, "on", *duration, nil))
	if ctx.Err() != nil {
		fmt.Fprintln(stderr, "swrcache load: interrupted")
	}
	for _, p := range phases {
		if p.firstErr != nil {
			fmt.Fprintf(stderr, "swrcache load: %s: %d of %d requests failed; the first: %v\n", p.Name, p.Errors, p.Requests, p.firstErr)
		}
		if p.metricsErr != nil {
			fmt.Fprintf(stderr, "swrcache load: %s: no memory figures: %v\n", p.Name, p.metricsErr)
		}
		if p.Name == "off" && p.HitRatio > 0 {
			fmt.Fprintf(stderr, "swrcache load: off: %.0f%% of responses still came from the cache: does the route honour --off-header %q (HonorNoCache, or a Skipper)?\n", 100*p.HitRatio, *off)
		}
	}
	if *output == "json" {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(phases)
	} else {
		printPhases(stdout, phases)
	}
	for _, p := range phases {
		if p.Errors > 0 {
			return exitProblem
		}
	}
	return exitOK
}

// loader sends the requests of a load test.
type loader struct {
	client  *http.Client
	urls    []string
	header  http.Header
	workers int
	rate    int
	metrics string
}

// phase sends requests for d, with extra headers, and sums up.
func (l *loader) phase(ctx context.Context, name string, d time.Duration, extra http.Header) loadPhase {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var (
		mu             sync.Mutex
		lat            []time.Duration
		errs, served   int
		origin, counts int
		next           int
		firstErr       error
	)
	start := time.Now()
	var slots atomic.Int64 // with --rate: request n goes out at start + n/rate
	var wg sync.WaitGroup
	for range l.workers {
		wg.Go(func() {
			for {
				if l.rate > 0 {
					at := start.Add(time.Duration(slots.Add(1)-1) * time.Second / time.Duration(l.rate))
					if wait := time.Until(at); wait > 0 {
						t := time.NewTimer(wait)
						select {
						case <-t.C:
						case <-ctx.Done():
							t.Stop()
							return
						}
					}
				}
				if ctx.Err() != nil {
					return
				}
				mu.Lock()
				url := l.urls[next%len(l.urls)]
				next++
				mu.Unlock()
				took, status, cacheStatus, err := l.get(ctx, url, extra)
				if ctx.Err() != nil {
					return // cut short by the phase's end: not counted
				}
				mu.Lock()
				counts++
				switch {
				case err != nil || status >= 500:
					errs++
					if firstErr == nil {
						firstErr = err
						if err == nil {
							firstErr = fmt.Errorf("%s answered %d", url, status)
						}
					}
				default:
					lat = append(lat, took)
					hit, fromOrigin := classify(cacheStatus)
					if hit {
						served++
					}
					if fromOrigin {
						origin++
					}
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	p := loadPhase{Name: name, Requests: counts, Errors: errs, Origin: origin, firstErr: firstErr}
	p.RPS = float64(counts) / elapsed.Seconds()
	if n := len(lat); n > 0 {
		slices.Sort(lat)
		ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
		p.P50, p.P99, p.Max = ms(lat[n/2]), ms(lat[min(n-1, n*99/100)]), ms(lat[n-1])
		p.HitRatio = float64(served) / float64(n)
	}
	if l.metrics != "" {
		p.RSSBytes, p.HeapBytes, p.MemoryTier, p.metricsErr = l.memory()
	}
	return p
}

// get sends one GET and reads the whole response.
func (l *loader) get(ctx context.Context, url string, extra http.Header) (time.Duration, int, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, 0, "", err
	}
	for k, v := range l.header {
		req.Header[k] = v
	}
	for k, v := range extra {
		req.Header[k] = v
	}
	start := time.Now()
	resp, err := l.client.Do(req)
	if err != nil {
		return 0, 0, "", err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return time.Since(start), resp.StatusCode, resp.Header.Get("Cache-Status"), err
}

// classify reads a Cache-Status (RFC 9211) as swrcache writes it: served
// from the cache (a hit, or stale), and whether the origin made this
// response (a miss that was not collapsed, or a bypass).
func classify(cacheStatus string) (hit, origin bool) {
	first, _, _ := strings.Cut(cacheStatus, ",") // the cache nearest the origin
	params := strings.Split(first, ";")
	has := func(p string) bool {
		return slices.ContainsFunc(params[1:], func(s string) bool { return strings.TrimSpace(s) == p })
	}
	switch {
	case cacheStatus == "":
		return false, true // no cache said anything: the origin answered
	case has("hit"), has("fwd=stale"):
		return true, false
	case has("collapsed"):
		return false, false
	}
	return false, true
}

// memory reads the app's resident and heap memory, and its memory tier's,
// from its Prometheus text; an error says why there are none.
func (l *loader) memory() (rss, heap, tier float64, err error) {
	resp, err := l.client.Get(l.metrics)
	if err != nil {
		return 0, 0, 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, 0, 0, fmt.Errorf("%s answered %d", l.metrics, resp.StatusCode)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	found := false
	for sc.Scan() {
		name, value, ok := strings.Cut(sc.Text(), " ")
		if !ok || strings.HasPrefix(name, "#") {
			continue
		}
		v, err := strconv.ParseFloat(value, 64)
		if err != nil {
			continue
		}
		switch name {
		case "process_resident_memory_bytes":
			rss, found = v, true
		case "go_memstats_heap_inuse_bytes":
			heap, found = v, true
		case "swrcache_memory_bytes":
			tier, found = v, true
		}
	}
	if !found {
		return 0, 0, 0, fmt.Errorf("%s has none of process_resident_memory_bytes, go_memstats_heap_inuse_bytes, swrcache_memory_bytes", l.metrics)
	}
	return rss, heap, tier, sc.Err()
}

func printPhases(w io.Writer, phases []loadPhase) {
	fmt.Fprintf(w, "%-6s %9s %7s %10s %9s %9s %9s %6s %8s %10s %10s %10s\n",
		"phase", "requests", "errors", "req/s", "p50 ms", "p99 ms", "max ms", "hits", "origin", "rss MiB", "heap MiB", "tier MiB")
	for _, p := range phases {
		mib := func(b float64) string {
			if b == 0 {
				return "-"
			}
			return fmt.Sprintf("%.1f", b/(1<<20))
		}
		fmt.Fprintf(w, "%-6s %9d %7d %10.0f %9.2f %9.2f %9.2f %5.1f%% %8d %10s %10s %10s\n",
			p.Name, p.Requests, p.Errors, p.RPS, p.P50, p.P99, p.Max, 100*p.HitRatio, p.Origin, mib(p.RSSBytes), mib(p.HeapBytes), mib(p.MemoryTier))
	}
}

func parseHeaders(lines []string) (http.Header, error) {
	h := http.Header{}
	for _, line := range lines {
		name, value, ok := strings.Cut(line, ":")
		if !ok || strings.TrimSpace(name) == "" {
			return nil, fmt.Errorf("header %q is not 'Name: value'", line)
		}
		h.Add(strings.TrimSpace(name), strings.TrimSpace(value))
	}
	return h, nil
}

func readLines(path string) ([]string, error) {
	var r io.Reader = os.Stdin
	if path != "-" {
		f, err := os.Open(path)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		r = f
	}
	var out []string
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		if line := strings.TrimSpace(sc.Text()); line != "" && !strings.HasPrefix(line, "#") {
			out = append(out, line)
		}
	}
	return out, sc.Err()
}
