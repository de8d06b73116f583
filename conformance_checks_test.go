package swrcache_test

import (
	"fmt"
	"strconv"
	"strings"
)

// confCheck says how what a step observed differs from what its client
// must see, or "" when it does not.
type confCheck func(confObserved) string

func expectStatus(want int) confCheck {
	return func(o confObserved) string {
		if o.status != want {
			return fmt.Sprintf("status %d, want %d", o.status, want)
		}
		return ""
	}
}

func expectBody(want string) confCheck {
	return func(o confObserved) string {
		if o.body != want {
			return fmt.Sprintf("body %q, want %q", o.body, want)
		}
		return ""
	}
}

// expectHeader checks a field's value, its field lines joined by ", ".
func expectHeader(name, want string) confCheck {
	return func(o confObserved) string {
		if got := strings.Join(o.header.Values(name), ", "); got != want {
			return fmt.Sprintf("%s %q, want %q", name, got, want)
		}
		return ""
	}
}

func expectHeaderContains(name, part string) confCheck {
	return func(o confObserved) string {
		if got := strings.Join(o.header.Values(name), ", "); !strings.Contains(got, part) {
			return fmt.Sprintf("%s %q, want it to contain %q", name, got, part)
		}
		return ""
	}
}

func expectNoHeader(name string) confCheck {
	return func(o confObserved) string {
		if v := o.header.Values(name); len(v) > 0 {
			return fmt.Sprintf("%s %q, want none", name, v)
		}
		return ""
	}
}

// expectAge checks that Age is a number of seconds within [lo, hi].
func expectAge(lo, hi int) confCheck {
	return func(o confObserved) string {
		if n, err := strconv.Atoi(o.header.Get("Age")); err != nil || n < lo || n > hi {
			return fmt.Sprintf("Age %q, want %d to %d", o.header.Get("Age"), lo, hi)
		}
		return ""
	}
}

// ourMember returns the parameters of the last member of Cache-Status, which
// must be this cache's: a bare parameter maps to "".
func ourMember(o confObserved) (map[string]string, string) {
	members := strings.Split(strings.Join(o.header.Values("Cache-Status"), ","), ",")
	parts := strings.Split(members[len(members)-1], ";")
	if name := strings.TrimSpace(parts[0]); name != "swrcache" {
		return nil, fmt.Sprintf("the last Cache-Status member is %q's, want swrcache's", name)
	}
	params := map[string]string{}
	for _, p := range parts[1:] {
		k, v, _ := strings.Cut(strings.TrimSpace(p), "=")
		params[k] = v
	}
	return params, ""
}

// confHas reports whether params hold p: "name" a true boolean, or
// "name=value".
func confHas(params map[string]string, p string) bool {
	k, want, withValue := strings.Cut(p, "=")
	got, ok := params[k]
	if !withValue {
		return ok && (got == "" || got == "?1")
	}
	return ok && got == want
}

// expectOurs checks that our Cache-Status member is the last one and has
// each parameter ("hit", "fwd=stale").
func expectOurs(want ...string) confCheck {
	return func(o confObserved) string {
		params, msg := ourMember(o)
		if msg != "" {
			return msg
		}
		for _, p := range want {
			if !confHas(params, p) {
				return fmt.Sprintf("Cache-Status lacks %s", p)
			}
		}
		return ""
	}
}

// expectOursLacks checks that our Cache-Status member has none of the
// parameters.
func expectOursLacks(unwanted ...string) confCheck {
	return func(o confObserved) string {
		params, msg := ourMember(o)
		if msg != "" {
			return msg
		}
		for _, p := range unwanted {
			if confHas(params, p) {
				return fmt.Sprintf("Cache-Status has %s", p)
			}
		}
		return ""
	}
}

// expectTTL checks that our Cache-Status member's ttl, the seconds of
// freshness left (RFC 9211 section 2.4), is within [lo, hi].
func expectTTL(lo, hi int) confCheck {
	return func(o confObserved) string {
		params, msg := ourMember(o)
		if msg != "" {
			return msg
		}
		if n, err := strconv.Atoi(params["ttl"]); err != nil || n < lo || n > hi {
			return fmt.Sprintf("Cache-Status ttl %q, want %d to %d", params["ttl"], lo, hi)
		}
		return ""
	}
}

func expectOriginCalled(o confObserved) string {
	if o.originCalls == 0 {
		return "the origin was not called"
	}
	return ""
}

func expectOriginNotCalled(o confObserved) string {
	if o.originCalls != 0 {
		return fmt.Sprintf("the origin was called %d times, want none", o.originCalls)
	}
	return ""
}

// expectOriginGot checks a field of the last request the origin received.
func expectOriginGot(name, want string) confCheck {
	return func(o confObserved) string {
		if got := strings.Join(o.originSaw.Values(name), ", "); got != want {
			return fmt.Sprintf("the origin's last request had %s %q, want %q", name, got, want)
		}
		return ""
	}
}
