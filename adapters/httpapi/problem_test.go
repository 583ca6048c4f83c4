package httpapi_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zapcore"

	"github.com/tenantry/tenantry/adapters/httpapi"
	"github.com/tenantry/tenantry/domain"
)

func TestHealthAndReadiness(t *testing.T) {
	ev := newEnv(t)
	rec := ev.do(http.MethodGet, "/healthz", nil)
	assert.Equal(t, http.StatusOK, rec.Code)
	assert.Equal(t, "application/json", rec.Header().Get("Content-Type"))
	assert.JSONEq(t, `{"status":"ok"}`, rec.Body.String())

	rec = ev.do(http.MethodGet, "/readyz", nil)
	assert.Equal(t, http.StatusOK, rec.Code)

	ev.ready = errors.New("schema not applied")
	rec = ev.do(http.MethodGet, "/readyz", nil)
	p := requireProblem(t, rec, http.StatusServiceUnavailable, "unavailable")
	assert.NotContains(t, p.Detail, "schema not applied", "the cause stays in the logs")
}

func TestUnknownRouteAndMethodAreProblems(t *testing.T) {
	ev := newEnv(t)
	rec := ev.do(http.MethodGet, "/no/such/route", nil)
	p := requireProblem(t, rec, http.StatusNotFound, "not_found")
	assert.Equal(t, "/no/such/route", p.Instance)

	rec = ev.do(http.MethodPut, "/healthz", nil)
	requireProblem(t, rec, http.StatusMethodNotAllowed, "method_not_allowed")
	assert.Contains(t, rec.Header().Get("Allow"), http.MethodGet)

	// An authenticated route with the wrong method is 405, not 401.
	rec = ev.do(http.MethodPut, "/tenant", nil)
	requireProblem(t, rec, http.StatusMethodNotAllowed, "method_not_allowed")

	// An unknown path under authenticated prefixes is still 404, not 401.
	rec = ev.do(http.MethodGet, "/admin/nothing", nil)
	requireProblem(t, rec, http.StatusNotFound, "not_found")
}

func TestRequestID(t *testing.T) {
	ev := newEnv(t)
	tests := []struct {
		name string
		sent string
		kept bool
	}{
		{name: "sane id is echoed", sent: "abc-123_X.y", kept: true},
		{name: "128 characters are fine", sent: strings.Repeat("a", 128), kept: true},
		{name: "129 characters are replaced", sent: strings.Repeat("a", 129)},
		{name: "spaces are replaced", sent: "a b"},
		{name: "header injection is replaced", sent: "a\x00b"},
		{name: "non-ascii is replaced", sent: "ümlaut"},
		{name: "missing is generated"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var rec = ev.do(http.MethodGet, "/no-route", nil, "X-Request-ID", tc.sent)
			if tc.sent == "" {
				rec = ev.do(http.MethodGet, "/no-route", nil)
			}
			got := rec.Header().Get("X-Request-ID")
			p := requireProblem(t, rec, http.StatusNotFound, "not_found")
			assert.Equal(t, got, p.RequestID)
			if tc.kept {
				assert.Equal(t, tc.sent, got)
				return
			}
			assert.NotEqual(t, tc.sent, got)
			assert.Regexp(t, `^[0-9a-f]{32}$`, got)
		})
	}
}

func TestRequestLogLine(t *testing.T) {
	ev := newEnv(t)
	tok := ev.token("acme-admin")
	ev.logs.TakeAll()
	rec := ev.do(http.MethodGet, "/tenant", nil, "Authorization", "Bearer "+tok, "X-Request-ID", "req-1")
	require.Equal(t, http.StatusOK, rec.Code)

	lines := ev.logs.FilterMessage("request").AllUntimed()
	require.Len(t, lines, 1)
	f := lines[0].ContextMap()
	assert.Equal(t, "GET", f["method"])
	assert.Equal(t, "/tenant", f["route"])
	assert.EqualValues(t, 200, f["status"])
	assert.EqualValues(t, rec.Body.Len(), f["bytes"])
	assert.Equal(t, "req-1", f["request_id"])
	assert.Equal(t, "acme", f["tenant_id"])
	assert.Equal(t, "u-acme-admin", f["user_id"])
	assert.Contains(t, f, "latency")
	for _, l := range ev.logs.AllUntimed() {
		assert.NotContains(t, l.Message+strings.Join(stringValues(l.ContextMap()), " "), tok, "no token in logs")
	}
}

func stringValues(m map[string]any) []string {
	var out []string
	for _, v := range m {
		if s, ok := v.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

func TestPanicBecomesInternalProblem(t *testing.T) {
	ev := newEnv(t, func(_ *httpapi.Config, d *httpapi.Deps) {
		d.Ready = func(context.Context) error { panic("secret internals") }
	})
	rec := ev.do(http.MethodGet, "/readyz", nil)
	p := requireProblem(t, rec, http.StatusInternalServerError, "internal")
	assert.NotContains(t, rec.Body.String(), "secret internals")
	assert.NotEmpty(t, p.Detail)
	errs := ev.logs.FilterLevelExact(zapcore.ErrorLevel).AllUntimed()
	require.Len(t, errs, 1, "a 5xx is logged once at Error")
	assert.Contains(t, errs[0].ContextMap()["error"], "secret internals")
}

func TestSecurityHeaders(t *testing.T) {
	ev := newEnv(t)
	rec := ev.do(http.MethodGet, "/healthz", nil)
	assert.Equal(t, "nosniff", rec.Header().Get("X-Content-Type-Options"))
	assert.Equal(t, "DENY", rec.Header().Get("X-Frame-Options"))
	assert.Equal(t, "no-referrer", rec.Header().Get("Referrer-Policy"))
	assert.Equal(t, httpapi.DefaultCSP, rec.Header().Get("Content-Security-Policy"))
}

func TestDomainKindsMapToStatuses(t *testing.T) {
	tests := []struct {
		name       string
		err        error
		wantStatus int
		wantCode   string
		retryAfter string
		// noRetry: the OpenAI SDKs must not retry (x-should-retry: false).
		noRetry bool
		wwwAuth bool
	}{
		{name: "invalid", err: domain.Invalid(domain.FieldError{Field: "x", Message: "bad"}), wantStatus: 400, wantCode: "invalid_request"},
		{name: "unauthenticated", err: domain.ErrInvalidToken, wantStatus: 401, wantCode: "invalid_token", wwwAuth: true},
		{name: "forbidden", err: domain.ErrTenantSuspended, wantStatus: 403, wantCode: "tenant_suspended"},
		{name: "not found", err: domain.ErrNotFound, wantStatus: 404, wantCode: "not_found"},
		{name: "conflict", err: domain.ErrConflict, wantStatus: 409, wantCode: "conflict"},
		{name: "rate limited", err: domain.ErrRateLimited.WithRetryAfter(7), wantStatus: 429, wantCode: "rate_limited", retryAfter: "7"},
		{name: "quota exceeded", err: domain.ErrQuotaExceeded.WithRetryAfter(86400), wantStatus: 429, wantCode: "quota_exceeded", retryAfter: "86400", noRetry: true},
		{name: "too many streams", err: domain.ErrTooManyStreams, wantStatus: 429, wantCode: "too_many_streams", noRetry: true},
		{name: "unavailable", err: domain.ErrBusy.WithRetryAfter(3), wantStatus: 503, wantCode: "busy", retryAfter: "3"},
		{name: "too large", err: domain.E(domain.KindTooLarge, "too_large", "big", nil), wantStatus: 413, wantCode: "too_large"},
		{name: "unsupported media", err: domain.E(domain.KindUnsupportedMedia, "unsupported_media_type", "no", nil), wantStatus: 415, wantCode: "unsupported_media_type"},
		{name: "unprocessable file", err: domain.E(domain.KindUnprocessable, "pdf_no_text", "scanned", nil), wantStatus: 422, wantCode: "pdf_no_text"},
		{name: "internal hides detail", err: domain.E(domain.KindInternal, "seal_failed", "key v3 missing", nil), wantStatus: 500, wantCode: "internal"},
		{name: "plain error is internal", err: errors.New("db password is hunter2"), wantStatus: 500, wantCode: "internal"},
		{name: "wrapped domain error keeps its kind", err: errors.Join(errors.New("ctx"), domain.ErrNotFound), wantStatus: 404, wantCode: "not_found"},
		{name: "echo error", err: echo.ErrUnsupportedMediaType, wantStatus: 415, wantCode: "unsupported_media_type"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// The JWKS handler returns its source's error unchanged.
			ev := newEnv(t, func(_ *httpapi.Config, d *httpapi.Deps) {
				d.JWKS = func(context.Context) ([]byte, error) { return nil, tc.err }
			})
			rec := ev.do(http.MethodGet, "/.well-known/jwks.json", nil)
			p := requireProblem(t, rec, tc.wantStatus, tc.wantCode)
			assert.Equal(t, tc.retryAfter, rec.Header().Get("Retry-After"))
			assert.Equal(t, map[bool]string{true: "false"}[tc.noRetry], rec.Header().Get("X-Should-Retry"))
			if tc.wwwAuth {
				assert.Equal(t, `Bearer error="invalid_token"`, rec.Header().Get("WWW-Authenticate"))
			}
			if tc.wantStatus == 500 {
				assert.NotContains(t, rec.Body.String(), "hunter2")
				assert.NotContains(t, rec.Body.String(), "key v3")
			}
			if tc.wantStatus == 400 {
				assert.Equal(t, []string{"x"}, fieldsOf(p))
			}
			level := zapcore.DebugLevel
			if tc.wantStatus >= 500 {
				level = zapcore.ErrorLevel
			}
			assert.Equal(t, 1, ev.logs.FilterMessageSnippet("request ").FilterLevelExact(level).Len(), "logged once at %s", level)
		})
	}
}

func TestClientGoneWritesNothing(t *testing.T) {
	ev := newEnv(t, func(_ *httpapi.Config, d *httpapi.Deps) {
		d.JWKS = func(ctx context.Context) ([]byte, error) { return nil, context.Canceled }
	})
	rec := ev.do(http.MethodGet, "/.well-known/jwks.json", nil)
	assert.Empty(t, rec.Body.String())
	assert.Equal(t, 0, ev.logs.FilterLevelExact(zapcore.ErrorLevel).Len())
	assert.Equal(t, 1, ev.logs.FilterMessage("client went away").Len())
	lines := ev.logs.FilterMessage("request").AllUntimed()
	require.Len(t, lines, 1)
	assert.EqualValues(t, 499, lines[0].ContextMap()["status"])
}
