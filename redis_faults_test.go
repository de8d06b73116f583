package swrcache_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
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

// The tests of this file put each Redis fault of issue 4 under concurrent
// load through an adapter, on a private redis-server process they may kill,
// restart and reconfigure (never the shared one).

// quietRedisLog silences go-redis's global logger for the test: refused
// dials are the point here. The previous logger cannot be read back, so the
// cleanup installs one equivalent to go-redis's default.
func quietRedisLog(t *testing.T) {
	redis.SetLogger(quietLogger{})
	t.Cleanup(func() { redis.SetLogger(stderrLogger{log.New(os.Stderr, "redis: ", log.LstdFlags|log.Lshortfile)}) })
}

type quietLogger struct{}

func (quietLogger) Printf(context.Context, string, ...any) {}

type stderrLogger struct{ l *log.Logger }

func (s stderrLogger) Printf(_ context.Context, format string, v ...any) {
	_ = s.l.Output(2, fmt.Sprintf(format, v...))
}

// faultRig is one instance (engine, breaker, adapter) on a Redis at addr,
// with a load driver firing bursts of concurrent requests.
type faultRig struct {
	t   *testing.T
	srv *httptest.Server
	br  *breaker.Breaker
	hc  *http.Client

	burstMu sync.Mutex // held by the driver during each burst
	mu      sync.Mutex
	cur     *faultPhase // protected by mu
	calls   atomic.Pointer[burstCalls]
	keys    func(burst int) []string // paths of one burst; protected by mu
	bursts  int
	stop    chan struct{}
	stopped chan struct{}
}

// burstCalls counts handler calls per path during one burst.
type burstCalls struct {
	mu       sync.Mutex
	n        map[string]int
	overlaps int // handler calls that started while another ran for the same path
}

// faultPhase is what the load saw during one phase.
type faultPhase struct {
	name string

	mu        sync.Mutex
	lat       []time.Duration
	n, hits   int
	bypass    int // fwd=bypass, breaker open
	other     int // misses, redis-error bypasses, collapsed fills
	bad       int
	badSample []string
	coldHits  int // hits on /c/ paths
	calls     int // handler calls in all
	overlaps  int // handler calls concurrent with another for the same path
	openCalls int // handler calls for burst-keys served only with breaker-open
	openKeys  int // such burst-keys
	maxOpen   int // most handler calls for one such burst-key
	bursts    int
	fullHit   int // bursts in which every response was a hit
}

const (
	faultKeys     = 10
	faultPerKey   = 8                     // concurrent requests per key per burst
	faultOrigin   = 25 * time.Millisecond // long enough for a burst to collapse
	faultOpenWait = 500 * time.Millisecond
)

func hotKeys(int) []string {
	keys := make([]string, faultKeys)
	for i := range keys {
		keys[i] = fmt.Sprintf("/u/%d", i)
	}
	return keys
}

// newFaultRig builds an engine with a short-OpenTimeout breaker on a client
// for addr, serves it through a, and starts the load driver in phase
// "start".
func newFaultRig(t *testing.T, a adapter, addr string) *faultRig {
	t.Helper()
	rdb := redis.NewClient(redistest.Options(addr))
	t.Cleanup(func() { _ = rdb.Close() })
	br, err := breaker.New(breaker.Config{OpenTimeout: faultOpenWait})
	if err != nil {
		t.Fatal(err)
	}
	rig := &faultRig{t: t, br: br, keys: hotKeys, stop: make(chan struct{}), stopped: make(chan struct{})}
	rig.calls.Store(&burstCalls{n: map[string]int{}})
	var inMu sync.Mutex
	inflight := map[string]int{}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		path := r.URL.Path
		inMu.Lock()
		inflight[path]++
		overlap := inflight[path] > 1
		inMu.Unlock()
		bc := rig.calls.Load()
		bc.mu.Lock()
		bc.n[path]++
		if overlap {
			bc.overlaps++
		}
		bc.mu.Unlock()
		time.Sleep(faultOrigin)
		inMu.Lock()
		inflight[path]--
		inMu.Unlock()
		fmt.Fprintf(w, "page %s", path)
	})
	e := newEngineOn(t, rdb, "swrfault:", func(c *core.Config) { c.Breaker = br })
	rig.srv = a.serve(t, e, baseConfig(), h)
	rig.hc = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 2 * faultKeys * faultPerKey}, Timeout: 30 * time.Second}
	t.Cleanup(rig.hc.CloseIdleConnections)
	rig.cur = &faultPhase{name: "start"}
	go rig.drive()
	t.Cleanup(rig.halt)
	return rig
}

func (rig *faultRig) halt() {
	select {
	case <-rig.stop:
	default:
		close(rig.stop)
	}
	<-rig.stopped
}

// drive fires bursts until halted: every path of the burst faultPerKey
// times, all at once, then waits for every reply.
func (rig *faultRig) drive() {
	defer close(rig.stopped)
	for {
		select {
		case <-rig.stop:
			return
		default:
		}
		rig.burstMu.Lock()
		rig.mu.Lock()
		ph, keys := rig.cur, rig.keys(rig.bursts)
		rig.bursts++
		rig.mu.Unlock()
		rig.burst(ph, keys)
		rig.burstMu.Unlock()
	}
}

type faultReply struct {
	path   string
	lat    time.Duration
	status int
	body   string
	cs     string
	err    error
}

func (rig *faultRig) burst(ph *faultPhase, keys []string) {
	bc := &burstCalls{n: map[string]int{}}
	rig.calls.Store(bc)
	replies := make([]faultReply, len(keys)*faultPerKey)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range replies {
		wg.Add(1)
		go func() {
			defer wg.Done()
			path := keys[i%len(keys)]
			<-start
			t0 := time.Now()
			r := faultReply{path: path}
			resp, err := rig.hc.Get(rig.srv.URL + path)
			if err == nil {
				b, rerr := io.ReadAll(resp.Body)
				_ = resp.Body.Close()
				r.status, r.body, r.cs, r.err = resp.StatusCode, string(b), resp.Header.Get("Cache-Status"), rerr
			} else {
				r.err = err
			}
			r.lat = time.Since(t0)
			replies[i] = r
		}()
	}
	close(start)
	wg.Wait()

	bc.mu.Lock()
	defer bc.mu.Unlock()
	ph.mu.Lock()
	defer ph.mu.Unlock()
	ph.bursts++
	onlyOpen := map[string]bool{}
	allHit := true
	for _, r := range replies {
		ph.n++
		ph.lat = append(ph.lat, r.lat)
		if _, ok := onlyOpen[r.path]; !ok {
			onlyOpen[r.path] = true
		}
		switch {
		case r.err != nil || r.status != http.StatusOK || r.body != "page "+r.path:
			ph.bad++
			allHit = false
			if len(ph.badSample) < 3 {
				ph.badSample = append(ph.badSample, fmt.Sprintf("%s: %d %q %q %v", r.path, r.status, r.body, r.cs, r.err))
			}
			onlyOpen[r.path] = false
		case strings.Contains(r.cs, "; hit"):
			ph.hits++
			if strings.HasPrefix(r.path, "/c/") {
				ph.coldHits++
			}
		case strings.Contains(r.cs, "detail=breaker-open"):
			ph.bypass++
			allHit = false
		default:
			ph.other++
			allHit = false
			onlyOpen[r.path] = false
		}
	}
	if allHit {
		ph.fullHit++
	}
	ph.overlaps += bc.overlaps
	for path, n := range bc.n {
		ph.calls += n
		if onlyOpen[path] && n > 0 {
			ph.openKeys++
			ph.openCalls += n
			ph.maxOpen = max(ph.maxOpen, n)
		}
	}
}

// phase ends the current phase at a burst boundary, starts one named name
// with the paths of keys (nil: the same as before), and returns the ended
// one.
func (rig *faultRig) phase(name string, keys func(int) []string) *faultPhase {
	rig.burstMu.Lock()
	defer rig.burstMu.Unlock()
	rig.mu.Lock()
	defer rig.mu.Unlock()
	old := rig.cur
	rig.cur = &faultPhase{name: name}
	if keys != nil {
		rig.keys = keys
	}
	return old
}

// until waits for cond on the current phase (10s at most).
func (rig *faultRig) until(what string, cond func(p *faultPhase) bool) {
	rig.t.Helper()
	rig.untilFor(10*time.Second, what, cond)
}

func (rig *faultRig) untilFor(limit time.Duration, what string, cond func(p *faultPhase) bool) {
	rig.t.Helper()
	deadline := time.Now().Add(limit)
	for !func() bool {
		rig.mu.Lock()
		p := rig.cur
		rig.mu.Unlock()
		p.mu.Lock()
		defer p.mu.Unlock()
		return cond(p)
	}() {
		if time.Now().After(deadline) {
			rig.t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (p *faultPhase) pct(q float64) time.Duration {
	s := slices.Sorted(slices.Values(p.lat))
	if len(s) == 0 {
		return 0
	}
	return s[min(len(s)-1, int(q*float64(len(s))))].Round(100 * time.Microsecond)
}

func (p *faultPhase) String() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return fmt.Sprintf("%-10s n=%-5d hit=%-5d bypass(open)=%-5d other=%-4d bad=%d p50=%-8v p99=%-8v handler=%-4d overlap=%d (open: %d calls for %d burst-keys, max %d/key)",
		p.name, p.n, p.hits, p.bypass, p.other, p.bad, p.pct(0.5), p.pct(0.99), p.calls, p.overlaps, p.openCalls, p.openKeys, p.maxOpen)
}

// check logs every phase and applies the assertions common to all faults:
// no bad reply anywhere; in each faulty phase at most one handler call per
// key per burst while only the open breaker served it; the last phase all
// hits.
func (rig *faultRig) check(fault string, phases ...*faultPhase) {
	rig.t.Helper()
	for _, p := range phases {
		rig.t.Logf("%s: %v", fault, p)
		p.mu.Lock()
		if p.bad != 0 {
			rig.t.Errorf("%s/%s: %d bad replies, e.g. %q", fault, p.name, p.bad, p.badSample)
		}
		if p.overlaps != 0 {
			rig.t.Errorf("%s/%s: %d handler calls ran concurrently with another for the same path: not collapsed", fault, p.name, p.overlaps)
		}
		p.mu.Unlock()
	}
	last := phases[len(phases)-1]
	last.mu.Lock()
	defer last.mu.Unlock()
	if last.hits != last.n || last.n == 0 {
		rig.t.Errorf("%s/%s: %d hits out of %d after recovery, want all", fault, last.name, last.hits, last.n)
	}
}

// recover waits until the breaker is closed and a whole burst is hits, then
// measures phase "recovered" over five bursts.
func (rig *faultRig) recover() (recovering, recovered *faultPhase) {
	rig.t.Helper()
	rig.until("the breaker to close and a burst of hits", func(p *faultPhase) bool {
		return rig.br.State() == breaker.Closed && p.fullHit >= 1
	})
	recovering = rig.phase("recovered", nil)
	rig.until("five bursts after recovery", func(p *faultPhase) bool { return p.bursts >= 5 })
	return recovering, rig.phase("done", nil)
}

// warm fills the hot keys and measures a healthy phase of five bursts.
func (rig *faultRig) warm() (fill, healthy *faultPhase) {
	rig.t.Helper()
	rig.until("the first full-hit burst", func(p *faultPhase) bool { return p.fullHit >= 1 })
	fill = rig.phase("healthy", nil)
	rig.until("five healthy bursts", func(p *faultPhase) bool { return p.bursts >= 5 })
	return fill, rig.phase("fault-hot", nil)
}

func openBursts(n int) func(p *faultPhase) bool {
	return func(p *faultPhase) bool { return p.openKeys >= n }
}

func faultAdapters(t *testing.T, run func(t *testing.T, a adapter)) {
	if testing.Short() {
		t.Skip("fault tests under load are slow")
	}
	quietRedisLog(t)
	for _, a := range adapters {
		t.Run(a.name, func(t *testing.T) { run(t, a) })
	}
}

// Fault 1: nothing listens on Redis's port when the engine starts; then
// Redis comes up there.
func TestRedisFaultUnreachableAtStartup(t *testing.T) {
	faultAdapters(t, func(t *testing.T, a adapter) {
		r := redistest.NewServer(t)
		rig := newFaultRig(t, a, r.Addr())
		rig.phase("down", nil)
		rig.until("bypassed bursts with Redis down", openBursts(30))
		r.Start()
		down := rig.phase("recovering", nil)
		recovering, recovered := rig.recover()
		rig.check("unreachable", down, recovering, recovered)
		down.mu.Lock()
		defer down.mu.Unlock()
		if down.bypass == 0 {
			t.Errorf("no fwd=bypass reply while Redis was down: %+v", down)
		}
	})
}

// Fault 2: Redis killed (SIGKILL) mid-load, then restarted empty.
func TestRedisFaultKilledMidLoadThenRestartedEmpty(t *testing.T) {
	faultAdapters(t, func(t *testing.T, a adapter) {
		r := redistest.StartServer(t)
		rig := newFaultRig(t, a, r.Addr())
		fill, healthy := rig.warm()
		rig.phase("killed", nil)
		r.Kill()
		rig.until("bypassed bursts with Redis dead", openBursts(30))
		r.Start()
		killed := rig.phase("recovering", nil)
		recovering, recovered := rig.recover()
		rig.check("killed", fill, healthy, killed, recovering, recovered)
	})
}

// Faults 3 and 4: Redis behind a proxy that slows every command to 300ms
// (past OpTimeout), blackholes it (connections stay open, nothing comes
// back), or resets connections in mid-reply and on connect.
func TestRedisFaultThroughTheProxy(t *testing.T) {
	faults := []struct {
		name   string
		inject func(p *faultproxy.Proxy)
	}{
		{"slow", func(p *faultproxy.Proxy) { p.SetLatency(300 * time.Millisecond) }},
		{"blackhole", func(p *faultproxy.Proxy) { p.Blackhole() }},
		{"reset", func(p *faultproxy.Proxy) { p.Reset() }},
	}
	for _, f := range faults {
		t.Run(f.name, func(t *testing.T) {
			faultAdapters(t, func(t *testing.T, a adapter) {
				r := redistest.StartServer(t)
				proxy := faultproxy.Start(t, r.Addr())
				rig := newFaultRig(t, a, proxy.Addr())
				fill, healthy := rig.warm()
				rig.phase(f.name, nil)
				f.inject(proxy)
				rig.until("bypassed bursts with Redis "+f.name, openBursts(30))
				proxy.Heal()
				faulty := rig.phase("recovering", nil)
				recovering, recovered := rig.recover()
				rig.check(f.name, fill, healthy, faulty, recovering, recovered)
			})
		})
	}
}

// Fault 5: Redis full (maxmemory, noeviction): every write fails with OOM.
// Reads of stored entries still work; fills answer with the handler's
// response and store nothing.
func TestRedisFaultOutOfMemory(t *testing.T) {
	faultAdapters(t, func(t *testing.T, a adapter) {
		r := redistest.StartServer(t)
		rig := newFaultRig(t, a, r.Addr())
		fill, healthy := rig.warm()
		// Half the paths stored, half never: /c/ paths are first asked
		// for once Redis is full.
		mixed := func(int) []string {
			keys := hotKeys(0)[:faultKeys/2]
			for i := range faultKeys / 2 {
				keys = append(keys, fmt.Sprintf("/c/%d", i))
			}
			return keys
		}
		if err := r.Do("SET", "big", strings.Repeat("x", 2<<20)).Err(); err != nil {
			t.Fatal(err)
		}
		if err := r.Do("CONFIG", "SET", "maxmemory-policy", "noeviction", "maxmemory", "1mb").Err(); err != nil {
			t.Fatal(err)
		}
		if err := r.Do("SET", "probe", "x").Err(); err == nil || !strings.HasPrefix(err.Error(), "OOM") {
			t.Fatalf("a write to the full Redis: %v, want OOM", err)
		}
		rig.until("two bursts of stored paths with Redis full", func(p *faultPhase) bool { return p.bursts >= 2 })
		full := rig.phase("oom", mixed)
		rig.until("bursts with Redis full", func(p *faultPhase) bool { return p.bursts >= 20 })
		oom := rig.phase("recovering", nil) // before, so no store counts as made while full
		if err := r.Do("CONFIG", "SET", "maxmemory", "0").Err(); err != nil {
			t.Fatal(err)
		}
		recovering, recovered := rig.recover()
		rig.check("oom", fill, healthy, full, oom, recovering, recovered)
		full.mu.Lock()
		defer full.mu.Unlock()
		// Reads need no memory, and OOM replies are answers, not an outage:
		// the breaker stays closed and stored paths keep hitting. A GET
		// that misses its deadline on a loaded machine may bypass.
		if 10*full.hits < 9*full.n || 10*full.bypass > full.n {
			t.Errorf("stored paths with Redis full: %d hits, %d breaker-open bypasses of %d; want nearly all hits", full.hits, full.bypass, full.n)
		}
		oom.mu.Lock()
		defer oom.mu.Unlock()
		if 2*oom.hits < oom.n-oom.n/10 || oom.coldHits != 0 {
			t.Errorf("Redis full: %d hits of %d, %d of them on paths never stored; want the stored half, and none", oom.hits, oom.n, oom.coldHits)
		}
	})
}

// Fault 6: a Redis that refuses scripts (EVAL and EVALSHA renamed away).
// Fills store and release their locks with WATCH transactions instead, so
// the cache works as usual; and again once Redis takes scripts.
func TestRedisFaultScriptsRefused(t *testing.T) {
	faultAdapters(t, func(t *testing.T, a adapter) {
		r := redistest.StartServer(t, "--rename-command", "EVAL", "", "--rename-command", "EVALSHA", "")
		if err := r.Do("EVAL", "return 1", "0").Err(); err == nil {
			t.Fatal("EVAL still works on the private redis")
		}
		rig := newFaultRig(t, a, r.Addr())
		rig.phase("noscript", nil)
		rig.until("bursts with scripts refused", func(p *faultPhase) bool { return p.bursts >= 20 })
		noscript := rig.phase("restart", nil)
		r.Kill()
		r.SetArgs()
		r.Start()
		restart := rig.phase("recovering", nil)
		recovering, recovered := rig.recover()
		rig.check("noscript", noscript, restart, recovering, recovered)
		noscript.mu.Lock()
		defer noscript.mu.Unlock()
		if 10*noscript.hits < 9*noscript.n || noscript.bypass != 0 {
			t.Errorf("scripts refused: %d hits, %d breaker-open bypasses of %d; want the first burst's fills, then hits", noscript.hits, noscript.bypass, noscript.n)
		}
	})
}
