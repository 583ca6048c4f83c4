package memory

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/domain"
)

var t0 = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

func TestAttemptLimiterForgetsIdleKeysAndKeepsAtMostMax(t *testing.T) {
	l := NewAttemptLimiter(3, time.Minute)
	ctx := t.Context()
	for i := range 10 {
		n, err := l.Fail(ctx, "a", t0)
		require.NoError(t, err)
		assert.Equal(t, min(i+1, 3), n, "failures counted up to the limit")
	}
	assert.Len(t, l.fails["a"], 3)
	_, err := l.Fail(ctx, "b", t0)
	require.NoError(t, err)
	_, err = l.Fail(ctx, "c", t0.Add(2*time.Minute))
	require.NoError(t, err)
	assert.NotContains(t, l.fails, "a")
	assert.NotContains(t, l.fails, "b")
	assert.Contains(t, l.fails, "c")
}

func TestRateLimiterForgetsFullBuckets(t *testing.T) {
	l := NewRateLimiter()
	ctx := t.Context()
	_, err := l.Allow(ctx, "a", 60, t0)
	require.NoError(t, err)
	_, err = l.Allow(ctx, "b", 60, t0.Add(2*time.Minute))
	require.NoError(t, err)
	assert.NotContains(t, l.tat, "a")
	assert.Contains(t, l.tat, "b")
}

func TestStreamSlotsForgetKeysWithNoSlotTaken(t *testing.T) {
	s := NewStreamSlots()
	release, err := s.Acquire(t.Context(), "acme", 1)
	require.NoError(t, err)
	assert.Equal(t, 1, s.InUse("acme"))
	release()
	assert.Equal(t, 0, s.InUse("acme"))
	assert.NotContains(t, s.inUse, "acme")
}

func TestRefreshTokensExpiredLongAgoArePruned(t *testing.T) {
	db := NewDB()
	ctx := t.Context()
	u := domain.User{ID: "u", Email: "u@example.com", Role: domain.RoleMember}
	require.NoError(t, db.Users().Create(ctx, u))
	store := db.RefreshTokens()
	require.NoError(t, store.Create(ctx, domain.RefreshToken{Hash: "old", FamilyID: "f", UserID: "u", CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}))
	later := t0.Add(refreshRetention + 2*time.Hour)
	require.NoError(t, store.Create(ctx, domain.RefreshToken{Hash: "new", FamilyID: "g", UserID: "u", CreatedAt: later, ExpiresAt: later.Add(time.Hour)}))
	assert.NotContains(t, db.refresh, "old")
	assert.Contains(t, db.refresh, "new")
}
