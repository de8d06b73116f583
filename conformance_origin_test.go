package swrcache_test

import (
	"cmp"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The origin of the conformance rows: it answers as a row says and
// records what reaches it, as an origin server behind the proxy or as the
// route's handler behind an adapter.

// confAnswer is what the origin answers one request.
type confAnswer struct {
	status int      // 0: 200
	header []string // name, value, ...; "{now}", "{now+N}" and "{now-N}" become HTTP dates
	// body "" is the path and the number of the read, "/r#1", followed for
	// each field the answer's Vary names by " Name=value" of the request.
	body string
	// revalidates answers a request whose If-None-Match matches the ETag,
	// or else whose If-Modified-Since is not earlier than Last-Modified,
	// with a 304 carrying header updated by header304, by hand.
	revalidates bool
	header304   []string
	// serveContent writes the body with http.ServeContent, which answers
	// Range, If-Range, If-None-Match and If-Modified-Since itself.
	serveContent bool
}

// confOrigin plays a row's origin and records what reaches it.
type confOrigin struct {
	answers []confAnswer
	write   confAnswer

	mu    sync.Mutex
	calls int            // protected by mu
	reads map[string]int // GETs and HEADs by path; protected by mu
	last  http.Header    // protected by mu
}

func newConfOrigin(row confRow) *confOrigin {
	o := &confOrigin{answers: row.givenOrigin, write: row.givenWrite, reads: map[string]int{}}
	if len(o.answers) == 0 {
		o.answers = []confAnswer{{}}
	}
	if o.write.status == 0 {
		o.write.status = http.StatusNoContent
	}
	return o
}

func (o *confOrigin) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	o.mu.Lock()
	o.calls++
	o.last = r.Header.Clone()
	a, n := o.write, 0
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		o.reads[r.URL.Path]++
		n = o.reads[r.URL.Path]
		a = o.answers[min(n, len(o.answers))-1]
	}
	o.mu.Unlock()
	a.serve(w, r, n)
}

func (o *confOrigin) count() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.calls
}

func (o *confOrigin) lastHeader() http.Header {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.last
}

// serve answers r, the n-th read of its path (0 for a write).
func (a confAnswer) serve(w http.ResponseWriter, r *http.Request, n int) {
	h := w.Header()
	addFields(h, a.header, false)
	body := a.body
	if body == "" {
		body = fmt.Sprintf("%s#%d", r.URL.Path, n)
		for _, name := range strings.Split(h.Get("Vary"), ",") {
			if name = strings.TrimSpace(name); name != "" {
				body += fmt.Sprintf(" %s=%s", name, r.Header.Get(name))
			}
		}
	}
	status := cmp.Or(a.status, http.StatusOK)
	switch {
	case a.serveContent:
		modified, _ := http.ParseTime(h.Get("Last-Modified"))
		http.ServeContent(w, r, "", modified, strings.NewReader(body))
		return
	case a.revalidates && validatorsMatch(r, h):
		addFields(h, a.header304, true)
		w.WriteHeader(http.StatusNotModified)
		return
	case status == http.StatusNoContent || status == http.StatusNotModified:
		w.WriteHeader(status)
		return
	}
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		_, _ = io.WriteString(w, body)
	}
}

// addFields adds the fields (name, value, ...) to h, replacing those of
// the same name when replace is set; "{now}", "{now+N}" and "{now-N}"
// become HTTP dates, N seconds from now.
func addFields(h http.Header, fields []string, replace bool) {
	if replace {
		for i := 0; i+1 < len(fields); i += 2 {
			h.Del(fields[i])
		}
	}
	for i := 0; i+1 < len(fields); i += 2 {
		v := fields[i+1]
		if rest, ok := strings.CutPrefix(v, "{now"); ok && strings.HasSuffix(rest, "}") {
			secs, _ := strconv.Atoi(strings.TrimPrefix(strings.TrimSuffix(rest, "}"), "+"))
			v = time.Now().Add(time.Duration(secs) * time.Second).UTC().Format(http.TimeFormat)
		}
		h.Add(fields[i], v)
	}
}

// validatorsMatch reports whether r's If-None-Match matches the ETag in h
// (weak comparison), or, without If-None-Match, whether its
// If-Modified-Since is not earlier than the Last-Modified in h.
func validatorsMatch(r *http.Request, h http.Header) bool {
	if inm := r.Header.Get("If-None-Match"); inm != "" {
		etag := strings.TrimPrefix(h.Get("Etag"), "W/")
		for _, tag := range strings.Split(inm, ",") {
			if tag = strings.TrimSpace(tag); tag == "*" || (etag != "" && strings.TrimPrefix(tag, "W/") == etag) {
				return true
			}
		}
		return false
	}
	since, err1 := http.ParseTime(r.Header.Get("If-Modified-Since"))
	modified, err2 := http.ParseTime(h.Get("Last-Modified"))
	return err1 == nil && err2 == nil && !since.Before(modified)
}
