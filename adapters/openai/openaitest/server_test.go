package openaitest_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/adapters/openai/openaitest"
)

// The fake is only as good as its checks: each request here breaks the API as
// tenantry must use it and must be refused and recorded.
func TestServerRefusesRequestsTenantryMustNotSend(t *testing.T) {
	t.Parallel()
	const msgs = `"messages":[{"role":"system","content":"s"},{"role":"user","content":"q"}]`
	tests := []struct {
		name   string
		path   string
		header map[string]string
		body   string
		status int
	}{
		{name: "not streaming", path: "/v1/chat/completions", body: `{"model":"m",` + msgs + `}`, status: 400},
		{name: "no usage chunk asked", path: "/v1/chat/completions", body: `{"model":"m","stream":true,` + msgs + `}`, status: 400},
		{name: "unknown field", path: "/v1/chat/completions", body: `{"model":"m","stream":true,"stream_options":{"include_usage":true},"n":2,` + msgs + `}`, status: 400},
		{name: "unknown role", path: "/v1/chat/completions", body: `{"model":"m","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"tool","content":"x"}]}`, status: 400},
		{name: "ambient organisation", path: "/v1/chat/completions", header: map[string]string{"OpenAI-Organization": "org-x"},
			body: `{"model":"m","stream":true,"stream_options":{"include_usage":true},` + msgs + `}`, status: 400},
		{name: "path without /v1", path: "/chat/completions", body: `{}`, status: 404},
		{name: "base64 embeddings", path: "/v1/embeddings", body: `{"model":"m","input":["a"],"encoding_format":"base64"}`, status: 400},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := openaitest.New(t, openaitest.Options{APIKey: "sk-test"})
			base := strings.TrimSuffix(srv.URL, "/v1")
			req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, base+tc.path, strings.NewReader(tc.body))
			require.NoError(t, err)
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer sk-test")
			for k, v := range tc.header {
				req.Header.Set(k, v)
			}
			res, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			_ = res.Body.Close()
			assert.Equal(t, tc.status, res.StatusCode)
			assert.Len(t, srv.TakeViolations(), 1)
		})
	}
}

func TestServerStreamsTheDocumentedWireFormat(t *testing.T) {
	t.Parallel()
	srv := openaitest.New(t, openaitest.Options{Reply: []string{"Hi", "!"}, PromptTokens: 3})
	body := `{"model":"m","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"q"}]}`
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, srv.URL+"/chat/completions", strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	raw := new(strings.Builder)
	_, err = io.Copy(raw, res.Body)
	require.NoError(t, err)

	assert.Equal(t, "text/event-stream; charset=utf-8", res.Header.Get("Content-Type"))
	events := strings.Split(strings.TrimSuffix(raw.String(), "\n\n"), "\n\n")
	require.Len(t, events, 6, "role, two contents, finish, usage, [DONE]")
	assert.Contains(t, events[0], `"delta":{"content":"","refusal":null,"role":"assistant"}`)
	assert.Contains(t, events[1], `"delta":{"content":"Hi"}`)
	assert.Contains(t, events[3], `"finish_reason":"stop"`)
	assert.Contains(t, events[4], `"choices":[]`)
	assert.Contains(t, events[4], `"usage":{"completion_tokens":2,`)
	assert.Equal(t, "data: [DONE]", events[5])
	for _, e := range events {
		assert.True(t, strings.HasPrefix(e, "data: "), e)
	}
}
