package middleware

import (
	"bytes"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/swrcache/swrcache/core"
)

// clientWriter stands for the client's writer at the cache's position: a
// ResponseRecorder that also logs every status written to it, 1xx
// included, with the header as it was then. Only a final status reaches
// the recorder, as with net/http.
type clientWriter struct {
	*httptest.ResponseRecorder
	statuses []int
	headers  []http.Header
}

func newClientWriter() *clientWriter {
	return &clientWriter{ResponseRecorder: httptest.NewRecorder()}
}

func (w *clientWriter) WriteHeader(status int) {
	w.statuses = append(w.statuses, status)
	w.headers = append(w.headers, w.Header().Clone())
	if status >= 200 {
		w.ResponseRecorder.WriteHeader(status)
	}
}

// sentHeader is the header the client got with its final status.
func (w *clientWriter) sentHeader() http.Header { return w.Result().Header }

// newTestFill returns a fillWriter for a fill of r under cfg, writing to
// dst (nil for a refresh), with no engine and no Redis.
func newTestFill(t *testing.T, cfg Config, r *http.Request, dst http.ResponseWriter) *fillWriter {
	t.Helper()
	c := &Cache{cfg: cfg.withDefaults()}
	l := &load{c: c, r: r, fill: core.Fill{Status: core.StatusMiss, Store: true}}
	return newFillWriter(dst, l)
}

func get(header ...string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "/items", nil)
	for i := 0; i+1 < len(header); i += 2 {
		r.Header.Add(header[i], header[i+1])
	}
	return r
}

// chunk is n bytes of the letter for i, so that chunks tell apart.
func chunk(i, n int) []byte { return bytes.Repeat([]byte{byte('a' + i%26)}, n) }

func mustWrite(t *testing.T, fw *fillWriter, p []byte) {
	t.Helper()
	if n, err := fw.Write(p); n != len(p) || err != nil {
		t.Fatalf("Write(%d bytes) = %d, %v", len(p), n, err)
	}
}

func TestFillWriterHoldsASmallResponseUntilCommitted(t *testing.T) {
	cw := newClientWriter()
	fw := newTestFill(t, Config{}, get(), cw)
	fw.Header().Set("Content-Type", "text/plain")
	fw.Header().Add("X-Multi", "a")
	fw.Header().Add("X-Multi", "b")
	fw.WriteHeader(http.StatusNotFound)
	mustWrite(t, fw, []byte("not "))
	mustWrite(t, fw, []byte("found"))
	if len(cw.statuses) != 0 || cw.Body.Len() != 0 {
		t.Fatalf("a held response reached the client: statuses %v, body %q", cw.statuses, cw.Body)
	}
	fw.commitHeld("swrcache; fwd=uri-miss; stored")
	h := cw.sentHeader()
	switch {
	case cw.Code != http.StatusNotFound:
		t.Errorf("status %d, want 404", cw.Code)
	case cw.Body.String() != "not found":
		t.Errorf("body %q", cw.Body)
	case h.Get("Content-Type") != "text/plain" || !slices.Equal(h.Values("X-Multi"), []string{"a", "b"}):
		t.Errorf("the handler's header did not go out: %v", h)
	case h.Get("Content-Length") != "9":
		t.Errorf("Content-Length %q, want 9", h.Get("Content-Length"))
	case h.Get("Cache-Status") != "swrcache; fwd=uri-miss; stored":
		t.Errorf("Cache-Status %q", h.Get("Cache-Status"))
	}
}

func TestFillWriterStreamsPastHoldBytes(t *testing.T) {
	cw := newClientWriter()
	fw := newTestFill(t, Config{}, get(), cw)
	var all []byte
	for i := range holdBytes / 1024 {
		mustWrite(t, fw, chunk(i, 1024))
		all = append(all, chunk(i, 1024)...)
	}
	if len(cw.statuses) != 0 || cw.Body.Len() != 0 {
		t.Fatalf("%d bytes, up to holdBytes, were not held", len(all))
	}
	mustWrite(t, fw, chunk(4, 1)) // crosses holdBytes
	all = append(all, chunk(4, 1)...)
	if !slices.Equal(cw.statuses, []int{200}) || !bytes.Equal(cw.Body.Bytes(), all) {
		t.Fatalf("past holdBytes the client has statuses %v and %d bytes, want [200] and %d", cw.statuses, cw.Body.Len(), len(all))
	}
	if got := cw.sentHeader().Get("Cache-Status"); got != "swrcache; fwd=uri-miss; stored" {
		t.Errorf("Cache-Status %q", got)
	}
	if got := cw.sentHeader().Get("Content-Length"); got != "" {
		t.Errorf("a streamed response got Content-Length %q", got)
	}
	for i := 5; i < 8; i++ {
		mustWrite(t, fw, chunk(i, 1000))
		all = append(all, chunk(i, 1000)...)
		if !bytes.Equal(cw.Body.Bytes(), all) {
			t.Fatalf("write %d did not reach the client at once", i)
		}
	}
	if !bytes.Equal(fw.body, all) || fw.overflow {
		t.Fatalf("recorded %d bytes (overflow %v), want all %d", len(fw.body), fw.overflow, len(all))
	}
}

func TestFillWriterPastMaxBodyStreamsWholeAndRecordsNoMore(t *testing.T) {
	const maxBody = 100
	tests := []struct {
		name        string
		givenChunks []int
	}{
		{"chunks that cross MaxBody go out whole", []int{30, 30, 30, 30, 30}},
		{"one write larger than MaxBody goes out whole", []int{250}},
		{"a write that ends exactly at MaxBody is still recorded", []int{60, 40, 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cw := newClientWriter()
			fw := newTestFill(t, Config{MaxBody: maxBody}, get(), cw)
			var all []byte
			for i, n := range tt.givenChunks {
				mustWrite(t, fw, chunk(i, n))
				all = append(all, chunk(i, n)...)
				if len(fw.body) > maxBody {
					t.Fatalf("after write %d, %d bytes recorded, more than MaxBody", i, len(fw.body))
				}
				if len(all) <= maxBody && !bytes.Equal(fw.body, all) {
					t.Fatalf("after write %d, %d bytes recorded, want all %d", i, len(fw.body), len(all))
				}
			}
			fw.finish(nil)
			if !bytes.Equal(cw.Body.Bytes(), all) {
				t.Fatalf("the client got %q, want %q", cw.Body, all)
			}
			if !fw.overflow || fw.body != nil {
				t.Errorf("overflow %v, body %d bytes; want overflow and the body released", fw.overflow, len(fw.body))
			}
			// The write that commits the header is already past MaxBody: the
			// response is known not to be stored (ownStatus's too-large).
			if got := cw.sentHeader().Get("Cache-Status"); got != "swrcache; fwd=uri-miss; detail=too-large" {
				t.Errorf("Cache-Status %q for a response already past MaxBody, want detail=too-large", got)
			}
		})
	}
}

func TestFillWriterFlushSendsWhatIsHeld(t *testing.T) {
	cw := newClientWriter()
	fw := newTestFill(t, Config{}, get(), cw)
	mustWrite(t, fw, []byte("event: 1\n\n"))
	fw.Flush()
	switch {
	case !fw.flushed:
		t.Error("not marked flushed")
	case !cw.Flushed:
		t.Error("the client's writer was not flushed")
	case cw.Body.String() != "event: 1\n\n" || cw.Code != http.StatusOK:
		t.Errorf("the held part did not go out: %d %q", cw.Code, cw.Body)
	case cw.sentHeader().Get("Cache-Status") != "swrcache; fwd=uri-miss; detail=streamed":
		t.Errorf("Cache-Status %q", cw.sentHeader().Get("Cache-Status"))
	}
	mustWrite(t, fw, []byte("event: 2\n\n"))
	if cw.Body.String() != "event: 1\n\nevent: 2\n\n" {
		t.Fatalf("a write after Flush was held: %q", cw.Body)
	}
}

func TestFillWriterHoldsAFailureForStaleIfError(t *testing.T) {
	const maxBody = 8 << 10
	tests := []struct {
		name           string
		givenFallback  bool
		expectHeldUpTo int // bytes held before the response goes out
	}{
		{"a 5xx with a fallback is held up to MaxBody", true, maxBody},
		{"a 5xx without a fallback streams past holdBytes", false, holdBytes},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cw := newClientWriter()
			fw := newTestFill(t, Config{MaxBody: maxBody}, get(), cw)
			fw.l.fill.Fallback = tt.givenFallback
			fw.WriteHeader(http.StatusServiceUnavailable)
			mustWrite(t, fw, chunk(0, tt.expectHeldUpTo))
			if len(cw.statuses) != 0 {
				t.Fatalf("%d bytes of a 503 went out", tt.expectHeldUpTo)
			}
			mustWrite(t, fw, chunk(1, 1))
			if cw.Code != http.StatusServiceUnavailable || cw.Body.Len() != tt.expectHeldUpTo+1 {
				t.Fatalf("past %d bytes the client has %d and %d bytes", tt.expectHeldUpTo, cw.Code, cw.Body.Len())
			}
			if got := cw.sentHeader().Get("Cache-Status"); got != "swrcache; fwd=uri-miss; detail=status" {
				t.Errorf("Cache-Status %q", got)
			}
		})
	}
}

func TestFillWriterSendsNoBodyForHEADOrA304(t *testing.T) {
	const etag = `"v1"`
	tests := []struct {
		name         string
		givenRequest *http.Request
		givenSize    int // below holdBytes: held; above: streamed
		expectStatus int
	}{
		{"a held response to HEAD has no body", httptest.NewRequest(http.MethodHead, "/", nil), 10, 200},
		{"a streamed response to HEAD has no body", httptest.NewRequest(http.MethodHead, "/", nil), 6000, 200},
		{"a held 200 whose ETag matches If-None-Match is a 304", get("If-None-Match", etag), 10, 304},
		{"a streamed 200 whose ETag matches If-None-Match is a 304", get("If-None-Match", `"x", W/"v1"`), 6000, 304},
		{"HEAD with a matching If-None-Match is a 304, as a hit is", func() *http.Request {
			r := httptest.NewRequest(http.MethodHead, "/", nil)
			r.Header.Set("If-None-Match", etag)
			return r
		}(), 10, 304},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cw := newClientWriter()
			fw := newTestFill(t, Config{}, tt.givenRequest, cw)
			fw.Header().Set("Etag", etag)
			mustWrite(t, fw, chunk(0, tt.givenSize))
			if !fw.committed {
				fw.commitHeld("swrcache; fwd=uri-miss; stored")
			}
			if cw.Code != tt.expectStatus || cw.Body.Len() != 0 {
				t.Errorf("the client got %d with %d bytes, want %d and none", cw.Code, cw.Body.Len(), tt.expectStatus)
			}
			if cl := cw.sentHeader().Get("Content-Length"); tt.expectStatus == 304 && cl != "" {
				t.Errorf("a 304 has Content-Length %q", cl)
			}
			if len(fw.body) != tt.givenSize {
				t.Errorf("recorded %d bytes, want the whole %d", len(fw.body), tt.givenSize)
			}
		})
	}
}

func TestFillWriterKeepsTheHandlersHeaderApart(t *testing.T) {
	cw := newClientWriter()
	cw.Header().Set("X-Outer", "outer")
	cw.Header().Set("Vary", "Origin")
	cw.Header().Set("X-Both", "outer")
	fw := newTestFill(t, Config{TagsHeader: "x-cache-tags"}, get(), cw)
	fw.Header().Set("Vary", "Accept-Encoding")
	fw.Header().Set("X-Both", "handler")
	fw.Header().Set("X-Cache-Tags", "user:1, user:2")
	fw.Header().Set("Content-Type", "text/plain")
	if cw.Header().Get("Content-Type") != "" || fw.Header().Get("X-Outer") != "" {
		t.Fatal("the handler's header map is the client's")
	}
	mustWrite(t, fw, []byte("hi"))
	fw.commitHeld("swrcache; fwd=uri-miss; stored")
	h := cw.sentHeader()
	switch {
	case h.Get("X-Outer") != "outer":
		t.Errorf("an outer middleware's field was lost: %v", h)
	case !slices.Equal(h.Values("Vary"), []string{"Origin", "Accept-Encoding"}):
		t.Errorf("Vary %q, want the handler's added to Origin", h.Values("Vary"))
	case h.Get("X-Both") != "handler" || h.Get("Content-Type") != "text/plain":
		t.Errorf("the handler's fields were not merged: %v", h)
	case h.Get("X-Cache-Tags") != "":
		t.Errorf("the tags header reached the client: %q", h.Get("X-Cache-Tags"))
	case fw.sent.Get("X-Cache-Tags") != "user:1, user:2":
		t.Errorf("the tags header is not in sent: %v", fw.sent)
	}
}

func TestFillWriterStatusRules(t *testing.T) {
	t.Run("a second WriteHeader is ignored", func(t *testing.T) {
		fw := newTestFill(t, Config{}, get(), newClientWriter())
		fw.WriteHeader(http.StatusCreated)
		fw.WriteHeader(http.StatusNotFound)
		if fw.status != http.StatusCreated {
			t.Fatalf("status %d, want 201", fw.status)
		}
	})
	t.Run("header changes after WriteHeader are not sent", func(t *testing.T) {
		cw := newClientWriter()
		fw := newTestFill(t, Config{}, get(), cw)
		fw.Header().Set("X-Early", "1")
		fw.WriteHeader(http.StatusOK)
		fw.Header().Set("X-Late", "1")
		fw.commitHeld("s")
		if fw.sent.Get("X-Late") != "" || cw.sentHeader().Get("X-Late") != "" || fw.sent.Get("X-Early") != "1" {
			t.Fatalf("sent %v, client %v", fw.sent, cw.sentHeader())
		}
	})
	t.Run("a 1xx goes on at once and is not the status", func(t *testing.T) {
		cw := newClientWriter()
		fw := newTestFill(t, Config{TagsHeader: "X-Cache-Tags"}, get(), cw)
		fw.Header().Set("Link", "</app.css>; rel=preload")
		fw.Header().Set("X-Cache-Tags", "t")
		fw.WriteHeader(http.StatusEarlyHints)
		if !slices.Equal(cw.statuses, []int{103}) || cw.headers[0].Get("Link") != "</app.css>; rel=preload" {
			t.Fatalf("103 not sent on with its Link: %v %v", cw.statuses, cw.headers)
		}
		if cw.headers[0].Get("X-Cache-Tags") != "" {
			t.Errorf("the tags header went out with the 103")
		}
		if fw.wrote || fw.status != http.StatusOK {
			t.Fatalf("the 103 was recorded: wrote %v, status %d", fw.wrote, fw.status)
		}
		fw.WriteHeader(http.StatusOK)
		mustWrite(t, fw, []byte("x"))
		fw.commitHeld("s")
		if !slices.Equal(cw.statuses, []int{103, 200}) {
			t.Fatalf("statuses %v", cw.statuses)
		}
	})
	t.Run("a Vary sent with a 1xx is not repeated in the final response", func(t *testing.T) {
		cw := newClientWriter()
		cw.Header().Set("Vary", "Origin")
		fw := newTestFill(t, Config{}, get(), cw)
		fw.Header().Set("Vary", "Accept-Encoding")
		fw.WriteHeader(http.StatusEarlyHints)
		mustWrite(t, fw, []byte("x"))
		fw.commitHeld("s")
		if got := cw.sentHeader().Values("Vary"); !slices.Equal(got, []string{"Origin", "Accept-Encoding"}) {
			t.Errorf("Vary %q, want [Origin Accept-Encoding]", got)
		}
	})
}

func TestFillWriterFinish(t *testing.T) {
	tests := []struct {
		name        string
		givenErr    error
		expectWrote bool
	}{
		{"a handler that wrote nothing and returned nil is a 200", nil, true},
		{"a handler that wrote nothing and failed is left unwritten", errors.New("boom"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fw := newTestFill(t, Config{}, get(), newClientWriter())
			fw.finish(tt.givenErr)
			if fw.wrote != tt.expectWrote || fw.status != http.StatusOK || len(fw.body) != 0 {
				t.Fatalf("wrote %v, status %d, body %q", fw.wrote, fw.status, fw.body)
			}
		})
	}
}

func TestFillWriterReadFrom(t *testing.T) {
	cw := newClientWriter()
	fw := newTestFill(t, Config{MaxBody: 6000}, get(), cw)
	body := strings.Repeat("0123456789", 1000)
	n, err := fw.ReadFrom(strings.NewReader(body))
	if err != nil || n != int64(len(body)) || cw.Body.String() != body {
		t.Fatalf("ReadFrom = %d, %v; the client got %d bytes of %d", n, err, cw.Body.Len(), len(body))
	}
	if !fw.overflow || fw.size != int64(len(body)) {
		t.Fatalf("overflow %v, size %d", fw.overflow, fw.size)
	}
}

func TestMergeHeader(t *testing.T) {
	to := http.Header{"Vary": {"Origin"}, "X-Old": {"old"}, "X-Kept": {"kept"}}
	from := http.Header{"Vary": {"Accept-Encoding"}, "X-Old": {"new"}, "X-Multi": {"1", "2"}, "X-Cache-Tags": {"t"}}
	mergeHeader(to, from, "X-Cache-Tags", false)
	want := http.Header{"Vary": {"Origin", "Accept-Encoding"}, "X-Old": {"new"}, "X-Kept": {"kept"}, "X-Multi": {"1", "2"}}
	if len(to) != len(want) {
		t.Fatalf("merged %v, want %v", to, want)
	}
	for name, v := range want {
		if !slices.Equal(to[name], v) {
			t.Errorf("%s = %q, want %q", name, to[name], v)
		}
	}
	to["X-Multi"][0] = "changed"
	if from["X-Multi"][0] != "1" {
		t.Error("merged values alias the handler's")
	}
	early := http.Header{"Vary": {"Origin"}}
	mergeHeader(early, http.Header{"Vary": {"Accept-Encoding"}, "Link": {"</a.css>; rel=preload"}}, "", true)
	if !slices.Equal(early["Vary"], []string{"Origin"}) || early.Get("Link") == "" {
		t.Errorf("for a 1xx: %v, want Link copied and Vary left for the final response", early)
	}
}
