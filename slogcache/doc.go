// Package slogcache correlates logs with traces and cache outcomes, as
// the operating guide asks: every record logged with a request's context
// carries trace_id and span_id (from its OpenTelemetry span), cache_hit
// (true when the cache served the request: hit, stale or stale-if-error)
// and cache_status (the outcome: hit, stale, stale-if-error, miss,
// collapsed, bypass).
//
// Three pieces fit together: NewHandler wraps any slog.Handler (JSON for
// your log pipeline); Middleware (or WithOutcome, for other frameworks)
// gives each request a place for its outcome, outside the cache; Hook, a
// core.Config.OnEvent hook, records the outcome there. Records logged
// with the request's context after the cache ran (an access log, the
// handler's own) then carry cache_hit. The engine's own Config.Logger,
// given a logger on the same handler, logs its events with these fields
// too.
package slogcache
