package bootstrap

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/tenantry/tenantry/adapters/memory"
	"github.com/tenantry/tenantry/adapters/passwords"
	"github.com/tenantry/tenantry/adapters/secretbox"
	"github.com/tenantry/tenantry/domain"
)

// TestOpenAISDKWithAnAPIKey configures the official OpenAI Node SDK once with an API
// key and uses it after the access token that created the key has expired: the server's
// clock is moved past the access-token lifetime (1 minute here) rather than waited for.
// The key still lists models and streams an answer; the expired token is refused.
func TestOpenAISDKWithAnAPIKey(t *testing.T) {
	node, npm := nodeTools(t, "the OpenAI SDK API-key test")
	modules := npmModules(t, npm, sdkDir, "openai")
	ctx := t.Context()

	var skew atomic.Int64
	now := func() time.Time { return time.Now().Add(time.Duration(skew.Load())) }
	cfg, err := LoadConfig(func(k string) string {
		return map[string]string{"TENANTRY_PUBLIC_URL": "http://127.0.0.1", "TENANTRY_ACCESS_TTL": "1m"}[k]
	})
	require.NoError(t, err)
	key, err := secretbox.GenerateKey()
	require.NoError(t, err)
	keyring, err := secretbox.New(key)
	require.NoError(t, err)
	st := MemoryStores(memory.NewDB())
	api, err := Router(ctx, cfg, st, RouterOptions{Log: zap.NewNop(), Sealer: keyring, Now: now})
	require.NoError(t, err)
	srv := httptest.NewServer(api.Handler)
	t.Cleanup(func() {
		srv.Close()
		_ = api.Close()
	})
	tn, err := domain.NewTenant("acme", "Acme", now())
	require.NoError(t, err)
	require.NoError(t, st.Tenants.Create(ctx, tn))
	hash, err := passwords.New(passwords.Config{}).Hash(ctx, sdkPassword)
	require.NoError(t, err)
	u, err := domain.NewUser("u-acme-admin", "admin@acme.test", domain.RoleTenantAdmin, "acme", hash, now())
	require.NoError(t, err)
	require.NoError(t, st.Users.Create(ctx, u))

	call := func(method, path, token, body string) (int, []byte) {
		req, err := http.NewRequestWithContext(ctx, method, srv.URL+path, strings.NewReader(body))
		require.NoError(t, err)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		if strings.HasPrefix(body, "{") {
			req.Header.Set("Content-Type", "application/json")
		} else {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		res, err := srv.Client().Do(req)
		require.NoError(t, err)
		defer res.Body.Close()
		var b bytes.Buffer
		_, err = b.ReadFrom(res.Body)
		require.NoError(t, err)
		return res.StatusCode, b.Bytes()
	}
	status, body := call(http.MethodPost, "/auth/token", "", url.Values{"grant_type": {"password"}, "username": {"admin@acme.test"}, "password": {sdkPassword}}.Encode())
	require.Equal(t, http.StatusOK, status, "%s", body)
	var tr struct {
		AccessToken string `json:"access_token"`
		ExpiresIn   int    `json:"expires_in"`
	}
	require.NoError(t, json.Unmarshal(body, &tr))
	require.Equal(t, 60, tr.ExpiresIn)
	doc, err := json.Marshal(map[string]string{"title": "Vacation policy", "text": sdkDocument})
	require.NoError(t, err)
	status, body = call(http.MethodPost, "/documents", tr.AccessToken, string(doc))
	require.Equal(t, http.StatusCreated, status, "%s", body)
	status, body = call(http.MethodPost, "/tenant/api-keys", tr.AccessToken, `{"name":"Open WebUI"}`)
	require.Equal(t, http.StatusCreated, status, "%s", body)
	var created struct {
		Key string `json:"key"`
	}
	require.NoError(t, json.Unmarshal(body, &created))

	skew.Store(int64(cfg.AccessTTL + time.Minute)) // past the token's lifetime and clock skew
	status, _ = call(http.MethodGet, "/users/me", tr.AccessToken, "")
	require.Equal(t, http.StatusUnauthorized, status, "the access token has expired")

	runCtx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(runCtx, node, "apikey.cjs")
	cmd.Dir = sdkDir
	cmd.Env = []string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), "NODE_PATH=" + modules,
		"TENANTRY_BASE_URL=" + srv.URL + "/v1", "TENANTRY_API_KEY=" + created.Key,
		"TENANTRY_EXPIRED_TOKEN=" + tr.AccessToken, "TENANTRY_QUESTION=" + sdkQuestion,
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	require.NoError(t, cmd.Run(), "node apikey.cjs\nstdout:\n%s\nstderr:\n%s", stdout.String(), stderr.String())

	var got struct {
		Models       []string  `json:"models"`
		Text         string    `json:"text"`
		ExpiredToken *sdkError `json:"expired_token"`
	}
	require.NoError(t, json.Unmarshal(stdout.Bytes(), &got), stdout.String())
	assert.Equal(t, []string{"tenantry-acme"}, got.Models)
	assert.Contains(t, got.Text, "thirty vacation days")
	require.NotNil(t, got.ExpiredToken, "the expired access token must be refused")
	assert.Equal(t, "AuthenticationError", got.ExpiredToken.Class)
	assert.Equal(t, http.StatusUnauthorized, got.ExpiredToken.Status)
}
