package ports

import (
	"context"
	"time"
)

// AttemptLimiter counts failures per key (an email, a client IP) in a sliding window,
// for brute-force protection. The in-memory implementation serves one node; a shared
// store can replace it for many.
type AttemptLimiter interface {
	// Blocked returns how long key must wait before its next attempt, or 0.
	Blocked(ctx context.Context, key string, now time.Time) (time.Duration, error)
	// Fail records a failed attempt for key at now and returns how many failures of
	// key the window holds now, this one included (a limiter may stop counting at the
	// number that blocks).
	Fail(ctx context.Context, key string, now time.Time) (int, error)
	// Reset forgets key's failures (after a success).
	Reset(ctx context.Context, key string) error
}

// RateLimiter admits requests per key against a per-minute budget.
type RateLimiter interface {
	// Allow takes one request from key's budget of perMinute requests per minute and
	// reports the budget after it: Wait is 0 when the request was admitted, or how
	// long to wait when the budget is spent (a refused request takes nothing).
	// perMinute 0 is unlimited and reports the zero RateStatus. Safe for concurrent
	// use: concurrent requests never pass more than the budget.
	Allow(ctx context.Context, key string, perMinute int, now time.Time) (RateStatus, error)
}

// RateStatus is a key's request budget as one Allow call left it.
type RateStatus struct {
	// Wait is 0 for an admitted request, else how long until one would pass.
	Wait time.Duration
	// Limit is the budget, requests per minute; 0 is unlimited.
	Limit int
	// Remaining is how many more requests would pass at once, between 0 and Limit.
	Remaining int
	// Reset is how long until the whole budget is available again (0 when it is).
	Reset time.Duration
}

// StreamSlots bounds concurrent work per key (open chat streams of a tenant).
type StreamSlots interface {
	// Acquire takes one of max slots for key, or fails at once with
	// domain.ErrTooManyStreams. max 0 is unlimited. release returns the slot; calling
	// it more than once is harmless.
	Acquire(ctx context.Context, key string, max int) (release func(), err error)
}
