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

func TestTenantRepresentation(t *testing.T) {
	ev := newEnv(t)
	_, err := ev.db.Tenants().Update(t.Context(), "acme", func(tn *domain.Tenant) error {
		tn.LLM.APIKey = "sk-very-secret-key-1234"
		return nil
	})
	require.NoError(t, err)
	rec := ev.as("acme-admin", http.MethodGet, "/tenant", "")
	require.Equal(t, http.StatusOK, rec.Code)
	assert.NotContains(t, rec.Body.String(), "sk-very-secret")
	var got map[string]any
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &got))
	keys := func(m any) []string {
		var out []string
		for k := range m.(map[string]any) {
			out = append(out, k)
		}
		return out
	}
	assert.ElementsMatch(t, []string{"id", "name", "status", "system_prompt", "retrieval", "vector_store", "embedder", "llm", "limits", "created_at", "updated_at"}, keys(got))
	assert.ElementsMatch(t, []string{"top_k", "min_score", "mode", "mode_auto"}, keys(got["retrieval"]))
	assert.ElementsMatch(t, []string{"provider", "index_host", "namespace", "api_key_set", "api_key_last4"}, keys(got["vector_store"]))
	assert.ElementsMatch(t, []string{"provider", "model", "dimensions", "send_dimensions", "api_key_set", "api_key_last4"}, keys(got["embedder"]))
	assert.ElementsMatch(t, []string{"provider", "base_url", "model", "temperature", "max_tokens", "max_tokens_param", "api_key_set", "api_key_last4"}, keys(got["llm"]))
	assert.ElementsMatch(t, []string{"requests_per_minute", "max_concurrent_streams", "monthly_token_quota"}, keys(got["limits"]))
	llm := got["llm"].(map[string]any)
	assert.Equal(t, true, llm["api_key_set"])
	assert.Equal(t, "1234", llm["api_key_last4"])
	assert.Equal(t, false, got["vector_store"].(map[string]any)["api_key_set"])
}

func TestTenantMergePatch(t *testing.T) {
	ev := newEnv(t)
	rec := ev.as("acme-admin", http.MethodPatch, "/tenant",
		`{"system_prompt":"Be brief.","retrieval":{"top_k":6},"llm":{"api_key":"sk-abcdefgh-9876"}}`,
		"Content-Type", "application/merge-patch+json")
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	assert.NotContains(t, rec.Body.String(), "sk-abcdefgh")
	var got tenantView
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &got))
	assert.Equal(t, "Be brief.", got.SystemPrompt)
	assert.Equal(t, 6, got.Retrieval.TopK)
	assert.True(t, got.LLM.APIKeySet)
	assert.Equal(t, "9876", got.LLM.APIKeyLast4)
	stored, err := ev.db.Tenants().Get(t.Context(), "acme")
	require.NoError(t, err)
	assert.Equal(t, "sk-abcdefgh-9876", stored.LLM.APIKey.Reveal())
	assert.Equal(t, domain.DefaultMaxTokens, stored.LLM.MaxTokens, "untouched fields stay")

	// null clears a write-only key (RFC 7396 removal).
	rec = ev.as("acme-admin", http.MethodPatch, "/tenant", `{"llm":{"api_key":null}}`)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &got))
	assert.False(t, got.LLM.APIKeySet)

	// The audit log names the changed fields, never the key.
	rec = ev.as("acme-admin", http.MethodGet, "/tenant/audit", "")
	require.Equal(t, http.StatusOK, rec.Code)
	assert.Contains(t, rec.Body.String(), "llm.api_key")
	assert.NotContains(t, rec.Body.String(), "sk-abcdefgh")
}

type tenantView struct {
	ID           string `json:"id"`
	Status       string `json:"status"`
	SystemPrompt string `json:"system_prompt"`
	Retrieval    struct {
		TopK int `json:"top_k"`
	} `json:"retrieval"`
	LLM struct {
		BaseURL     string `json:"base_url"`
		APIKeySet   bool   `json:"api_key_set"`
		APIKeyLast4 string `json:"api_key_last4"`
	} `json:"llm"`
}

func TestTenantPatchRejections(t *testing.T) {
	ev := newEnv(t)
	tests := []struct {
		name       string
		user       string
		body       string
		ct         string
		wantStatus int
		wantCode   string
		wantFields []string
	}{
		{name: "unknown fields are all listed", user: "acme-admin", body: `{"colour":"red","retrieval":{"top_k":3,"depth":2},"llm":{"api_key_last4":"1234"}}`,
			wantStatus: 400, wantCode: "invalid_request", wantFields: []string{"colour", "llm.api_key_last4", "retrieval.depth"}},
		{name: "wrong types are listed", user: "acme-admin", body: `{"system_prompt":5,"retrieval":{"top_k":"many","min_score":true}}`,
			wantStatus: 400, wantCode: "invalid_request", wantFields: []string{"retrieval.min_score", "retrieval.top_k", "system_prompt"}},
		{name: "fractional integer", user: "acme-admin", body: `{"retrieval":{"top_k":2.5}}`, wantStatus: 400, wantCode: "invalid_request", wantFields: []string{"retrieval.top_k"}},
		{name: "invalid values are listed", user: "acme-admin", body: `{"retrieval":{"top_k":0,"min_score":3}}`,
			wantStatus: 400, wantCode: "invalid_request", wantFields: []string{"retrieval.top_k", "retrieval.min_score"}},
		{name: "null object", user: "acme-admin", body: `{"retrieval":null}`, wantStatus: 400, wantCode: "invalid_request", wantFields: []string{"retrieval"}},
		{name: "not an object", user: "acme-admin", body: `[1,2]`, wantStatus: 400, wantCode: "invalid_request"},
		{name: "read-only id", user: "acme-admin", body: `{"id":"other"}`, wantStatus: 400, wantCode: "invalid_request", wantFields: []string{"id"}},
		{name: "tenant admin may not set vendor endpoints", user: "acme-admin", body: `{"llm":{"base_url":"https://internal.example"}}`,
			wantStatus: 403, wantCode: "forbidden", wantFields: []string{"llm.base_url"}},
		{name: "tenant admin may not change limits", user: "acme-admin", body: `{"limits":{"requests_per_minute":1}}`,
			wantStatus: 403, wantCode: "forbidden", wantFields: []string{"limits.requests_per_minute"}},
		{name: "member may not patch", user: "acme-member", body: `{"system_prompt":"x"}`, wantStatus: 403, wantCode: "forbidden"},
		{name: "text content type", user: "acme-admin", body: `{}`, ct: "text/plain", wantStatus: 415, wantCode: "unsupported_media_type"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ct := tc.ct
			if ct == "" {
				ct = "application/merge-patch+json"
			}
			rec := ev.as(tc.user, http.MethodPatch, "/tenant", tc.body, "Content-Type", ct)
			p := requireProblem(t, rec, tc.wantStatus, tc.wantCode)
			if tc.wantFields != nil {
				assert.ElementsMatch(t, tc.wantFields, fieldsOf(p))
			}
		})
	}
	stored, err := ev.db.Tenants().Get(t.Context(), "acme")
	require.NoError(t, err)
	assert.Equal(t, domain.DefaultTopK, stored.Retrieval.TopK, "nothing changed")
	assert.Empty(t, stored.LLM.BaseURL)
}

func TestAdminTenants(t *testing.T) {
	ev := newEnv(t)
	// Only platform admins reach /admin.
	requireProblem(t, ev.as("acme-admin", http.MethodGet, "/admin/tenants", ""), http.StatusForbidden, "forbidden")
	requireProblem(t, ev.as("acme-admin", http.MethodGet, "/admin/tenants/acme", ""), http.StatusForbidden, "forbidden")

	rec := ev.as("root", http.MethodPost, "/admin/tenants", `{"id":"initech","name":"Initech"}`)
	require.Equal(t, http.StatusCreated, rec.Code, rec.Body.String())
	assert.Equal(t, "/admin/tenants/initech", rec.Header().Get("Location"))
	requireProblem(t, ev.as("root", http.MethodPost, "/admin/tenants", `{"id":"initech","name":"Again"}`), http.StatusConflict, "conflict")
	p := requireProblem(t, ev.as("root", http.MethodPost, "/admin/tenants", `{"id":"No Caps","name":"x"}`), http.StatusBadRequest, "invalid_request")
	assert.Equal(t, []string{"id"}, fieldsOf(p))

	rec = ev.as("root", http.MethodGet, "/admin/tenants?limit=2", "")
	require.Equal(t, http.StatusOK, rec.Code)
	var list struct {
		Items []tenantView `json:"items"`
	}
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &list))
	require.Len(t, list.Items, 2)

	requireProblem(t, ev.as("root", http.MethodGet, "/admin/tenants/nope-nope", ""), http.StatusNotFound, "not_found")
	requireProblem(t, ev.as("root", http.MethodGet, "/admin/tenants/BAD!", ""), http.StatusNotFound, "not_found")

	// Platform admins may point the LLM at an https endpoint, not plain http.
	rec = ev.as("root", http.MethodPatch, "/admin/tenants/initech", `{"llm":{"base_url":"https://llm.example/v1"}}`)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	p = requireProblem(t, ev.as("root", http.MethodPatch, "/admin/tenants/initech", `{"llm":{"base_url":"http://10.0.0.1/v1"}}`), http.StatusBadRequest, "invalid_request")
	assert.Equal(t, []string{"llm.base_url"}, fieldsOf(p))

	// Delete needs a suspended tenant.
	requireProblem(t, ev.as("root", http.MethodDelete, "/admin/tenants/initech", ""), http.StatusConflict, "tenant_not_suspended")
	rec = ev.as("root", http.MethodPatch, "/admin/tenants/initech", `{"status":"suspended"}`)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	assert.Equal(t, http.StatusNoContent, ev.as("root", http.MethodDelete, "/admin/tenants/initech", "").Code)
	requireProblem(t, ev.as("root", http.MethodGet, "/admin/tenants/initech", ""), http.StatusNotFound, "not_found")

	rec = ev.as("root", http.MethodGet, "/admin/audit?tenant_id=initech", "")
	require.Equal(t, http.StatusOK, rec.Code)
	for _, action := range []string{"tenant.create", "tenant.update", "tenant.delete"} {
		assert.Contains(t, rec.Body.String(), action)
	}
	requireProblem(t, ev.as("root", http.MethodGet, "/admin/audit?tenant_id=NOT%20VALID", ""), http.StatusBadRequest, "invalid_request")
}

func TestUserAdministration(t *testing.T) {
	ev := newEnv(t)
	rec := ev.as("acme-admin", http.MethodPost, "/tenant/users", `{"email":"New@Example.com","password":"long enough pw","role":"member"}`)
	require.Equal(t, http.StatusCreated, rec.Code, rec.Body.String())
	var u struct {
		ID       string  `json:"id"`
		Email    string  `json:"email"`
		Role     string  `json:"role"`
		TenantID *string `json:"tenant_id"`
		Disabled bool    `json:"disabled"`
	}
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &u))
	assert.Equal(t, "new@example.com", u.Email)
	require.NotNil(t, u.TenantID)
	assert.Equal(t, "acme", *u.TenantID)
	assert.NotContains(t, rec.Body.String(), "password")

	// The tenant comes from the caller, never the body.
	p := requireProblem(t, ev.as("acme-admin", http.MethodPost, "/tenant/users", `{"email":"x@example.com","password":"long enough pw","tenant_id":"globex"}`),
		http.StatusBadRequest, "invalid_request")
	assert.Equal(t, []string{"tenant_id"}, fieldsOf(p))
	requireProblem(t, ev.as("acme-admin", http.MethodPost, "/tenant/users", `{"email":"y@example.com","password":"short"}`), http.StatusBadRequest, "invalid_request")
	requireProblem(t, ev.as("acme-admin", http.MethodPost, "/tenant/users", `{"email":"new@example.com","password":"long enough pw"}`), http.StatusConflict, "conflict")
	requireProblem(t, ev.as("acme-admin", http.MethodPost, "/tenant/users", `{"email":"z@example.com","password":"long enough pw","role":"platform_admin"}`), http.StatusForbidden, "forbidden")
	requireProblem(t, ev.as("acme-member", http.MethodPost, "/tenant/users", `{"email":"w@example.com","password":"long enough pw"}`), http.StatusForbidden, "forbidden")

	rec = ev.as("acme-admin", http.MethodGet, "/tenant/users", "")
	require.Equal(t, http.StatusOK, rec.Code)
	assert.Contains(t, rec.Body.String(), "new@example.com")
	assert.NotContains(t, rec.Body.String(), "globex-admin@example.com")

	// Disable: the user's outstanding token stops working at once.
	tok := ev.token("acme-member")
	rec = ev.as("acme-admin", http.MethodPatch, "/tenant/users/u-acme-member", `{"disabled":true}`)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	assert.Contains(t, rec.Body.String(), `"disabled":true`)
	requireProblem(t, ev.do(http.MethodGet, "/users/me", nil, "Authorization", "Bearer "+tok), http.StatusUnauthorized, "invalid_token")

	// Another tenant's user is 404 through the tenant route; moving users is the platform's.
	requireProblem(t, ev.as("acme-admin", http.MethodPatch, "/tenant/users/u-globex-admin", `{"disabled":true}`), http.StatusNotFound, "not_found")
	requireProblem(t, ev.as("acme-admin", http.MethodPatch, "/tenant/users/"+u.ID, `{"tenant_id":"globex"}`), http.StatusForbidden, "forbidden")
	p = requireProblem(t, ev.as("acme-admin", http.MethodPatch, "/tenant/users/"+u.ID, `{"role":"boss","shoe_size":9}`), http.StatusBadRequest, "invalid_request")
	assert.ElementsMatch(t, []string{"role", "shoe_size"}, fieldsOf(p))
	requireProblem(t, ev.as("acme-admin", http.MethodPatch, "/tenant/users/"+u.ID, `{"disabled":true,"password":"short"}`), http.StatusBadRequest, "invalid_request")
	stored, err := ev.db.Users().Get(t.Context(), domain.UserID(u.ID))
	require.NoError(t, err)
	assert.False(t, stored.Disabled, "a rejected patch changes nothing")

	// A new password works for login.
	rec = ev.as("acme-admin", http.MethodPatch, "/tenant/users/"+u.ID, `{"password":"another long pw"}`)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	rec = ev.form("/auth/token", map[string][]string{"username": {"new@example.com"}, "password": {"another long pw"}})
	assert.Equal(t, http.StatusOK, rec.Code)

	// Platform admins assign and unassign tenants.
	rec = ev.as("root", http.MethodPatch, "/admin/users/u-loner", `{"tenant_id":"globex"}`)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	assert.Contains(t, rec.Body.String(), `"tenant_id":"globex"`)
	rec = ev.as("root", http.MethodPatch, "/admin/users/u-loner", `{"tenant_id":null}`)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	assert.Contains(t, rec.Body.String(), `"tenant_id":null`)
	requireProblem(t, ev.as("root", http.MethodPatch, "/admin/users/u-nobody", `{"disabled":true}`), http.StatusNotFound, "not_found")

	rec = ev.as("root", http.MethodPost, "/admin/users", `{"email":"ops@example.com","password":"long enough pw","role":"tenant_admin","tenant_id":"globex"}`)
	require.Equal(t, http.StatusCreated, rec.Code, rec.Body.String())
	rec = ev.as("root", http.MethodGet, "/admin/users?tenant_id=globex", "")
	require.Equal(t, http.StatusOK, rec.Code)
	assert.Contains(t, rec.Body.String(), "ops@example.com")
	assert.NotContains(t, rec.Body.String(), "acme-admin@example.com")
	requireProblem(t, ev.as("acme-admin", http.MethodGet, "/admin/users", ""), http.StatusForbidden, "forbidden")
}

func TestUsageReports(t *testing.T) {
	ev := newEnv(t)
	require.NoError(t, ev.db.Usage().Record(t.Context(), domain.UsageRecord{TenantID: "acme", UserID: "u-acme-member", Model: "m",
		PromptTokens: 10, CompletionTokens: 5, At: timeNow()}))
	_, err := ev.db.Tenants().Update(t.Context(), "acme", func(tn *domain.Tenant) error { tn.Limits.MonthlyTokenQuota = 100; return nil })
	require.NoError(t, err)

	rec := ev.as("acme-member", http.MethodGet, "/usage", "")
	require.Equal(t, http.StatusOK, rec.Code)
	var u map[string]any
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &u))
	assert.Equal(t, "acme", u["tenant_id"])
	assert.EqualValues(t, 15, u["total_tokens"])
	assert.EqualValues(t, 100, u["monthly_token_quota"])
	assert.EqualValues(t, 85, u["tokens_left"])

	rec = ev.as("globex-admin", http.MethodGet, "/usage", "")
	require.Equal(t, http.StatusOK, rec.Code)
	assert.Contains(t, rec.Body.String(), `"tokens_left":null`, "unlimited")

	rec = ev.as("root", http.MethodGet, "/admin/usage", "")
	require.Equal(t, http.StatusOK, rec.Code)
	assert.Contains(t, rec.Body.String(), `"tenant_id":"acme"`)
	requireProblem(t, ev.as("acme-admin", http.MethodGet, "/admin/usage", ""), http.StatusForbidden, "forbidden")
	requireProblem(t, ev.as("acme-member", http.MethodGet, "/tenant/audit", ""), http.StatusForbidden, "forbidden")
}

func TestUnknownJSONFieldIsNamed(t *testing.T) {
	ev := newEnv(t)
	p := requireProblem(t, ev.as("root", http.MethodPost, "/admin/tenants", `{"id":"abc","name":"A","plan":"gold"}`), http.StatusBadRequest, "invalid_request")
	assert.Equal(t, []string{"plan"}, fieldsOf(p))
	assert.True(t, strings.Contains(p.Detail, "plan"))
}
