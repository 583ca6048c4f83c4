package httpapi_test

import (
	"context"
	"iter"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/adapters/httpapi"
	"github.com/tenantry/tenantry/domain"
)

// withMetrics wires a fresh registry into the router and returns it.
func withMetrics(t *testing.T, token string) (*prometheus.Registry, envOption) {
	t.Helper()
	reg := prometheus.NewRegistry()
	m, err := httpapi.NewMetrics(reg, reg)
	require.NoError(t, err)
	return reg, func(c *httpapi.Config, d *httpapi.Deps) {
		d.Metrics = m
		c.MetricsToken = token
		c.MetricsPublic = token == "" // these tests read /metrics from a non-loopback test address
	}
}

// metricSeries returns the metric of family name whose labels include want, or nil.
func metricSeries(t *testing.T, reg prometheus.Gatherer, name string, want map[string]string) *dto.Metric {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			got := map[string]string{}
			for _, l := range m.GetLabel() {
				got[l.GetName()] = l.GetValue()
			}
			for k, v := range want {
				if got[k] != v {
					continue next
				}
			}
			return m
		}
	}
	return nil
}

func counterOf(t *testing.T, reg prometheus.Gatherer, name string, want map[string]string) float64 {
	t.Helper()
	if m := metricSeries(t, reg, name, want); m != nil {
		return m.GetCounter().GetValue()
	}
	return 0
}

func TestMetricsCountRequestsByRouteTemplateAndStatus(t *testing.T) {
	reg, opt := withMetrics(t, "")
	ev := newEnv(t, opt)
	tok := ev.token("acme-member")
	for _, id := range []string{"doc-1", "doc-2", "doc-3"} {
		requireProblem(t, ev.do(http.MethodGet, "/documents/"+id, nil, "Authorization", "Bearer "+tok), http.StatusNotFound, "not_found")
	}
	requireProblem(t, ev.do(http.MethodGet, "/no/such/route/"+strings.Repeat("x", 50), nil), http.StatusNotFound, "not_found")
	ev.do("BREW", "/healthz", nil)
	require.Equal(t, http.StatusOK, ev.do(http.MethodGet, "/healthz", nil).Code)

	assert.Equal(t, 3.0, counterOf(t, reg, "tenantry_http_requests_total", map[string]string{"method": "GET", "route": "/documents/:id", "status": "404"}),
		"ids are folded into the route template")
	assert.Equal(t, 1.0, counterOf(t, reg, "tenantry_http_requests_total", map[string]string{"method": "GET", "route": "unmatched", "status": "404"}),
		"unknown paths share one label value")
	assert.Equal(t, 1.0, counterOf(t, reg, "tenantry_http_requests_total", map[string]string{"method": "other", "route": "/healthz", "status": "405"}))
	assert.Equal(t, 1.0, counterOf(t, reg, "tenantry_http_requests_total", map[string]string{"method": "POST", "route": "/auth/token", "status": "200"}))
	h := metricSeries(t, reg, "tenantry_http_request_duration_seconds", map[string]string{"method": "GET", "route": "/documents/:id", "status": "404"})
	require.NotNil(t, h)
	assert.EqualValues(t, 3, h.GetHistogram().GetSampleCount())

	for _, m := range allSeries(t, reg, "tenantry_http_requests_total") {
		for _, l := range m.GetLabel() {
			assert.NotContains(t, l.GetValue(), "doc-", "no raw path reaches a label")
			assert.NotContains(t, l.GetValue(), "xxxx")
		}
	}
}

func allSeries(t *testing.T, reg prometheus.Gatherer, name string) []*dto.Metric {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf.GetMetric()
		}
	}
	return nil
}

func TestMetricsCountLoginFailures(t *testing.T) {
	reg, opt := withMetrics(t, "")
	ev := newEnv(t, opt)
	ev.token("acme-member")
	for range 2 {
		rec := ev.form("/auth/token", url.Values{"username": {"acme-member@example.com"}, "password": {"wrong password!"}})
		require.Equal(t, http.StatusBadRequest, rec.Code)
	}
	rec := ev.form("/auth/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"nope"}})
	require.Equal(t, http.StatusBadRequest, rec.Code)
	rec = ev.form("/auth/token", url.Values{"username": {"acme-member@example.com"}})
	require.Equal(t, http.StatusBadRequest, rec.Code)

	assert.Equal(t, 2.0, counterOf(t, reg, "tenantry_login_failures_total", map[string]string{"reason": "invalid_grant"}),
		"wrong passwords count; bad refresh tokens and malformed requests do not")
	// The env blocks a client IP after 5 failures a minute: 3 more wrong passwords are
	// rejected as such, then every attempt (even a right password) is slow_down.
	for range 5 {
		ev.form("/auth/token", url.Values{"username": {"acme-admin@example.com"}, "password": {"wrong password!"}})
	}
	rec = ev.form("/auth/token", url.Values{"username": {"acme-admin@example.com"}, "password": {testPassword}})
	require.Equal(t, http.StatusTooManyRequests, rec.Code)
	assert.Equal(t, 5.0, counterOf(t, reg, "tenantry_login_failures_total", map[string]string{"reason": "invalid_grant"}))
	assert.Equal(t, 3.0, counterOf(t, reg, "tenantry_login_failures_total", map[string]string{"reason": "slow_down"}))
}

func TestMetricsTrackActiveStreams(t *testing.T) {
	reg, opt := withMetrics(t, "")
	ev := newEnv(t, opt)
	started, release := make(chan struct{}), make(chan struct{})
	ev.vendors.setModel(func(ctx context.Context, _ []domain.ChatMessage, _ domain.ChatParams) iter.Seq2[domain.Delta, error] {
		return func(yield func(domain.Delta, error) bool) {
			close(started)
			select {
			case <-release:
			case <-ctx.Done():
				yield(domain.Delta{}, ctx.Err())
				return
			}
			if yield(domain.Delta{Text: "hi"}, nil) {
				yield(domain.Delta{Done: true, FinishReason: "stop", Usage: domain.Usage{PromptTokens: 1, CompletionTokens: 1}}, nil)
			}
		}
	})
	tok := ev.token("acme-member")
	gauge := func() float64 {
		m := metricSeries(t, reg, "tenantry_http_active_streams", nil)
		require.NotNil(t, m)
		return m.GetGauge().GetValue()
	}
	assert.Equal(t, 0.0, gauge())
	done := make(chan *httptest.ResponseRecorder)
	go func() {
		done <- ev.do(http.MethodPost, "/chat/stream", strings.NewReader(`{"message":"hello there"}`),
			"Authorization", "Bearer "+tok, "Content-Type", "application/json")
	}()
	select {
	case <-started:
	case <-time.After(5 * time.Second):
		t.Fatal("the model was never called")
	}
	assert.Equal(t, 1.0, gauge(), "the stream is open while the model answers")
	close(release)
	rec := <-done
	require.Equal(t, http.StatusOK, rec.Code)
	assert.Contains(t, rec.Body.String(), "event: done")
	assert.Equal(t, 0.0, gauge())
	assert.Equal(t, 1.0, counterOf(t, reg, "tenantry_http_requests_total", map[string]string{"method": "POST", "route": "/chat/stream", "status": "200"}))
}

func TestMetricsEndpoint(t *testing.T) {
	tests := []struct {
		name       string
		token      string
		auth       string
		wantStatus int
		private    bool   // no token and not explicitly public
		remote     string // the peer address, when not httptest's 192.0.2.1
		proxied    bool   // the request carries X-Forwarded-For
	}{
		{name: "explicitly public without a token", wantStatus: http.StatusOK},
		{name: "no token: a loopback peer may read", private: true, remote: "127.0.0.1:40000", wantStatus: http.StatusOK},
		{name: "no token: an IPv6 loopback peer may read", private: true, remote: "[::1]:40000", wantStatus: http.StatusOK},
		{name: "no token: a remote peer may not", private: true, wantStatus: http.StatusForbidden},
		{name: "no token: a proxy on this machine may not", private: true, remote: "127.0.0.1:40000", proxied: true, wantStatus: http.StatusForbidden},
		{name: "token required and sent", token: "s3cret-metrics", auth: "Bearer s3cret-metrics", wantStatus: http.StatusOK},
		{name: "token required, none sent", token: "s3cret-metrics", wantStatus: http.StatusUnauthorized},
		{name: "token required, wrong one", token: "s3cret-metrics", auth: "Bearer s3cret-metricz", wantStatus: http.StatusUnauthorized},
		{name: "token required, other scheme", token: "s3cret-metrics", auth: "Basic czNjcmV0LW1ldHJpY3M=", wantStatus: http.StatusUnauthorized},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, opt := withMetrics(t, tc.token)
			ev := newEnv(t, opt, func(c *httpapi.Config, _ *httpapi.Deps) { c.MetricsPublic = c.MetricsPublic && !tc.private })
			ev.do(http.MethodGet, "/healthz", nil)
			req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
			if tc.auth != "" {
				req.Header.Set("Authorization", tc.auth)
			}
			if tc.remote != "" {
				req.RemoteAddr = tc.remote
			}
			if tc.proxied {
				req.Header.Set("X-Forwarded-For", "203.0.113.9")
			}
			rec := httptest.NewRecorder()
			ev.e.ServeHTTP(rec, req)
			if tc.wantStatus == http.StatusForbidden {
				p := requireProblem(t, rec, tc.wantStatus, "forbidden")
				assert.Contains(t, p.Detail, "TENANTRY_METRICS_TOKEN")
				assert.NotContains(t, rec.Body.String(), "tenantry_http_requests_total")
				return
			}
			if tc.wantStatus != http.StatusOK {
				requireProblem(t, rec, tc.wantStatus, "invalid_token")
				assert.NotEmpty(t, rec.Header().Get("WWW-Authenticate"))
				return
			}
			require.Equal(t, http.StatusOK, rec.Code)
			assert.True(t, strings.HasPrefix(rec.Header().Get("Content-Type"), "text/plain"), rec.Header().Get("Content-Type"))
			assert.Contains(t, rec.Body.String(), `tenantry_http_requests_total{method="GET",route="/healthz",status="200"} 1`)
			assert.Contains(t, rec.Body.String(), "tenantry_http_active_streams 0")
		})
	}
}

func TestNoMetricsRouteWithoutMetrics(t *testing.T) {
	ev := newEnv(t)
	requireProblem(t, ev.do(http.MethodGet, "/metrics", nil), http.StatusNotFound, "not_found")
}

func TestMetricsRegisterOncePerRegistry(t *testing.T) {
	reg := prometheus.NewRegistry()
	_, err := httpapi.NewMetrics(reg, reg)
	require.NoError(t, err)
	_, err = httpapi.NewMetrics(reg, reg)
	assert.Error(t, err)
}
