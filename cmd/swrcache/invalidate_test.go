package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/swrcache/swrcache/core"
	"github.com/swrcache/swrcache/keyfunc"
	"github.com/swrcache/swrcache/middleware"
)

// subscriber is a running instance's Subscribe: it collects the notices it
// hears until the test ends.
type subscriber struct {
	mu  sync.Mutex
	got []core.Invalidation // protected by mu
}

func subscribe(t *testing.T, e *core.Engine) *subscriber {
	t.Helper()
	s := &subscriber{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = e.Subscribe(ctx, func(inv core.Invalidation) {
			s.mu.Lock()
			s.got = append(s.got, inv)
			s.mu.Unlock()
		})
	}()
	t.Cleanup(func() { cancel(); <-done })
	// Pub/sub keeps nothing for a subscriber not yet listening: publish a
	// probe until it is heard.
	for i := 0; ; i++ {
		if i == 200 {
			t.Fatalf("the subscription heard none of 200 probes: %+v", s.all())
		}
		probe := fmt.Sprintf("probe-%d", i)
		if err := e.Invalidate(context.Background(), probe); err != nil {
			t.Fatal(err)
		}
		if s.heard(core.Invalidation{Keys: []string{probe}}, 50*time.Millisecond) {
			break
		}
	}
	s.mu.Lock()
	s.got = nil
	s.mu.Unlock()
	return s
}

// heard reports whether want arrives within wait.
func (s *subscriber) heard(want core.Invalidation, wait time.Duration) bool {
	deadline := time.Now().Add(wait)
	for {
		s.mu.Lock()
		for _, inv := range s.got {
			inv.Source = "" // which engine published it is not what is checked
			if reflect.DeepEqual(inv, want) {
				s.mu.Unlock()
				return true
			}
		}
		s.mu.Unlock()
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (s *subscriber) all() []core.Invalidation {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]core.Invalidation(nil), s.got...)
}

func TestInvalidateIsSeenByARunningInstance(t *testing.T) {
	tests := []struct {
		name string
		// given fills the cache through e and returns the flags that
		// invalidate it, the notices a running instance must hear, and a
		// check that the entries are gone.
		given func(t *testing.T, e *core.Engine) (args []string, expect []core.Invalidation, gone func(t *testing.T))
	}{
		{"--url removes the entry and every Vary variant", func(t *testing.T, e *core.Engine) ([]string, []core.Invalidation, func(*testing.T)) {
			var calls atomic.Int32
			srv := httptest.NewServer(varyRoute(t, e, &calls))
			t.Cleanup(srv.Close)
			langs := []string{"en", "fr", "de"}
			for _, lang := range langs {
				get(t, srv, "/greeting", "Accept-Language", lang)
				if got := get(t, srv, "/greeting", "Accept-Language", lang); !strings.Contains(got, "; hit") {
					t.Fatalf("%s is not cached: %s", lang, got)
				}
			}
			u, _ := url.Parse(srv.URL + "/greeting")
			base, err := keyfunc.Spec{Resource: "greeting", Query: []string{}}.Key(&http.Request{Method: "GET", URL: u, Host: u.Host}, "")
			if err != nil {
				t.Fatal(err)
			}
			expect := []core.Invalidation{{Keys: []string{base.Name}}, {Tags: []string{middleware.VaryTag(base.Name)}}}
			return []string{"--url", srv.URL + "/greeting", "--resource", "greeting", "--no-query"}, expect, func(t *testing.T) {
				before := calls.Load()
				for _, lang := range langs {
					if got := get(t, srv, "/greeting", "Accept-Language", lang); !strings.Contains(got, "fwd=uri-miss") {
						t.Errorf("%s after the invalidation: %s, want the handler's response", lang, got)
					}
				}
				if n := calls.Load() - before; n != int32(len(langs)) {
					t.Errorf("the handler ran %d times after the invalidation, want %d", n, len(langs))
				}
			}
		}},
		{"--tag removes what the route tagged", func(t *testing.T, e *core.Engine) ([]string, []core.Invalidation, func(*testing.T)) {
			srv := httptest.NewServer(echoProduct(t, e))
			t.Cleanup(srv.Close)
			get(t, srv, "/products/1", "X-Tenant", "acme")
			if got := get(t, srv, "/products/1", "X-Tenant", "acme"); !strings.Contains(got, "; hit") {
				t.Fatalf("not cached: %s", got)
			}
			return []string{"--tag", "products"}, []core.Invalidation{{Tags: []string{"products"}}}, func(t *testing.T) {
				if got := get(t, srv, "/products/1", "X-Tenant", "acme"); !strings.Contains(got, "fwd=uri-miss") {
					t.Errorf("after the invalidation: %s, want the handler's response", got)
				}
			}
		}},
		{"--key removes a Fetch entry", func(t *testing.T, e *core.Engine) ([]string, []core.Invalidation, func(*testing.T)) {
			loads := 0
			fetch := func() {
				_, err := core.Fetch(context.Background(), e, "product:1", core.Policy{TTL: time.Minute},
					func(context.Context) (int, error) { loads++; return 1, nil })
				if err != nil {
					t.Fatal(err)
				}
			}
			fetch()
			fetch()
			return []string{"--key", "product:1"}, []core.Invalidation{{Keys: []string{"product:1"}}}, func(t *testing.T) {
				fetch()
				if loads != 2 {
					t.Errorf("%d loads, want 2: one before the invalidation, one after", loads)
				}
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, ns := newEngine(t)
			args, expect, gone := tt.given(t, e)
			heard := subscribe(t, e)
			got := swrcache(t, append(append([]string{"invalidate"}, connFlags(t, ns)...), args...)...)
			if got.code != exitOK {
				t.Fatalf("exit %d\n%s%s", got.code, got.stdout, got.stderr)
			}
			for _, inv := range expect {
				if !heard.heard(inv, 10*time.Second) {
					t.Errorf("the running instance did not hear %+v; it heard %+v", inv, heard.all())
				}
			}
			gone(t)
		})
	}
}

func TestInvalidateURLLeavesNoVariantBehind(t *testing.T) {
	e, ns := newEngine(t)
	var calls atomic.Int32
	srv := httptest.NewServer(varyRoute(t, e, &calls))
	t.Cleanup(srv.Close)
	for _, lang := range []string{"en", "fr", "de"} {
		get(t, srv, "/greeting", "Accept-Language", lang)
	}
	key := []string{"--url", srv.URL + "/greeting", "--resource", "greeting", "--no-query", "--output", "json"}
	if got := swrcache(t, append(append([]string{"invalidate"}, connFlags(t, ns)...), key...)...); got.code != exitOK {
		t.Fatalf("invalidate: exit %d: %s", got.code, got.stderr)
	}
	got := swrcache(t, append(append([]string{"inspect", "--header-value", "Accept-Language: fr"}, connFlags(t, ns)...), key...)...)
	if got.code != exitProblem || strings.Contains(got.stdout, `"variants"`) || !strings.Contains(got.stdout, `"state": "missing"`) {
		t.Fatalf("inspect after the invalidation: exit %d\n%s", got.code, got.stdout)
	}
}
