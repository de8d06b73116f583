package main

import (
	"errors"
	"flag"
	"fmt"
	"net/http"
	"strings"

	"github.com/swrcache/swrcache/keyfunc"
)

// keyFlags are an HTTP route's key settings, mirroring keyfunc.Spec, and
// the parts of a request its key reads: the URL, the method, the tenant and
// header values.
type keyFlags struct {
	url        string
	method     string
	resource   string
	query      listFlag // Spec.Query, an allow-list
	noQuery    bool     // Spec.Query empty: no parameter is keyed
	allQuery   bool     // Spec.Query nil: every parameter is keyed (the default)
	headers    listFlag // Spec.Headers
	ignoreHost bool
	hashLen    int
	tenant     string
	values     listFlag // request headers, "Name: value"
}

func (k *keyFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&k.url, "url", "", "the request's absolute `URL`; its route's key settings follow")
	fs.StringVar(&k.method, "method", http.MethodGet, "the request's method (HEAD is keyed as GET)")
	fs.StringVar(&k.resource, "resource", "", "the route's Key.Resource (required with --url)")
	fs.Var(&k.query, "query", "the route's Key.Query allow-list: `names` of keyed query parameters, comma-separated or repeated")
	fs.BoolVar(&k.noQuery, "no-query", false, "the route's Key.Query is empty: no query parameter is keyed")
	fs.BoolVar(&k.allQuery, "all-query", false, "every query parameter is keyed (Key.Query nil, the default)")
	fs.Var(&k.headers, "header", "the route's Key.Headers: request header `names` in the key, comma-separated or repeated")
	fs.BoolVar(&k.ignoreHost, "ignore-host", false, "the route's Key.IgnoreHost: the host is not keyed")
	fs.IntVar(&k.hashLen, "hash-len", 0, "the route's Key.HashLen (0: the default, 32)")
	fs.StringVar(&k.tenant, "tenant", "", "the request's tenant, for a tenant-scoped route")
	k.values.whole = true
	fs.Var(&k.values, "header-value", "a request `header`, 'Name: value', repeatable: the values --header and a Vary key by")
}

// spec returns the route's keyfunc.Spec.
func (k *keyFlags) spec() (keyfunc.Spec, error) {
	s := keyfunc.Spec{Resource: k.resource, Headers: k.headers.list, IgnoreHost: k.ignoreHost, HashLen: k.hashLen}
	switch {
	case k.resource == "":
		return s, errors.New("--url needs the route's --resource")
	case btoi(k.query.set)+btoi(k.noQuery)+btoi(k.allQuery) > 1:
		return s, errors.New("--query, --no-query and --all-query exclude each other")
	case k.noQuery:
		s.Query = []string{}
	case k.query.set:
		s.Query = k.query.list
	}
	return s, s.Validate()
}

// request returns the request the flags describe.
func (k *keyFlags) request() (*http.Request, error) {
	r, err := http.NewRequest(k.method, k.url, nil)
	if err != nil {
		return nil, fmt.Errorf("--url: %w", err)
	}
	if r.Host == "" && !k.ignoreHost {
		return nil, fmt.Errorf("--url %q has no host: give an absolute URL, or --ignore-host for a route that does not key by host", k.url)
	}
	for _, hv := range k.values.list {
		name, value, ok := strings.Cut(hv, ":")
		if !ok || !keyfunc.ValidHeaderName(name) {
			return nil, fmt.Errorf("--header-value %q is not 'Name: value'", hv)
		}
		r.Header.Add(name, strings.TrimSpace(value))
	}
	return r, nil
}

// base returns the spec, the request and the route's key for it: the key
// of its entry, or of its vary marker when the route varies.
func (k *keyFlags) base() (keyfunc.Spec, *http.Request, keyfunc.Key, error) {
	spec, err := k.spec()
	if err != nil {
		return spec, nil, keyfunc.Key{}, err
	}
	r, err := k.request()
	if err != nil {
		return spec, nil, keyfunc.Key{}, err
	}
	key, err := spec.Key(r, k.tenant)
	if errors.Is(err, keyfunc.ErrTenant) {
		err = fmt.Errorf("--tenant %q is not a valid tenant ([a-z0-9_]+, at most %d bytes)", k.tenant, keyfunc.MaxNameLen)
	}
	return spec, r, key, err
}

// listFlag is a repeatable flag of comma-separated values, or of whole
// values; set says whether it was given at all.
type listFlag struct {
	list  []string
	set   bool
	whole bool // each use is one value ("Name: a, b" keeps its comma)
}

func (l *listFlag) String() string { return strings.Join(l.list, ",") }

func (l *listFlag) Set(v string) error {
	l.set = true
	if l.whole {
		l.list = append(l.list, v)
		return nil
	}
	for item := range strings.SplitSeq(v, ",") {
		if item = strings.TrimSpace(item); item != "" {
			l.list = append(l.list, item)
		}
	}
	return nil
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}
