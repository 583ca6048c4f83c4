package bootstrap

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/domain"
)

// TestOpenAISDKDoesNotRetryAnExhaustedQuota has the official OpenAI Node SDK, at its
// default of 2 retries, meet tenantry's quota_exceeded 429: x-should-retry: false makes
// it give up at once, so the server sees the over-quota request exactly once. The answer
// before it carries the request budget in OpenAI's rate-limit headers, as the SDK's raw
// response shows them.
func TestOpenAISDKDoesNotRetryAnExhaustedQuota(t *testing.T) {
	node, npm := nodeTools(t, "the OpenAI SDK retry test")
	modules := npmModules(t, npm, sdkDir, "openai")
	var completions atomic.Int64
	count := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/v1/chat/completions" {
				completions.Add(1)
			}
			next.ServeHTTP(w, r)
		})
	}
	// The first answer spends more than one token, so the second question is over quota.
	baseURL, apiKey := sdkServerWith(t, func(tn *domain.Tenant) {
		tn.Limits.MonthlyTokenQuota = 1
		tn.Limits.RequestsPerMinute = 10
	}, count)

	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "retry.cjs")
	cmd.Dir = sdkDir
	cmd.Env = []string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), "NODE_PATH=" + modules,
		"TENANTRY_BASE_URL=" + baseURL, "TENANTRY_API_KEY=" + apiKey, "TENANTRY_QUESTION=" + sdkQuestion,
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	require.NoError(t, cmd.Run(), "node retry.cjs\nstdout:\n%s\nstderr:\n%s", stdout.String(), stderr.String())

	var got struct {
		FirstFinish    string `json:"first_finish"`
		FirstRateLimit struct {
			Limit     string `json:"limit"`
			Remaining string `json:"remaining"`
			Reset     string `json:"reset"`
		} `json:"first_rate_limit"`
		OverQuota *struct {
			Class       string `json:"class"`
			Status      int    `json:"status"`
			Code        string `json:"code"`
			Type        string `json:"type"`
			ShouldRetry string `json:"should_retry"`
			RetryAfter  string `json:"retry_after"`
		} `json:"over_quota"`
	}
	require.NoError(t, json.Unmarshal(stdout.Bytes(), &got), stdout.String())
	assert.Equal(t, "stop", got.FirstFinish)
	assert.Equal(t, "10", got.FirstRateLimit.Limit)
	assert.Equal(t, "8", got.FirstRateLimit.Remaining, "the document ingested by the setup took one request too")
	reset, err := time.ParseDuration(got.FirstRateLimit.Reset)
	require.NoError(t, err, "x-ratelimit-reset-requests %q", got.FirstRateLimit.Reset)
	assert.Positive(t, reset)
	assert.LessOrEqual(t, reset, 12*time.Second, "two requests of a 10-per-minute budget refill within 12 s")
	require.NotNil(t, got.OverQuota, "the second question must be refused")
	assert.Equal(t, "RateLimitError", got.OverQuota.Class)
	assert.Equal(t, http.StatusTooManyRequests, got.OverQuota.Status)
	assert.Equal(t, "quota_exceeded", got.OverQuota.Code)
	assert.Equal(t, "insufficient_quota", got.OverQuota.Type)
	assert.Equal(t, "false", got.OverQuota.ShouldRetry)
	wait, err := strconv.Atoi(got.OverQuota.RetryAfter)
	require.NoError(t, err, "Retry-After %q", got.OverQuota.RetryAfter)
	assert.Positive(t, wait)
	assert.Equal(t, int64(2), completions.Load(), "one answered request and one refused, with no retry")
}
