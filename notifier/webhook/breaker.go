package webhook

import (
	"sync"
	"time"
)

// breaker is one instance's circuit breaker and concurrency limit per
// partner. After Threshold failures in a row a partner's circuit opens for
// Cooldown: its deliveries wait without an attempt, so a dead endpoint does
// not keep workers busy with timeouts. After the cooldown one attempt is let
// through (half open); its success closes the circuit, its failure opens it
// again. It is kept in memory, per instance: each instance learns on its
// own, which costs at most Threshold attempts per instance.
//
// This is small enough that a library (gobreaker) would add more than it
// saves: deliveries are deferred in Redis rather than run under the
// breaker, so only Allow and the outcome report are needed.
type breaker struct {
	threshold int
	cooldown  time.Duration
	limit     int

	mu sync.Mutex
	// partners is guarded by mu.
	partners map[string]*circuit
}

type circuit struct {
	failures  int
	openUntil time.Time
	probing   bool
	inflight  int
}

func newBreaker(threshold int, cooldown time.Duration, limit int) *breaker {
	return &breaker{threshold: threshold, cooldown: cooldown, limit: limit, partners: map[string]*circuit{}}
}

// acquire takes one of the partner's concurrent slots when its circuit lets
// an attempt through; otherwise it says until when to wait.
func (b *breaker) acquire(partner string, now time.Time) (ok bool, retryAt time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	c := b.partners[partner]
	if c == nil {
		c = &circuit{}
		b.partners[partner] = c
	}
	if c.inflight >= b.limit {
		return false, now.Add(250 * time.Millisecond)
	}
	if c.failures >= b.threshold {
		if now.Before(c.openUntil) {
			return false, c.openUntil
		}
		if c.probing {
			return false, now.Add(b.cooldown / 4)
		}
		c.probing = true
	}
	c.inflight++
	return true, time.Time{}
}

// release gives the slot back with the attempt's outcome. ok is false for
// failures that say the endpoint is unhealthy (timeouts, refused
// connections, 5xx, 429).
func (b *breaker) release(partner string, healthy bool, now time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	c := b.partners[partner]
	if c == nil {
		return
	}
	c.inflight--
	c.probing = false
	if healthy {
		c.failures = 0
		c.openUntil = time.Time{}
	} else {
		c.failures++
		if c.failures >= b.threshold {
			c.openUntil = now.Add(b.cooldown)
		}
	}
	if c.inflight == 0 && c.failures == 0 {
		delete(b.partners, partner)
	}
}
