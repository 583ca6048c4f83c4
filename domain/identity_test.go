package domain_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/domain"
)

func TestAcceptsClaims(t *testing.T) {
	t.Parallel()
	valid := domain.Claims{Subject: "u1", TenantID: "acme", Role: domain.RoleMember, TokenVersion: 1}
	tests := []struct {
		name   string
		user   func(u *domain.User)
		claims func(c *domain.Claims)
		want   error
	}{
		{name: "matching"},
		{name: "version raised", user: func(u *domain.User) { u.RevokeTokens(now) }, want: domain.ErrInvalidToken},
		{name: "older version claimed", claims: func(c *domain.Claims) { c.TokenVersion = 0 }, want: domain.ErrInvalidToken},
		{name: "newer version claimed", claims: func(c *domain.Claims) { c.TokenVersion = 2 }, want: domain.ErrInvalidToken},
		{name: "tenant changed", claims: func(c *domain.Claims) { c.TenantID = "globex" }, want: domain.ErrInvalidToken},
		{name: "token without tenant", claims: func(c *domain.Claims) { c.TenantID = "" }, want: domain.ErrInvalidToken},
		{name: "role changed", claims: func(c *domain.Claims) { c.Role = domain.RoleTenantAdmin }, want: domain.ErrInvalidToken},
		{name: "disabled user", user: func(u *domain.User) { u.Disabled = true }, want: domain.ErrInvalidToken},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			u := newMember(t, "acme")
			c := valid
			if tc.user != nil {
				tc.user(&u)
			}
			if tc.claims != nil {
				tc.claims(&c)
			}
			err := u.AcceptsClaims(c)
			if tc.want == nil {
				assert.NoError(t, err)
				return
			}
			assert.ErrorIs(t, err, tc.want)
			assert.Equal(t, domain.KindUnauthenticated, domain.KindOf(err))
		})
	}
}

func TestUserPrincipal(t *testing.T) {
	t.Parallel()
	u := newMember(t, "acme")
	u.RevokeTokens(now)

	assert.Equal(t, domain.Principal{UserID: "u1", Email: "ivy@acme.test", Role: domain.RoleMember, TenantID: "acme", TokenVersion: 2}, u.Principal())
}

func TestPrincipalCanAdminTenant(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name         string
		who          domain.Principal
		target       domain.TenantID
		want         bool
		wantPlatform bool
	}{
		{name: "platform admin, any tenant", who: principal(domain.RolePlatformAdmin, ""), target: "globex", want: true, wantPlatform: true},
		{name: "tenant admin, own", who: principal(domain.RoleTenantAdmin, "acme"), target: "acme", want: true},
		{name: "tenant admin, other", who: principal(domain.RoleTenantAdmin, "acme"), target: "globex"},
		{name: "tenant admin without tenant, empty target", who: principal(domain.RoleTenantAdmin, ""), target: ""},
		{name: "member, own", who: principal(domain.RoleMember, "acme"), target: "acme"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			assert.Equal(t, tc.want, tc.who.CanAdminTenant(tc.target))
			assert.Equal(t, tc.wantPlatform, tc.who.IsPlatformAdmin())
		})
	}
}

func TestRefreshTokenUsable(t *testing.T) {
	t.Parallel()
	exp := now.Add(time.Hour)
	earlier := now.Add(-time.Minute)
	tests := []struct {
		name    string
		token   domain.RefreshToken
		at      time.Time
		wantErr bool
	}{
		{name: "fresh", token: domain.RefreshToken{ExpiresAt: exp}, at: now},
		{name: "a nanosecond before expiry", token: domain.RefreshToken{ExpiresAt: exp}, at: exp.Add(-time.Nanosecond)},
		{name: "at expiry", token: domain.RefreshToken{ExpiresAt: exp}, at: exp, wantErr: true},
		{name: "after expiry", token: domain.RefreshToken{ExpiresAt: exp}, at: exp.Add(time.Second), wantErr: true},
		{name: "used", token: domain.RefreshToken{ExpiresAt: exp, UsedAt: &earlier}, at: now, wantErr: true},
		{name: "revoked", token: domain.RefreshToken{ExpiresAt: exp, RevokedAt: &earlier}, at: now, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := tc.token.Usable(tc.at)
			if tc.wantErr {
				assert.ErrorIs(t, err, domain.ErrInvalidRefreshToken)
				return
			}
			assert.NoError(t, err)
		})
	}
}

func TestSigningKeyVerifies(t *testing.T) {
	t.Parallel()
	ttl := 15 * time.Minute
	retired := now
	tests := []struct {
		name       string
		key        domain.SigningKey
		at         time.Time
		want       bool
		wantActive bool
	}{
		{name: "active", key: domain.SigningKey{KID: "k1"}, at: now.Add(1000 * time.Hour), want: true, wantActive: true},
		{name: "retired, within the window", key: domain.SigningKey{KID: "k1", RetiredAt: &retired}, at: now.Add(ttl - time.Nanosecond), want: true},
		{name: "retired, at the end of the window", key: domain.SigningKey{KID: "k1", RetiredAt: &retired}, at: now.Add(ttl)},
		{name: "retired, after the window", key: domain.SigningKey{KID: "k1", RetiredAt: &retired}, at: now.Add(ttl + time.Hour)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			assert.Equal(t, tc.want, tc.key.Verifies(tc.at, ttl))
			assert.Equal(t, tc.wantActive, tc.key.Active())
		})
	}
}

func TestQuota(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		quota     int64
		prompt    int64
		complete  int64
		wantLeft  int64
		wantError bool
	}{
		{name: "unlimited", quota: 0, prompt: 1 << 40, wantLeft: -1},
		{name: "unused", quota: 1000, wantLeft: 1000},
		{name: "partly used", quota: 1000, prompt: 300, complete: 200, wantLeft: 500},
		{name: "one token left", quota: 1000, prompt: 999, wantLeft: 1},
		{name: "exactly used up", quota: 1000, prompt: 600, complete: 400, wantLeft: 0, wantError: true},
		{name: "overdrawn", quota: 1000, prompt: 5000, wantLeft: 0, wantError: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tn := validTenant(t)
			tn.Limits.MonthlyTokenQuota = tc.quota
			used := domain.UsageTotals{PromptTokens: tc.prompt, CompletionTokens: tc.complete}

			assert.Equal(t, tc.wantLeft, tn.QuotaLeft(used))
			now := time.Date(2026, 2, 27, 23, 59, 30, 0, time.UTC)
			err := tn.CheckQuota(used, now)
			if tc.wantError {
				assert.ErrorIs(t, err, domain.ErrQuotaExceeded)
				assert.Equal(t, domain.KindRateLimited, domain.KindOf(err))
				assert.Equal(t, 24*3600+30, domain.AsError(err).RetryAfterSeconds, "until March 1st, 00:00 UTC")
				return
			}
			assert.NoError(t, err)
		})
	}
}

func TestMonthStart(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		at   time.Time
		want time.Time
	}{
		{name: "mid month", at: now, want: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)},
		{name: "first instant", at: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), want: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)},
		{name: "last instant of the year", at: time.Date(2025, 12, 31, 23, 59, 59, 999, time.UTC), want: time.Date(2025, 12, 1, 0, 0, 0, 0, time.UTC)},
		// 00:30 on 1 April in UTC+2 is still March in UTC.
		{name: "in another zone", at: time.Date(2026, 4, 1, 0, 30, 0, 0, time.FixedZone("X", 2*3600)), want: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := domain.MonthStart(tc.at)
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestUsageTotals(t *testing.T) {
	t.Parallel()
	assert.Equal(t, int64(15), domain.UsageTotals{PromptTokens: 10, CompletionTokens: 5, ReadUnits: 100}.Tokens())
	assert.Equal(t, 7, domain.Usage{PromptTokens: 3, CompletionTokens: 4}.Total())
}

func TestSecretNeverMarshalsItsValue(t *testing.T) {
	t.Parallel()
	tn := domain.Tenant{LLM: domain.LLMSettings{APIKey: domain.Secret("sk-live-abcdefghijkl")}}
	b, err := json.Marshal(tn)
	require.NoError(t, err)
	assert.NotContains(t, string(b), "sk-live")
	assert.Contains(t, string(b), `"APIKey":"[redacted]"`)
	empty, err := json.Marshal(domain.Secret(""))
	require.NoError(t, err)
	assert.Equal(t, `""`, string(empty))
}
