package bootstrap

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/adapters/memory"
	"github.com/tenantry/tenantry/ports"
)

// countedLimits are in-memory limiters that count the calls made to them.
type countedLimits struct {
	calls atomic.Int64
	rate  *memory.RateLimiter
	slots *memory.StreamSlots
}

func (c *countedLimits) Allow(ctx context.Context, key string, perMinute int, now time.Time) (ports.RateStatus, error) {
	c.calls.Add(1)
	return c.rate.Allow(ctx, key, perMinute, now)
}

func (c *countedLimits) Acquire(ctx context.Context, key string, max int) (func(), error) {
	c.calls.Add(1)
	return c.slots.Acquire(ctx, key, max)
}

// TestAuthenticatedReadsTouchNoLimiter: the authenticated read paths never call the
// rate limiter or the stream slots, which on PostgreSQL cost a database round trip; a
// chat request does.
func TestAuthenticatedReadsTouchNoLimiter(t *testing.T) {
	counted := &countedLimits{rate: memory.NewRateLimiter(), slots: memory.NewStreamSlots()}
	e := newBenchEnv(t, benchOptions{limits: Limits{Rate: counted, Streams: counted}})
	h := e.api.Handler
	token := benchLogin(t, h, benchEmail)
	for _, path := range []string{"/users/me", "/tenant", "/documents", "/conversations", "/usage"} {
		status, body := benchGet(h, path, token)
		require.Equal(t, http.StatusOK, status, "%s: %s", path, body)
	}
	assert.Zero(t, counted.calls.Load(), "limiter calls on the read paths")

	req := httptest.NewRequest(http.MethodPost, "/chat/stream", strings.NewReader(`{"message":"hello"}`))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	assert.Positive(t, counted.calls.Load(), "a chat request reached no limiter: the counting is broken")
}
