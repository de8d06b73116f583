package middleware

import (
	"sync"
	"time"
)

// passList remembers, for a minute, keys whose responses could not be
// stored because of their size or streaming, so that later requests go
// straight to the handler instead of taking part in a fill. The zero value
// is ready to use.
type passList struct {
	mu sync.Mutex
	m  map[string]time.Time // key name → until; protected by mu
}

const (
	passFor     = time.Minute
	passListCap = 4096
)

func (p *passList) has(key string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	until, ok := p.m[key]
	if ok && time.Now().After(until) {
		delete(p.m, key)
		return false
	}
	return ok
}

func (p *passList) add(key string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.m == nil {
		p.m = make(map[string]time.Time)
	}
	if len(p.m) >= passListCap {
		clear(p.m) // bounded: forgetting only costs one more fill
	}
	p.m[key] = time.Now().Add(passFor)
}
