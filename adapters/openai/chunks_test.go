package openai_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/adapters/openai"
	"github.com/tenantry/tenantry/domain"
)

// rawStream serves body as the event stream of every chat completion.
func rawStream(t *testing.T, body string) *openai.ChatModel {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "text/event-stream")
		_, _ = io.WriteString(w, body)
	}))
	t.Cleanup(srv.Close)
	m, err := openai.NewChatModel(openai.ChatConfig{BaseURL: srv.URL, APIKey: domain.Secret(tenantKey), HTTPClient: newHTTPClient(t)})
	require.NoError(t, err)
	return m
}

func TestStreamReadsChunksAsVendorsWriteThem(t *testing.T) {
	t.Parallel()
	body := `data: {"id":"c1","object":"chat.completion.chunk","model":"gpt-4o-mini-2024-07-18","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}],"usage":null}

data: {"choices":[{"index":0,"delta":{"content":"Caf\u00e9 \"au\"\nlait"}},{"index":1,"delta":{"content":"other choice"}}],"error":null}

data: {"choices":[{"index":0,"delta":{"content":" \xff!"}}]}

: keep-alive comment

data: {"choices":[{"index":0,"delta":{"content":null,"refusal":null},"finish_reason":"stop","logprobs":{"content":[{"token":"x","bytes":[120],"top_logprobs":[]}]}}],"system_fingerprint":"fp_1"}

data: {"choices":[],"usage":{"prompt_tokens":11,"completion_tokens":4,"total_tokens":15,"prompt_tokens_details":{"cached_tokens":0}}}

data: [DONE]

`
	body = strings.Replace(body, `\xff`, "\xff", 1) // a byte that is not UTF-8
	got := collect(rawStream(t, body).Stream(t.Context(), conversation, params))

	require.NoError(t, got.err)
	assert.Equal(t, []string{"Café \"au\"\nlait", " \ufffd!"}, got.texts,
		"escapes decoded; only the first choice; invalid UTF-8 replaced; empty and null content yield nothing")
	require.NotNil(t, got.final)
	assert.Equal(t, domain.Delta{Done: true, FinishReason: "stop", Model: "gpt-4o-mini-2024-07-18",
		Usage: domain.Usage{PromptTokens: 11, CompletionTokens: 4}}, *got.final)
}

func TestStreamEndsOnBadChunks(t *testing.T) {
	t.Parallel()
	const first = "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hel\"}}]}\n\n"
	for _, tc := range []struct {
		name, event string
		code        string
	}{
		{name: "error event from the vendor", event: `data: {"error":{"message":"overloaded for ` + tenantKey + `","type":"server_error"}}`, code: openai.CodeStreamError},
		{name: "malformed JSON", event: `data: {"choices":[{"index":0,"delta":{"content":"lo"}}]`, code: openai.CodeStreamCut},
		{name: "not an object", event: `data: ["lo"]`, code: openai.CodeStreamCut},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			body := first + tc.event + "\n\ndata: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"never read\"},\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n"

			got := collect(rawStream(t, body).Stream(t.Context(), conversation, params))

			assert.Equal(t, []string{"Hel"}, got.texts, "nothing after the bad event")
			assert.Nil(t, got.final)
			requireCode(t, got.err, domain.KindUnavailable, tc.code) // and the key is not in it
		})
	}
}

func TestStreamCanBeIteratedOnce(t *testing.T) {
	t.Parallel()
	seq := rawStream(t, "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi\"},\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n").
		Stream(t.Context(), conversation, params)

	first := collect(seq)
	require.NoError(t, first.err)
	assert.Equal(t, []string{"Hi"}, first.texts)

	second := collect(seq)
	assert.Empty(t, second.texts)
	requireCode(t, second.err, domain.KindInternal, "stream_reused")
}
