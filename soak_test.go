package swrcache_test

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/swrcache/swrcache/breaker"
	"github.com/swrcache/swrcache/core"
	"github.com/swrcache/swrcache/internal/faultproxy"
	"github.com/swrcache/swrcache/internal/redistest"
)

// Soak parameters. The request rate is bounded (each worker pauses 20-60ms
// between requests, about 400 requests/s in all) so that the soak does not
// starve the other test binaries that go test ./... runs beside it on a
// 2-core CI machine.
const (
	soakEnv         = "SWRCACHE_SOAK"
	soakDefault     = 60 * time.Second
	soakMin         = 15 * time.Second
	soakWorkers     = 16
	soakHotKeys     = 20
	soakColdSpace   = 1 << 20
	soakHotShare    = 0.8
	soakTTL         = 2 * time.Second
	soakSWR         = 10 * time.Second
	soakLockTTL     = 3 * time.Second
	soakOpenTimeout = time.Second
	// soakRecovery is excluded from the hit ratio after the heal: the
	// breakers stay open for soakOpenTimeout, then probe and close.
	soakRecovery = 3 * time.Second
	// soakHeapSlack bounds HeapAlloc growth across the soak, measured after
	// everything is closed and two GCs. With nothing retained the growth is
	// well under 1 MiB (runtime and net/http bookkeeping, the test's own
	// latency samples); GC timing and fragmentation on a loaded 2-core
	// machine can add a few MiB. Every request makes several KiB of garbage
	// (a ~1 KiB body read, recorded, encoded into an envelope and decoded
	// again, plus headers), so a leak of 2 KiB or more per request over the
	// ~20,000 requests of the 60 s soak exceeds 32 MiB, while noise stays
	// far below it.
	soakHeapSlack = 32 << 20
	// soakGoroutineSlack allows for runtime and testing goroutines that come
	// and go on their own.
	soakGoroutineSlack = 5
)

// soakDuration reads SWRCACHE_SOAK: unset or empty skips the soak; 1, true,
// yes or on mean soakDefault; anything else must be a Go duration (20s, 2m).
func soakDuration(t *testing.T) time.Duration {
	t.Helper()
	v := strings.TrimSpace(os.Getenv(soakEnv))
	switch strings.ToLower(v) {
	case "", "0", "false", "no", "off":
		t.Skipf("soak test: set %s=1 (about %v) or %s=<duration> to run it", soakEnv, soakDefault, soakEnv)
	case "1", "true", "yes", "on":
		return soakDefault
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		t.Fatalf("%s=%q: want 1 or a duration such as 20s: %v", soakEnv, v, err)
	}
	if d < soakMin {
		t.Logf("%s=%v is shorter than the minimum; soaking for %v", soakEnv, d, soakMin)
		d = soakMin
	}
	return d
}

// soakBody is the body the origin serves for path: it names the path, pads it
// to about 1 KiB with bytes derived from the path, and ends with n, the
// handler call that produced it.
func soakBody(path string, n int64) string {
	return soakBodyPrefix(path) + strconv.FormatInt(n, 10)
}

func soakBodyPrefix(path string) string {
	var b strings.Builder
	b.WriteString("page ")
	b.WriteString(path)
	b.WriteByte('\n')
	for b.Len() < 1024 {
		b.WriteString(path)
	}
	b.WriteString("\n#")
	return b.String()
}

// The phases of the soak, by when a request started relative to the fault.
const (
	soakBefore = iota // healthy, before the fault
	soakFault         // blackholed, or recovering from it
	soakAfter         // healthy again
	soakPhases
)

// soakTally counts what the clients saw in one phase.
type soakTally struct {
	requests, errors, wrong       int64
	hot, hotCached                int64 // hot-key requests, and those served from the cache
	hit, stale, miss, collapsed   int64
	bypass, staleIfError, unknown int64
}

func (s *soakTally) add(o soakTally) {
	s.requests += o.requests
	s.errors += o.errors
	s.wrong += o.wrong
	s.hot += o.hot
	s.hotCached += o.hotCached
	s.hit += o.hit
	s.stale += o.stale
	s.miss += o.miss
	s.collapsed += o.collapsed
	s.bypass += o.bypass
	s.staleIfError += o.staleIfError
	s.unknown += o.unknown
}

func (s soakTally) hotRatio() float64 {
	if s.hot == 0 {
		return 0
	}
	return float64(s.hotCached) / float64(s.hot)
}

// TestSoak runs an instance per adapter (net/http, echo, gin) on one Redis (through a fault proxy) under
// mixed traffic for SWRCACHE_SOAK, blackholes Redis in the middle, and checks
// that clients never see an error or a wrong body, that hot keys are served
// from the cache outside the fault, and that closing everything leaves no
// goroutine, no heap growth and no fill lock behind.
func TestSoak(t *testing.T) {
	dur := soakDuration(t)
	redistest.Addr(t) // resolves the server, so that Embedded is meaningful
	if redistest.Embedded() {
		t.Skip("needs a real Redis behind the proxy")
	}

	runtime.GC()
	runtime.GC()
	goroutinesBefore := runtime.NumGoroutine()
	heapBefore := soakHeapAlloc()

	ns := redistest.Prefix(t)
	inspect := redistest.Client(t) // straight to Redis, for the checks at the end
	proxy := faultproxy.Start(t, redistest.Addr(t))

	var handlerCalls atomic.Int64
	origin := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := handlerCalls.Add(1)
		time.Sleep(2*time.Millisecond + rand.N(3*time.Millisecond))
		io.WriteString(w, soakBody(r.URL.Path, n))
	})

	var evMu sync.Mutex
	events := map[string]int{}
	var timeline []string // breaker changes and first Redis errors, for the log
	var soakStart atomic.Int64
	onEvent := func(_ context.Context, e core.Event) {
		evMu.Lock()
		events[e.Kind.String()]++
		if (e.Kind == core.EventBreaker || e.Kind == core.EventRedisError) && len(timeline) < 40 {
			timeline = append(timeline, fmt.Sprintf("%.1fs %s %s>%s %v", time.Since(time.Unix(0, soakStart.Load())).Seconds(), e.Kind, e.From, e.To, e.Err))
		}
		evMu.Unlock()
	}

	cfg := baseConfig()
	cfg.TTL, cfg.StaleWhileRevalidate = soakTTL, soakSWR

	type instance struct {
		rdb    *redis.Client
		engine *core.Engine
		srv    *httptest.Server
	}
	var instances []instance
	for _, a := range adapters { // one instance per framework
		rdb := redistest.NodeClient(t, proxy.Addr(), func(o *redis.Options) { o.PoolSize = 32 })
		br, err := breaker.New(breaker.Config{
			SlowCall:    -1, // only errors (timeouts included): -race on 2 cores is slow
			OpenTimeout: soakOpenTimeout,
		})
		if err != nil {
			t.Fatal(err)
		}
		engine, err := core.New(core.Config{
			Client:    rdb,
			Namespace: ns,
			Breaker:   br,
			OpTimeout: 500 * time.Millisecond,
			LockTTL:   soakLockTTL,
			OnEvent:   onEvent,
		})
		if err != nil {
			t.Fatal(err)
		}
		srv := a.serve(t, engine, cfg, origin)
		instances = append(instances, instance{rdb, engine, srv})
	}
	closed := false
	closeAll := func() {
		if closed {
			return
		}
		closed = true
		for _, in := range instances {
			in.srv.Close()
		}
		for _, in := range instances {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			if err := in.engine.Close(ctx); err != nil {
				t.Errorf("closing an engine: %v", err)
			}
			cancel()
			_ = in.rdb.Close()
		}
		proxy.Close()
	}
	t.Cleanup(closeAll)

	httpc := &http.Client{
		Timeout:   10 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: soakWorkers},
	}

	var phase atomic.Int32 // soakBefore, soakFault, soakAfter
	var tallyMu sync.Mutex
	var tallies [soakPhases]soakTally
	var latencies []time.Duration
	var firstBad atomic.Value // string: the first error or wrong body seen

	start := time.Now()
	soakStart.Store(start.UnixNano())
	deadline := start.Add(dur)
	var wg sync.WaitGroup
	for w := range soakWorkers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var local [soakPhases]soakTally
			var lat []time.Duration
			defer func() {
				tallyMu.Lock()
				for p := range local {
					tallies[p].add(local[p])
				}
				latencies = append(latencies, lat...)
				tallyMu.Unlock()
			}()
			for i := 0; time.Now().Before(deadline); i++ {
				hot := rand.Float64() < soakHotShare
				path := fmt.Sprintf("/c/%d", rand.N(soakColdSpace))
				if hot {
					path = fmt.Sprintf("/h/%d", rand.N(soakHotKeys))
				}
				srv := instances[(w+i)%len(instances)].srv
				p := phase.Load()
				tl := &local[p]
				tl.requests++
				if hot {
					tl.hot++
				}
				t0 := time.Now()
				status, cacheStatus, body, err := soakGet(httpc, srv.URL+path)
				lat = append(lat, time.Since(t0))
				switch {
				case err != nil:
					tl.errors++
					firstBad.CompareAndSwap(nil, fmt.Sprintf("GET %s: %v", path, err))
				case status != http.StatusOK || !strings.HasPrefix(body, soakBodyPrefix(path)):
					tl.wrong++
					firstBad.CompareAndSwap(nil, fmt.Sprintf("GET %s: %d %q (%s)", path, status, body, cacheStatus))
				}
				switch {
				case strings.Contains(cacheStatus, "; hit"):
					tl.hit++
				case strings.Contains(cacheStatus, "stale-if-error"):
					tl.staleIfError++
				case strings.Contains(cacheStatus, "fwd=stale"):
					tl.stale++
				case strings.Contains(cacheStatus, "collapsed"):
					tl.collapsed++
				case strings.Contains(cacheStatus, "fwd=bypass"):
					tl.bypass++
				case strings.Contains(cacheStatus, "fwd=uri-miss"):
					tl.miss++
				default:
					tl.unknown++
				}
				if hot && (strings.Contains(cacheStatus, "; hit") || strings.Contains(cacheStatus, "fwd=stale")) {
					tl.hotCached++
				}
				time.Sleep(20*time.Millisecond + rand.N(40*time.Millisecond))
			}
		}()
	}

	// The fault: Redis blackholed for 5-8s from 40% of the run.
	faultLen := min(8*time.Second, max(5*time.Second, dur/6))
	faultAt := start.Add(dur * 2 / 5)
	time.Sleep(time.Until(faultAt))
	phase.Store(soakFault)
	proxy.Blackhole()
	time.Sleep(faultLen)
	proxy.Heal()
	time.Sleep(soakRecovery)
	phase.Store(soakAfter)
	wg.Wait()
	elapsed := time.Since(start)
	httpc.CloseIdleConnections()

	// Close everything, then note the locks left at that moment: a fill cut
	// off by the blackhole may leave its lock to expire, but never a lock
	// without an expiry.
	closeAll()
	closedAt := time.Now()
	locks, noTTL := soakLocks(t, inspect, ns)

	var total, outside soakTally
	for p := range tallies {
		total.add(tallies[p])
	}
	outside.add(tallies[soakBefore])
	outside.add(tallies[soakAfter])
	slices.Sort(latencies)
	pct := func(q float64) time.Duration {
		if len(latencies) == 0 {
			return 0
		}
		return latencies[min(len(latencies)-1, int(q*float64(len(latencies))))]
	}

	// Goroutines: back to where they were, give or take soakGoroutineSlack.
	goroutinesAfter := runtime.NumGoroutine()
	for gd := time.Now().Add(10 * time.Second); goroutinesAfter > goroutinesBefore+soakGoroutineSlack && time.Now().Before(gd); {
		time.Sleep(50 * time.Millisecond)
		goroutinesAfter = runtime.NumGoroutine()
	}

	// Locks: all gone once LockTTL has passed since the last engine closed.
	lockDeadline := closedAt.Add(soakLockTTL + 2*time.Second)
	locksLeft := locks
	for len(locksLeft) > 0 && time.Now().Before(lockDeadline) {
		time.Sleep(100 * time.Millisecond)
		locksLeft, _ = soakLocks(t, inspect, ns)
	}

	p50, p99, pmax := pct(0.50), pct(0.99), pct(1)
	latencies = nil
	runtime.GC()
	runtime.GC()
	heapAfter := soakHeapAlloc()

	evMu.Lock()
	evSummary := fmt.Sprint(events)
	tl := slices.Clone(timeline)
	for p := range tallies {
		t.Logf("  phase %s: %+v", [soakPhases]string{"before", "fault+recovery", "after"}[p], tallies[p])
	}
	evMu.Unlock()
	defer func() {
		if t.Failed() {
			t.Logf("breaker changes and first Redis errors: %q", tl)
		}
	}()
	t.Logf("soak summary: %v (asked %v), %d instances (%d adapters), %d workers, fault: blackhole %v from %v, recovery %v",
		elapsed.Round(time.Second), dur, len(instances), len(adapters), soakWorkers, faultLen, faultAt.Sub(start).Round(time.Second), soakRecovery)
	t.Logf("  requests %d (before %d, fault+recovery %d, after %d), %.0f/s; errors %d, wrong bodies %d",
		total.requests, tallies[soakBefore].requests, tallies[soakFault].requests, tallies[soakAfter].requests,
		float64(total.requests)/elapsed.Seconds(), total.errors, total.wrong)
	t.Logf("  hot-key cache ratio (hit+stale) outside the fault %.4f (%d/%d), during it %.4f; handler calls %d",
		outside.hotRatio(), outside.hotCached, outside.hot, tallies[soakFault].hotRatio(), handlerCalls.Load())
	t.Logf("  statuses: hit %d, stale %d, miss %d, collapsed %d, bypass %d, stale-if-error %d, other %d",
		total.hit, total.stale, total.miss, total.collapsed, total.bypass, total.staleIfError, total.unknown)
	t.Logf("  latency p50 %v, p99 %v, max %v", p50, p99, pmax)
	t.Logf("  goroutines before %d, after %d; heap before %.1f MiB, after %.1f MiB",
		goroutinesBefore, goroutinesAfter, soakMiB(heapBefore), soakMiB(heapAfter))
	t.Logf("  lock keys at close %d (without expiry %d), after LockTTL %d; events %s",
		len(locks), noTTL, len(locksLeft), evSummary)

	if total.errors != 0 || total.wrong != 0 {
		t.Errorf("%d client errors and %d wrong bodies; first: %v", total.errors, total.wrong, firstBad.Load())
	}
	if total.unknown != 0 {
		t.Errorf("%d responses without a known Cache-Status", total.unknown)
	}
	if r := outside.hotRatio(); r < 0.90 {
		t.Errorf("hot-key cache ratio outside the fault %.4f (%d/%d), want at least 0.90", r, outside.hotCached, outside.hot)
	}
	if tallies[soakFault].bypass == 0 {
		t.Errorf("no request bypassed Redis during the blackhole: was the fault injected?")
	}
	if goroutinesAfter > goroutinesBefore+soakGoroutineSlack {
		buf := make([]byte, 1<<20)
		buf = buf[:runtime.Stack(buf, true)]
		t.Errorf("goroutines: %d before, still %d after closing everything; stacks:\n%s", goroutinesBefore, goroutinesAfter, buf)
	}
	if heapAfter > heapBefore+soakHeapSlack {
		t.Errorf("heap: %.1f MiB before, %.1f MiB after closing everything; want at most %d MiB more",
			soakMiB(heapBefore), soakMiB(heapAfter), soakHeapSlack>>20)
	}
	if noTTL != 0 {
		t.Errorf("%d lock keys without an expiry under %q", noTTL, ns)
	}
	if len(locksLeft) != 0 {
		t.Errorf("lock keys still under %q %v after closing everything: %q", ns, time.Since(closedAt).Round(time.Millisecond), locksLeft)
	}
}

// soakGet sends one GET as a client of both instances would (one Host name
// in front of both) and reads the whole reply.
func soakGet(c *http.Client, url string) (status int, cacheStatus, body string, err error) {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return 0, "", "", err
	}
	req.Host = "api.example.com"
	resp, err := c.Do(req)
	if err != nil {
		return 0, "", "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, "", "", err
	}
	return resp.StatusCode, resp.Header.Get("Cache-Status"), string(b), nil
}

// soakLocks returns the fill-lock keys under ns, and how many of them have
// no expiry.
func soakLocks(t *testing.T, rdb redis.UniversalClient, ns string) (locks []string, noTTL int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	locks = redistest.Scan(t, rdb, soakGlob(ns)+"*:lock")
	for _, k := range locks {
		ttl, err := rdb.PTTL(ctx, k).Result()
		if err != nil {
			t.Fatalf("PTTL %s: %v", k, err)
		}
		if ttl == -1 { // -2 means it expired meanwhile
			noTTL++
		}
	}
	return locks, noTTL
}

// escapeRedisGlob escapes the characters special in a Redis glob pattern.
func soakGlob(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '*', '?', '[', ']', '\\':
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func soakHeapAlloc() uint64 {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

func soakMiB(b uint64) float64 { return float64(b) / (1 << 20) }
