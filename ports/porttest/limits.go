package porttest

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/ports"
)

// NewAttemptLimiter builds a fresh limiter that blocks a key once it has max failures
// within window.
type NewAttemptLimiter func(t *testing.T, max int, window time.Duration) ports.AttemptLimiter

// AttemptLimiter tests a ports.AttemptLimiter. Time is passed explicitly; the suite
// allows a limiter to round its waits to the second.
func AttemptLimiter(t *testing.T, newLimiter NewAttemptLimiter) {
	const window = time.Minute
	blocked := func(t *testing.T, l ports.AttemptLimiter, key string, now time.Time) time.Duration {
		t.Helper()
		d, err := l.Blocked(t.Context(), key, now)
		require.NoError(t, err)
		return d
	}
	fail := func(t *testing.T, l ports.AttemptLimiter, key string, now time.Time) {
		t.Helper()
		_, err := l.Fail(t.Context(), key, now)
		require.NoError(t, err)
	}

	t.Run("fail counts the failures in the window", func(t *testing.T) {
		t.Parallel()
		l := newLimiter(t, 3, window)
		for i, d := range []time.Duration{0, time.Second, 2 * time.Second} {
			n, err := l.Fail(t.Context(), "k", at(d))
			require.NoError(t, err)
			assert.Equal(t, i+1, n)
		}
		n, err := l.Fail(t.Context(), "k", at(window+time.Second+time.Second/2))
		require.NoError(t, err)
		assert.Equal(t, 2, n, "failures that left the window are not counted")
	})

	t.Run("a fresh key is not blocked", func(t *testing.T) {
		t.Parallel()
		l := newLimiter(t, 3, window)
		for range 5 {
			assert.Zero(t, blocked(t, l, "ada@example.com", at(0)), "asking counted as a failure")
		}
		fail(t, l, "ada@example.com", at(0))
		fail(t, l, "ada@example.com", at(0))
		assert.Zero(t, blocked(t, l, "ada@example.com", at(0)))
	})

	t.Run("max failures within the window block until the oldest expires", func(t *testing.T) {
		t.Parallel()
		l := newLimiter(t, 3, window)
		fail(t, l, "k", at(0))
		fail(t, l, "k", at(10*time.Second))
		assert.Zero(t, blocked(t, l, "k", at(10*time.Second)), "blocked before max failures")
		fail(t, l, "k", at(20*time.Second))

		now := at(20 * time.Second)
		wait := blocked(t, l, "k", now)
		assert.InDelta(t, (40 * time.Second).Seconds(), wait.Seconds(), 1, "want a wait until the oldest failure leaves the window")
		assert.Positive(t, blocked(t, l, "k", at(59*time.Second)), "unblocked before the oldest failure expired")
		assert.Zero(t, blocked(t, l, "k", now.Add(wait)), "still blocked after the returned wait")
		assert.Zero(t, blocked(t, l, "k", at(61*time.Second)))
	})

	t.Run("failures older than the window do not count", func(t *testing.T) {
		t.Parallel()
		l := newLimiter(t, 3, window)
		fail(t, l, "k", at(0))
		fail(t, l, "k", at(50*time.Second))
		fail(t, l, "k", at(100*time.Second))
		assert.Zero(t, blocked(t, l, "k", at(100*time.Second)))
		fail(t, l, "k", at(105*time.Second))
		assert.Positive(t, blocked(t, l, "k", at(105*time.Second)))
	})

	t.Run("reset forgets the key's failures", func(t *testing.T) {
		t.Parallel()
		l := newLimiter(t, 2, window)
		fail(t, l, "k", at(0))
		fail(t, l, "k", at(time.Second))
		require.Positive(t, blocked(t, l, "k", at(time.Second)))
		require.NoError(t, l.Reset(t.Context(), "k"))
		assert.Zero(t, blocked(t, l, "k", at(time.Second)))
		fail(t, l, "k", at(2*time.Second))
		assert.Zero(t, blocked(t, l, "k", at(2*time.Second)), "failures before reset still counted")
	})

	t.Run("reset of an unknown key is not an error", func(t *testing.T) {
		t.Parallel()
		l := newLimiter(t, 2, window)
		require.NoError(t, l.Reset(t.Context(), "never-seen"))
	})

	t.Run("keys are independent", func(t *testing.T) {
		t.Parallel()
		l := newLimiter(t, 2, window)
		fail(t, l, "ada@example.com", at(0))
		fail(t, l, "ada@example.com", at(0))
		require.Positive(t, blocked(t, l, "ada@example.com", at(0)))
		assert.Zero(t, blocked(t, l, "bob@example.com", at(0)))
		assert.Zero(t, blocked(t, l, "10.0.0.1", at(0)))
		require.NoError(t, l.Reset(t.Context(), "bob@example.com"))
		assert.Positive(t, blocked(t, l, "ada@example.com", at(0)), "resetting one key reset another")
	})

	t.Run("concurrent failures are all counted", func(t *testing.T) {
		t.Parallel()
		const n = 50
		l := newLimiter(t, n, window)
		var wg sync.WaitGroup
		for range n - 1 {
			wg.Go(func() { _, err := l.Fail(t.Context(), "k", at(0)); assert.NoError(t, err) })
		}
		wg.Wait()
		assert.Zero(t, blocked(t, l, "k", at(0)), "blocked before max failures")
		fail(t, l, "k", at(0))
		assert.Positive(t, blocked(t, l, "k", at(0)), "a concurrent failure was lost")
	})
}

// NewRateLimiter builds a fresh, empty rate limiter.
type NewRateLimiter func(t *testing.T) ports.RateLimiter

// RateLimiter tests a ports.RateLimiter. It accepts a token bucket or a sliding window:
// a burst of perMinute requests passes, the next one waits at most a minute, and over a
// long run no more than about perMinute requests pass per minute.
func RateLimiter(t *testing.T, newLimiter NewRateLimiter) {
	allow := func(t *testing.T, l ports.RateLimiter, key string, perMinute int, now time.Time) time.Duration {
		t.Helper()
		st, err := l.Allow(t.Context(), key, perMinute, now)
		require.NoError(t, err)
		require.GreaterOrEqual(t, st.Wait, time.Duration(0))
		return st.Wait
	}
	status := func(t *testing.T, l ports.RateLimiter, key string, perMinute int, now time.Time) ports.RateStatus {
		t.Helper()
		st, err := l.Allow(t.Context(), key, perMinute, now)
		require.NoError(t, err)
		return st
	}

	t.Run("perMinute 0 is unlimited", func(t *testing.T) {
		t.Parallel()
		l := newLimiter(t)
		for i := range 1000 {
			require.Zero(t, allow(t, l, "k", 0, at(0)), "request %d", i)
		}
	})

	t.Run("a burst of perMinute passes, the next waits at most a minute", func(t *testing.T) {
		t.Parallel()
		l := newLimiter(t)
		for i := range 5 {
			require.Zero(t, allow(t, l, "k", 5, at(0)), "request %d", i)
		}
		wait := allow(t, l, "k", 5, at(0))
		assert.Positive(t, wait)
		assert.LessOrEqual(t, wait, time.Minute)
		assert.Positive(t, allow(t, l, "k", 5, at(0)), "a refused request must not refill the budget")
	})

	t.Run("the status counts the budget down and says when it is full again", func(t *testing.T) {
		t.Parallel()
		l := newLimiter(t)
		assert.Equal(t, ports.RateStatus{}, status(t, l, "unlimited", 0, at(0)), "perMinute 0 reports nothing")
		for i := range 4 {
			st := status(t, l, "k", 4, at(0))
			assert.Zero(t, st.Wait, "request %d", i)
			assert.Equal(t, 4, st.Limit)
			assert.Equal(t, 3-i, st.Remaining, "remaining after request %d", i)
			assert.Equal(t, time.Duration(i+1)*15*time.Second, st.Reset, "reset after request %d", i)
		}
		refused := status(t, l, "k", 4, at(0))
		assert.Positive(t, refused.Wait)
		assert.Equal(t, ports.RateStatus{Wait: refused.Wait, Limit: 4, Remaining: 0, Reset: time.Minute}, refused,
			"a refused request reports the spent budget and takes nothing")
		later := status(t, l, "k", 4, at(30*time.Second))
		assert.Zero(t, later.Wait, "half a minute refills two requests")
		assert.Equal(t, 1, later.Remaining, "two refilled, one taken")
		assert.Equal(t, 45*time.Second, later.Reset)
		assert.Equal(t, 3, status(t, l, "other", 4, at(0)).Remaining, "keys are counted apart")
	})

	t.Run("after the returned wait a request passes again", func(t *testing.T) {
		t.Parallel()
		l := newLimiter(t)
		for range 3 {
			require.Zero(t, allow(t, l, "k", 3, at(0)))
		}
		wait := allow(t, l, "k", 3, at(0))
		require.Positive(t, wait)
		assert.Zero(t, allow(t, l, "k", 3, at(0).Add(wait)))
	})

	t.Run("keys are independent", func(t *testing.T) {
		t.Parallel()
		l := newLimiter(t)
		require.Zero(t, allow(t, l, "acme", 1, at(0)))
		require.Positive(t, allow(t, l, "acme", 1, at(0)))
		assert.Zero(t, allow(t, l, "globex", 1, at(0)))
	})

	t.Run("a long run passes about perMinute per minute", func(t *testing.T) {
		t.Parallel()
		l := newLimiter(t)
		const perMinute, minutes = 6, 10
		passed := 0
		for s := range minutes * 60 {
			if allow(t, l, "k", perMinute, at(time.Duration(s)*time.Second)) == 0 {
				passed++
			}
		}
		assert.GreaterOrEqual(t, passed, perMinute*minutes-1)
		assert.LessOrEqual(t, passed, perMinute*(minutes+1))
	})

	t.Run("concurrent requests never exceed the budget", func(t *testing.T) {
		t.Parallel()
		l := newLimiter(t)
		var passed atomic.Int64
		var wg sync.WaitGroup
		for range 100 {
			wg.Go(func() {
				st, err := l.Allow(t.Context(), "k", 10, at(0))
				assert.NoError(t, err)
				if err == nil && st.Wait == 0 {
					passed.Add(1)
				}
			})
		}
		wg.Wait()
		assert.Equal(t, int64(10), passed.Load())
	})
}

// NewStreamSlots builds fresh, empty stream slots.
type NewStreamSlots func(t *testing.T) ports.StreamSlots

// StreamSlots tests a ports.StreamSlots.
func StreamSlots(t *testing.T, newSlots NewStreamSlots) {
	acquire := func(t *testing.T, s ports.StreamSlots, key string, max int) func() {
		t.Helper()
		release, err := s.Acquire(t.Context(), key, max)
		require.NoError(t, err)
		require.NotNil(t, release)
		return release
	}
	full := func(t *testing.T, s ports.StreamSlots, key string, max int) {
		t.Helper()
		release, err := s.Acquire(t.Context(), key, max)
		require.ErrorIs(t, err, domain.ErrTooManyStreams)
		requireKind(t, domain.KindRateLimited, err)
		if release != nil {
			release()
		}
	}

	t.Run("max slots are taken, the next fails at once", func(t *testing.T) {
		t.Parallel()
		s := newSlots(t)
		acquire(t, s, "acme", 2)
		acquire(t, s, "acme", 2)
		full(t, s, "acme", 2)
	})

	t.Run("release returns the slot", func(t *testing.T) {
		t.Parallel()
		s := newSlots(t)
		r1 := acquire(t, s, "acme", 2)
		acquire(t, s, "acme", 2)
		r1()
		acquire(t, s, "acme", 2)
		full(t, s, "acme", 2)
	})

	t.Run("releasing twice frees one slot only", func(t *testing.T) {
		t.Parallel()
		s := newSlots(t)
		r1 := acquire(t, s, "acme", 2)
		acquire(t, s, "acme", 2)
		r1()
		r1()
		acquire(t, s, "acme", 2)
		full(t, s, "acme", 2)
	})

	t.Run("max 0 is unlimited", func(t *testing.T) {
		t.Parallel()
		s := newSlots(t)
		for range 1000 {
			acquire(t, s, "acme", 0)
		}
	})

	t.Run("keys are independent", func(t *testing.T) {
		t.Parallel()
		s := newSlots(t)
		acquire(t, s, "acme", 1)
		full(t, s, "acme", 1)
		release := acquire(t, s, "globex", 1)
		release()
		full(t, s, "acme", 1)
	})

	t.Run("concurrent acquires never exceed max", func(t *testing.T) {
		t.Parallel()
		s := newSlots(t)
		const max = 5
		var (
			mu       sync.Mutex
			releases []func()
			wg       sync.WaitGroup
		)
		for i := range 50 {
			wg.Go(func() {
				release, err := s.Acquire(t.Context(), "acme", max)
				if err != nil {
					assert.ErrorIs(t, err, domain.ErrTooManyStreams, fmt.Sprint("acquire ", i))
					return
				}
				mu.Lock()
				releases = append(releases, release)
				mu.Unlock()
			})
		}
		wg.Wait()
		assert.Len(t, releases, max)
		for _, r := range releases {
			r()
		}
		for range max {
			acquire(t, s, "acme", max)
		}
		full(t, s, "acme", max)
	})
}
