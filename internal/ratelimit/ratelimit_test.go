package ratelimit

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// clock is a test clock that moves only when told.
type clock struct{ t atomic.Int64 }

func newClock() *clock {
	c := &clock{}
	c.t.Store(time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC).UnixNano())
	return c
}
func (c *clock) Now() time.Time          { return time.Unix(0, c.t.Load()) }
func (c *clock) Advance(d time.Duration) { c.t.Add(int64(d)) }

// step is one action on a limiter: advance the clock, then Attempt (or Succeeded) for key.
type step struct {
	advance   time.Duration
	key       string
	succeeded bool          // call Succeeded instead of Attempt
	n         int           // repeat the Attempt n times (default 1), each expected to answer the same
	ok        bool          // want of Attempt
	wait      time.Duration // want of Attempt when !ok
}

func TestLimiter(t *testing.T) {
	for _, tc := range []struct {
		name  string
		cfg   Config
		steps []step
	}{
		{"10 failures a minute by default, then one every 6 s", Config{}, []step{
			{key: "a", n: 10, ok: true},
			{key: "a", n: 3, wait: 6 * time.Second},
			{advance: 2 * time.Second, key: "a", wait: 4 * time.Second},
			{advance: 4 * time.Second, key: "a", ok: true},
			{key: "a", wait: 6 * time.Second},
			{advance: time.Minute, key: "a", n: 10, ok: true},
			{key: "a", wait: 6 * time.Second},
		}},
		{"keys are independent", Config{}, []step{
			{key: "a", n: 10, ok: true},
			{key: "a", wait: 6 * time.Second},
			{key: "b", n: 10, ok: true},
			{key: "b", wait: 6 * time.Second},
		}},
		{"failures spread over the window", Config{}, []step{
			{key: "a", ok: true},
			{advance: 6 * time.Second, key: "a", ok: true},
			{advance: 6 * time.Second, key: "a", ok: true},
			{advance: 6 * time.Second, key: "a", n: 10, ok: true}, // 3 of the first 3 have drained
			{key: "a", wait: 6 * time.Second},
		}},
		{"successful attempts are given back", Config{}, []step{
			{key: "a", ok: true}, {key: "a", succeeded: true},
			{key: "a", n: 9, ok: true},
			{key: "a", ok: true}, {key: "a", succeeded: true},
			{key: "a", ok: true},
			{key: "a", wait: 6 * time.Second},
			{key: "unknown", succeeded: true},
		}},
		{"configured window", Config{Failures: 3, Window: 30 * time.Second}, []step{
			{key: "a", n: 3, ok: true},
			{key: "a", wait: 10 * time.Second},
			{advance: 9 * time.Second, key: "a", wait: time.Second},
			{advance: time.Second, key: "a", ok: true},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newClock()
			tc.cfg.Now = c.Now
			l := New(tc.cfg)
			for i, s := range tc.steps {
				c.Advance(s.advance)
				if s.succeeded {
					l.Succeeded(s.key)
					continue
				}
				for j := range max(s.n, 1) {
					wait, ok := l.Attempt(s.key)
					if ok != s.ok || (!ok && wait != s.wait) {
						t.Fatalf("step %d (%+v), attempt %d: Attempt(%q) = %v, %v; want %v, %v", i, s, j+1, s.key, wait, ok, s.wait, s.ok)
					}
				}
			}
		})
	}
}

// TestLimiterBounded: a client with many addresses does not grow the limiter, and a blocked key that goes on
// trying (once in fewer than MaxKeys/2 new keys) stays blocked; one that stops trying is let go.
func TestLimiterBounded(t *testing.T) {
	c := newClock()
	l := New(Config{MaxKeys: 100, Now: c.Now})
	for range 10 {
		l.Attempt("victim")
	}
	for i := range 10_000 {
		l.Attempt(fmt.Sprintf("192.0.2.%d/%d", i%256, i))
		if n := l.Len(); n > 100 {
			t.Fatalf("after %d keys the limiter holds %d, more than MaxKeys", i+1, n)
		}
		if i%40 == 0 {
			if _, ok := l.Attempt("victim"); ok {
				t.Fatalf("after %d other keys, the blocked key may try again", i+1)
			}
		}
	}
	for i := range 100 {
		l.Attempt(fmt.Sprint("198.51.100.", i))
	}
	if _, ok := l.Attempt("victim"); !ok {
		t.Fatal("a key idle for MaxKeys new keys is still held")
	}
}

// TestLimiterConcurrent: concurrent attempts by one key at one instant get exactly Failures through.
func TestLimiterConcurrent(t *testing.T) {
	c := newClock()
	l := New(Config{Now: c.Now})
	var passed atomic.Int32
	var wg sync.WaitGroup
	for range 64 {
		wg.Go(func() {
			if _, ok := l.Attempt("a"); ok {
				passed.Add(1)
			}
			l.Attempt(fmt.Sprint("other", passed.Load()))
		})
	}
	wg.Wait()
	if n := passed.Load(); n != 10 {
		t.Fatalf("%d concurrent attempts passed, want 10", n)
	}
}

func TestRetryAfter(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0: "1", time.Nanosecond: "1", time.Second: "1", 6 * time.Second: "6", 6*time.Second + time.Millisecond: "7",
		time.Hour: "3600",
	} {
		if got := RetryAfter(d); got != want {
			t.Errorf("RetryAfter(%v) = %q, want %q", d, got, want)
		}
	}
}

// TestBlockedDoesNotCharge: Blocked only looks; a key is blocked once Attempt charged its failures, and no longer
// once the window let one through again.
func TestBlockedDoesNotCharge(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	l := New(Config{Failures: 3, Window: 3 * time.Second, Now: func() time.Time { return now }})
	for range 100 {
		if _, blocked := l.Blocked("k"); blocked {
			t.Fatal("blocked before any failure")
		}
	}
	for range 3 {
		if _, ok := l.Attempt("k"); !ok {
			t.Fatal("attempt refused within the limit")
		}
	}
	wait, blocked := l.Blocked("k")
	if !blocked || wait <= 0 || wait > time.Second {
		t.Fatalf("after 3 failures: blocked %v for %v", blocked, wait)
	}
	now = now.Add(wait)
	if _, blocked := l.Blocked("k"); blocked {
		t.Fatal("still blocked after the wait it gave")
	}
}
