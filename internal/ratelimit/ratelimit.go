// Package ratelimit limits costly attempts per key (a client address): each key may make Failures attempts that
// fail in a burst, and then one more every Window/Failures, so at most Failures a Window over time.
//
// An attempt is charged before it is checked (Attempt) and given back when it succeeds (Succeeded), so that
// concurrent attempts by one key cannot exceed the limit either and successful attempts cost nothing. Each key
// holds one timestamp (the generic cell rate algorithm), and the number of keys is bounded: a client with many
// addresses pushes out the keys that were idle longest (each key used once in MaxKeys/2 new keys stays), it does
// not grow the limiter.
package ratelimit

import (
	"strconv"
	"sync"
	"time"
)

// Config configures a Limiter. The zero value is 10 failures a minute for at most 65,536 keys.
type Config struct {
	// Failures is the number of attempts a key may fail in a burst, and in each Window after. Default 10.
	Failures int
	// Window is the time over which Failures are allowed. Default 1 minute.
	Window time.Duration
	// MaxKeys bounds the number of keys held (about 100 bytes each). Default 65,536.
	MaxKeys int
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

// Limiter is safe for concurrent use.
type Limiter struct {
	interval time.Duration // Window / Failures: the cost of one attempt
	window   time.Duration
	half     int
	now      func() time.Time

	mu sync.Mutex
	// cur and prev hold each key's theoretical arrival time (in Unix nanoseconds): the key may make another
	// attempt while tat+interval-now <= window. When cur holds half of MaxKeys, prev is dropped and cur becomes
	// prev: keys untouched for a whole generation go, the others are moved back into cur when next used.
	cur, prev map[string]int64
}

// New returns a Limiter for c, with defaults for the zero fields.
func New(c Config) *Limiter {
	if c.Failures <= 0 {
		c.Failures = 10
	}
	if c.Window <= 0 {
		c.Window = time.Minute
	}
	if c.MaxKeys <= 0 {
		c.MaxKeys = 1 << 16
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	half := max(c.MaxKeys/2, 1)
	interval := max(c.Window/time.Duration(c.Failures), 1)
	return &Limiter{interval: interval, window: interval * time.Duration(c.Failures), half: half, now: c.Now,
		cur: make(map[string]int64), prev: make(map[string]int64)}
}

// Attempt charges one attempt to key. It returns ok when the attempt may go ahead; otherwise key has used up its
// failures and wait is how long until its next attempt would be accepted (for Retry-After). A refused attempt is
// not charged. Call Succeeded when the attempt turns out to be valid.
func (l *Limiter) Attempt(key string) (wait time.Duration, ok bool) {
	now := l.now().UnixNano()
	l.mu.Lock()
	defer l.mu.Unlock()
	old, _ := l.get(key)
	tat := max(old, now) + int64(l.interval)
	if over := tat - now - int64(l.window); over > 0 {
		l.put(key, old) // in use: keep it in the current generation
		return time.Duration(over), false
	}
	l.put(key, tat)
	return 0, true
}

// Blocked reports, without charging anything, whether key has used up its failures; wait is then how long
// until its next attempt would be accepted. For callers that charge only failures (Attempt after a refusal), so
// that many valid requests at once from one key are never refused.
func (l *Limiter) Blocked(key string) (wait time.Duration, blocked bool) {
	now := l.now().UnixNano()
	l.mu.Lock()
	defer l.mu.Unlock()
	old, ok := l.get(key)
	if !ok {
		return 0, false
	}
	tat := max(old, now) + int64(l.interval)
	if over := tat - now - int64(l.window); over > 0 {
		return time.Duration(over), true
	}
	return 0, false
}

// Succeeded gives back the charge of key's attempt that turned out to be valid.
func (l *Limiter) Succeeded(key string) {
	now := l.now().UnixNano()
	l.mu.Lock()
	defer l.mu.Unlock()
	tat, ok := l.get(key)
	if !ok {
		return
	}
	tat -= int64(l.interval)
	if tat <= now {
		delete(l.cur, key)
		delete(l.prev, key)
		return
	}
	l.put(key, tat)
}

// Len returns the number of keys held.
func (l *Limiter) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.cur) + len(l.prev)
}

func (l *Limiter) get(key string) (int64, bool) {
	if tat, ok := l.cur[key]; ok {
		return tat, true
	}
	tat, ok := l.prev[key]
	return tat, ok
}

func (l *Limiter) put(key string, tat int64) {
	if _, ok := l.cur[key]; !ok {
		delete(l.prev, key)
		if len(l.cur) >= l.half {
			l.prev, l.cur = l.cur, make(map[string]int64, l.half)
		}
	}
	l.cur[key] = tat
}

// RetryAfter formats a wait as the value of a Retry-After field: whole seconds, rounded up, at least 1.
func RetryAfter(wait time.Duration) string {
	s := (wait + time.Second - 1) / time.Second
	return strconv.FormatInt(int64(max(s, 1)), 10)
}
