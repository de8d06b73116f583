package swrcache_test

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/swrcache/swrcache/breaker"
	"github.com/swrcache/swrcache/core"
	"github.com/swrcache/swrcache/internal/redistest"
)

// subscriberLog is what a subscriber heard: each tag's notice and each
// Missed notice, with when.
type subscriberLog struct {
	mu     sync.Mutex
	heard  map[string]time.Time
	missed []time.Time
}

func (l *subscriberLog) add(inv core.Invalidation) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now()
	if inv.Missed {
		l.missed = append(l.missed, now)
	}
	for _, tag := range inv.Tags {
		if _, ok := l.heard[tag]; !ok {
			l.heard[tag] = now
		}
	}
}

// covered reports whether a notice sent at sent was heard, or a Missed
// notice came after it.
func (l *subscriberLog) covered(tag string, sent time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.heard[tag]; ok {
		return true
	}
	for _, m := range l.missed {
		if !m.Before(sent) {
			return true
		}
	}
	return false
}

// Must show 5 of issue 9: a Sentinel failover under load, asked for or
// after the master was killed. No caller fails, and no invalidation
// published meanwhile is lost in effect: a subscriber on another instance
// hears each, or is told it may have missed some (so that what it holds
// in memory goes).
func TestASentinelFailoverLosesNoInvalidationInEffect(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Sentinel")
	}
	if redistest.IsCluster(t) {
		t.Skip("starts servers of its own: run once, with the single-node suite")
	}
	quietRedisLog(t)
	for _, how := range []string{"SENTINEL FAILOVER", "the master killed"} {
		t.Run(how, func(t *testing.T) {
			s := redistest.StartSentinel(t)
			ns := "sentinel:"
			newInstance := func() *core.Engine {
				br, err := breaker.New(breaker.Config{OpenTimeout: 500 * time.Millisecond})
				if err != nil {
					t.Fatal(err)
				}
				return newEngineOn(t, s.Client(), ns, func(c *core.Config) { c.Breaker = br })
			}
			a, b := newInstance(), newInstance()
			var calls atomic.Int32
			srvA := serveNetHTTP(t, a, baseConfig(), handler(http.StatusOK)(&calls))
			srvB := serveNetHTTP(t, b, baseConfig(), handler(http.StatusOK)(&calls))

			log := &subscriberLog{heard: map[string]time.Time{}}
			ctx, cancel := context.WithCancel(context.Background())
			subscribed := make(chan struct{})
			go func() { defer close(subscribed); _ = b.Subscribe(ctx, log.add) }()
			defer func() { cancel(); <-subscribed }()

			// Load on both instances, and invalidations from A, throughout.
			stop := make(chan struct{})
			var wg sync.WaitGroup
			var failed atomic.Int32
			var bad atomic.Value
			for i := range 4 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					srv := srvA
					if i%2 == 1 {
						srv = srvB
					}
					for n := 0; ; n++ {
						select {
						case <-stop:
							return
						default:
						}
						o := try(context.Background(), srv, fmt.Sprintf("/p/%d", n%20))
						if o.err != nil || o.status != http.StatusOK {
							failed.Add(1)
							bad.Store(fmt.Sprintf("%v %d %q", o.err, o.status, o.body))
						}
					}
				}()
			}
			type sent struct {
				tag string
				at  time.Time
			}
			var mu sync.Mutex
			var notices []sent
			wg.Add(1)
			go func() {
				defer wg.Done()
				for n := 0; ; n++ {
					select {
					case <-stop:
						return
					case <-time.After(50 * time.Millisecond):
					}
					tag := fmt.Sprint("n", n)
					at := time.Now()
					_ = a.InvalidateTags(context.Background(), tag) // queued while the master is away
					mu.Lock()
					notices = append(notices, sent{tag, at})
					mu.Unlock()
				}
			}()

			time.Sleep(500 * time.Millisecond)
			before := s.MasterAddr()
			started := time.Now()
			if how == "SENTINEL FAILOVER" {
				if err := s.Watcher.Do("SENTINEL", "FAILOVER", s.Name).Err(); err != nil {
					t.Fatal(err)
				}
			} else {
				s.Master.Kill()
			}
			waitUntil(t, "the failover", func() bool { return s.MasterAddr() != before })
			failedOverAt := time.Now()
			failedOver := failedOverAt.Sub(started)
			time.Sleep(3 * time.Second) // the subscriber finds the new master; queued notices are replayed
			close(stop)
			wg.Wait()

			if n := failed.Load(); n > 0 {
				t.Errorf("%d callers failed, such as %v", n, bad.Load())
			}
			lost, heard := 0, 0
			var following time.Duration = -1 // from the failover to hearing a notice sent after it
			for _, n := range notices {
				if !log.covered(n.tag, n.at) {
					lost++
				}
				if at, ok := log.heard[n.tag]; ok {
					heard++
					if !n.at.Before(failedOverAt) && following < 0 {
						following = at.Sub(failedOverAt)
					}
				}
			}
			last := notices[len(notices)-1]
			if _, ok := log.heard[last.tag]; !ok && len(notices) > 1 {
				last = notices[len(notices)-2] // the last may have been cut off by stop
			}
			t.Logf("%s: failed over in %v; the subscriber heard the new master %v after; %d invalidations published, %d heard, %d Missed notices, %d lost in effect",
				how, failedOver.Round(10*time.Millisecond), following.Round(10*time.Millisecond), len(notices), heard, len(log.missed), lost)
			if lost > 0 {
				t.Errorf("%d invalidations neither heard nor covered by a Missed notice", lost)
			}
			if _, ok := log.heard[last.tag]; !ok {
				t.Errorf("the subscriber does not hear the new master: %s, published after the failover, never arrived", last.tag)
			}
		})
	}
}
