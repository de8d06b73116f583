// Package otelcache records swrcache's events in OpenTelemetry traces.
//
// Tracer.Hook is a core.Config.OnEvent hook (combine it with others with
// core.Hooks) and Tracer.Work a core.Config.OnWork hook. They need a span
// in the request's context, such as the server span otelhttp, otelgin or
// otelecho start: each lookup's outcome becomes attributes on that span
// (swrcache.resource, swrcache.outcome, swrcache.hit, swrcache.stale;
// never the key); a fill becomes its child span, with the loader's own
// spans under it, and so does a lock wait; a background refresh becomes a
// trace of its own, linked to the request that started it, as the work of
// one request on behalf of many should be. A fill with no span in its
// context (a Fetch from a background job) is the root of a trace.
//
// For spans of the Redis commands themselves, instrument the client with
// go-redis's redisotel (github.com/redis/go-redis/extra/redisotel/v9):
// InstrumentTracing(rdb, redisotel.WithDBStatement(false)), since by
// default it records whole commands, keys and values included.
package otelcache
