package bootstrap

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/domain"
)

// scrape reads GET /metrics with the given Authorization header ("" for none).
func (s *shutdownServer) scrape(t *testing.T, auth string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, s.base+"/metrics", nil)
	require.NoError(t, err)
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return res.StatusCode, string(b)
}

// TestMetricsOfTheWiredRouter drives the production router and reads what an operator
// would scrape: HTTP, upstream, token, cache and runtime metrics, behind the token.
func TestMetricsOfTheWiredRouter(t *testing.T) {
	v := newShutdownVendors()
	close(v.release) // answers complete at once
	s := startShutdownServer(t, v, time.Second, "TENANTRY_METRICS_TOKEN", "scrape-me-please")
	_, evs := s.openStream(t)
	for {
		name, _, err := evs.next()
		require.NoError(t, err)
		if name == "done" {
			break
		}
	}
	tok := s.token(t)
	for range 3 {
		req, err := http.NewRequest(http.MethodGet, s.base+"/users/me", nil)
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+tok)
		res, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		_ = res.Body.Close()
		require.Equal(t, http.StatusOK, res.StatusCode)
	}

	status, body := s.scrape(t, "")
	assert.Equal(t, http.StatusUnauthorized, status, "TENANTRY_METRICS_TOKEN protects the endpoint")
	assert.NotContains(t, body, "tenantry_http_requests_total")
	status, _ = s.scrape(t, "Bearer not-the-token")
	assert.Equal(t, http.StatusUnauthorized, status)

	status, body = s.scrape(t, "Bearer scrape-me-please")
	require.Equal(t, http.StatusOK, status)
	for _, want := range []string{
		`tenantry_http_requests_total{method="POST",route="/chat/stream",status="200"} 1`,
		`tenantry_http_requests_total{method="GET",route="/users/me",status="200"} 3`,
		`tenantry_http_active_streams 0`,
		`tenantry_llm_tokens_total{tenant="acme",type="prompt"} 3`,
		`tenantry_llm_tokens_total{tenant="acme",type="completion"} 2`,
		`tenantry_upstream_request_duration_seconds_count{operation="stream",outcome="ok",provider="extractive",service="llm"} 1`,
		`tenantry_lexical_index_bytes`,
		`tenantry_llm_first_token_seconds_count{provider="extractive"} 1`,
		`tenantry_cache_hits_total{cache="users"}`,
		`tenantry_cache_hit_ratio{cache="tenants"}`,
		`go_goroutines`,
		`process_resident_memory_bytes`,
	} {
		assert.Contains(t, body, want)
	}
	for _, unwanted := range []string{`operation="embed_query"`, `service="vector_store"`} {
		assert.NotContains(t, body, unwanted, "the offline default retrieves with BM25 and embeds nothing")
	}
	assert.NotContains(t, body, `tenantry_cache_hits_total{cache="users"} 0`, "repeated /users/me calls hit the user cache")

	logs := s.logs.String()
	assert.Contains(t, logs, `"upstream call"`)
	assert.NotContains(t, logs, "vacation policy", "the question never reaches the logs")
	assert.NotContains(t, logs, "scrape-me-please")
	assert.False(t, strings.Contains(logs, tok), "no bearer token in the logs")
}

func TestMetricsTenantLabelsAreConfigurable(t *testing.T) {
	v := newShutdownVendors()
	close(v.release)
	s := startShutdownServer(t, v, time.Second, "TENANTRY_METRICS_TENANTS", "globex, initech")
	_, evs := s.openStream(t)
	for {
		name, _, err := evs.next()
		require.NoError(t, err)
		if name == "done" {
			break
		}
	}
	status, body := s.scrape(t, "")
	require.Equal(t, http.StatusOK, status, "no token configured: the endpoint is open")
	assert.Contains(t, body, `tenantry_llm_tokens_total{tenant="other",type="prompt"} 3`, "acme is not on the allow-list")
	assert.NotContains(t, body, `tenant="acme"`)
}

func TestLoadConfigMetricsTenantBound(t *testing.T) {
	tests := []struct {
		name      string
		env       map[string]string
		wantAllow []string
		wantTopN  int
		wantErr   string
	}{
		{name: "defaults", env: map[string]string{}, wantTopN: 50},
		{name: "allow-list", env: map[string]string{"TENANTRY_METRICS_TENANTS": "acme, globex"}, wantAllow: []string{"acme", "globex"}, wantTopN: 50},
		{name: "top n", env: map[string]string{"TENANTRY_METRICS_TENANT_LIMIT": "5"}, wantTopN: 5},
		{name: "zero labels none", env: map[string]string{"TENANTRY_METRICS_TENANT_LIMIT": "0"}, wantTopN: 0},
		{name: "negative", env: map[string]string{"TENANTRY_METRICS_TENANT_LIMIT": "-1"}, wantErr: "TENANTRY_METRICS_TENANT_LIMIT"},
		{name: "too many", env: map[string]string{"TENANTRY_METRICS_TENANT_LIMIT": "100000"}, wantErr: "TENANTRY_METRICS_TENANT_LIMIT"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := LoadConfig(func(k string) string { return tc.env[k] })
			if tc.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tc.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.wantAllow, got.MetricsTenants)
			assert.Equal(t, tc.wantTopN, got.MetricsTopN)
		})
	}
}

// TestMetricsShowTheEmbeddedIndexMemory reads the gauges of the production vendor
// factory's embedded vector index and of the lexical index on a hybrid tenant: nothing
// before a tenant is loaded, then what a search loaded of an ingested document.
func TestMetricsShowTheEmbeddedIndexMemory(t *testing.T) {
	// Read through the handler from httptest's non-loopback address, so opened.
	e := newBenchEnv(t, benchOptions{env: map[string]string{"TENANTRY_METRICS_PUBLIC": "true"}})
	hybrid := domain.RetrievalHybrid
	e.patchTenant(t, domain.TenantPatch{Mode: &hybrid})
	h := e.api.Handler
	gaugeOf := func(name string) string {
		status, body := benchGet(h, "/metrics", "")
		require.Equal(t, http.StatusOK, status)
		for line := range strings.Lines(body) {
			if v, ok := strings.CutPrefix(line, name+" "); ok {
				return strings.TrimSpace(v)
			}
		}
		t.Fatalf("no %s gauge", name)
		return ""
	}
	gauge := func() string { return gaugeOf("tenantry_embedded_index_bytes") }
	assert.Equal(t, "0", gauge())
	assert.Equal(t, "0", gaugeOf("tenantry_lexical_index_bytes"))

	token := benchLogin(t, h, benchEmail)
	send := func(path, body string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}
	rec := send("/documents", `{"title":"Travel","text":"Book travel through the portal at least two weeks ahead."}`)
	require.Equal(t, http.StatusCreated, rec.Code, rec.Body.String())
	rec = send("/chat/stream", `{"message":"How do I book travel?"}`)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())

	v, err := strconv.ParseFloat(gauge(), 64)
	require.NoError(t, err)
	assert.Greater(t, v, 384*4.0, "at least the one chunk's vector")
	assert.Equal(t, float64(e.api.index.Bytes()), v)
	lex, err := strconv.ParseFloat(gaugeOf("tenantry_lexical_index_bytes"), 64)
	require.NoError(t, err)
	assert.Positive(t, lex, "the chunk's postings")
}

// TestMetricsAreNotPublicByDefault: with the default configuration the wired router
// serves /metrics, which lists tenant ids, only to this machine.
func TestMetricsAreNotPublicByDefault(t *testing.T) {
	t.Parallel()
	e := vtNewEnv(t, nil)
	e.tenant(t, "acme", `{}`)
	scrape := func(remote string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
		req.RemoteAddr = remote
		rec := httptest.NewRecorder()
		e.srv.Config.Handler.ServeHTTP(rec, req)
		return rec
	}
	rec := scrape("203.0.113.9:40000")
	require.Equal(t, http.StatusForbidden, rec.Code, "a remote peer read /metrics")
	assert.Equal(t, "application/problem+json", rec.Header().Get("Content-Type"))
	assert.Contains(t, rec.Body.String(), "TENANTRY_METRICS_TOKEN")
	assert.NotContains(t, rec.Body.String(), "acme")
	rec = scrape("127.0.0.1:40000")
	require.Equal(t, http.StatusOK, rec.Code, "this machine may read /metrics")
	assert.Contains(t, rec.Body.String(), "tenantry_http_requests_total")
}
