// Package ratelimit keeps a token bucket per key (a site, a remote
// address), so that one flooding appliance or one address guessing
// enrollment tokens is slowed down without touching the others.
package ratelimit

import (
	"sync"
	"time"
)

// Clock tells the time.
type Clock interface{ Now() time.Time }

type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }

// maxKeys bounds the buckets kept: past it, full buckets (keys idle long
// enough to have refilled) are forgotten, which changes nothing for them.
const maxKeys = 10_000

// Limiter allows each key Rate events a second on average, and Burst at
// once.
type Limiter struct {
	rate    float64
	burst   float64
	clock   Clock
	mu      sync.Mutex
	buckets map[string]*bucket
}

type bucket struct {
	tokens float64
	at     time.Time
}

// New returns a limiter of rate events a second per key, burst at once;
// clock nil is the system clock. A rate of 0 or less allows everything.
func New(rate float64, burst int, clock Clock) *Limiter {
	if clock == nil {
		clock = systemClock{}
	}
	return &Limiter{rate: rate, burst: float64(max(burst, 1)), clock: clock, buckets: map[string]*bucket{}}
}

// Allow takes a token from key's bucket, reporting false when it is empty.
func (l *Limiter) Allow(key string) bool {
	ok, _ := l.Reserve(key)
	return ok
}

// Reserve is Allow that also says, when refusing, how long until the
// next token.
func (l *Limiter) Reserve(key string) (bool, time.Duration) {
	if l == nil || l.rate <= 0 {
		return true, 0
	}
	now := l.clock.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.buckets[key]
	if !ok {
		if len(l.buckets) >= maxKeys {
			l.forgetFull(now)
		}
		b = &bucket{tokens: l.burst, at: now}
		l.buckets[key] = b
	}
	b.tokens = min(l.burst, b.tokens+now.Sub(b.at).Seconds()*l.rate)
	b.at = now
	if b.tokens < 1 {
		return false, time.Duration((1 - b.tokens) / l.rate * float64(time.Second))
	}
	b.tokens--
	return true, 0
}

func (l *Limiter) forgetFull(now time.Time) {
	for k, b := range l.buckets {
		if b.tokens+now.Sub(b.at).Seconds()*l.rate >= l.burst {
			delete(l.buckets, k)
		}
	}
}
