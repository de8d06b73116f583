// Package faultproxy is an in-process TCP proxy for tests, to put between
// a client and Redis and inject faults while the test runs.
//
// Start listens on 127.0.0.1 and forwards each accepted connection to the
// target. The mode can be switched at any time and applies at once to the
// existing connections as well as new ones:
//
//   - Heal: plain pass-through.
//   - SetLatency: every chunk read from the client reaches Redis only after
//     the given delay (order is preserved), so each command is slowed by
//     about that much.
//   - Blackhole: connections are accepted and client bytes read and
//     discarded; nothing is forwarded and no reply is delivered, so clients
//     hang until their own timeouts fire.
//   - Reset: existing connections are aborted with a TCP RST; new ones are
//     accepted and reset at once.
//   - Refuse: the listener is closed, so dials fail with "connection
//     refused", and existing connections are reset. Any other mode listens
//     again on the same address.
//
// Stats counts accepted connections and bytes, to check for example that
// nothing reached Redis while blackholed. Close (also run by t.Cleanup)
// stops every goroutine and waits for them, so the proxy is safe to use
// with goleak.
package faultproxy
