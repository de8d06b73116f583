package swrcache_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// Must show 4: whatever the cache puts between the framework and the
// handler keeps what http.ResponseController reaches: SetWriteDeadline,
// Flush and Hijack work on requests that bypass the cache and on fills,
// with and without a tags header to strip, through every adapter; and on
// a hit the writer around the cache still has them.

// controlled tries SetWriteDeadline and Flush through w, and whether w is an
// http.Hijacker, and writes what worked; asked to (?hijack), it takes the
// connection over and answers raw.
func controlled() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Cache-Tags", "t")
		rc := http.NewResponseController(w)
		if r.URL.Query().Has("hijack") {
			conn, brw, err := rc.Hijack()
			if err != nil {
				http.Error(w, "hijack: "+err.Error(), http.StatusInternalServerError)
				return
			}
			defer conn.Close()
			_, _ = brw.WriteString("HTTP/1.1 200 OK\r\nContent-Length: 8\r\nConnection: close\r\n\r\nhijacked")
			_ = brw.Flush()
			return
		}
		_, hijacker := w.(http.Hijacker) // as WebSocket libraries check
		deadline := rc.SetWriteDeadline(time.Now().Add(time.Minute))
		fmt.Fprintf(w, "hijacker=%v deadline=%v ", hijacker, deadline)
		fmt.Fprintf(w, "flush=%v", rc.Flush())
	})
}

// connGet sends a GET on a connection of its own and returns the raw reply.
func connGet(t *testing.T, srv *httptest.Server, path string, header ...string) (string, http.Header) {
	t.Helper()
	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	req := "GET " + path + " HTTP/1.1\r\nHost: test\r\nConnection: close\r\n"
	for i := 0; i+1 < len(header); i += 2 {
		req += header[i] + ": " + header[i+1] + "\r\n"
	}
	if _, err := io.WriteString(conn, req+"\r\n"); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b), resp.Header
}

func TestResponseControllerWorksThroughEveryWrapper(t *testing.T) {
	for _, a := range adapters {
		for _, tags := range []string{"", "X-Cache-Tags"} {
			for _, path := range []struct {
				name   string
				header []string
			}{
				{"bypass", []string{"Authorization", "Bearer a"}},
				{"fill", nil},
			} {
				t.Run(fmt.Sprintf("%s/%s/tags header %q", a.name, path.name, tags), func(t *testing.T) {
					cfg := baseConfig()
					cfg.TagsHeader = tags
					srv := a.serve(t, newEngine(t, nil), cfg, controlled())
					body, h := connGet(t, srv, "/x", path.header...)
					if body != "hijacker=true deadline=<nil> flush=<nil>" {
						t.Errorf("SetWriteDeadline and Flush: %q (%s)", body, h.Get("Cache-Status"))
					}
					if tags != "" && h.Get(tags) != "" {
						t.Errorf("the tags header reached the client")
					}
					if body, h := connGet(t, srv, "/y?hijack", path.header...); body != "hijacked" {
						t.Errorf("Hijack: %q (%s)", body, h.Get("Cache-Status"))
					}
					// The hijacked fill stored nothing; the next request runs the handler again.
					if body, h := connGet(t, srv, "/y?hijack", path.header...); body != "hijacked" || strings.Contains(h.Get("Cache-Status"), "hit") {
						t.Errorf("Hijack again: %q (%s)", body, h.Get("Cache-Status"))
					}
				})
			}
		}
	}
}

// On a hit the handler does not run; the server's writer, as middleware
// around the cache sees it, still controls the connection.
func TestResponseControllerWorksAroundAHit(t *testing.T) {
	e := newEngine(t, nil)
	cfg := baseConfig()
	cfg.TagsHeader = "X-Cache-Tags"
	cached := mustNetHTTP(t, e, cfg)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "page") }))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc := http.NewResponseController(w)
		deadline := rc.SetWriteDeadline(time.Now().Add(time.Minute))
		cached.ServeHTTP(w, r)
		if err := rc.Flush(); err != nil || deadline != nil {
			t.Errorf("around the cache: deadline %v, flush %v", deadline, err)
		}
	}))
	t.Cleanup(srv.Close)
	connGet(t, srv, "/x")
	if body, h := connGet(t, srv, "/x"); !strings.Contains(h.Get("Cache-Status"), "hit") || body != "page" {
		t.Fatalf("hit: %q (%s)", body, h.Get("Cache-Status"))
	}
}
