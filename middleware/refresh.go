package middleware

import (
	"context"
	"net/http"
	"slices"
)

// refreshSnapshot is what a background refresh needs of the request that
// triggered it, copied while that request is still being served.
type refreshSnapshot struct {
	req    http.Request // a shallow copy: it keeps the router's path values
	header http.Header  // only the headers in the key (with vary), and the tenant's
}

func (c *Cache) snapshot(r *http.Request, tenant string, vary []string) *refreshSnapshot {
	s := &refreshSnapshot{req: *r}
	if n := len(c.cfg.Key.Headers) + len(vary); n > 0 || c.cfg.TenantHeader != "" {
		s.header = make(http.Header, n+1)
	}
	for _, name := range slices.Concat(c.cfg.Key.Headers, vary) {
		if v := r.Header.Values(name); len(v) > 0 {
			s.header[http.CanonicalHeaderKey(name)] = append([]string(nil), v...)
		}
	}
	if c.cfg.TenantHeader != "" && tenant != "" {
		s.header.Set(c.cfg.TenantHeader, tenant)
	}
	if c.cfg.Key.Query != nil && !c.cfg.PassUnkeyedQuery {
		u := *r.URL
		u.RawQuery = c.cfg.Key.KeyedQuery(u.RawQuery)
		s.req.URL = &u
	}
	return s
}

// request rebuilds the request for a refresh: a GET for the same URL, host
// and route, with the key's headers and the tenant and nothing else: no
// cookies, no credentials, no body of whoever triggered it. It is marked
// as a refresh (IsRefresh).
func (s *refreshSnapshot) request(ctx context.Context) *http.Request {
	r := s.req // a fresh copy for each refresh
	u := *r.URL
	r.URL = &u
	r.Method = http.MethodGet
	r.Header = s.header.Clone()
	if r.Header == nil {
		r.Header = make(http.Header)
	}
	r.Body, r.GetBody, r.ContentLength = http.NoBody, nil, 0
	r.Form, r.PostForm, r.MultipartForm = nil, nil, nil
	r.Trailer, r.TransferEncoding, r.Close = nil, nil, false
	r.RequestURI = u.RequestURI()
	return asRefresh(r.WithContext(ctx), &dispatched{})
}
