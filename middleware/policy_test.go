package middleware

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/swrcache/swrcache/keyfunc"
)

func TestBypassReason(t *testing.T) {
	tests := []struct {
		name         string
		givenConfig  Config
		givenRand    float64 // what c.rand returns
		givenRequest func() *http.Request
		expectReason string
	}{
		{"a plain GET uses the cache", Config{}, 0, func() *http.Request { return get() }, ""},
		{"a plain HEAD uses the cache", Config{}, 0, func() *http.Request { return httptest.NewRequest(http.MethodHead, "/", nil) }, ""},
		{"a POST bypasses", Config{}, 0, func() *http.Request { return httptest.NewRequest(http.MethodPost, "/", nil) }, "method"},
		{"a GET with a body bypasses", Config{}, 0, func() *http.Request { return httptest.NewRequest(http.MethodGet, "/", strings.NewReader("q")) }, "body"},
		{"a GET with a chunked body bypasses", Config{}, 0, func() *http.Request {
			r := get()
			r.TransferEncoding = []string{"chunked"}
			return r
		}, "body"},
		{"a GET of unknown length bypasses", Config{}, 0, func() *http.Request {
			r := get()
			r.ContentLength = -1
			return r
		}, "body"},
		{"the kill switch bypasses", Config{Disabled: func() bool { return true }}, 0, func() *http.Request { return get() }, "disabled"},
		{"the kill switch off uses the cache", Config{Disabled: func() bool { return false }}, 0, func() *http.Request { return get() }, ""},
		{"a skipped request bypasses", Config{Skipper: func(r *http.Request) bool { return r.URL.Path == "/items" }}, 0, func() *http.Request { return get() }, "skipped"},
		{"an Upgrade bypasses", Config{}, 0, func() *http.Request { return get("Upgrade", "websocket") }, "upgrade"},
		{"Connection: upgrade bypasses", Config{}, 0, func() *http.Request { return get("Connection", "keep-alive, Upgrade") }, "upgrade"},
		{"an EventSource bypasses", Config{}, 0, func() *http.Request { return get("Accept", " Text/Event-Stream ") }, "stream"},
		{"an Accept that lists more than event streams uses the cache", Config{}, 0, func() *http.Request { return get("Accept", "text/event-stream, */*") }, ""},
		{"Authorization bypasses", Config{}, 0, func() *http.Request { return get("Authorization", "Bearer x") }, "authorization"},
		{"Authorization with AllowAuthorization uses the cache", Config{AllowAuthorization: true}, 0, func() *http.Request { return get("Authorization", "Bearer x") }, ""},
		{"no-cache is ignored by default", Config{}, 0, func() *http.Request { return get("Cache-Control", "no-cache") }, ""},
		{"no-cache with HonorNoCache bypasses", Config{HonorNoCache: true}, 0, func() *http.Request { return get("Cache-Control", "max-age=0, No-Cache") }, "no-cache"},
		{"no-store with HonorNoCache bypasses", Config{HonorNoCache: true}, 0, func() *http.Request { return get("Cache-Control", "no-store") }, "no-cache"},
		{"Pragma: no-cache with HonorNoCache bypasses", Config{HonorNoCache: true}, 0, func() *http.Request { return get("Pragma", "no-cache") }, "no-cache"},
		{"max-age=0 with HonorNoCache uses the cache", Config{HonorNoCache: true}, 0, func() *http.Request { return get("Cache-Control", "max-age=0") }, ""},
		{"a draw above SampleRate is sampled out", Config{SampleRate: 0.3}, 0.5, func() *http.Request { return get() }, "sampled-out"},
		{"a draw equal to SampleRate is sampled out", Config{SampleRate: 0.5}, 0.5, func() *http.Request { return get() }, "sampled-out"},
		{"a draw below SampleRate uses the cache", Config{SampleRate: 0.6}, 0.5, func() *http.Request { return get() }, ""},
		{"the method is checked first", Config{Disabled: func() bool { return true }}, 0, func() *http.Request {
			return httptest.NewRequest(http.MethodPut, "/", strings.NewReader("x"))
		}, "method"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &Cache{cfg: tt.givenConfig.withDefaults(), rand: func() float64 { return tt.givenRand }}
			if got := c.bypassReason(tt.givenRequest()); got != tt.expectReason {
				t.Fatalf("bypassReason = %q, want %q", got, tt.expectReason)
			}
		})
	}
}

func TestNoStoreReason(t *testing.T) {
	tests := []struct {
		name         string
		givenStatus  int
		givenHeader  http.Header
		expectReason string
	}{
		{"a plain 200 may be stored", 200, http.Header{"Cache-Control": {"public, max-age=60"}}, ""},
		{"a 404 may be stored by default", 404, nil, ""},
		{"a 201 is not in the default statuses", 201, nil, "status"},
		{"a 500 is never stored", 500, nil, "status"},
		{"Set-Cookie is never stored", 200, http.Header{"Set-Cookie": {"id=1"}}, "set-cookie"},
		{"no-store is not stored", 200, http.Header{"Cache-Control": {"max-age=60, no-store"}}, "cache-control"},
		{"private is not stored", 200, http.Header{"Cache-Control": {"Private"}}, "cache-control"},
		{"private with a field list is not stored", 200, http.Header{"Cache-Control": {`private="Set-Cookie"`}}, "cache-control"},
		{"no-cache is not stored", 200, http.Header{"Cache-Control": {"public", "no-cache"}}, "cache-control"},
		{"an event stream is not stored", 200, http.Header{"Content-Type": {"text/event-stream; charset=utf-8"}}, "streamed"},
		{"Vary: * is not stored", 200, http.Header{"Vary": {"Accept, *"}}, "vary"},
		{"a Vary with names may be stored", 200, http.Header{"Vary": {"Accept-Encoding"}}, ""},
	}
	c := &Cache{cfg: Config{}.withDefaults()}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := c.noStoreReason(tt.givenStatus, tt.givenHeader); got != tt.expectReason {
				t.Fatalf("noStoreReason = %q, want %q", got, tt.expectReason)
			}
		})
	}
}

func TestHeaderReasonOnVary(t *testing.T) {
	many := "A1, A2, A3, A4, A5, A6, A7, A8, A9"
	tests := []struct {
		name         string
		givenVary    string   // the response's Vary
		givenKnown   []string // the names the key holds, from a marker
		givenRequest *http.Request
		expectReason string
	}{
		{"a Vary on a key header is no reason", "Accept-Language", nil, get(), ""},
		{"a new Vary name is learnt", "Accept-Encoding", nil, get("Accept-Encoding", "gzip"), ""},
		{"a Vary name the marker holds is no reason", "accept-encoding", []string{"Accept-Encoding"}, get(), ""},
		{"a Vary beyond the marker's names has changed", "Accept-Encoding, X-Device", []string{"Accept-Encoding"}, get(), "vary-changed"},
		{"eight new names may be stored", "A1, A2, A3, A4, A5, A6, A7, A8", nil, get(), ""},
		{"more than eight new names are too many", many, nil, get(), "vary"},
		{"a value too long for a key", "X-Device", nil, get("X-Device", strings.Repeat("d", maxVaryValue+1)), "vary-value"},
		{"a value just short enough", "X-Device", nil, get("X-Device", strings.Repeat("d", maxVaryValue)), ""},
		{"noStoreReason comes first", "*", nil, get(), "vary"},
	}
	c := &Cache{cfg: Config{Key: keyfunc.Spec{Resource: "items", Headers: []string{"accept-language"}}}.withDefaults()}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{"Vary": {tt.givenVary}}
			if got := c.headerReason(http.StatusOK, h, tt.givenRequest, tt.givenKnown); got != tt.expectReason {
				t.Fatalf("headerReason = %q, want %q", got, tt.expectReason)
			}
		})
	}
	if got := c.headerReason(http.StatusCreated, http.Header{"Vary": {many}}, get(), nil); got != "status" {
		t.Errorf("headerReason of a 201 = %q, want status", got)
	}
}

func TestFillRequest(t *testing.T) {
	allow := Config{Key: keyfunc.Spec{Resource: "items", Query: []string{"page"}}}
	tests := []struct {
		name         string
		givenConfig  Config
		givenRequest func() *http.Request
		expectSame   bool // the request itself comes back
		expectMethod string
		expectURI    string
		expectINM    string
	}{
		{"a plain GET is passed as it is", Config{}, func() *http.Request { return get() }, true, "GET", "/items", ""},
		{"a GET with every query keyed is passed as it is", allow, func() *http.Request { return reqURL("GET", "/items?page=2") }, true, "GET", "/items?page=2", ""},
		{"HEAD becomes GET", Config{}, func() *http.Request { return reqURL("HEAD", "/items?a=1") }, false, "GET", "/items?a=1", ""},
		{"If-None-Match is left out", Config{}, func() *http.Request { return get("If-None-Match", `"v1"`, "Accept", "text/html") }, false, "GET", "/items", ""},
		{"If-Modified-Since is left out", Config{}, func() *http.Request { return get("If-Modified-Since", "Mon, 02 Jan 2006 15:04:05 GMT") }, false, "GET", "/items", ""},
		{"unkeyed query parameters are left out", allow, func() *http.Request { return reqURL("GET", "/items?utm=x&page=2&page=3&b") }, false, "GET", "/items?page=2&page=3", ""},
		{"with none keyed the query goes", allow, func() *http.Request { return reqURL("GET", "/items?utm=x") }, false, "GET", "/items", ""},
		{"PassUnkeyedQuery keeps them", Config{Key: allow.Key, PassUnkeyedQuery: true}, func() *http.Request { return reqURL("GET", "/items?utm=x&page=2") }, true, "GET", "/items?utm=x&page=2", ""},
		{"without an allow-list the query is kept", Config{}, func() *http.Request { return reqURL("GET", "/items?utm=x") }, true, "GET", "/items?utm=x", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &Cache{cfg: tt.givenConfig.withDefaults()}
			r := tt.givenRequest()
			before := snapshotRequest(r)
			got := c.fillRequest(r)
			if (got == r) != tt.expectSame {
				t.Fatalf("same request %v, want %v", got == r, tt.expectSame)
			}
			if after := snapshotRequest(r); after != before {
				t.Errorf("the original request changed:\n%s\nwas\n%s", after, before)
			}
			if got.Method != tt.expectMethod || got.URL.RequestURI() != tt.expectURI || got.RequestURI != tt.expectURI {
				t.Errorf("fill request %s %s (RequestURI %q), want %s %s", got.Method, got.URL.RequestURI(), got.RequestURI, tt.expectMethod, tt.expectURI)
			}
			if got.Header.Get("If-None-Match") != "" || got.Header.Get("If-Modified-Since") != "" {
				t.Errorf("conditional headers reach the handler: %v", got.Header)
			}
			if got.Header.Get("Accept") != r.Header.Get("Accept") {
				t.Errorf("Accept %q, want %q", got.Header.Get("Accept"), r.Header.Get("Accept"))
			}
		})
	}
}

// An outer middleware that parsed the form (a logger, r.FormValue) must
// not let an unkeyed parameter reach a fill through r.Form.
func TestFillRequestLeavesNoUnkeyedParameterInTheForm(t *testing.T) {
	c := &Cache{cfg: Config{Key: keyfunc.Spec{Resource: "items", Query: []string{"page"}}}.withDefaults()}
	r := reqURL("GET", "/items?page=2&lang=evil")
	_ = r.FormValue("page") // parsed before the cache
	got := c.fillRequest(r)
	if v := got.FormValue("lang"); v != "" {
		t.Errorf("the fill's handler reads the unkeyed lang=%q", v)
	}
	if v := got.FormValue("page"); v != "2" {
		t.Errorf("page = %q, want 2", v)
	}
}

func reqURL(method, target string) *http.Request {
	return httptest.NewRequest(method, target, nil)
}

func snapshotRequest(r *http.Request) string {
	return r.Method + " " + r.URL.String() + " " + r.RequestURI + " " + strings.Join(r.Header.Values("If-None-Match"), "|") +
		" " + strings.Join(r.Header.Values("If-Modified-Since"), "|")
}

func TestRedispatch(t *testing.T) {
	errChain := errors.New("chain failed")
	// router stands in for an echo or gin router: middleware before the
	// cache, then the cache's position, where the adapter calls
	// RunDispatched with the rest of the chain.
	router := func(reach bool, rest Next) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !IsRefresh(r) {
				t.Error("a refresh's request is not IsRefresh before the cache")
			}
			if !reach {
				http.Error(w, "refused", http.StatusForbidden)
				return
			}
			if ok, _ := RunDispatched(r, rest); !ok {
				t.Error("RunDispatched did not run a dispatched request")
			}
			if ok, _ := RunDispatched(r, rest); ok {
				t.Error("RunDispatched ran the rest of the chain twice")
			}
		})
	}
	t.Run("a request that never reaches the cache fails, saying why and what the router answered", func(t *testing.T) {
		err := Redispatch(router(false, nil))(httptest.NewRecorder(), get())
		if !errors.Is(err, ErrNotReached) || !strings.Contains(err.Error(), "answered 403") {
			t.Fatalf("Runner = %v, want ErrNotReached with the router's status", err)
		}
	})
	t.Run("the rest of the chain writes to the Runner's writer", func(t *testing.T) {
		rec := httptest.NewRecorder()
		err := Redispatch(router(true, func(w http.ResponseWriter, r *http.Request) error {
			if !IsRefresh(r) {
				t.Error("not IsRefresh after the cache")
			}
			w.Header().Set("X-Rest", "1")
			_, _ = w.Write([]byte("fresh"))
			return nil
		}))(rec, get())
		if err != nil || rec.Body.String() != "fresh" || rec.Header().Get("X-Rest") != "1" {
			t.Fatalf("Runner = %v; recorded %q %v", err, rec.Body, rec.Header())
		}
	})
	t.Run("the chain's error is the Runner's", func(t *testing.T) {
		err := Redispatch(router(true, func(http.ResponseWriter, *http.Request) error { return errChain }))(httptest.NewRecorder(), get())
		if !errors.Is(err, errChain) {
			t.Fatalf("Runner = %v, want the chain's error", err)
		}
	})
	t.Run("a chain that panicked into a recovery is not stored", func(t *testing.T) {
		recovering := func(h http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				defer func() { _ = recover() }()
				h.ServeHTTP(w, r)
			})
		}
		err := Redispatch(recovering(router(true, func(http.ResponseWriter, *http.Request) error { panic("boom") })))(httptest.NewRecorder(), get())
		if !errors.Is(err, ErrNoStore) {
			t.Fatalf("Runner = %v, want ErrNoStore", err)
		}
	})
}

func TestRunDispatchedIgnoresOtherRequests(t *testing.T) {
	ran := false
	next := func(http.ResponseWriter, *http.Request) error { ran = true; return nil }
	if ok, err := RunDispatched(get(), next); ok || err != nil || ran {
		t.Fatalf("an ordinary request: %v, %v, ran %v", ok, err, ran)
	}
	if IsRefresh(get()) {
		t.Error("an ordinary request is IsRefresh")
	}
	// A net/http refresh is marked, but not sent through a router.
	c := &Cache{cfg: Config{}.withDefaults()}
	r := c.snapshot(get("Cookie", "id=1"), "", nil).request(t.Context())
	if !IsRefresh(r) {
		t.Error("a refresh's request is not IsRefresh")
	}
	if ok, _ := RunDispatched(r, next); ok || ran {
		t.Error("RunDispatched ran a refresh not sent through a router")
	}
}

// A request that bypasses the cache writes to its own writer; the tags
// header, which "never reaches clients", is stripped from it too.
func TestPassKeepsTheTagsHeaderFromClients(t *testing.T) {
	c := &Cache{cfg: Config{TagsHeader: "x-cache-tags"}.withDefaults()}
	cw := newClientWriter()
	err := c.pass(cw, get(), func(w http.ResponseWriter, _ *http.Request) error {
		w.Header().Set("X-Cache-Tags", "user:1")
		w.Header().Set("Link", "</app.css>; rel=preload")
		w.WriteHeader(http.StatusEarlyHints)
		w.WriteHeader(http.StatusOK)
		return ErrNoStore
	}, "skipped", new(outcome))
	if err != nil {
		t.Fatalf("pass = %v, want nil for ErrNoStore", err)
	}
	if got := cw.sentHeader().Get("Cache-Status"); got != "swrcache; fwd=bypass; detail=skipped" {
		t.Errorf("Cache-Status %q", got)
	}
	for i, s := range cw.statuses {
		if v := cw.headers[i].Get("X-Cache-Tags"); v != "" {
			t.Errorf("the tags header went out with the %d: %q", s, v)
		}
	}
}
