package httpapi_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/domain"
)

type tokenBody struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int    `json:"expires_in"`
	RefreshToken string `json:"refresh_token"`
}

type oauthErrBody struct {
	Error       string `json:"error"`
	Description string `json:"error_description"`
}

func requireTokens(t *testing.T, rec *httptest.ResponseRecorder) tokenBody {
	t.Helper()
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	assert.Equal(t, "application/json", rec.Header().Get("Content-Type"))
	assert.Equal(t, "no-store", rec.Header().Get("Cache-Control"))
	assert.Equal(t, "no-cache", rec.Header().Get("Pragma"))
	var tb tokenBody
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &tb))
	assert.NotEmpty(t, tb.AccessToken)
	assert.Equal(t, "bearer", tb.TokenType)
	assert.Equal(t, 900, tb.ExpiresIn)
	assert.NotEmpty(t, tb.RefreshToken)
	return tb
}

func requireOAuthError(t *testing.T, rec *httptest.ResponseRecorder, status int, code string) oauthErrBody {
	t.Helper()
	require.Equal(t, status, rec.Code, rec.Body.String())
	assert.Equal(t, "application/json", rec.Header().Get("Content-Type"))
	assert.Equal(t, "no-store", rec.Header().Get("Cache-Control"))
	assert.Equal(t, "no-cache", rec.Header().Get("Pragma"))
	var b oauthErrBody
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &b))
	assert.Equal(t, code, b.Error)
	var raw map[string]any
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &raw))
	for k := range raw {
		assert.Contains(t, []string{"error", "error_description"}, k, "RFC 6749 §5.2 members only")
	}
	return b
}

func TestTokenPasswordGrant(t *testing.T) {
	ev := newEnv(t)
	tests := []struct {
		name string
		form url.Values
	}{
		{name: "explicit grant type", form: url.Values{"grant_type": {"password"}, "username": {"acme-member@example.com"}, "password": {testPassword}}},
		{name: "grant type omitted as FastAPI allows", form: url.Values{"username": {"acme-member@example.com"}, "password": {testPassword}}},
		{name: "email is case-insensitive", form: url.Values{"username": {"ACME-Member@Example.com"}, "password": {testPassword}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tb := requireTokens(t, ev.form("/auth/token", tc.form))
			rec := ev.do(http.MethodGet, "/users/me", nil, "Authorization", "Bearer "+tb.AccessToken)
			assert.Equal(t, http.StatusOK, rec.Code)
		})
	}
	rec := ev.do(http.MethodPost, "/auth/token",
		strings.NewReader(url.Values{"username": {"acme-member@example.com"}, "password": {testPassword}}.Encode()),
		"Content-Type", "application/x-www-form-urlencoded; charset=UTF-8")
	requireTokens(t, rec)
}

func TestTokenErrors(t *testing.T) {
	user := "acme-member@example.com"
	tests := []struct {
		name        string
		contentType string
		body        string
		wantStatus  int
		wantCode    string
	}{
		{name: "wrong password", body: url.Values{"username": {user}, "password": {"nope nope"}}.Encode(), wantStatus: 400, wantCode: "invalid_grant"},
		{name: "unknown email", body: url.Values{"username": {"ghost@example.com"}, "password": {testPassword}}.Encode(), wantStatus: 400, wantCode: "invalid_grant"},
		{name: "malformed email", body: url.Values{"username": {"not an email"}, "password": {testPassword}}.Encode(), wantStatus: 400, wantCode: "invalid_grant"},
		{name: "missing password", body: url.Values{"username": {user}}.Encode(), wantStatus: 400, wantCode: "invalid_request"},
		{name: "empty password", body: "username=" + url.QueryEscape(user) + "&password=", wantStatus: 400, wantCode: "invalid_request"},
		{name: "missing username", body: url.Values{"password": {testPassword}}.Encode(), wantStatus: 400, wantCode: "invalid_request"},
		{name: "repeated parameter", body: "username=" + url.QueryEscape(user) + "&password=a&password=b", wantStatus: 400, wantCode: "invalid_request"},
		{name: "JSON body", contentType: "application/json", body: `{"username":"` + user + `","password":"` + testPassword + `"}`, wantStatus: 400, wantCode: "invalid_request"},
		{name: "no content type", contentType: "-", body: url.Values{"username": {user}, "password": {testPassword}}.Encode(), wantStatus: 400, wantCode: "invalid_request"},
		{name: "bad form encoding", body: "username=%zz&password=x", wantStatus: 400, wantCode: "invalid_request"},
		{name: "invalid UTF-8", body: "username=%ff&password=x", wantStatus: 400, wantCode: "invalid_request"},
		{name: "unsupported grant", body: "grant_type=client_credentials", wantStatus: 400, wantCode: "unsupported_grant_type"},
		{name: "refresh grant without token", body: "grant_type=refresh_token", wantStatus: 400, wantCode: "invalid_request"},
		{name: "unknown refresh token", body: "grant_type=refresh_token&refresh_token=abc", wantStatus: 400, wantCode: "invalid_grant"},
		{name: "body too large", body: "username=" + strings.Repeat("a", 20<<10), wantStatus: 413, wantCode: "invalid_request"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ev := newEnv(t)
			ct := tc.contentType
			if ct == "" {
				ct = "application/x-www-form-urlencoded"
			}
			var h []string
			if ct != "-" {
				h = []string{"Content-Type", ct}
			}
			rec := ev.do(http.MethodPost, "/auth/token", strings.NewReader(tc.body), h...)
			b := requireOAuthError(t, rec, tc.wantStatus, tc.wantCode)
			assert.NotEmpty(t, b.Description)
			assert.NotContains(t, strings.ToLower(b.Description), "email")
		})
	}
}

func TestTokenSameAnswerForUnknownEmailAndWrongPassword(t *testing.T) {
	ev := newEnv(t)
	a := ev.form("/auth/token", url.Values{"username": {"acme-member@example.com"}, "password": {"wrong password"}})
	b := ev.form("/auth/token", url.Values{"username": {"nobody@example.com"}, "password": {"wrong password"}})
	assert.Equal(t, a.Code, b.Code)
	assert.Equal(t, a.Body.String(), b.Body.String())
}

func TestTokenDisabledUserIsInvalidGrant(t *testing.T) {
	ev := newEnv(t)
	_, err := ev.db.Users().Update(t.Context(), "u-acme-member", func(u *domain.User) error {
		u.SetDisabled(true, u.UpdatedAt)
		return nil
	})
	require.NoError(t, err)
	rec := ev.form("/auth/token", url.Values{"username": {"acme-member@example.com"}, "password": {testPassword}})
	requireOAuthError(t, rec, http.StatusBadRequest, "invalid_grant")
}

func TestTokenBruteForceIs429WithRetryAfter(t *testing.T) {
	ev := newEnv(t)
	bad := url.Values{"username": {"acme-member@example.com"}, "password": {"guess guess"}}
	for range 5 {
		requireOAuthError(t, ev.form("/auth/token", bad), http.StatusBadRequest, "invalid_grant")
	}
	rec := ev.form("/auth/token", bad)
	requireOAuthError(t, rec, http.StatusTooManyRequests, "slow_down")
	assert.NotEmpty(t, rec.Header().Get("Retry-After"))
	// Blocked even with the right password while the window lasts.
	rec = ev.form("/auth/token", url.Values{"username": {"acme-member@example.com"}, "password": {testPassword}})
	requireOAuthError(t, rec, http.StatusTooManyRequests, "slow_down")
}

func TestTokenOutageIs503NotInvalidGrant(t *testing.T) {
	ev := newEnv(t)
	ev.db.SetDown(true)
	rec := ev.form("/auth/token", url.Values{"username": {"acme-member@example.com"}, "password": {testPassword}})
	requireOAuthError(t, rec, http.StatusServiceUnavailable, "temporarily_unavailable")
	ev.db.SetDown(false)

	ev.hasher.setBusy(true)
	rec = ev.form("/auth/token", url.Values{"username": {"acme-member@example.com"}, "password": {testPassword}})
	requireOAuthError(t, rec, http.StatusServiceUnavailable, "temporarily_unavailable")
	assert.Equal(t, "2", rec.Header().Get("Retry-After"))
}

func TestRefreshRotationAndReuse(t *testing.T) {
	ev := newEnv(t)
	first := requireTokens(t, ev.form("/auth/token", url.Values{"username": {"acme-member@example.com"}, "password": {testPassword}}))
	second := requireTokens(t, ev.form("/auth/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {first.RefreshToken}}))
	assert.NotEqual(t, first.RefreshToken, second.RefreshToken)

	// Reusing the rotated token fails and revokes the family.
	b := requireOAuthError(t, ev.form("/auth/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {first.RefreshToken}}),
		http.StatusBadRequest, "invalid_grant")
	assert.Contains(t, b.Description, "refresh token")
	requireOAuthError(t, ev.form("/auth/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {second.RefreshToken}}),
		http.StatusBadRequest, "invalid_grant")
}

func TestRevoke(t *testing.T) {
	ev := newEnv(t)
	tb := requireTokens(t, ev.form("/auth/token", url.Values{"username": {"acme-member@example.com"}, "password": {testPassword}}))

	rec := ev.form("/auth/revoke", url.Values{"token": {tb.RefreshToken}, "token_type_hint": {"refresh_token"}})
	assert.Equal(t, http.StatusOK, rec.Code)
	assert.Equal(t, "no-store", rec.Header().Get("Cache-Control"))
	requireOAuthError(t, ev.form("/auth/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tb.RefreshToken}}),
		http.StatusBadRequest, "invalid_grant")

	// RFC 7009: unknown tokens and unknown hints are still 200.
	assert.Equal(t, http.StatusOK, ev.form("/auth/revoke", url.Values{"token": {"never-issued"}}).Code)
	assert.Equal(t, http.StatusOK, ev.form("/auth/revoke", url.Values{"token": {"x"}, "token_type_hint": {"weird"}}).Code)

	requireOAuthError(t, ev.form("/auth/revoke", url.Values{}), http.StatusBadRequest, "invalid_request")
	rec = ev.do(http.MethodPost, "/auth/revoke", strings.NewReader(`{"token":"x"}`), "Content-Type", "application/json")
	requireOAuthError(t, rec, http.StatusBadRequest, "invalid_request")

	ev.db.SetDown(true)
	requireOAuthError(t, ev.form("/auth/revoke", url.Values{"token": {"x"}}), http.StatusServiceUnavailable, "temporarily_unavailable")
}

func TestLoginLogsNoSecrets(t *testing.T) {
	ev := newEnv(t)
	tb := requireTokens(t, ev.form("/auth/token", url.Values{"username": {"acme-member@example.com"}, "password": {testPassword}}))
	ev.form("/auth/token", url.Values{"username": {"acme-member@example.com"}, "password": {"wrong-secret-pw"}})
	ev.db.SetDown(true)
	ev.form("/auth/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tb.RefreshToken}})
	for _, l := range ev.logs.AllUntimed() {
		line := l.Message + " " + strings.Join(stringValues(l.ContextMap()), " ")
		for _, secret := range []string{testPassword, "wrong-secret-pw", tb.AccessToken, tb.RefreshToken, "fake$"} {
			assert.NotContains(t, line, secret)
		}
	}
}

func TestWellKnown(t *testing.T) {
	ev := newEnv(t)
	rec := ev.do(http.MethodGet, "/.well-known/jwks.json", nil)
	require.Equal(t, http.StatusOK, rec.Code)
	assert.Equal(t, "application/json", rec.Header().Get("Content-Type"))
	assert.Contains(t, rec.Body.String(), `"kid":"k1"`)

	rec = ev.do(http.MethodGet, "/.well-known/oauth-authorization-server", nil)
	require.Equal(t, http.StatusOK, rec.Code)
	assert.Equal(t, "application/json", rec.Header().Get("Content-Type"))
	var doc map[string]any
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &doc))
	requireRFC8414Metadata(t, doc, "https://tenantry.example")
	assert.Equal(t, "https://tenantry.example/.well-known/jwks.json", doc["jwks_uri"])
	assert.Equal(t, "https://tenantry.example/auth/token", doc["token_endpoint"])
	assert.Equal(t, "https://tenantry.example/auth/revoke", doc["revocation_endpoint"])
	assert.ElementsMatch(t, []any{"password", "refresh_token"}, doc["grant_types_supported"])
	assert.Equal(t, []any{"none"}, doc["token_endpoint_auth_methods_supported"])

	rec = ev.do(http.MethodGet, "/.well-known/openid-configuration", nil)
	assert.Equal(t, http.StatusNotFound, rec.Code, "tenantry issues no ID tokens, so it claims no OpenID Provider metadata")
}

// requireRFC8414Metadata checks doc against RFC 8414 section 2 and 3: the REQUIRED
// fields, the ones REQUIRED unless a condition holds, absolute https URLs, and an
// issuer equal to the one the metadata was fetched for.
func requireRFC8414Metadata(t *testing.T, doc map[string]any, issuer string) {
	t.Helper()
	assert.Equal(t, issuer, doc["issuer"], "issuer (REQUIRED) is the URL the metadata was fetched for")
	rt, ok := doc["response_types_supported"].([]any)
	require.True(t, ok, "response_types_supported is REQUIRED: %v", doc["response_types_supported"])
	grants, ok := doc["grant_types_supported"].([]any)
	require.True(t, ok, "grant_types_supported must be stated: its default (authorization_code, implicit) is not what tenantry supports")
	usesAuthorizationEndpoint := slices.Contains(grants, any("authorization_code")) || slices.Contains(grants, any("implicit"))
	if usesAuthorizationEndpoint {
		assert.NotEmpty(t, doc["authorization_endpoint"], "authorization_endpoint is REQUIRED when a grant uses it")
		assert.NotEmpty(t, rt)
	} else {
		assert.NotContains(t, doc, "authorization_endpoint")
		assert.Empty(t, rt, "no authorization endpoint, so no response types")
	}
	onlyImplicit := len(grants) == 1 && grants[0] == "implicit"
	if !onlyImplicit {
		assert.NotEmpty(t, doc["token_endpoint"], "token_endpoint is REQUIRED unless only the implicit grant is supported")
	}
	for _, k := range []string{"issuer", "token_endpoint", "jwks_uri", "revocation_endpoint", "authorization_endpoint", "service_documentation"} {
		v, present := doc[k]
		if !present {
			continue
		}
		u, err := url.Parse(v.(string))
		require.NoError(t, err, k)
		assert.Equal(t, "https", u.Scheme, k)
		assert.NotEmpty(t, u.Host, k)
		if k == "issuer" {
			assert.Empty(t, u.RawQuery+u.Fragment, "the issuer has no query or fragment")
		}
	}
}
