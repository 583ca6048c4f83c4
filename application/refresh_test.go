package application_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/application"
	"github.com/tenantry/tenantry/domain"
)

// loggedIn stores tenant acme with one member, logs them in and returns the tokens.
func loggedIn(t *testing.T, e *env) (domain.User, application.Tokens) {
	t.Helper()
	acme := e.tenant("acme")
	u := e.user("henry@acme.test", domain.RoleMember, acme.ID)
	tok, err := e.login().Execute(context.Background(), application.LoginInput{Email: "henry@acme.test", Password: password, ClientIP: "10.0.0.1"})
	require.NoError(t, err)
	return u, tok
}

func TestRefreshRotatesWithinTheFamily(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	u, first := loggedIn(t, e)
	refresh := e.refresh()

	second, err := refresh.Execute(ctx, first.RefreshToken)
	require.NoError(t, err)
	assert.NotEqual(t, first.RefreshToken, second.RefreshToken)
	claims, err := e.verifier.Verify(ctx, second.AccessToken)
	require.NoError(t, err)
	assert.Equal(t, u.ID, claims.Subject)
	assert.Equal(t, u.TenantID, claims.TenantID)

	third, err := refresh.Execute(ctx, second.RefreshToken)
	require.NoError(t, err, "the rotated token works once")
	assert.NotEqual(t, second.RefreshToken, third.RefreshToken)
}

func TestRefreshReuseRevokesTheWholeFamily(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	_, first := loggedIn(t, e)
	refresh := e.refresh()
	second, err := refresh.Execute(ctx, first.RefreshToken)
	require.NoError(t, err)
	third, err := refresh.Execute(ctx, second.RefreshToken)
	require.NoError(t, err)

	_, err = refresh.Execute(ctx, first.RefreshToken)
	require.ErrorIs(t, err, domain.ErrInvalidRefreshToken, "a rotated token is spent")

	_, err = refresh.Execute(ctx, third.RefreshToken)
	assert.ErrorIs(t, err, domain.ErrInvalidRefreshToken, "reuse revokes the newest token of the family too")
}

func TestRefreshReuseLeavesOtherFamiliesAlone(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	_, phone := loggedIn(t, e)
	laptop, err := e.login().Execute(ctx, application.LoginInput{Email: "henry@acme.test", Password: password, ClientIP: "10.0.0.2"})
	require.NoError(t, err)
	refresh := e.refresh()
	_, err = refresh.Execute(ctx, phone.RefreshToken)
	require.NoError(t, err)

	_, err = refresh.Execute(ctx, phone.RefreshToken)
	require.ErrorIs(t, err, domain.ErrInvalidRefreshToken)

	_, err = refresh.Execute(ctx, laptop.RefreshToken)
	assert.NoError(t, err, "another login's family is a separate family")
}

func TestRefreshFails(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		before func(t *testing.T, e *env, u domain.User) // runs between login and refresh
		raw    func(tok application.Tokens) string
	}{
		{name: "expired", before: func(t *testing.T, e *env, _ domain.User) { e.clock.Advance(e.policy.RefreshTTL) }},
		{name: "user disabled", before: func(t *testing.T, e *env, u domain.User) {
			_, err := e.db.Users().Update(context.Background(), u.ID, func(u *domain.User) error { u.SetDisabled(true, e.clock.Now()); return nil })
			require.NoError(t, err)
		}},
		{name: "user moved to another tenant", before: func(t *testing.T, e *env, u domain.User) {
			e.tenant("globex")
			_, err := e.db.Users().Update(context.Background(), u.ID, func(u *domain.User) error { u.TenantID = "globex"; return nil })
			require.NoError(t, err)
		}},
		{name: "user unassigned", before: func(t *testing.T, e *env, u domain.User) {
			_, err := e.db.Users().Update(context.Background(), u.ID, func(u *domain.User) error { u.TenantID = ""; return nil })
			require.NoError(t, err)
		}},
		{name: "unknown token", raw: func(application.Tokens) string { return "bm90LWEtdG9rZW4" }},
		{name: "empty token", raw: func(application.Tokens) string { return "" }},
		{name: "oversized token", raw: func(application.Tokens) string { return strings.Repeat("a", 513) }},
		{name: "access token instead", raw: func(tok application.Tokens) string { return tok.AccessToken }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			u, tok := loggedIn(t, e)
			if tc.before != nil {
				tc.before(t, e, u)
			}
			raw := tok.RefreshToken
			if tc.raw != nil {
				raw = tc.raw(tok)
			}

			_, err := e.refresh().Execute(context.Background(), raw)

			requireKind(t, domain.KindUnauthenticated, err)
			assert.ErrorIs(t, err, domain.ErrInvalidRefreshToken)
		})
	}
}

func TestRefreshRefusedForDisabledUserRevokesTheFamily(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	u, tok := loggedIn(t, e)
	setDisabled := func(d bool) {
		_, err := e.db.Users().Update(ctx, u.ID, func(u *domain.User) error { u.SetDisabled(d, e.clock.Now()); return nil })
		require.NoError(t, err)
	}
	setDisabled(true)
	_, err := e.refresh().Execute(ctx, tok.RefreshToken)
	require.ErrorIs(t, err, domain.ErrInvalidRefreshToken)

	setDisabled(false)
	_, err = e.refresh().Execute(ctx, tok.RefreshToken)
	assert.ErrorIs(t, err, domain.ErrInvalidRefreshToken, "re-enabling the user does not revive the token")
}

func TestRefreshJustBeforeExpiryWorks(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	_, tok := loggedIn(t, e)
	e.clock.Advance(e.policy.RefreshTTL - time.Second)

	_, err := e.refresh().Execute(context.Background(), tok.RefreshToken)
	assert.NoError(t, err)
}

func TestRefreshOutageIsUnavailable(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	_, tok := loggedIn(t, e)
	e.db.SetDown(true)

	_, err := e.refresh().Execute(context.Background(), tok.RefreshToken)

	requireKind(t, domain.KindUnavailable, err)
	e.db.SetDown(false)
	_, err = e.refresh().Execute(context.Background(), tok.RefreshToken)
	assert.NoError(t, err, "an outage does not spend the token")
}

func TestRevokeTokenRevokesTheFamily(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		revoke func(first, second application.Tokens) string
	}{
		{name: "the current token", revoke: func(_, second application.Tokens) string { return second.RefreshToken }},
		{name: "an earlier token of the family", revoke: func(first, _ application.Tokens) string { return first.RefreshToken }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			ctx := context.Background()
			_, first := loggedIn(t, e)
			second, err := e.refresh().Execute(ctx, first.RefreshToken)
			require.NoError(t, err)

			require.NoError(t, e.revoke().Execute(ctx, tc.revoke(first, second)))

			_, err = e.refresh().Execute(ctx, second.RefreshToken)
			assert.ErrorIs(t, err, domain.ErrInvalidRefreshToken)
		})
	}
}

func TestRevokeTokenUnknownIsNoError(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	_, tok := loggedIn(t, e)

	for _, raw := range []string{"", "unknown-token", strings.Repeat("x", 600)} {
		assert.NoError(t, e.revoke().Execute(ctx, raw), "revoke %.12q", raw)
	}
	_, err := e.refresh().Execute(ctx, tok.RefreshToken)
	assert.NoError(t, err, "revoking unknown tokens touches no family")
}

func TestRefreshTokensAreStoredHashed(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	_, tok := loggedIn(t, e)

	// The raw token is not a key of the store; its SHA-256 is.
	next := domain.RefreshToken{Hash: "successor", CreatedAt: e.clock.Now(), ExpiresAt: e.clock.Now().Add(time.Hour)}
	_, err := e.db.RefreshTokens().Rotate(ctx, tok.RefreshToken, next, e.clock.Now())
	require.ErrorIs(t, err, domain.ErrInvalidRefreshToken)
	rt, err := e.db.RefreshTokens().Rotate(ctx, application.HashRefreshToken(tok.RefreshToken), next, e.clock.Now())
	require.NoError(t, err)
	assert.Equal(t, domain.TenantID("acme"), rt.TenantID)
	assert.Equal(t, e.clock.Now().Add(e.policy.RefreshTTL), rt.ExpiresAt)
}
