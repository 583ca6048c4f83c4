package httpapi_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/domain"
)

func TestProtectedRoutesNeedAValidBearer(t *testing.T) {
	ev := newEnv(t)
	good := ev.token("acme-member")
	tests := []struct {
		name   string
		header []string
	}{
		{name: "no header"},
		{name: "unknown token", header: []string{"Authorization", "Bearer at.nope"}},
		{name: "basic auth", header: []string{"Authorization", "Basic dXNlcjpwYXNz"}},
		{name: "two tokens", header: []string{"Authorization", "Bearer " + good + " " + good}},
		{name: "two headers", header: []string{"Authorization", "Bearer " + good, "Authorization", "Bearer " + good}},
		{name: "oversized", header: []string{"Authorization", "Bearer " + strings.Repeat("a", 5000)}},
	}
	for _, path := range []string{"/users/me", "/tenant", "/documents", "/admin/tenants", "/conversations", "/usage"} {
		for _, tc := range tests {
			t.Run(path+" "+tc.name, func(t *testing.T) {
				rec := ev.do(http.MethodGet, path, nil, tc.header...)
				requireProblem(t, rec, http.StatusUnauthorized, "invalid_token")
				assert.Equal(t, `Bearer error="invalid_token"`, rec.Header().Get("WWW-Authenticate"))
			})
		}
	}
	rec := ev.do(http.MethodGet, "/users/me", nil, "Authorization", "bearer "+good)
	assert.Equal(t, http.StatusOK, rec.Code, "the scheme is case-insensitive")
}

func TestUsersMe(t *testing.T) {
	ev := newEnv(t)
	rec := ev.as("acme-admin", http.MethodGet, "/users/me", "")
	require.Equal(t, http.StatusOK, rec.Code)
	var me map[string]any
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &me))
	assert.Equal(t, "u-acme-admin", me["id"])
	assert.Equal(t, "acme-admin@example.com", me["email"])
	assert.Equal(t, "tenant_admin", me["role"])
	assert.Equal(t, "acme", me["tenant_id"])
	assert.Equal(t, map[string]any{"id": "acme", "name": "Acme"}, me["tenant"])
	assert.NotEmpty(t, me["created_at"])

	rec = ev.as("loner", http.MethodGet, "/users/me", "")
	require.Equal(t, http.StatusOK, rec.Code)
	me = nil
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &me))
	assert.Contains(t, me, "tenant_id")
	assert.Nil(t, me["tenant_id"], "null when unassigned")
	assert.Nil(t, me["tenant"])
}

func TestTenantResolutionOutcomes(t *testing.T) {
	t.Run("user without tenant", func(t *testing.T) {
		ev := newEnv(t)
		requireProblem(t, ev.as("loner", http.MethodGet, "/tenant", ""), http.StatusForbidden, "tenant_required")
	})
	t.Run("suspended tenant", func(t *testing.T) {
		ev := newEnv(t)
		tok := ev.token("acme-member")
		_, err := ev.db.Tenants().Update(t.Context(), "acme", func(tn *domain.Tenant) error { tn.Status = domain.TenantSuspended; return nil })
		require.NoError(t, err)
		rec := ev.do(http.MethodGet, "/documents", nil, "Authorization", "Bearer "+tok)
		requireProblem(t, rec, http.StatusForbidden, "tenant_suspended")
	})
	t.Run("deleted tenant", func(t *testing.T) {
		ev := newEnv(t)
		tok := ev.token("globex-admin")
		require.NoError(t, ev.db.Tenants().Delete(t.Context(), "globex"))
		rec := ev.do(http.MethodGet, "/tenant", nil, "Authorization", "Bearer "+tok)
		requireProblem(t, rec, http.StatusUnauthorized, "invalid_token")
		assert.Equal(t, `Bearer error="invalid_token"`, rec.Header().Get("WWW-Authenticate"))
	})
	t.Run("reassigned user", func(t *testing.T) {
		ev := newEnv(t)
		tok := ev.token("acme-member")
		_, err := ev.db.Users().Update(t.Context(), "u-acme-member", func(u *domain.User) error { u.AssignTo("globex", u.UpdatedAt); return nil })
		require.NoError(t, err)
		rec := ev.do(http.MethodGet, "/tenant", nil, "Authorization", "Bearer "+tok)
		requireProblem(t, rec, http.StatusUnauthorized, "invalid_token")
	})
	t.Run("tenant headers and query are ignored", func(t *testing.T) {
		ev := newEnv(t)
		rec := ev.as("acme-admin", http.MethodGet, "/tenant?tenant_id=globex", "", "X-Tenant-ID", "globex")
		require.Equal(t, http.StatusOK, rec.Code)
		assert.Contains(t, rec.Body.String(), `"id":"acme"`)
	})
	t.Run("store outage is 503", func(t *testing.T) {
		ev := newEnv(t)
		tok := ev.token("acme-member")
		ev.db.SetDown(true)
		rec := ev.do(http.MethodGet, "/tenant", nil, "Authorization", "Bearer "+tok)
		requireProblem(t, rec, http.StatusServiceUnavailable, "unavailable")
	})
}
