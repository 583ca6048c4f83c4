package jwtauth_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/adapters/jwtauth"
	"github.com/tenantry/tenantry/domain"
)

// recordingVerifier accepts tokens listed in valid and records every token it was
// asked about.
type recordingVerifier struct {
	mu    sync.Mutex
	valid map[string]domain.Claims
	asked []string
}

func (r *recordingVerifier) Verify(_ context.Context, token string) (domain.Claims, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.asked = append(r.asked, token)
	if c, ok := r.valid[token]; ok {
		return c, nil
	}
	return domain.Claims{}, domain.ErrInvalidToken
}

func (r *recordingVerifier) askedAbout(token string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, a := range r.asked {
		if a == token {
			n++
		}
	}
	return n
}

func TestCachedVerifier(t *testing.T) {
	t.Parallel()
	clk := newClock()
	claims := domain.Claims{Subject: "u1", Role: domain.RoleMember, TokenVersion: 2, ExpiresAt: clk.Now().Add(time.Minute)}
	inner := &recordingVerifier{valid: map[string]domain.Claims{
		"good":    claims,
		"expired": {Subject: "u2", Role: domain.RoleMember, ExpiresAt: clk.Now().Add(-time.Second)},
	}}
	c := jwtauth.NewCachedVerifier(inner, 100, clk.Now)
	ctx := context.Background()

	for range 3 {
		got, err := c.Verify(ctx, "good")
		require.NoError(t, err)
		assert.Equal(t, claims, got)
	}
	assert.Equal(t, 1, inner.askedAbout("good"), "hits are served from the cache")

	for range 2 {
		_, err := c.Verify(ctx, "bad")
		assert.ErrorIs(t, err, domain.ErrInvalidToken)
	}
	assert.Equal(t, 2, inner.askedAbout("bad"), "failures are not cached")

	for range 2 {
		_, err := c.Verify(ctx, "expired")
		require.NoError(t, err, "the inner verifier's answer is passed on")
	}
	assert.Equal(t, 2, inner.askedAbout("expired"), "an already expired token is not cached")
	assert.Equal(t, 1, c.Len())

	clk.Advance(time.Minute)
	_, err := c.Verify(ctx, "good")
	require.NoError(t, err)
	assert.Equal(t, 2, inner.askedAbout("good"), "entries expire with the token")

	c.Purge()
	assert.Zero(t, c.Len())
}

func TestCachedVerifierIsBounded(t *testing.T) {
	t.Parallel()
	clk := newClock()
	inner := &recordingVerifier{valid: map[string]domain.Claims{}}
	for i := range 2000 {
		inner.valid[fmt.Sprint("tok-", i)] = domain.Claims{Subject: domain.UserID(fmt.Sprint("u", i)), ExpiresAt: clk.Now().Add(time.Hour)}
	}
	c := jwtauth.NewCachedVerifier(inner, 256, clk.Now)
	for i := range 2000 {
		got, err := c.Verify(context.Background(), fmt.Sprint("tok-", i))
		require.NoError(t, err)
		assert.Equal(t, domain.UserID(fmt.Sprint("u", i)), got.Subject)
	}
	assert.LessOrEqual(t, c.Len(), 256)
	assert.Greater(t, c.Len(), 128, "a full cache stays nearly full")

	// Expired entries are the first to go.
	clk.Advance(2 * time.Hour)
	fresh := domain.Claims{Subject: "fresh", ExpiresAt: clk.Now().Add(time.Hour)}
	inner.mu.Lock()
	inner.valid["fresh"] = fresh
	inner.mu.Unlock()
	_, err := c.Verify(context.Background(), "fresh")
	require.NoError(t, err)
	got, err := c.Verify(context.Background(), "fresh")
	require.NoError(t, err)
	assert.Equal(t, fresh, got)
	assert.Equal(t, 1, inner.askedAbout("fresh"))
}

func TestCachedVerifierOverRealTokens(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "ES256")
	c := jwtauth.NewCachedVerifier(e.verifier, 0, e.clock.Now)
	token := e.issue(t, e.claims())
	direct, err := e.verifier.Verify(context.Background(), token)
	require.NoError(t, err)
	for range 2 {
		got, err := c.Verify(context.Background(), token)
		require.NoError(t, err)
		assert.Equal(t, direct, got)
	}
	// A tampered token hashes differently, so the cache cannot vouch for it.
	_, err = c.Verify(context.Background(), token[:len(token)-2]+"AA")
	assert.ErrorIs(t, err, domain.ErrInvalidToken)
}

func TestCachedVerifierConcurrent(t *testing.T) {
	t.Parallel()
	clk := newClock()
	inner := &recordingVerifier{valid: map[string]domain.Claims{}}
	for i := range 64 {
		inner.valid[fmt.Sprint("tok-", i)] = domain.Claims{Subject: domain.UserID(fmt.Sprint("u", i)), ExpiresAt: clk.Now().Add(time.Hour)}
	}
	c := jwtauth.NewCachedVerifier(inner, 32, clk.Now)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 500 {
				n := (i*7 + g) % 64
				got, err := c.Verify(context.Background(), fmt.Sprint("tok-", n))
				if assert.NoError(t, err) {
					assert.Equal(t, domain.UserID(fmt.Sprint("u", n)), got.Subject)
				}
			}
		})
	}
	wg.Wait()
	assert.LessOrEqual(t, c.Len(), 32)
}

// TestCachedVerifierKeyCollisions forces every token onto one cache key: a hit still
// needs the very token that was verified, so colliding tokens get their own claims and
// an unverified token never gets another's.
func TestCachedVerifierKeyCollisions(t *testing.T) {
	t.Parallel()
	clk := newClock()
	alice := domain.Claims{Subject: "alice", Role: domain.RoleMember, ExpiresAt: clk.Now().Add(time.Hour)}
	bob := domain.Claims{Subject: "bob", Role: domain.RoleTenantAdmin, ExpiresAt: clk.Now().Add(time.Hour)}
	inner := &recordingVerifier{valid: map[string]domain.Claims{"token-alice": alice, "token-bob": bob}}
	c := jwtauth.NewCachedVerifier(inner, 100, clk.Now)
	jwtauth.SetCacheKey(c, func(string) uint64 { return 42 })
	ctx := context.Background()

	got, err := c.Verify(ctx, "token-alice")
	require.NoError(t, err)
	assert.Equal(t, alice, got)

	for _, forged := range []string{"token-alicf", "token-alic", "token-alice\x00", ""} {
		_, err = c.Verify(ctx, forged)
		assert.ErrorIs(t, err, domain.ErrInvalidToken, "%q shares alice's key but is not her token", forged)
	}

	got, err = c.Verify(ctx, "token-bob")
	require.NoError(t, err)
	assert.Equal(t, bob, got, "a colliding token gets its own claims")
	got, err = c.Verify(ctx, "token-alice")
	require.NoError(t, err)
	assert.Equal(t, alice, got)
	assert.Equal(t, 2, inner.askedAbout("token-alice"), "bob's entry replaced alice's, so she was verified again")

	got, err = c.Verify(ctx, "token-alice")
	require.NoError(t, err)
	assert.Equal(t, alice, got)
	assert.Equal(t, 2, inner.askedAbout("token-alice"), "and is then served from the cache")
}
