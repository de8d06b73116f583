// Package keyfunc derives canonical, tenant-scoped cache keys from HTTP
// requests.
//
// A Spec, one per route, says which parts of a request identify its response:
// the method (HEAD shares GET's entries), the host unless IgnoreHost is set,
// the escaped path, the query parameters (all of them, or an allow-list that
// bounds cache-busting), chosen request headers, and the header names of a
// stored response's Vary. Spec.Parts collects those parts in a normal form and
// Parts.Encode turns them into one canonical byte string; Spec.Key hashes it
// into a Redis key name of the shape
//
//	v1:api:<resource>:<hash>:<tenant>
//
// and also returns the full encoding as Key.ID.
//
// The encoding is length-prefixed: a version byte, then a tagged section per
// part, with a uvarint length before every string, a count before every list
// and an explicit presence byte for headers and the tenant. Nothing is joined
// with separators such as ":" or "|", which is what made the old design
// ambiguous: there the header "a:b" with value "c" and the header "a" with
// value "b:c" produced the same key. Here two requests get the same encoding
// exactly when their normalised parts are equal, whatever bytes the names and
// values contain; a header that is absent is distinct from one present with an
// empty value, and a route that is not tenant-scoped (tenant "") is distinct
// from every tenant, including "_", which is the placeholder used in the name.
//
// The name keeps only HashLen hex characters of SHA-256 of the encoding
// (default 32, 128 bits; at least 12, 48 bits). Short hashes stay safe because
// the cache stores a fingerprint of Key.ID with every entry and treats a
// mismatch as a miss: a hash collision then costs a cache miss, never a
// response served for the wrong request.
//
// The tenant must come from something the application trusts: a verified
// claim of the caller's credentials, or a header set by the application's own
// gateway and stripped from incoming traffic. Never take it from
// X-Forwarded-* or other client-controlled headers by default: whoever can set
// it can read another tenant's cached responses. ValidTenant limits tenants to
// [a-z0-9_]+ and 64 bytes; Spec.Key returns ErrTenant for anything else, and
// the middleware then bypasses the cache.
//
// Key functions are pure functions of the request and never modify it: they
// read r.URL.RawQuery with url.ParseQuery into a fresh map rather than calling
// r.ParseForm or changing r.URL or r.Header, and they copy what they keep.
//
// Costs are bounded by the request: Key.Name has a length that depends only on
// the Spec and the tenant (at most 64+64+64 bytes plus the fixed parts), while
// Key.ID grows linearly with the chosen parts of the request; Spec.Parts does
// O(n log n) work for n query parameters and headers (url.ParseQuery also caps
// the number of parameters). A query that url.ParseQuery cannot parse cleanly
// (a bad % escape, a ';' separator, too many parameters) makes Spec.Key return
// ErrQuery instead of a key built from the pairs that survived, because the
// handler may see that query differently; the middleware should bypass the
// cache for such a request. Different escapings of the same path (such as
// /a%62 and /ab) are different keys: that may cost cache hits but never
// conflates paths a router distinguishes.
package keyfunc
