package core

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"time"

	"github.com/redis/go-redis/v9"
)

// Subscribe's heartbeat: it publishes to a channel of its own every
// heartbeatEvery, through the engine's client (so to the current master),
// and when it has heard none for heartbeatLost, notices may have been lost.
const (
	heartbeatEvery = 250 * time.Millisecond
	heartbeatLost  = time.Second
)

// Subscribe calls fn with every Invalidation published by any engine sharing
// this one's Redis and namespace, until ctx ends; then it returns nil. It
// runs on the caller's goroutine, and holds one Redis connection and a
// goroutine of its own that it stops before it returns.
//
// Redis pub/sub keeps nothing for a subscriber that is not listening. So
// Subscribe checks that it hears the current master: it publishes a
// heartbeat to a channel of its own every 250 ms and listens for it. When
// its connection breaks, or it has heard no heartbeat for a second (the
// master failed over, and the connection is still up to the old one), it
// calls fn with an Invalidation whose Missed is set, and subscribes again,
// to the master the client now knows; once subscribed there, it calls fn
// with Missed again, for the notices published before it was. So every
// notice is heard, or followed by a Missed notice.
func (e *Engine) Subscribe(ctx context.Context, fn func(Invalidation)) error {
	return e.subscribe(ctx, fn, func(bool) {})
}

// subscribe is Subscribe, also telling live whether it hears the notices:
// true once subscribed, before the Missed notice owed then; false once it
// lost touch, before the Missed notice of the loss.
func (e *Engine) subscribe(ctx context.Context, fn func(Invalidation), live func(bool)) error {
	hb := e.channel() + ":hb:" + newToken()
	pause := 50 * time.Millisecond
	missed := false // a Missed notice is owed once subscribed again
	for {
		heard := e.listen(ctx, hb, fn, live, &missed)
		live(false)
		if ctx.Err() != nil {
			return nil
		}
		e.emit(ctx, Event{Kind: EventInvalidate, Detail: "subscription lost: notices may have been missed"})
		fn(Invalidation{Missed: true})
		missed = true
		if heard {
			pause = 50 * time.Millisecond
		} else {
			pause = min(2*pause, time.Second)
		}
		if e.sleep(ctx, pause) != nil {
			return nil
		}
	}
}

// listen subscribes and calls fn with every notice until ctx ends or the
// subscription loses touch, and reports whether it heard a heartbeat. Once
// subscribed, it calls fn with a Missed notice if *missed is set.
func (e *Engine) listen(ctx context.Context, hb string, fn func(Invalidation), live func(bool), missed *bool) (heard bool) {
	lctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ps := e.rdb.Subscribe(lctx, e.channel(), hb)
	defer ps.Close()
	if _, err := ps.Receive(lctx); err != nil { // the confirmation of the first channel
		return false
	}
	live(true)
	if *missed { // whatever was published before now was not heard
		fn(Invalidation{Missed: true})
		*missed = false
	}
	beats := make(chan struct{})
	go func() { // owned: listen waits for it
		defer close(beats)
		t := time.NewTicker(heartbeatEvery)
		defer t.Stop()
		for {
			pctx, pcancel := context.WithTimeout(lctx, e.cfg.OpTimeout)
			_ = e.rdb.Publish(pctx, hb, "").Err()
			pcancel()
			select {
			case <-lctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	defer func() { cancel(); <-beats }()
	last := time.Now()
	for {
		msg, err := ps.ReceiveTimeout(lctx, heartbeatEvery)
		if lctx.Err() != nil {
			return heard
		}
		if err == nil {
			switch m := msg.(type) {
			case *redis.Message:
				if m.Channel == hb {
					last, heard = time.Now(), true
					continue
				}
				var inv Invalidation
				if json.Unmarshal([]byte(m.Payload), &inv) == nil {
					fn(inv)
				}
			}
		} else if !isTimeout(err) {
			return heard // the connection broke
		}
		if time.Since(last) > heartbeatLost {
			return heard
		}
	}
}

// isTimeout reports whether err is a read deadline passing, which leaves a
// subscription usable.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
