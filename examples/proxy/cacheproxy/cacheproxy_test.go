package cacheproxy

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"net/textproto"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/swrcache/swrcache/core"
	"github.com/swrcache/swrcache/internal/redistest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m, redistest.LeakOptions()...) }

// serve starts origin and the caching proxy in front of it.
func serve(t *testing.T, origin http.Handler) *httptest.Server {
	t.Helper()
	up := httptest.NewServer(origin)
	t.Cleanup(up.Close)
	engine, err := core.New(core.Config{Client: redistest.Client(t), Namespace: redistest.Prefix(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = engine.Close(context.Background()) })
	u, _ := url.Parse(up.URL)
	proxy, err := New(engine, u, Config(), Options{Transport: up.Client().Transport})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(proxy)
	t.Cleanup(srv.Close)
	return srv
}

// A response that comes without a Content-Length, chunked, as most
// dynamic ones over a couple of KiB do, makes ReverseProxy flush after
// every write; it is stored all the same.
func TestAChunkedResponseIsStored(t *testing.T) {
	var calls atomic.Int32
	srv := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.Header().Set("Cache-Control", "max-age=60")
		_, _ = io.WriteString(w, strings.Repeat("a", 5000))
		http.NewResponseController(w).Flush() // chunked from here
		_, _ = io.WriteString(w, strings.Repeat("b", 5000))
	}))
	for i, want := range []string{"fwd=uri-miss; stored", "hit"} {
		res, err := http.Get(srv.URL + "/big")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if !strings.Contains(res.Header.Get("Cache-Status"), want) || len(body) != 10000 {
			t.Fatalf("request %d: %q, %d bytes; want %q and the whole body", i+1, res.Header.Get("Cache-Status"), len(body), want)
		}
	}
	if calls.Load() != 1 {
		t.Fatalf("%d calls to the upstream, want 1", calls.Load())
	}
}

// An event stream still reaches its client as it is written.
func TestAnEventStreamStillStreams(t *testing.T) {
	release := make(chan struct{})
	srv := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		_, _ = io.WriteString(w, "data: first\n\n")
		http.NewResponseController(w).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer close(release)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/events", nil)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	line, err := bufio.NewReader(res.Body).ReadString('\n')
	if err != nil || line != "data: first\n" {
		t.Fatalf("read %q, %v before the upstream ended; want the first event", line, err)
	}
}

// A request with a cookie goes past the cache, as in Varnish by default:
// the upstream may answer it for that user alone.
func TestARequestWithACookieGoesPast(t *testing.T) {
	var calls atomic.Int32
	srv := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.Header().Set("Cache-Control", "max-age=60")
		_, _ = io.WriteString(w, "hello "+r.Header.Get("Cookie"))
	}))
	for _, cookie := range []string{"u=alice", "u=bob"} {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+"/page", nil)
		req.Header.Set("Cookie", cookie)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if string(body) != "hello "+cookie || !strings.Contains(res.Header.Get("Cache-Status"), "detail=skipped") {
			t.Fatalf("%s: %q, %q; want its own page, past the cache", cookie, body, res.Header.Get("Cache-Status"))
		}
	}
	if calls.Load() != 2 {
		t.Fatalf("%d upstream calls, want 2", calls.Load())
	}
}

// An informational response, such as 103 Early Hints, reaches the client
// of a fill before the final one (RFC 9110 section 15.2).
func TestEarlyHintsAreForwarded(t *testing.T) {
	srv := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Link", "</style.css>; rel=preload; as=style")
		w.WriteHeader(http.StatusEarlyHints)
		w.Header().Set("Cache-Control", "max-age=60")
		_, _ = io.WriteString(w, "page")
	}))
	var hints []string
	trace := &httptrace.ClientTrace{Got1xxResponse: func(code int, h textproto.MIMEHeader) error {
		hints = append(hints, fmt.Sprint(code, " ", h.Get("Link")))
		return nil
	}}
	req, _ := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace), http.MethodGet, srv.URL+"/page", nil)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if len(hints) != 1 || hints[0] != "103 </style.css>; rel=preload; as=style" || string(body) != "page" ||
		!strings.Contains(res.Header.Get("Cache-Status"), "stored") {
		t.Fatalf("informational responses %q, then %q %q; want the 103 with its Link, then the stored page", hints, body, res.Header.Get("Cache-Status"))
	}
}
