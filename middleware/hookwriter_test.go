package middleware

import (
	"bufio"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/swrcache/swrcache/core"
)

// readFromWriter is a client writer with a ReadFrom of its own, as
// net/http's has (for sendfile).
type readFromWriter struct {
	*httptest.ResponseRecorder
	readFrom int
}

func (w *readFromWriter) ReadFrom(src io.Reader) (int64, error) {
	w.readFrom++
	return io.Copy(w.ResponseRecorder, src)
}

// onceHook returns a hook that acts once, on the final status, as the
// Invalidator's does, setting X-Hooked on the client's header to the
// status, and the log of every call.
func onceHook(h http.Header) (hook func(int), calls *[]int) {
	var once sync.Once
	calls = new([]int)
	return func(status int) {
		*calls = append(*calls, status)
		if status >= 200 {
			once.Do(func() { h.Set("X-Hooked", strconv.Itoa(status)) })
		}
	}, calls
}

func TestHookWriterCallsTheHookBeforeTheStatus(t *testing.T) {
	tests := []struct {
		name         string
		when         func(w http.ResponseWriter)
		expectCalls  []int
		expectStatus int
	}{
		{"WriteHeader calls it with its status", func(w http.ResponseWriter) { w.WriteHeader(http.StatusCreated) }, []int{201}, 201},
		{"Write calls it with 200", func(w http.ResponseWriter) { _, _ = w.Write([]byte("x")) }, []int{200}, 200},
		{"Flush calls it with 200", func(w http.ResponseWriter) { w.(http.Flusher).Flush() }, []int{200}, 200},
		{"ReadFrom calls it with 200", func(w http.ResponseWriter) { _, _ = w.(io.ReaderFrom).ReadFrom(strings.NewReader("x")) }, []int{200}, 200},
		{"a 1xx calls it too, before it is sent", func(w http.ResponseWriter) { w.WriteHeader(http.StatusEarlyHints); w.WriteHeader(http.StatusNoContent) }, []int{103, 204}, 204},
		{"a Write after WriteHeader calls it again, and it acts once", func(w http.ResponseWriter) {
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte("x"))
		}, []int{404, 200}, 404},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cw := newClientWriter()
			hook, calls := onceHook(cw.Header())
			tt.when(HookWriter(cw, hook))
			if !slices.Equal(*calls, tt.expectCalls) {
				t.Errorf("hook calls %v, want %v", *calls, tt.expectCalls)
			}
			// The recorder snapshots the header when the status is written:
			// what the hook set is there only if it ran before.
			if cw.Code != tt.expectStatus || cw.sentHeader().Get("X-Hooked") != strconv.Itoa(tt.expectStatus) {
				t.Errorf("status %d with X-Hooked %q, want %d with the hook's field", cw.Code, cw.sentHeader().Get("X-Hooked"), tt.expectStatus)
			}
			for i, s := range cw.statuses {
				if s < 200 && cw.headers[i].Get("X-Hooked") != "" {
					t.Errorf("the hook ran before the %d", s)
				}
			}
		})
	}
}

func TestHookWriterKeepsTheWrappedWritersInterfaces(t *testing.T) {
	rf := &readFromWriter{ResponseRecorder: httptest.NewRecorder()}
	hook, calls := onceHook(rf.Header())
	w := HookWriter(rf, hook)
	if _, ok := w.(http.Hijacker); !ok {
		t.Error("not a Hijacker")
	}
	if _, ok := w.(http.Flusher); !ok {
		t.Error("not a Flusher")
	}
	if u, ok := w.(interface{ Unwrap() http.ResponseWriter }); !ok || u.Unwrap() != rf {
		t.Error("Unwrap does not return the wrapped writer")
	}
	n, err := w.(io.ReaderFrom).ReadFrom(strings.NewReader("hello"))
	if n != 5 || err != nil || rf.readFrom != 1 || rf.Body.String() != "hello" {
		t.Fatalf("ReadFrom = %d, %v; the wrapped ReadFrom ran %d times, body %q", n, err, rf.readFrom, rf.Body)
	}
	if !slices.Equal(*calls, []int{200}) {
		t.Errorf("hook calls %v", *calls)
	}
	if _, _, err := w.(http.Hijacker).Hijack(); !errors.Is(err, http.ErrNotSupported) {
		t.Errorf("Hijack of a recorder: %v, want ErrNotSupported", err)
	}
}

func TestFillWriterForARefresh(t *testing.T) {
	fw := newTestFill(t, Config{MaxBody: 10}, get(), nil)
	mustWrite(t, fw, []byte("12345"))
	fw.Flush()
	mustWrite(t, fw, []byte("678901"))
	if !fw.flushed || !fw.overflow || fw.body != nil {
		t.Errorf("flushed %v, overflow %v, body %q", fw.flushed, fw.overflow, fw.body)
	}
	if _, _, err := fw.Hijack(); !errors.Is(err, http.ErrNotSupported) {
		t.Errorf("Hijack with no client: %v, want ErrNotSupported", err)
	}
	if fw.Unwrap() != nil {
		t.Errorf("Unwrap = %v, want nil", fw.Unwrap())
	}
	if err := http.NewResponseController(fw).SetWriteDeadline(time.Now()); !errors.Is(err, http.ErrNotSupported) {
		t.Errorf("SetWriteDeadline with no client: %v, want ErrNotSupported", err)
	}
	select {
	case <-fw.CloseNotify():
		t.Error("CloseNotify fired with no client")
	default:
	}
}

func TestFillWriterUnwrapsToTheClient(t *testing.T) {
	cw := newClientWriter()
	if fw := newTestFill(t, Config{}, get(), cw); fw.Unwrap() != cw {
		t.Fatalf("Unwrap = %v, want the client's writer", fw.Unwrap())
	}
}

// The rest runs a real server on loopback: hijacking and deadlines need
// net/http's own writer. No Redis.

// wrappers are the cache's two writers, as a handler after the cache gets
// them.
var wrappers = []struct {
	name string
	wrap func(w http.ResponseWriter, r *http.Request) http.ResponseWriter
}{
	{"fillWriter", func(w http.ResponseWriter, r *http.Request) http.ResponseWriter {
		c := &Cache{cfg: Config{}.withDefaults()}
		return newFillWriter(w, &load{c: c, r: r, fill: core.Fill{Status: core.StatusMiss, Store: true}})
	}},
	{"hookWriter", func(w http.ResponseWriter, _ *http.Request) http.ResponseWriter {
		return HookWriter(w, func(int) {})
	}},
}

func serve(t *testing.T, h http.HandlerFunc) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

func fetch(t *testing.T, srv *httptest.Server) (*http.Response, string) {
	t.Helper()
	resp, err := srv.Client().Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

func TestWritersHijackOnARealServer(t *testing.T) {
	for _, tt := range wrappers {
		t.Run(tt.name, func(t *testing.T) {
			srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
				ww := tt.wrap(w, r)
				hj, ok := ww.(http.Hijacker)
				if !ok {
					t.Error("not a Hijacker")
					return
				}
				conn, rw, err := hj.Hijack()
				if err != nil {
					t.Errorf("Hijack: %v", err)
					return
				}
				defer conn.Close()
				_, _ = rw.WriteString("HTTP/1.1 200 OK\r\nContent-Length: 6\r\nConnection: close\r\n\r\nraw ok")
				_ = rw.Flush()
				if fw, ok := ww.(*fillWriter); ok {
					if _, err := fw.Write([]byte("more")); !fw.hijacked || !errors.Is(err, http.ErrHijacked) {
						t.Errorf("after Hijack: hijacked %v, Write error %v", fw.hijacked, err)
					}
				}
			})
			if resp, body := fetch(t, srv); resp.StatusCode != 200 || body != "raw ok" {
				t.Fatalf("got %d %q, want the raw response", resp.StatusCode, body)
			}
		})
	}
}

func TestWritersReachDeadlinesThroughUnwrap(t *testing.T) {
	for _, tt := range wrappers {
		t.Run(tt.name, func(t *testing.T) {
			srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
				ww := tt.wrap(w, r)
				rc := http.NewResponseController(ww)
				if err := rc.SetWriteDeadline(time.Now().Add(time.Minute)); err != nil {
					t.Errorf("SetWriteDeadline: %v", err)
				}
				if err := rc.SetReadDeadline(time.Now().Add(time.Minute)); err != nil {
					t.Errorf("SetReadDeadline: %v", err)
				}
				_, _ = ww.Write([]byte("ok"))
				_ = rc.Flush()
			})
			if resp, body := fetch(t, srv); resp.StatusCode != 200 || body != "ok" {
				t.Fatalf("got %d %q", resp.StatusCode, body)
			}
		})
	}
}

func TestWritersFlushToTheClientAtOnce(t *testing.T) {
	for _, tt := range wrappers {
		t.Run(tt.name, func(t *testing.T) {
			gotFirst := make(chan struct{})
			srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
				ww := tt.wrap(w, r)
				_, _ = ww.Write([]byte("first\n"))
				ww.(http.Flusher).Flush()
				select {
				case <-gotFirst:
				case <-time.After(10 * time.Second):
					t.Error("the client never got the flushed part")
				}
				_, _ = ww.Write([]byte("second\n"))
			})
			resp, err := srv.Client().Get(srv.URL)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			br := bufio.NewReader(resp.Body)
			if line, err := br.ReadString('\n'); line != "first\n" || err != nil {
				t.Fatalf("first line %q, %v", line, err)
			}
			close(gotFirst)
			if rest, err := io.ReadAll(br); string(rest) != "second\n" || err != nil {
				t.Fatalf("rest %q, %v", rest, err)
			}
		})
	}
}
