package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/swrcache/swrcache/core"
	"github.com/swrcache/swrcache/internal/wire"
	"github.com/swrcache/swrcache/keyfunc"
	"github.com/swrcache/swrcache/middleware"
)

// entryReport is what inspect prints of one entry.
type entryReport struct {
	Name     string `json:"name"`
	RedisKey string `json:"redis_key"`
	Found    bool   `json:"found"`
	// State is fresh, stale, stale-if-error or expired (core.EntryState),
	// or missing, or corrupt.
	State string `json:"state"`
	// Problem says why a lookup would not serve the entry, or is "".
	Problem string `json:"problem,omitempty"`
	// Identity is "matches" or "differs": whether the entry was stored for
	// this request (or Fetch key); "" when that cannot be known.
	Identity   string          `json:"identity,omitempty"`
	StoredAt   *time.Time      `json:"stored_at,omitempty"`
	AgeMS      int64           `json:"age_ms,omitempty"`
	Windows    []window        `json:"windows,omitempty"`
	LoadMS     int64           `json:"load_ms,omitempty"`
	RedisTTLMS int64           `json:"redis_ttl_ms,omitempty"` // -1: no expiry
	Tags       []string        `json:"tags,omitempty"`
	Vary       []string        `json:"vary,omitempty"` // a vary marker's header names
	Response   *responseReport `json:"response,omitempty"`
	Value      *valueReport    `json:"value,omitempty"`
}

// window is one of an entry's windows.
type window struct {
	Name     string    `json:"name"` // fresh, stale-while-revalidate, stale-if-error
	Until    time.Time `json:"until"`
	LeftMS   int64     `json:"left_ms"`   // negative: it ended that long ago
	LengthMS int64     `json:"length_ms"` // fresh: the TTL; the others: how long they last past it (0: none)
}

// responseReport is a stored HTTP response.
type responseReport struct {
	Status      int         `json:"status"`
	Header      http.Header `json:"header"`
	BodyBytes   int         `json:"body_bytes"`
	BodyPreview string      `json:"body_preview"`
}

// valueReport is a value that is not the HTTP layer's, or that does not
// decode as one.
type valueReport struct {
	Bytes   int    `json:"bytes"`
	Format  string `json:"format"` // msgpack (previewed as JSON) or raw
	Preview string `json:"preview"`
}

// entry inspects the entry of k, whose value is the HTTP layer's when isHTTP
// is set. Its identity is checked when it is known: the request's (k.ID),
// or a Fetch key's own name.
func (o *inspectOptions) entry(ctx context.Context, e *core.Engine, k keyfunc.Key, isHTTP bool, now time.Time) (entryReport, error) {
	in, err := e.Inspect(ctx, k.Name)
	if err != nil {
		return entryReport{}, err
	}
	r := entryReport{Name: k.Name, RedisKey: in.RedisKey, Found: in.Found}
	switch {
	case !in.Found:
		r.State, r.Problem = "missing", "no entry"
		return r, nil
	case in.DecodeErr != nil:
		r.State, r.Problem = "corrupt", in.DecodeErr.Error()
		r.Value = o.rawValue(in.Raw)
		return r, nil
	}
	info := in.Entry
	r.State = info.State(now).String()
	r.StoredAt = &info.StoredAt
	r.AgeMS = now.Sub(info.StoredAt).Milliseconds()
	r.Windows = []window{
		{"fresh", info.FreshUntil, info.FreshUntil.Sub(now).Milliseconds(), info.FreshUntil.Sub(info.StoredAt).Milliseconds()},
		{"stale-while-revalidate", info.StaleUntil, info.StaleUntil.Sub(now).Milliseconds(), info.StaleUntil.Sub(info.FreshUntil).Milliseconds()},
		{"stale-if-error", info.ErrorUntil, info.ErrorUntil.Sub(now).Milliseconds(), info.ErrorUntil.Sub(info.FreshUntil).Milliseconds()},
	}
	if !info.KeepUntil.IsZero() { // kept past its windows, to be revalidated
		r.Windows = append(r.Windows, window{"kept for revalidation", info.KeepUntil, info.KeepUntil.Sub(now).Milliseconds(), info.KeepUntil.Sub(info.FreshUntil).Milliseconds()})
	}
	r.LoadMS = info.LoadTime.Milliseconds()
	r.RedisTTLMS = in.TTL.Milliseconds()
	if in.TTL < 0 {
		r.RedisTTLMS = -1
	}
	r.Tags = info.Tags
	if k.ID != "" || !isHTTP {
		r.Identity = "matches"
		if !info.BelongsTo(core.Key{Name: k.Name, ID: k.ID}) {
			r.Identity, r.Problem = "differs", "stored for another identity: a lookup treats it as a miss"
		}
	}
	if !isHTTP {
		r.Value = o.fetchValue(info.Value)
		return r, nil
	}
	s, err := middleware.DecodeStored(info.Value)
	switch {
	case err != nil:
		r.Problem = fmt.Sprintf("not a stored HTTP response: %v", err)
		r.Value = o.rawValue(info.Value)
	case s.Vary != nil:
		r.Vary = s.Vary
	default:
		r.Response = &responseReport{Status: s.Status, Header: s.Header, BodyBytes: len(s.Body), BodyPreview: preview(s.Body, o.body)}
	}
	return r, nil
}

// fetchValue previews a value of core.Fetch: msgpack, the default Codec,
// as JSON when the whole value is one msgpack value, else its bytes.
func (o *inspectOptions) fetchValue(v []byte) *valueReport {
	if o.value == "raw" {
		return o.rawValue(v)
	}
	if n, err := wire.Len(v); err == nil && n == len(v) {
		var decoded any
		if err := (core.MsgpackCodec{}).Unmarshal(v, &decoded); err == nil {
			if js, err := json.Marshal(decoded); err == nil {
				return &valueReport{Bytes: len(v), Format: "msgpack", Preview: preview(js, o.body)}
			}
		}
	}
	return o.rawValue(v)
}

func (o *inspectOptions) rawValue(v []byte) *valueReport {
	return &valueReport{Bytes: len(v), Format: "raw", Preview: preview(v, o.body)}
}
