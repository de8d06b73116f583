package middleware

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strconv"
)

// The cache's two response writers. Both keep the optional interfaces of
// the writer they wrap, the way chi's wrap_writer does: Flush, Hijack,
// ReadFrom and CloseNotify act on it (through http.ResponseController,
// which reports http.ErrNotSupported where it cannot), and Unwrap returns
// it, so http.ResponseController reaches SetWriteDeadline and the rest.

// hookWriter passes everything through to the writer it wraps, and calls
// hook with the status just before the status is written. Requests that
// bypass the cache get one when the route has a tags header to strip, and
// write routes one to invalidate before their answer goes out.
type hookWriter struct {
	http.ResponseWriter
	hook func(status int) // called before every status, 1xx included, and every write
}

// HookWriter wraps w so that hook runs before each status is written, an
// informational (1xx) one included, and before each write and flush (with
// 200, as net/http writes a status then if none was). hook must be cheap
// to call again.
func HookWriter(w http.ResponseWriter, hook func(status int)) http.ResponseWriter {
	return &hookWriter{ResponseWriter: w, hook: hook}
}

func (w *hookWriter) WriteHeader(status int) {
	w.hook(status)
	w.ResponseWriter.WriteHeader(status)
}

func (w *hookWriter) Write(p []byte) (int, error) {
	w.hook(http.StatusOK) // a no-op once the status is written
	return w.ResponseWriter.Write(p)
}

func (w *hookWriter) Flush() {
	w.hook(http.StatusOK)
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}

func (w *hookWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	return http.NewResponseController(w.ResponseWriter).Hijack()
}

func (w *hookWriter) ReadFrom(src io.Reader) (int64, error) {
	w.hook(http.StatusOK)
	if rf, ok := w.ResponseWriter.(io.ReaderFrom); ok {
		return rf.ReadFrom(src) // keeps net/http's sendfile
	}
	return io.Copy(writerOnly{w.ResponseWriter}, src)
}

func (w *hookWriter) CloseNotify() <-chan bool { return closeNotify(w.ResponseWriter) }

// Unwrap returns the wrapped writer, for http.ResponseController.
func (w *hookWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// writerOnly hides every method of a writer but Write, so that io.Copy
// does not call ReadFrom back.
type writerOnly struct{ io.Writer }

// closeNotify is w's CloseNotify, or a channel that never fires: gin's
// Context.Stream asks for one.
func closeNotify(w http.ResponseWriter) <-chan bool {
	//lint:ignore SA1019 gin still calls it
	if cn, ok := w.(http.CloseNotifier); ok { //nolint:staticcheck
		return cn.CloseNotify()
	}
	return make(chan bool)
}

// holdBytes is how much of a fill's body the fillWriter holds back before
// it starts streaming to the client: about what net/http itself buffers
// before it sends a first chunk, so holding costs small responses no time,
// and lets their Cache-Status tell whether they were stored.
const holdBytes = 4 << 10

// fillWriter is what the handlers after the cache write to when their
// response may be stored. It records the response at the cache's position
// in the chain: the header the handlers set (in a map of their own, so
// that nothing middleware before the cache set is stored), the status, and
// the body up to MaxBody. It sends the response on to the client's writer
// as well: a small one (up to holdBytes) once the fill is over, with a
// Cache-Status that says whether it was stored; a larger one, or one that
// flushes, as it is written, so that a stream reaches its client as it
// would without the cache, and no fill holds more than MaxBody in memory.
//
// A failure (a 5xx) is held for longer, up to MaxBody, while a stale
// response may replace it (stale-if-error). The body is not sent for a
// HEAD request, nor when the cache answers the request's If-None-Match
// with a 304. A fillWriter with no client writer records a background
// refresh.
type fillWriter struct {
	dst    http.ResponseWriter // the client's writer at the cache's position; nil for a refresh
	l      *load               // the fill: its request, and what the client is told
	header http.Header         // the handlers' header
	sent   http.Header         // the header as it was when the status was written
	status int
	body   []byte // the recorded body, while it fits MaxBody
	max    int64  // MaxBody
	hold   int64  // how much of the body to hold before streaming
	size   int64  // body bytes the handlers wrote

	wrote     bool // the handlers wrote the status
	overflow  bool // the body went past MaxBody: not recorded any more
	flushed   bool // a stream
	hijacked  bool // the handler took the connection over
	committed bool // the status went to dst
	bodyless  bool // the body is not sent on: HEAD, or a 304 of the cache's

	conditional bool // the request asks the handler to revalidate a stored response
	quiet       bool // a 304 to that request: held, whatever its size, and never sent on as it is
	revalidated bool // a 304 to that request updated the stored response: the stored body is the body
}

func newFillWriter(dst http.ResponseWriter, l *load) *fillWriter {
	return &fillWriter{dst: dst, l: l, header: make(http.Header), status: http.StatusOK, max: l.c.cfg.MaxBody}
}

// Header returns the header map the handlers write into.
func (w *fillWriter) Header() http.Header { return w.header }

// WriteHeader records the status, once, as net/http does. An informational
// (1xx) status is sent on at once, with the header so far, and not
// recorded.
func (w *fillWriter) WriteHeader(status int) {
	if w.wrote || w.hijacked {
		return
	}
	if status < 200 {
		if w.dst != nil {
			mergeHeader(w.dst.Header(), w.header, w.l.c.cfg.TagsHeader, true)
			w.dst.WriteHeader(status)
		}
		return
	}
	w.wrote, w.status = true, status
	w.sent = w.header.Clone() // a server sends the header now; later changes are lost
	w.quiet = w.conditional && status == http.StatusNotModified
	w.hold = min(holdBytes, w.max)
	switch {
	case status >= 500 && w.l.fill.Fallback:
		w.hold = w.max // a stale response may replace it
	case w.dst != nil && (len(w.l.r.Header["Range"]) > 0 || len(w.l.r.Header["If-Modified-Since"]) > 0):
		w.hold = w.max // held whole, to answer the client's Range or If-Modified-Since as a hit would
	}
}

// Write records p while the body fits MaxBody, and holds it or sends it on.
func (w *fillWriter) Write(p []byte) (int, error) {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	if w.hijacked {
		return 0, http.ErrHijacked
	}
	if w.quiet {
		return len(p), nil // a 304 has no body (RFC 9110 section 15.4.5)
	}
	w.size += int64(len(p))
	fits := !w.overflow && int64(len(w.body)+len(p)) <= w.max
	if fits {
		w.body = append(w.body, p...)
	} else if !w.overflow {
		w.overflow = true // what is held is still sent, below
		w.unshared()
	}
	if w.dst != nil && !w.committed {
		if fits && w.size <= w.hold {
			return len(p), nil // held
		}
		w.commit(w.l.ownStatus(w, nil)) // past the hold: stream from here on
		if _, err := w.send(w.body); fits {
			return len(p), err // p was held, and is sent now
		}
	}
	if w.overflow {
		w.body = nil
	}
	if w.dst == nil {
		return len(p), nil
	}
	return w.send(p)
}

// unshared lets the requests waiting on this fill go, at once: a response
// that streams, grew too large or took the connection over is not stored,
// and each of them runs the handler itself. For a minute, later requests
// for the key go straight to the handler too.
func (w *fillWriter) unshared() {
	if w.dst == nil || w.l.unshared {
		return
	}
	w.l.unshared = true
	w.l.fill.Release()
	w.l.c.passes.add(w.l.base)
}

// commit sends the status and header on to the client, for a response
// that streams: only its If-None-Match can be answered from the header.
func (w *fillWriter) commit(cacheStatus string) { w.commitAs(cacheStatus, answer{status: w.status}) }

// commitAs sends the header on to the client with a's status: the
// recorded one, or the cache's own answer to the client's preconditions
// or Range.
func (w *fillWriter) commitAs(cacheStatus string, a answer) {
	w.committed = true
	h := w.dst.Header()
	delete(h, "Cache-Status") // set before the fill, by middleware before the cache: this cache's own is what goes
	mergeHeader(h, w.sent, w.l.c.cfg.TagsHeader, false)
	appendCacheStatus(h, cacheStatus)
	status := a.status
	switch {
	case status == http.StatusPartialContent:
		h.Set("Content-Range", a.contentRange(len(w.body)))
		h.Set("Content-Length", strconv.Itoa(len(a.body)))
	case status == http.StatusNotModified && w.status != http.StatusNotModified,
		status == http.StatusOK && etagMatches(w.l.r.Header.Values("If-None-Match"), w.sent.Get("Etag")):
		w.bodyless, status = true, http.StatusNotModified
		h.Del("Content-Length")
	}
	if w.l.r.Method == http.MethodHead {
		w.bodyless = true
	}
	w.dst.WriteHeader(status)
}

// commitHeld sends a response held whole to the client, with a
// Content-Length as a hit has, answering the client's preconditions and
// Range as a hit does (response.answer); a range past the end gets the
// whole response rather than a 416 (RFC 9110 section 14.2 lets a server
// ignore a Range).
func (w *fillWriter) commitHeld(cacheStatus string) {
	a := answer{status: w.status, body: w.body}
	if w.status == http.StatusOK && !w.hijacked {
		if got := capture(w, w.l.c.cfg.TagsHeader).answer(w.l.r); got.status != http.StatusRequestedRangeNotSatisfiable {
			a = got
		}
	}
	if h := w.dst.Header(); w.sent.Get("Content-Length") == "" && w.status != http.StatusNoContent && w.status != http.StatusNotModified {
		h.Set("Content-Length", strconv.Itoa(len(w.body)))
	}
	w.commitAs(cacheStatus, a)
	_, _ = w.send(a.body)
}

// send writes p to the client, unless the body is not sent on.
func (w *fillWriter) send(p []byte) (int, error) {
	if w.bodyless || len(p) == 0 {
		return len(p), nil
	}
	return w.dst.Write(p)
}

// WriteString records s like Write.
func (w *fillWriter) WriteString(s string) (int, error) {
	return w.Write([]byte(s))
}

// ReadFrom copies src like Write; once the body is past MaxBody it hands
// src to the client's writer, for net/http's sendfile.
func (w *fillWriter) ReadFrom(src io.Reader) (int64, error) {
	if rf, ok := w.dst.(io.ReaderFrom); ok && w.overflow && w.committed && !w.bodyless {
		n, err := rf.ReadFrom(src)
		w.size += n
		return n, err
	}
	return io.Copy(writerOnly{w}, src)
}

// Flush marks the response as a stream, never stored, and sends what is
// held on: a stream reaches its client as it is written.
func (w *fillWriter) Flush() {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	if w.hijacked || w.quiet {
		return
	}
	w.flushed = true
	if w.dst == nil {
		return
	}
	w.unshared()
	if !w.committed {
		w.commit(w.l.ownStatus(w, nil))
		_, _ = w.send(w.body)
	}
	_ = http.NewResponseController(w.dst).Flush()
}

// Hijack hands the connection over; the response is not stored, and
// nothing more is sent for it.
func (w *fillWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	if w.dst == nil {
		return nil, nil, http.ErrNotSupported
	}
	conn, rw, err := http.NewResponseController(w.dst).Hijack()
	if err == nil {
		w.hijacked = true
		w.unshared()
	}
	return conn, rw, err
}

// CloseNotify is the client writer's, or a channel that never fires.
func (w *fillWriter) CloseNotify() <-chan bool {
	if w.dst == nil {
		return make(chan bool)
	}
	return closeNotify(w.dst)
}

// Unwrap returns the client's writer, for http.ResponseController; nil for
// a refresh.
func (w *fillWriter) Unwrap() http.ResponseWriter { return w.dst }

// finish ends a response the handlers returned from: one that wrote
// nothing is a 200 with an empty body, as net/http makes it, unless the
// chain returned an error for its framework to render.
func (w *fillWriter) finish(chainErr error) {
	if !w.wrote && chainErr == nil && !w.hijacked {
		w.WriteHeader(http.StatusOK)
	}
}

// mergeHeader copies the fields of from into to, but the tags header: a
// Vary is added to one already there (an outer middleware's Vary: Origin),
// every other field replaces what is there. For an informational response
// it leaves Vary for the final one.
func mergeHeader(to, from http.Header, tags string, informational bool) {
	for name, values := range from {
		switch {
		case name == tags:
		case name == "Vary" && informational:
		case name == "Vary":
			to[name] = append(to[name], values...)
		default:
			to[name] = append([]string(nil), values...)
		}
	}
}
