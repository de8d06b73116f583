package middleware

import (
	"bytes"
	"net/http"
)

// recorder captures a handler's response for the cache. It keeps the
// header map, the status and the body up to a cap, and notes whether the
// handler flushed (a stream) or wrote past the cap. Past the cap it keeps
// the body too, because the caller it runs for still needs it, but the
// response will not be stored.
type recorder struct {
	header   http.Header
	sent     http.Header // the header as it was when the status was written
	status   int
	body     bytes.Buffer
	max      int64
	wrote    bool // WriteHeader or Write was called
	overflow bool // the body went past max
	flushed  bool // Flush was called: a stream
}

func newRecorder(max int64) *recorder {
	return &recorder{header: make(http.Header), status: http.StatusOK, max: max}
}

// Header returns the header map the handler writes into.
func (r *recorder) Header() http.Header { return r.header }

// WriteHeader records the status, once; later calls are ignored, as
// net/http does. 1xx statuses are informational and not recorded.
func (r *recorder) WriteHeader(status int) {
	if r.wrote || status < 200 {
		return
	}
	r.wrote, r.status = true, status
	r.sent = r.header.Clone() // a server sends the header now; later changes are lost
}

// sentHeader is the header a client would have received.
func (r *recorder) sentHeader() http.Header {
	if r.sent != nil {
		return r.sent
	}
	return r.header // nothing written: the server would send it at the end
}

// Write records body bytes.
func (r *recorder) Write(p []byte) (int, error) {
	r.WriteHeader(http.StatusOK)
	if int64(r.body.Len()+len(p)) > r.max {
		r.overflow = true
	}
	return r.body.Write(p)
}

// WriteString records body bytes.
func (r *recorder) WriteString(s string) (int, error) {
	r.WriteHeader(http.StatusOK)
	if int64(r.body.Len()+len(s)) > r.max {
		r.overflow = true
	}
	return r.body.WriteString(s)
}

// Flush marks the response as a stream, which is never stored.
func (r *recorder) Flush() { r.flushed = true }

// CloseNotify returns a channel that never fires: the fill outlives every
// client. gin's Context.Stream needs it.
func (r *recorder) CloseNotify() <-chan bool { return make(chan bool) }
