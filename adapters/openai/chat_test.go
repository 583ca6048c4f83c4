package openai_test

import (
	"context"
	"fmt"
	"io"
	"iter"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/tenantry/tenantry/adapters/openai"
	"github.com/tenantry/tenantry/adapters/openai/openaitest"
	"github.com/tenantry/tenantry/domain"
)

// A recognisable key, so tests can show it never leaks into errors.
const tenantKey = "sk-tenant-acme-SECRET-0123456789"

var conversation = []domain.ChatMessage{
	{Role: domain.MessageSystem, Content: "You are Acme's assistant. [1] Acme sells anvils."},
	{Role: domain.MessageUser, Content: "What does Acme sell?"},
	{Role: domain.MessageAssistant, Content: "Anvils."},
	{Role: domain.MessageUser, Content: "Anything else?"},
}

var params = domain.ChatParams{Model: "gpt-4o-mini", Temperature: ptr(0.2), MaxTokens: 256}

// newHTTPClient gives each test its own transport, closed when the test ends, so that
// idle keep-alive connections do not outlive it.
func newHTTPClient(t *testing.T) *http.Client {
	t.Helper()
	tr := http.DefaultTransport.(*http.Transport).Clone()
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

func newChat(t *testing.T, srv *openaitest.Server, key string, edit ...func(*openai.ChatConfig)) *openai.ChatModel {
	t.Helper()
	cfg := openai.ChatConfig{BaseURL: srv.URL, APIKey: domain.Secret(key), HTTPClient: newHTTPClient(t), IdleTimeout: 2 * time.Second, Timeout: 10 * time.Second}
	for _, e := range edit {
		e(&cfg)
	}
	m, err := openai.NewChatModel(cfg)
	require.NoError(t, err)
	return m
}

type result struct {
	texts []string
	final *domain.Delta
	err   error
}

func collect(seq iter.Seq2[domain.Delta, error]) result {
	var r result
	for d, err := range seq {
		switch {
		case err != nil:
			r.err = err
		case d.Done:
			r.final = &d
		default:
			r.texts = append(r.texts, d.Text)
		}
	}
	return r
}

func requireCode(t *testing.T, err error, kind domain.Kind, code string) *domain.Error {
	t.Helper()
	require.Error(t, err)
	de := domain.AsError(err)
	require.NotNil(t, de, "want a *domain.Error, got %T: %v", err, err)
	assert.Equal(t, kind, de.Kind, "kind of %v", err)
	assert.Equal(t, code, de.Code, "code of %v", err)
	assert.NotContains(t, fmt.Sprintf("%v %+v %#v", err, err, err), tenantKey)
	return de
}

func TestStreamYieldsDeltasThenFinalUsage(t *testing.T) {
	t.Parallel()
	srv := openaitest.New(t, openaitest.Options{APIKey: tenantKey, Model: "gpt-4o-mini-2024-07-18", PromptTokens: 42, CompletionTokens: 4})
	m := newChat(t, srv, tenantKey)

	got := collect(m.Stream(t.Context(), conversation, params))

	require.NoError(t, got.err)
	assert.Equal(t, []string{"Hello", " from", " the", " model."}, got.texts)
	require.NotNil(t, got.final)
	assert.Equal(t, domain.Delta{Done: true, FinishReason: "stop", Model: "gpt-4o-mini-2024-07-18",
		Usage: domain.Usage{PromptTokens: 42, CompletionTokens: 4}}, *got.final)

	reqs := srv.ChatRequests()
	require.Len(t, reqs, 1)
	want := openaitest.ChatRequest{
		Authorization: "Bearer " + tenantKey,
		Model:         "gpt-4o-mini",
		Messages: []openaitest.Message{
			{Role: "system", Content: "You are Acme's assistant. [1] Acme sells anvils."},
			{Role: "user", Content: "What does Acme sell?"},
			{Role: "assistant", Content: "Anvils."},
			{Role: "user", Content: "Anything else?"},
		},
		Stream: true, IncludeUsage: true, Temperature: ptr(0.2), MaxTokens: ptr(256),
	}
	assert.Equal(t, want, reqs[0])
}

func TestStreamCanSendMaxCompletionTokens(t *testing.T) {
	t.Parallel()
	srv := openaitest.New(t, openaitest.Options{APIKey: tenantKey})
	m := newChat(t, srv, tenantKey, func(c *openai.ChatConfig) { c.MaxCompletionTokens = true })

	require.NoError(t, collect(m.Stream(t.Context(), conversation, params)).err)

	req := srv.ChatRequests()[0]
	assert.Nil(t, req.MaxTokens)
	assert.Equal(t, ptr(256), req.MaxCompletionTokens)
}

// OpenAI's reasoning and GPT-5 models answer 400 to max_tokens and to a temperature
// other than their default; the fake refuses both as OpenAI does.
func TestStreamToReasoningModels(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name          string
		completion    bool
		params        domain.ChatParams
		wantRefused   string
		wantMax       *int
		wantCompleted *int
	}{
		{name: "gpt-5 with max_completion_tokens and no temperature", completion: true,
			params: domain.ChatParams{Model: "gpt-5-mini", MaxTokens: 300}, wantCompleted: ptr(300)},
		{name: "o3 with neither limit nor temperature",
			params: domain.ChatParams{Model: "o3"}},
		{name: "gpt-5 refuses max_tokens",
			params: domain.ChatParams{Model: "gpt-5", MaxTokens: 300}, wantRefused: "'max_tokens' is not supported", wantMax: ptr(300)},
		{name: "o4-mini refuses a temperature", completion: true,
			params: domain.ChatParams{Model: "o4-mini", Temperature: ptr(0.2), MaxTokens: 300}, wantRefused: "'temperature' does not support 0.2", wantCompleted: ptr(300)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := openaitest.New(t, openaitest.Options{APIKey: tenantKey})
			m := newChat(t, srv, tenantKey, func(c *openai.ChatConfig) { c.MaxCompletionTokens = tc.completion })

			got := collect(m.Stream(t.Context(), conversation, tc.params))

			req := srv.ChatRequests()[0]
			assert.Equal(t, tc.wantMax, req.MaxTokens)
			assert.Equal(t, tc.wantCompleted, req.MaxCompletionTokens)
			if tc.wantRefused == "" {
				require.NoError(t, got.err)
				assert.Nil(t, req.Temperature, "an unset temperature is not sent")
				return
			}
			require.Error(t, got.err)
			assert.Equal(t, domain.KindInvalid, domain.KindOf(got.err), "OpenAI's 400: %v", got.err)
			violations := srv.TakeViolations()
			require.Len(t, violations, 1)
			assert.Contains(t, violations[0], tc.wantRefused)
		})
	}
}

func TestStreamReadsUsageWhenChoicesIsNull(t *testing.T) {
	t.Parallel()
	srv := openaitest.New(t, openaitest.Options{APIKey: tenantKey, NullChoicesInUsage: true, PromptTokens: 7, CompletionTokens: 3})
	m := newChat(t, srv, tenantKey)

	got := collect(m.Stream(t.Context(), conversation, params))

	require.NoError(t, got.err)
	require.NotNil(t, got.final)
	assert.Equal(t, domain.Usage{PromptTokens: 7, CompletionTokens: 3}, got.final.Usage)
	assert.Equal(t, "gpt-4o-mini", got.final.Model, "the model the server reported")
}

// Not parallel: it sets the process environment.
func TestAmbientOpenAIEnvironmentNeverReachesATenant(t *testing.T) {
	t.Setenv("OPENAI_API_KEY", "sk-platform-key")
	t.Setenv("OPENAI_ORG_ID", "org-platform")
	t.Setenv("OPENAI_PROJECT_ID", "proj-platform")
	t.Setenv("OPENAI_BASE_URL", "http://127.0.0.1:1/v1")
	t.Setenv("OPENAI_CUSTOM_HEADERS", "Api-Key: leaked")
	srv := openaitest.New(t, openaitest.Options{}) // a local server without a key
	m := newChat(t, srv, "")

	got := collect(m.Stream(t.Context(), conversation, params))

	require.NoError(t, got.err)
	assert.Empty(t, srv.ChatRequests()[0].Authorization, "no key configured, none sent")
}

func TestStreamFailures(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		fault  openaitest.Fault
		key    string
		edit   func(*openai.ChatConfig)
		kind   domain.Kind
		code   string
		texts  int
		retry  int
		detail string
	}{
		{name: "server error", fault: openaitest.Fault{Status: 500}, kind: domain.KindUnavailable, code: openai.CodeUnavailable},
		{name: "rate limited", fault: openaitest.Fault{Status: 429, RetryAfter: "7", Code: "rate_limit_exceeded"},
			kind: domain.KindRateLimited, code: openai.CodeRateLimited, retry: 7},
		{name: "out of quota", fault: openaitest.Fault{Status: 429, Code: "insufficient_quota"},
			kind: domain.KindUnavailable, code: openai.CodeQuota},
		{name: "bad request", fault: openaitest.Fault{Status: 400, Code: "context_length_exceeded"},
			kind: domain.KindInvalid, code: openai.CodeInvalid},
		{name: "rejected key", key: "sk-wrong-key-000000", kind: domain.KindUnavailable, code: openai.CodeKeyRejected,
			detail: "the tenant's model API key was rejected"},
		{name: "cut mid-answer", fault: openaitest.Fault{After: 2, Cut: true}, kind: domain.KindUnavailable,
			code: openai.CodeStreamCut, texts: 2, detail: "the model stream ended early"},
		{name: "ended without finish", fault: openaitest.Fault{After: 3, End: true}, kind: domain.KindUnavailable,
			code: openai.CodeStreamCut, texts: 3, detail: "the model stream ended early"},
		{name: "stalled past the idle timeout", fault: openaitest.Fault{After: 1, Stall: true},
			edit: func(c *openai.ChatConfig) { c.IdleTimeout = 150 * time.Millisecond }, kind: domain.KindUnavailable,
			code: openai.CodeTimeout, texts: 1, detail: "the model sent nothing for 150ms"},
		// The idle timeout stays at its default, far longer: only the overall one can end it.
		{name: "slower than the overall timeout", fault: openaitest.Fault{After: 2, Stall: true},
			edit: func(c *openai.ChatConfig) { c.Timeout = 250 * time.Millisecond }, kind: domain.KindUnavailable,
			code: openai.CodeTimeout, texts: 2, detail: "the model did not finish within 250ms"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := openaitest.New(t, openaitest.Options{APIKey: tenantKey})
			if tc.fault != (openaitest.Fault{}) {
				srv.Inject(tc.fault)
			}
			key := tenantKey
			if tc.key != "" {
				key = tc.key
			}
			edits := []func(*openai.ChatConfig){}
			if tc.edit != nil {
				edits = append(edits, tc.edit)
			}
			m := newChat(t, srv, key, edits...)

			got := collect(m.Stream(t.Context(), conversation, params))

			de := requireCode(t, got.err, tc.kind, tc.code)
			assert.Nil(t, got.final, "no final delta after an error")
			assert.Len(t, got.texts, tc.texts, "deltas before the failure")
			assert.Equal(t, tc.retry, de.RetryAfterSeconds)
			if tc.detail != "" {
				assert.Equal(t, tc.detail, de.Detail)
			}
			assert.Len(t, srv.ChatRequests(), 1, "chat streams are not retried by default")
		})
	}
}

func TestStallBeforeAnyResponseHitsTheIdleTimeout(t *testing.T) {
	t.Parallel()
	stop := make(chan struct{})
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body) // lets net/http notice the client leaving
		select {
		case <-r.Context().Done():
		case <-stop: // never outlive the test, whatever the client did
		}
	}))
	t.Cleanup(hang.Close)
	t.Cleanup(func() { close(stop) }) // runs first: Cleanup is last in, first out
	m, err := openai.NewChatModel(openai.ChatConfig{BaseURL: hang.URL + "/v1", HTTPClient: newHTTPClient(t), IdleTimeout: 100 * time.Millisecond})
	require.NoError(t, err)

	start := time.Now()
	got := collect(m.Stream(t.Context(), conversation, params))

	requireCode(t, got.err, domain.KindUnavailable, openai.CodeTimeout)
	// 100 ms idle timeout; the bound is loose because this 2-core machine is shared.
	assert.Less(t, time.Since(start), 5*time.Second)
}

func TestUnreachableProviderIsUnavailable(t *testing.T) {
	t.Parallel()
	dead := httptest.NewServer(http.NotFoundHandler())
	url := dead.URL
	dead.Close()
	m, err := openai.NewChatModel(openai.ChatConfig{BaseURL: url + "/v1", APIKey: tenantKey, HTTPClient: newHTTPClient(t)})
	require.NoError(t, err)

	got := collect(m.Stream(t.Context(), conversation, params))

	requireCode(t, got.err, domain.KindUnavailable, openai.CodeUnreachable)
}

func TestStreamRejectsMissingModel(t *testing.T) {
	t.Parallel()
	srv := openaitest.New(t, openaitest.Options{APIKey: tenantKey})
	m := newChat(t, srv, tenantKey)

	got := collect(m.Stream(t.Context(), conversation, domain.ChatParams{}))

	assert.Equal(t, domain.KindInvalid, domain.KindOf(got.err))
	assert.Empty(t, srv.ChatRequests())
}

func TestNewChatModelRejectsBadBaseURL(t *testing.T) {
	t.Parallel()
	for _, u := range []string{"ftp://example.com", "https://user:pw@example.com/v1", "not a url"} {
		_, err := openai.NewChatModel(openai.ChatConfig{BaseURL: u})
		assert.Equal(t, domain.KindInvalid, domain.KindOf(err), u)
	}
}

// Not parallel: goleak compares against the goroutines alive when it starts.
func TestCancellationEndsAtOnceAndLeavesNoGoroutine(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t, goleak.IgnoreCurrent()) }) // runs last: after the server and transport close
	reply := make([]string, 200)
	for i := range reply {
		reply[i] = fmt.Sprintf(" word%d", i)
	}
	srv := openaitest.New(t, openaitest.Options{APIKey: tenantKey, Reply: reply, Delay: 20 * time.Millisecond})
	m := newChat(t, srv, tenantKey)

	t.Run("cancel", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		var texts int
		var gotErr error
		var cancelledAt time.Time
		for d, err := range m.Stream(ctx, conversation, params) {
			if err != nil {
				gotErr = err
				break
			}
			texts += len(d.Text)
			if cancelledAt.IsZero() {
				cancelledAt = time.Now()
				cancel()
			}
		}
		require.ErrorIs(t, gotErr, context.Canceled)
		assert.Less(t, time.Since(cancelledAt), 200*time.Millisecond, "ends at once, not after the model")
	})
	t.Run("stop iterating", func(t *testing.T) {
		n := 0
		for _, err := range m.Stream(t.Context(), conversation, params) {
			require.NoError(t, err)
			if n++; n == 3 {
				break
			}
		}
		assert.Equal(t, 3, n)
	})
	assert.Eventually(t, func() bool { return srv.OpenStreams() == 0 }, 2*time.Second, 10*time.Millisecond,
		"the server sees both streams abandoned")
}

func ptr[T any](v T) *T { return &v }
