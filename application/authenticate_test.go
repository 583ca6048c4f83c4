package application_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/application"
	"github.com/tenantry/tenantry/domain"
)

func TestAuthenticateValidToken(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	u, tok := loggedIn(t, e)

	got, err := e.authenticate().Execute(context.Background(), tok.AccessToken)

	require.NoError(t, err)
	assert.Equal(t, domain.Principal{UserID: u.ID, Email: u.Email, Role: domain.RoleMember, TenantID: "acme", TokenVersion: 1}, got)
}

func TestAuthenticateRejectsOutdatedTokens(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		change func(t *testing.T, e *env, admin application.Actor, u domain.User)
	}{
		{name: "password set", change: func(t *testing.T, e *env, admin application.Actor, u domain.User) {
			_, err := e.manageUsers().SetPassword(context.Background(), admin, u.ID, "a brand new password")
			require.NoError(t, err)
		}},
		{name: "user disabled", change: func(t *testing.T, e *env, admin application.Actor, u domain.User) {
			yes := true
			_, err := e.manageUsers().Update(context.Background(), admin, u.ID, domain.UserPatch{Disabled: &yes})
			require.NoError(t, err)
		}},
		{name: "user assigned to another tenant", change: func(t *testing.T, e *env, admin application.Actor, u domain.User) {
			e.tenant("globex")
			other := domain.TenantID("globex")
			_, err := e.manageUsers().Update(context.Background(), admin, u.ID, domain.UserPatch{TenantID: &other})
			require.NoError(t, err)
		}},
		{name: "role changed", change: func(t *testing.T, e *env, admin application.Actor, u domain.User) {
			r := domain.RoleTenantAdmin
			_, err := e.manageUsers().Update(context.Background(), admin, u.ID, domain.UserPatch{Role: &r})
			require.NoError(t, err)
		}},
		{name: "tenant deleted", change: func(t *testing.T, e *env, admin application.Actor, u domain.User) {
			_, err := e.manageTenants(false).SetStatus(context.Background(), admin, u.TenantID, domain.TenantSuspended)
			require.NoError(t, err)
			require.NoError(t, e.manageTenants(false).Delete(context.Background(), admin, u.TenantID))
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			ctx := context.Background()
			u, tok := loggedIn(t, e)
			root := e.user("root@tenantry.test", domain.RolePlatformAdmin, "")
			_, err := e.authenticate().Execute(ctx, tok.AccessToken)
			require.NoError(t, err)

			tc.change(t, e, actor(root), u)

			_, err = e.authenticate().Execute(ctx, tok.AccessToken)
			requireKind(t, domain.KindUnauthenticated, err)
			assert.ErrorIs(t, err, domain.ErrInvalidToken)
			_, err = e.refresh().Execute(ctx, tok.RefreshToken)
			assert.ErrorIs(t, err, domain.ErrInvalidRefreshToken, "the refresh token dies with the access token")
		})
	}
}

func TestAuthenticateRejects(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		token func(t *testing.T, e *env) string
	}{
		{name: "deleted user", token: func(t *testing.T, e *env) string {
			// A correctly signed token whose subject no longer exists.
			now := e.clock.Now()
			tok, err := e.issuer.Issue(context.Background(), domain.Claims{Subject: "11111111-2222-4333-8444-555555555555",
				TenantID: "acme", Role: domain.RoleMember, TokenVersion: 1, TokenID: "jti", IssuedAt: now, ExpiresAt: now.Add(time.Minute)})
			require.NoError(t, err)
			_, err = e.verifier.Verify(context.Background(), tok)
			require.NoError(t, err, "only the missing user may fail it")
			return tok
		}},
		{name: "expired", token: func(t *testing.T, e *env) string {
			_, tok := loggedIn(t, e)
			e.clock.Advance(e.policy.AccessTTL + time.Hour)
			return tok.AccessToken
		}},
		{name: "garbage", token: func(*testing.T, *env) string { return "not-a-jwt" }},
		{name: "empty", token: func(*testing.T, *env) string { return "" }},
		{name: "refresh token instead", token: func(t *testing.T, e *env) string {
			_, tok := loggedIn(t, e)
			return tok.RefreshToken
		}},
		{name: "tampered", token: func(t *testing.T, e *env) string {
			_, tok := loggedIn(t, e)
			b := []byte(tok.AccessToken)
			i := len(b) - 5 // inside the signature
			if b[i] == 'A' {
				b[i] = 'B'
			} else {
				b[i] = 'A'
			}
			return string(b)
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)

			_, err := e.authenticate().Execute(context.Background(), tc.token(t, e))

			requireKind(t, domain.KindUnauthenticated, err)
			assert.ErrorIs(t, err, domain.ErrInvalidToken)
		})
	}
}

func TestAuthenticateStoreDownIsUnavailable(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	_, tok := loggedIn(t, e)
	e.db.SetDown(true)

	_, err := e.authenticate().Execute(context.Background(), tok.AccessToken)

	requireKind(t, domain.KindUnavailable, err)
	assert.NotErrorIs(t, err, domain.ErrInvalidToken)
}

func TestResolveTenant(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		setup   func(e *env) domain.Principal
		wantErr error
	}{
		{name: "active tenant", setup: func(e *env) domain.Principal {
			return e.user("ivy@acme.test", domain.RoleMember, e.tenant("acme").ID).Principal()
		}},
		{name: "no tenant", wantErr: domain.ErrTenantRequired, setup: func(e *env) domain.Principal {
			return e.user("ivy@acme.test", domain.RoleMember, "").Principal()
		}},
		{name: "platform admin without tenant", wantErr: domain.ErrTenantRequired, setup: func(e *env) domain.Principal {
			return e.user("root@tenantry.test", domain.RolePlatformAdmin, "").Principal()
		}},
		{name: "suspended tenant", wantErr: domain.ErrTenantSuspended, setup: func(e *env) domain.Principal {
			acme := e.tenant("acme")
			e.updateTenant(acme.ID, func(t *domain.Tenant) { t.Status = domain.TenantSuspended })
			return e.user("ivy@acme.test", domain.RoleMember, acme.ID).Principal()
		}},
		{name: "deleted tenant", wantErr: domain.ErrInvalidToken, setup: func(e *env) domain.Principal {
			// A principal from a token minted before its tenant was deleted.
			return domain.Principal{UserID: "u1", Email: "ivy@gone.test", Role: domain.RoleMember, TenantID: "gone", TokenVersion: 1}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			p := tc.setup(e)

			got, err := e.resolveTenant().Execute(context.Background(), p)

			if tc.wantErr != nil {
				require.ErrorIs(t, err, tc.wantErr)
				assert.Equal(t, domain.AsError(tc.wantErr).Kind, domain.KindOf(err))
				return
			}
			require.NoError(t, err)
			assert.Equal(t, p, got.Principal)
			assert.Equal(t, p.TenantID, got.Tenant.ID)
			assert.Equal(t, domain.TenantActive, got.Tenant.Status)
		})
	}
}

func TestResolveTenantStoreDownIsUnavailable(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	p := e.user("ivy@acme.test", domain.RoleMember, e.tenant("acme").ID).Principal()
	e.db.SetDown(true)

	_, err := e.resolveTenant().Execute(context.Background(), p)

	requireKind(t, domain.KindUnavailable, err)
}
