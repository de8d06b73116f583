package keyfunc

import (
	"fmt"
	"strings"
)

// ValidTenant reports whether s is a valid tenant: [a-z0-9_]+, at most
// MaxNameLen bytes. The empty string, which means "not tenant-scoped", is not
// a valid tenant.
func ValidTenant(s string) bool { return validIdent(s) }

// ValidName checks that name has the shape of Key.Name:
// v1:api:<resource>:<hash>:<tenant>, with resource and tenant matching
// [a-z0-9_]+ (at most MaxNameLen bytes each) and hash being MinHashLen to
// MaxHashLen lowercase hex characters.
func ValidName(name string) error {
	rest, ok := strings.CutPrefix(name, "v1:api:")
	if !ok {
		return fmt.Errorf("keyfunc: key name %q does not start with v1:api:", name)
	}
	parts := strings.Split(rest, ":")
	if len(parts) != 3 {
		return fmt.Errorf("keyfunc: key name %q does not have the shape v1:api:<resource>:<hash>:<tenant>", name)
	}
	if !validIdent(parts[0]) {
		return fmt.Errorf("keyfunc: key name %q has an invalid resource", name)
	}
	if h := parts[1]; len(h) < MinHashLen || len(h) > MaxHashLen || strings.Trim(h, "0123456789abcdef") != "" {
		return fmt.Errorf("keyfunc: key name %q has an invalid hash", name)
	}
	if !validIdent(parts[2]) {
		return fmt.Errorf("keyfunc: key name %q has an invalid tenant", name)
	}
	return nil
}

// validIdent reports whether s matches [a-z0-9_]+ and is at most MaxNameLen
// bytes.
func validIdent(s string) bool {
	if s == "" || len(s) > MaxNameLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// ValidHeaderName reports whether s is an RFC 9110 token, the syntax of a
// header field name.
func ValidHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return true
}
