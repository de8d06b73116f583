// Package otelcache records swrcache's events in OpenTelemetry traces.
//
// Tracer.Hook is a core.Config.OnEvent hook (combine it with others with
// core.Hooks). It needs a span in the request's context, such as the
// server span otelhttp, otelgin or otelecho start: each lookup's outcome
// becomes attributes on that span (swrcache.resource, swrcache.outcome,
// swrcache.hit, swrcache.stale; never the key), a fill and a lock wait
// become its child spans, and a background refresh becomes a trace of its
// own, linked to the request that started it, as the work of one request
// on behalf of many should be.
//
// The spans are recorded when the event arrives, with the start time the
// event's duration implies; spans the loader makes itself are siblings
// of the fill span, under the request's span. For spans of the Redis
// commands themselves, instrument the client with go-redis's redisotel
// (github.com/redis/go-redis/extra/redisotel/v9): InstrumentTracing(rdb,
// redisotel.WithDBStatement(false)), since by default it records whole
// commands, keys and values included.
package otelcache
