package middleware

import (
	"math"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/swrcache/swrcache/core"
	"github.com/swrcache/swrcache/keyfunc"
)

// validConfig is the smallest Config that Validate accepts.
func validConfig() Config {
	return Config{Policy: core.Policy{TTL: time.Minute}, Key: keyfunc.Spec{Resource: "items"}}
}

func TestConfigValidateRejects(t *testing.T) {
	tests := []struct {
		name          string
		givenChange   func(c *Config)
		expectMessage string // a part of the error text
		expectField   string // the field the message names
	}{
		{"a zero TTL is rejected", func(c *Config) { c.TTL = 0 }, "must be at least 1ms", "TTL"},
		{"a TTL below 1ms is rejected", func(c *Config) { c.TTL = 999 * time.Microsecond }, "must be at least 1ms", "TTL"},
		{"a negative StaleWhileRevalidate is rejected", func(c *Config) { c.StaleWhileRevalidate = -time.Second }, "must not be negative", "StaleWhileRevalidate"},
		{"a negative StaleIfError is rejected", func(c *Config) { c.StaleIfError = -time.Second }, "must not be negative", "StaleIfError"},
		{"RefreshAhead equal to TTL is rejected", func(c *Config) { c.TTL, c.RefreshAhead = time.Second, time.Second }, "must be shorter than TTL", "RefreshAhead"},
		{"RefreshAhead longer than TTL is rejected", func(c *Config) { c.TTL, c.RefreshAhead = time.Second, 2*time.Second }, "must be shorter than TTL", "RefreshAhead"},
		{"a NaN Beta is rejected", func(c *Config) { c.Beta = math.NaN() }, "finite", "Beta"},
		{"an infinite Beta is rejected", func(c *Config) { c.Beta = math.Inf(1) }, "finite", "Beta"},
		{"a negative infinite Beta is rejected", func(c *Config) { c.Beta = math.Inf(-1) }, "finite", "Beta"},
		{"an empty tag is rejected", func(c *Config) { c.Tags = []string{"ok", ""} }, "must not be empty", "Policy.Tags"},
		{"a tag over 256 bytes is rejected", func(c *Config) { c.Tags = []string{strings.Repeat("t", 257)} }, "more than 256", "Policy.Tags"},
		{"a negative MaxBody is rejected", func(c *Config) { c.MaxBody = -1 }, "must not be negative", "MaxBody"},
		{"an unknown Freshness is rejected", func(c *Config) { c.Freshness = 7 }, "neither RouteTTL nor FromResponse", "Freshness"},
		{"an unknown InvalidateOnWrite is rejected", func(c *Config) { c.InvalidateOnWrite = 9 }, "not Default, On or Off", "InvalidateOnWrite"},
		{"TargetedFields without FromResponse is rejected", func(c *Config) { c.TargetedFields = []string{"CDN-Cache-Control"} }, "only in FromResponse mode", "TargetedFields"},
		{"a targeted field that is not a header name is rejected", func(c *Config) { c.Freshness, c.TargetedFields = FromResponse, []string{"Bad Name"} }, "not a header name", "TargetedFields"},
		{"Cache-Control as a targeted field is rejected", func(c *Config) { c.Freshness, c.TargetedFields = FromResponse, []string{"cache-control"} }, "take precedence over", "TargetedFields"},
		{"a Name that would break Cache-Status is rejected", func(c *Config) { c.Name = "Cache;hit" }, "must be a token", "Name"},
		{"a Name with a space is rejected", func(c *Config) { c.Name = "my cache" }, "must be a token", "Name"},
		{"a Name starting with a digit is rejected", func(c *Config) { c.Name = "1cache" }, "must be a token", "Name"},
		{"a negative SampleRate is rejected", func(c *Config) { c.SampleRate = -0.1 }, "must be in [0, 1]", "SampleRate"},
		{"a SampleRate above 1 is rejected", func(c *Config) { c.SampleRate = 1.5 }, "must be in [0, 1]", "SampleRate"},
		{"a NaN SampleRate is rejected", func(c *Config) { c.SampleRate = math.NaN() }, "must be in [0, 1]", "SampleRate"},
		{"AllowAuthorization without a key that separates users is rejected", func(c *Config) { c.AllowAuthorization = true }, "needs a key that separates users", "AllowAuthorization"},
		{"an empty non-nil Statuses is rejected", func(c *Config) { c.Statuses = []int{} }, "leave it nil", "Statuses"},
		{"a 503 in Statuses is rejected", func(c *Config) { c.Statuses = []int{200, 503} }, "503 is a failure", "Statuses"},
		{"a 500 in Statuses is rejected", func(c *Config) { c.Statuses = []int{500} }, "500 is a failure", "Statuses"},
		{"a 599 in Statuses is rejected", func(c *Config) { c.Statuses = []int{599} }, "599 is a failure", "Statuses"},
		{"a 101 in Statuses is rejected", func(c *Config) { c.Statuses = []int{101} }, "101 is informational", "Statuses"},
		{"a 206 in Statuses is rejected", func(c *Config) { c.Statuses = []int{206} }, "206 is a part of a response", "Statuses"},
		{"a 304 in Statuses is rejected", func(c *Config) { c.Statuses = []int{304} }, "304 has no body", "Statuses"},
		{"1000 in Statuses is rejected", func(c *Config) { c.Statuses = []int{1000} }, "1000 is not an HTTP status", "Statuses"},
		{"99 in Statuses is rejected", func(c *Config) { c.Statuses = []int{99} }, "99 is not an HTTP status", "Statuses"},
		{"a TenantHeader that is not a header name is rejected", func(c *Config) { c.TenantHeader = "X Tenant" }, "is not a header name", "TenantHeader"},
		{"a TagsHeader that is not a header name is rejected", func(c *Config) { c.TagsHeader = "X-Tags:" }, "is not a header name", "TagsHeader"},
		{"a TagsHeader that is a standard response field is rejected", func(c *Config) { c.TagsHeader = "content-type" }, "standard response field", "TagsHeader"},
		{"a Key without Resource is rejected", func(c *Config) { c.Key = keyfunc.Spec{} }, "resource", "Key"},
		{"a Key with an invalid header is rejected", func(c *Config) { c.Key.Headers = []string{"Accept Language"} }, "header name", "Key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := validConfig()
			tt.givenChange(&c)
			err := c.Validate()
			if err == nil {
				t.Fatalf("Validate accepted %+v", c)
			}
			if !strings.Contains(err.Error(), tt.expectMessage) {
				t.Errorf("error %q does not say %q", err, tt.expectMessage)
			}
			if !strings.Contains(err.Error(), tt.expectField) {
				t.Errorf("error %q does not name the field %s", err, tt.expectField)
			}
		})
	}
}

func TestConfigValidateAccepts(t *testing.T) {
	tenant := func(*http.Request) (string, bool) { return "acme", true }
	tests := []struct {
		name        string
		givenChange func(c *Config)
	}{
		{"the smallest config is accepted", func(*Config) {}},
		{"a TTL of exactly 1ms is accepted", func(c *Config) { c.TTL = time.Millisecond }},
		{"RefreshAhead just under TTL is accepted", func(c *Config) { c.TTL, c.RefreshAhead = time.Second, time.Second-time.Nanosecond }},
		{"a negative RefreshAhead is accepted", func(c *Config) { c.TTL, c.RefreshAhead = time.Second, -time.Hour }},
		{"a negative Beta is accepted", func(c *Config) { c.Beta = -1 }},
		{"nil Statuses are accepted", func(c *Config) { c.Statuses = nil }},
		{"Statuses 200, 404 and 410 are accepted", func(c *Config) { c.Statuses = []int{200, 404, 410} }},
		{"Statuses 200 and 499 are accepted", func(c *Config) { c.Statuses = []int{200, 499} }},
		{"a SampleRate of 0 is accepted", func(c *Config) { c.SampleRate = 0 }},
		{"a SampleRate of 1 is accepted", func(c *Config) { c.SampleRate = 1 }},
		{"a MaxBody of 0 is accepted", func(c *Config) { c.MaxBody = 0 }},
		{"AllowAuthorization with a Tenant is accepted", func(c *Config) { c.AllowAuthorization, c.Tenant = true, tenant }},
		{"AllowAuthorization with a TenantHeader is accepted", func(c *Config) { c.AllowAuthorization, c.TenantHeader = true, "X-Tenant" }},
		{"AllowAuthorization with Key.Headers is accepted", func(c *Config) { c.AllowAuthorization, c.Key.Headers = true, []string{"X-User"} }},
		{"valid tags and a tags header are accepted", func(c *Config) { c.Tags, c.TagsHeader = []string{"user:42"}, "x-cache-tags" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := validConfig()
			tt.givenChange(&c)
			if err := c.Validate(); err != nil {
				t.Fatalf("Validate: %v", err)
			}
		})
	}
}

func TestWithDefaultsFillsTheZeroFields(t *testing.T) {
	c := Config{TagsHeader: "x-cache-tags"}.withDefaults()
	if !slices.Equal(c.Statuses, DefaultStatuses) {
		t.Errorf("Statuses = %v, want DefaultStatuses %v", c.Statuses, DefaultStatuses)
	}
	if c.MaxBody != 4<<20 {
		t.Errorf("MaxBody = %d, want 4 MiB", c.MaxBody)
	}
	if c.SampleRate != 1 {
		t.Errorf("SampleRate = %v, want 1", c.SampleRate)
	}
	if c.Name != "swrcache" {
		t.Errorf("Name = %q, want swrcache", c.Name)
	}
	if c.TagsHeader != "X-Cache-Tags" {
		t.Errorf("TagsHeader = %q, want it canonical", c.TagsHeader)
	}
	c.Statuses[0] = 299
	if DefaultStatuses[0] != 200 {
		t.Fatalf("changing a Config's Statuses changed DefaultStatuses to %v", DefaultStatuses)
	}
}

func TestDefaultStatusesAreAllStorable(t *testing.T) {
	for _, s := range DefaultStatuses {
		if s >= 500 {
			t.Errorf("DefaultStatuses holds %d, a failure", s)
		}
		if err := storable(s); err != nil {
			t.Errorf("DefaultStatuses holds %d: %v", s, err)
		}
	}
}

func TestWithDefaultsKeepsWhatIsSet(t *testing.T) {
	given := Config{Statuses: []int{200}, MaxBody: 10, SampleRate: 0.5, Name: "edge"}
	c := given.withDefaults()
	if !slices.Equal(c.Statuses, []int{200}) || c.MaxBody != 10 || c.SampleRate != 0.5 || c.Name != "edge" {
		t.Fatalf("withDefaults changed set fields: %+v", c)
	}
	c.Statuses[0] = 404
	if given.Statuses[0] != 200 {
		t.Fatal("withDefaults shares the caller's Statuses")
	}
}

func TestWithDefaultsReadsTheTenantHeader(t *testing.T) {
	c := Config{TenantHeader: "x-tenant"}.withDefaults()
	if c.Tenant == nil {
		t.Fatal("no Tenant func from TenantHeader")
	}
	tests := []struct {
		name         string
		givenValues  []string
		expectTenant string
		expectOK     bool
	}{
		{"one value is the tenant", []string{"acme"}, "acme", true},
		{"no value is no tenant", nil, "", false},
		{"two values are no tenant", []string{"acme", "evil"}, "acme", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			for _, v := range tt.givenValues {
				r.Header.Add("X-Tenant", v)
			}
			got, ok := c.Tenant(r)
			if ok != tt.expectOK || (ok && got != tt.expectTenant) {
				t.Fatalf("Tenant = %q, %v; want %q, %v", got, ok, tt.expectTenant, tt.expectOK)
			}
		})
	}
}
