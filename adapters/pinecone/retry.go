package pinecone

import (
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// RetryPolicy bounds the retries of one call on 429, 5xx, timeouts and dial errors.
// Waits grow exponentially with full jitter (a uniform draw between zero and the
// capped exponential step); a Retry-After header from Pinecone replaces the draw.
// Zero fields take the defaults below.
type RetryPolicy struct {
	// MaxAttempts counts every try, the first included (default 4; 1 disables retries).
	MaxAttempts int
	// BaseDelay is the first step of the exponential backoff (default 200ms).
	BaseDelay time.Duration
	// MaxDelay caps one wait (default 5s).
	MaxDelay time.Duration
	// MaxElapsed caps the whole call, waits included (default 30s). A wait that would
	// end past it is not taken; the last failure is returned instead.
	MaxElapsed time.Duration
}

// Defaults of RetryPolicy and of the per-attempt timeout.
const (
	DefaultMaxAttempts = 4
	DefaultBaseDelay   = 200 * time.Millisecond
	DefaultMaxDelay    = 5 * time.Second
	DefaultMaxElapsed  = 30 * time.Second
	DefaultTimeout     = 10 * time.Second
)

func (p RetryPolicy) withDefaults() RetryPolicy {
	if p.MaxAttempts <= 0 {
		p.MaxAttempts = DefaultMaxAttempts
	}
	if p.BaseDelay <= 0 {
		p.BaseDelay = DefaultBaseDelay
	}
	if p.MaxDelay <= 0 {
		p.MaxDelay = DefaultMaxDelay
	}
	if p.MaxElapsed <= 0 {
		p.MaxElapsed = DefaultMaxElapsed
	}
	return p
}

// backoff returns the full-jitter wait before retry number n (1 for the first retry).
func (p RetryPolicy) backoff(n int) time.Duration {
	step := p.BaseDelay
	for i := 1; i < n && step < p.MaxDelay; i++ {
		step *= 2
	}
	step = min(step, p.MaxDelay)
	return rand.N(step + 1)
}

// retryAfter parses a Retry-After header (delay seconds or an HTTP date) relative to
// now; ok is false when the header is absent or unusable.
func retryAfter(h http.Header, now time.Time) (time.Duration, bool) {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0, false
	}
	if s, err := strconv.Atoi(v); err == nil {
		if s < 0 {
			return 0, false
		}
		return time.Duration(s) * time.Second, true
	}
	if at, err := http.ParseTime(v); err == nil {
		return max(at.Sub(now), 0), true
	}
	return 0, false
}

// ceilSeconds rounds d up to whole seconds, at least one.
func ceilSeconds(d time.Duration) int {
	s := int((d + time.Second - 1) / time.Second)
	return max(s, 1)
}
