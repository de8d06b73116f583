package middleware

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/swrcache/swrcache/core"
)

// load runs the route for one lookup: it is the core.Loader that Serve
// hands the engine. Load runs the rest of the chain on the request that
// leads a fill, on its own goroutine, writing through a fillWriter placed
// at the cache's position: its client gets the response as it is written,
// and the fillWriter records it for the cache. Reload copies what a
// background refresh needs of the request, which runs later through the
// route's Runner into a fillWriter with no client.
type load struct {
	c       *Cache
	w       http.ResponseWriter // the client's writer at the cache's position
	r       *http.Request       // the client's request
	next    Next
	refresh Runner
	tenant  string
	base    string   // the route's key for r, before any Vary dimension
	vary    []string // the Vary names the key holds, from a marker

	// Set by Load, on the request's goroutine.
	fill        core.Fill
	fw          *fillWriter // not nil once Load ran: the response is this request's own
	err         error       // what the chain returned
	reason      string      // why the response is not to be stored, or ""
	unshared    bool        // the fill's waiters were let go (fillWriter.unshared)
	conditional bool        // the handler was asked to revalidate a stored response
}

// Load runs the rest of the chain for l's request, as a fill.
func (l *load) Load(ctx context.Context, f core.Fill) (core.Item, error) {
	l.fill = f
	req := l.c.fillRequest(l.r)
	if ctx != req.Context() { // the request's, with the fill's span (Config.OnWork)
		req = req.WithContext(ctx)
	}
	prev, ok := revalidatable(f.Previous)
	v := revalidation{prev: prev, ok: ok}
	if l.refresh != nil {
		v.again = Next(l.refresh)
	}
	l.conditional = ok && v.again != nil
	l.fw, l.err = v.run(func() *fillWriter { return newFillWriter(l.w, l) }, l.next, req)
	if err := l.r.Context().Err(); err != nil {
		return core.Item{}, err // the client left: what its handler made may be cut short
	}
	item, reason, err := l.c.item(l.fw, req, l.err, l.tenant, l.base, l.vary)
	if err == nil && reason == "" && hasToken(l.r.Header.Values("Cache-Control"), "no-store") {
		// The client's no-store: its response is not stored (RFC 9111
		// section 5.2.1.5); a stored one may still serve it.
		item, reason = core.Item{Value: noStoreValue, NoStore: true}, "no-store"
	}
	l.reason = reason
	return item, err
}

// ReportsOutcome tells the engine that Serve reports the request's
// outcome: a request may take two lookups (a Vary marker, then its
// variant), or none.
func (*load) ReportsOutcome() {}

// Reload copies the request for a background refresh.
func (l *load) Reload() func(ctx context.Context) (core.Item, error) { return l.ReloadFrom(nil) }

// ReloadFrom copies the request for a background refresh of prev, the
// stored value, which it revalidates when it has a validator.
func (l *load) ReloadFrom(prev []byte) func(ctx context.Context) (core.Item, error) {
	snap := l.c.snapshot(l.r, l.tenant, l.vary)
	c, run, tenant, base, vary := l.c, l.refresh, l.tenant, l.base, l.vary
	return func(ctx context.Context) (core.Item, error) {
		req := snap.request(ctx)
		old, ok := revalidatable(prev)
		fw, err := revalidation{prev: old, ok: ok, again: Next(run)}.run(func() *fillWriter { return newFillWriter(nil, &load{c: c, r: req}) }, Next(run), req)
		item, _, err := c.item(fw, req, err, tenant, base, vary)
		return item, err
	}
}

// served ends the lookup of a request that ran the handler itself. Its
// response went out as it was written if it was large or a stream; else it
// was held, and goes out now that the fill is over, unless it is a failure
// that a stale response replaces, or the chain returned an error for its
// framework to render.
func (l *load) served(got stored, res core.Result, err error) error {
	fw := l.fw
	if cerr := l.r.Context().Err(); cerr != nil {
		return cerr // the client left
	}
	switch {
	case fw.committed || fw.hijacked:
	case res.Status == core.StatusStaleIfError && err == nil && got.vary == nil:
		status := l.c.cacheStatus(res)
		if fw.wrote && fw.status >= 500 {
			status += "; fwd-status=" + strconv.Itoa(fw.status) // what the handler answered (RFC 9211 section 2.3)
		}
		got.resp.write(l.w, l.r, status, time.Since(res.StoredAt))
		return nil
	case fw.wrote:
		fw.commitHeld(l.ownStatus(fw, &res))
	}
	if l.err != nil && !errors.Is(l.err, ErrNoStore) {
		return l.err
	}
	return nil
}

// ownStatus is the Cache-Status of the response fw recorded for a request
// that ran the handler itself. A response held until its fill was over
// (res is the fill's result) says whether it was stored. One that streams
// gets it when its header goes (res is nil): a body that then grows past
// MaxBody, flushes, or a Redis failure can still keep one said to be
// stored out.
func (l *load) ownStatus(fw *fillWriter, res *core.Result) string {
	s := l.c.cfg.Name
	if l.fill.Status == core.StatusBypass {
		return s + "; fwd=bypass; detail=" + l.fill.Detail
	}
	switch {
	case fw.revalidated:
		s += "; fwd=stale; fwd-status=304"
	case l.conditional: // a stale response was there, and the handler sent a new one
		s += "; fwd=stale; fwd-status=" + strconv.Itoa(fw.status)
	default:
		s += "; fwd=uri-miss"
	}
	reason := l.reason
	if res == nil {
		reason = l.c.headerReason(fw.status, fw.sent, l.r, l.vary)
	}
	switch {
	case res != nil && res.Stored:
		return s + "; stored"
	case fw.status >= 500:
		return s + "; detail=status"
	case reason != "":
		return s + "; detail=" + reason
	case fw.overflow:
		return s + "; detail=too-large"
	case fw.flushed:
		return s + "; detail=streamed"
	case l.fill.Detail != "":
		return s + "; detail=" + l.fill.Detail
	case res == nil && l.fill.Store:
		return s + "; stored"
	}
	return s
}

// noStoreValue is the value of an item that is not stored: only the
// request that loaded it sees it, and ignores it.
var noStoreValue = response{Status: http.StatusNoContent}.mustEncode()

// item says what to cache of a response fw recorded for req: the response
// under the key, or, when it varies on request headers outside the key,
// a vary marker under the key and the response under a variant key.
func (c *Cache) item(fw *fillWriter, req *http.Request, chainErr error, tenant, base string, vary []string) (core.Item, string, error) {
	if chainErr != nil && !errors.Is(chainErr, ErrNoStore) {
		return core.Item{}, "", &handlerError{chainErr}
	}
	resp := capture(fw, c.cfg.TagsHeader)
	if fw.status >= 500 && (c.cfg.Freshness == RouteTTL || staleIfErrorStatus(fw.status)) {
		return core.Item{}, "", &originError{resp: resp, whole: !fw.overflow && !fw.flushed && !fw.hijacked}
	}
	reason := c.headerReason(fw.status, fw.sent, req, vary)
	switch {
	case errors.Is(chainErr, ErrNoStore):
		reason = "aborted"
	case fw.hijacked:
		reason = "hijacked"
	case fw.overflow:
		reason = "too-large"
	case fw.flushed:
		reason = "streamed"
	}
	if reason == "too-large" || reason == "streamed" {
		c.passes.add(base)
	}
	if reason == "" && len(resp.Header) > maxFields {
		reason = "header"
	}
	if reason != "" {
		if reason == "vary-changed" {
			c.varies.forget(base) // the route varies on more than its marker says
		}
		return core.Item{Value: noStoreValue, NoStore: true}, reason, nil
	}
	d := c.directives(fw.sent)
	item := core.Item{Tags: c.responseTags(fw.sent), NoStale: d.noStale()}
	if c.cfg.Freshness == FromResponse {
		now := time.Now()
		item.Lifetime, _ = c.lifetime(d, fw.status, fw.sent, now) // headerReason said it may be stored
		resp.setAge(currentAge(fw.sent, now))                     // what its replays add to: an old Date counts too
	}
	value := resp.mustEncode()
	item.Value = value
	if fw.revalidated {
		item.Unchanged = len(resp.Body) // the stored body, kept: only the header is sent to Redis
	}
	if c.cfg.InvalidateOnWrite == On {
		item.Tags = append(item.Tags, c.uriTag(tenant, req.Host, req.URL.EscapedPath(), req.URL.RawQuery))
	}
	if extra := extraVary(fw.sent, c.cfg.Key.Headers, vary); len(extra) > 0 {
		vkey, err := c.cfg.Key.Key(req, tenant, extra...)
		if err != nil {
			return core.Item{Value: noStoreValue, NoStore: true}, "key", nil
		}
		item.Extra = []core.Extra{{Key: core.Key{Name: vkey.Name, ID: vkey.ID}, Value: value}}
		item.Value = encodeMarker(extra)
	}
	if len(vary) > 0 || len(item.Extra) > 0 {
		// A variant (or a marker and its first variant): tag it with its
		// base key, so that invalidating a URL reaches every variant,
		// whose keys no one can derive from the URL (see VaryTag).
		item.Tags = append(item.Tags, VaryTag(base))
	}
	return item, "", nil
}

// staleIfErrorStatus reports whether a handler's answer is an error that
// stale-if-error may replace, in FromResponse mode: 500, 502, 503 or 504
// (RFC 5861 section 4). Another 5xx, such as 501, goes to the client.
func staleIfErrorStatus(status int) bool {
	switch status {
	case http.StatusInternalServerError, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}

// headerReason says why a response with this status and header must not be
// stored for r, whose key holds the Vary names vary, or "".
func (c *Cache) headerReason(status int, h http.Header, r *http.Request, vary []string) string {
	if reason := c.noStoreReason(status, h); reason != "" {
		return reason
	}
	extra := extraVary(h, c.cfg.Key.Headers, vary)
	switch {
	case len(extra) > 0 && len(vary) > 0:
		return "vary-changed"
	case len(extra) > maxVaryNames:
		return "vary"
	case len(extra) > 0 && !varyBounded(r, extra):
		return "vary-value"
	}
	return ""
}

// fillRequest is r as the handler sees it in a fill: a GET for a HEAD (HEAD
// is answered from the GET entry), without the conditional and Range
// headers the cache answers itself, and with only the keyed query
// parameters unless the route passes the others on. r itself when nothing
// changes.
func (c *Cache) fillRequest(r *http.Request) *http.Request {
	query := r.URL.RawQuery
	if c.cfg.Key.Query != nil && !c.cfg.PassUnkeyedQuery {
		query = c.cfg.Key.KeyedQuery(query)
	}
	conditional := conditionalHeaders(r.Header)
	if r.Method != http.MethodHead && !conditional && query == r.URL.RawQuery {
		return r
	}
	req := *r
	req.Method = http.MethodGet
	if conditional {
		req.Header = withoutConditionals(r.Header)
	}
	if query != r.URL.RawQuery {
		u := *r.URL
		u.RawQuery, u.ForceQuery = query, false
		req.URL = &u
		req.RequestURI = u.RequestURI()
		req.Form, req.PostForm = nil, nil // parsed from the whole query, maybe by middleware before the cache
	}
	return &req
}

func (c *Cache) responseTags(h http.Header) []string {
	if c.cfg.TagsHeader == "" {
		return nil
	}
	var tags []string
	for _, v := range h.Values(c.cfg.TagsHeader) {
		for _, t := range strings.Split(v, ",") {
			if t = strings.TrimSpace(t); t != "" {
				tags = append(tags, t)
			}
		}
	}
	return tags
}
