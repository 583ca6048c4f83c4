package memory

import (
	"context"
	"sync"
	"time"

	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/ports"
)

// AttemptLimiter counts failures per key in a sliding window for one node: after max
// failures within window a key is blocked until its oldest counted failure leaves the
// window. It keeps at most max instants per key and forgets idle keys.
type AttemptLimiter struct {
	max    int
	window time.Duration

	mu        sync.Mutex
	fails     map[string][]time.Time
	nextSweep time.Time
}

var _ ports.AttemptLimiter = (*AttemptLimiter)(nil)

// NewAttemptLimiter returns a limiter that blocks a key after limit failures within
// window. A limit below 1 is treated as 1.
func NewAttemptLimiter(limit int, window time.Duration) *AttemptLimiter {
	return &AttemptLimiter{max: max(1, limit), window: window, fails: map[string][]time.Time{}}
}

// live drops key's failures that left the window at now and returns the rest, oldest
// first; callers hold the mutex.
func (l *AttemptLimiter) live(key string, now time.Time) []time.Time {
	fs := l.fails[key]
	i := 0
	for i < len(fs) && !now.Before(fs[i].Add(l.window)) {
		i++
	}
	fs = fs[i:]
	if len(fs) == 0 {
		delete(l.fails, key)
		return nil
	}
	l.fails[key] = fs
	return fs
}

// sweep forgets keys whose failures all left the window, at most once per window.
func (l *AttemptLimiter) sweep(now time.Time) {
	if now.Before(l.nextSweep) {
		return
	}
	l.nextSweep = now.Add(l.window)
	for key := range l.fails {
		l.live(key, now)
	}
}

// Blocked returns how long key must wait before its next attempt, or 0.
func (l *AttemptLimiter) Blocked(_ context.Context, key string, now time.Time) (time.Duration, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	fs := l.live(key, now)
	if len(fs) < l.max {
		return 0, nil
	}
	return fs[len(fs)-l.max].Add(l.window).Sub(now), nil
}

// Fail records a failed attempt for key at now and returns key's failures in the
// window, at most the limit.
func (l *AttemptLimiter) Fail(_ context.Context, key string, now time.Time) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.sweep(now)
	fs := append(l.live(key, now), now)
	if len(fs) > l.max {
		fs = append([]time.Time{}, fs[len(fs)-l.max:]...)
	}
	l.fails[key] = fs
	return len(fs), nil
}

// Reset forgets key's failures.
func (l *AttemptLimiter) Reset(_ context.Context, key string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.fails, key)
	return nil
}

// RateLimiter admits requests per key with the generic cell rate algorithm (a token
// bucket of perMinute tokens refilled evenly over a minute), in integer nanoseconds so
// that waiting exactly the returned duration always admits the next request.
type RateLimiter struct {
	mu        sync.Mutex
	tat       map[string]time.Time // theoretical arrival time of the next request
	nextSweep time.Time
}

var _ ports.RateLimiter = (*RateLimiter)(nil)

// NewRateLimiter returns an empty rate limiter.
func NewRateLimiter() *RateLimiter { return &RateLimiter{tat: map[string]time.Time{}} }

// Allow implements ports.RateLimiter. perMinute 0 (or less) is unlimited.
func (l *RateLimiter) Allow(_ context.Context, key string, perMinute int, now time.Time) (ports.RateStatus, error) {
	if perMinute <= 0 {
		return ports.RateStatus{}, nil
	}
	interval := time.Minute / time.Duration(perMinute)
	if interval <= 0 {
		interval = 1
	}
	burst := interval * time.Duration(perMinute)
	l.mu.Lock()
	defer l.mu.Unlock()
	l.sweep(now)
	tat, ok := l.tat[key]
	if !ok || tat.Before(now) {
		tat = now
	}
	next := tat.Add(interval)
	if ahead := next.Sub(now); ahead > burst {
		return rateStatus(perMinute, interval, burst, tat.Sub(now), ahead-burst), nil
	}
	l.tat[key] = next
	return rateStatus(perMinute, interval, burst, next.Sub(now), 0), nil
}

// rateStatus states a bucket whose theoretical arrival time is ahead of now: that is
// how long until it is full again, and each interval left of the burst is one request.
func rateStatus(perMinute int, interval, burst, ahead, wait time.Duration) ports.RateStatus {
	remaining := min(max(int((burst-ahead)/interval), 0), perMinute)
	return ports.RateStatus{Wait: wait, Limit: perMinute, Remaining: remaining, Reset: max(ahead, 0)}
}

// sweep forgets keys whose bucket is full again, at most once a minute.
func (l *RateLimiter) sweep(now time.Time) {
	if now.Before(l.nextSweep) {
		return
	}
	l.nextSweep = now.Add(time.Minute)
	for key, tat := range l.tat {
		if !tat.After(now) {
			delete(l.tat, key)
		}
	}
}

// StreamSlots bounds concurrent streams per key on one node.
type StreamSlots struct {
	mu    sync.Mutex
	inUse map[string]int
}

var _ ports.StreamSlots = (*StreamSlots)(nil)

// NewStreamSlots returns slots with none taken.
func NewStreamSlots() *StreamSlots { return &StreamSlots{inUse: map[string]int{}} }

// Acquire takes one of max slots for key or fails at once with domain.ErrTooManyStreams;
// max 0 is unlimited. The returned release is idempotent.
func (s *StreamSlots) Acquire(_ context.Context, key string, max int) (func(), error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if max > 0 && s.inUse[key] >= max {
		return nil, domain.ErrTooManyStreams
	}
	s.inUse[key]++
	var once sync.Once
	return func() { once.Do(func() { s.release(key) }) }, nil
}

func (s *StreamSlots) release(key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.inUse[key] <= 1 {
		delete(s.inUse, key)
		return
	}
	s.inUse[key]--
}

// InUse returns how many slots of key are taken, for tests and metrics.
func (s *StreamSlots) InUse(key string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.inUse[key]
}
