package httpapi_test

import (
	"context"
	"encoding/json"
	"io"
	"iter"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/tenantry/tenantry/adapters/httpapi"
	"github.com/tenantry/tenantry/domain"
)

const acmeDoc = `{"title":"Vacation policy","text":"Employees of Acme receive thirty vacation days per year. Unused vacation days expire in March.","metadata":{"team":"hr"}}`

// ingest adds a document as the tenant's admin and returns its id.
func (ev *env) ingest(admin, body string) string {
	ev.t.Helper()
	rec := ev.as(admin, http.MethodPost, "/documents", body)
	require.Equal(ev.t, http.StatusCreated, rec.Code, rec.Body.String())
	var d struct {
		ID     string `json:"id"`
		Chunks int    `json:"chunks"`
	}
	require.NoError(ev.t, json.Unmarshal(rec.Body.Bytes(), &d))
	require.Positive(ev.t, d.Chunks)
	return d.ID
}

// chat posts a question on a live server and returns the response for streaming.
func chat(t *testing.T, srv *httptest.Server, token, body string) *http.Response {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, srv.URL+"/chat/stream", strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	res, err := srv.Client().Do(req)
	require.NoError(t, err)
	t.Cleanup(func() { _ = res.Body.Close() })
	return res
}

func readEvents(t *testing.T, r io.Reader) ([]sseEvent, []string) {
	t.Helper()
	p := newSSEParser(r)
	var evs []sseEvent
	for {
		ev, err := p.Next()
		if err != nil {
			return evs, p.Comments
		}
		evs = append(evs, ev)
	}
}

func TestChatStreamHappyPath(t *testing.T) {
	ev := newEnv(t)
	docID := ev.ingest("acme-admin", acmeDoc)
	srv := httptest.NewServer(ev.e)
	defer srv.Close()

	res := chat(t, srv, ev.token("acme-member"), `{"message":"How many vacation days do employees get?"}`)
	require.Equal(t, http.StatusOK, res.StatusCode)
	assert.Equal(t, "text/event-stream", res.Header.Get("Content-Type"))
	assert.Equal(t, "no-cache", res.Header.Get("Cache-Control"))
	assert.Equal(t, "no", res.Header.Get("X-Accel-Buffering"))
	assert.NotEmpty(t, res.Header.Get("X-Request-ID"))

	evs, _ := readEvents(t, res.Body)
	require.GreaterOrEqual(t, len(evs), 3)
	assert.Equal(t, "sources", evs[0].Type)
	var sources struct {
		Sources []map[string]any `json:"sources"`
	}
	require.NoError(t, json.Unmarshal([]byte(evs[0].Data), &sources))
	require.NotEmpty(t, sources.Sources)
	src := sources.Sources[0]
	assert.Equal(t, docID, src["document_id"])
	assert.Equal(t, "Vacation policy", src["title"])
	assert.Contains(t, src, "chunk")
	assert.Contains(t, src, "score")
	assert.Contains(t, src["text"], "thirty vacation days")

	var answer strings.Builder
	for _, e := range evs[1 : len(evs)-1] {
		require.Equal(t, "token", e.Type)
		var tok struct {
			Delta string `json:"delta"`
		}
		require.NoError(t, json.Unmarshal([]byte(e.Data), &tok))
		answer.WriteString(tok.Delta)
	}
	assert.Contains(t, answer.String(), "thirty vacation days")

	last := evs[len(evs)-1]
	require.Equal(t, "done", last.Type)
	var done struct {
		ConversationID string `json:"conversation_id"`
		MessageID      string `json:"message_id"`
		Model          string `json:"model"`
		FinishReason   string `json:"finish_reason"`
		Usage          struct {
			PromptTokens     int `json:"prompt_tokens"`
			CompletionTokens int `json:"completion_tokens"`
		} `json:"usage"`
	}
	require.NoError(t, json.Unmarshal([]byte(last.Data), &done))
	assert.NotEmpty(t, done.ConversationID)
	assert.NotEmpty(t, done.MessageID)
	assert.Equal(t, "fake-model", done.Model)
	assert.Equal(t, "stop", done.FinishReason)
	assert.Equal(t, 11, done.Usage.PromptTokens)
	assert.Equal(t, 7, done.Usage.CompletionTokens)

	// The conversation is listed and holds both messages with the sources.
	rec := ev.as("acme-member", http.MethodGet, "/conversations", "")
	require.Equal(t, http.StatusOK, rec.Code)
	assert.Contains(t, rec.Body.String(), done.ConversationID)
	rec = ev.as("acme-member", http.MethodGet, "/conversations/"+done.ConversationID, "")
	require.Equal(t, http.StatusOK, rec.Code)
	var conv struct {
		ID       string `json:"id"`
		Messages []struct {
			ID         string           `json:"id"`
			Role       string           `json:"role"`
			Content    string           `json:"content"`
			Sources    []map[string]any `json:"sources"`
			Incomplete bool             `json:"incomplete"`
		} `json:"messages"`
	}
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &conv))
	require.Len(t, conv.Messages, 2)
	assert.Equal(t, "user", conv.Messages[0].Role)
	assert.Equal(t, "assistant", conv.Messages[1].Role)
	assert.Equal(t, done.MessageID, conv.Messages[1].ID)
	assert.Equal(t, answer.String(), conv.Messages[1].Content)
	assert.NotEmpty(t, conv.Messages[1].Sources)
	assert.False(t, conv.Messages[1].Incomplete)

	// Another user of the same tenant cannot see it.
	requireProblem(t, ev.as("acme-admin", http.MethodGet, "/conversations/"+done.ConversationID, ""), http.StatusNotFound, "not_found")
	// Nor can another tenant.
	requireProblem(t, ev.as("globex-admin", http.MethodGet, "/conversations/"+done.ConversationID, ""), http.StatusNotFound, "not_found")

	// A follow-up in the same conversation.
	res = chat(t, srv, ev.token("acme-member"), `{"message":"And when do they expire?","conversation_id":"`+done.ConversationID+`"}`)
	require.Equal(t, http.StatusOK, res.StatusCode)
	evs, _ = readEvents(t, res.Body)
	assert.Equal(t, "done", evs[len(evs)-1].Type)
	assert.Contains(t, evs[len(evs)-1].Data, done.ConversationID)
}

func TestChatNeverRetrievesAnotherTenantsPassages(t *testing.T) {
	ev := newEnv(t)
	ev.ingest("acme-admin", acmeDoc)
	srv := httptest.NewServer(ev.e)
	defer srv.Close()
	res := chat(t, srv, ev.token("globex-admin"), `{"message":"How many vacation days do employees get?"}`)
	require.Equal(t, http.StatusOK, res.StatusCode)
	evs, _ := readEvents(t, res.Body)
	require.NotEmpty(t, evs)
	assert.Equal(t, "sources", evs[0].Type)
	assert.JSONEq(t, `{"sources":[]}`, evs[0].Data)
	for _, e := range evs {
		assert.NotContains(t, e.Data, "thirty")
	}
}

func TestChatErrorsBeforeTheStreamAreProblems(t *testing.T) {
	ev := newEnv(t, func(c *httpapi.Config, _ *httpapi.Deps) { c.MaxBodyBytes = 1024 })
	tests := []struct {
		name        string
		contentType string
		body        string
		wantStatus  int
		wantCode    string
		wantFields  []string
	}{
		{name: "empty message", body: `{"message":"  "}`, wantStatus: 400, wantCode: "invalid_request", wantFields: []string{"message"}},
		{name: "unknown field", body: `{"message":"hi","temperature":2}`, wantStatus: 400, wantCode: "invalid_request", wantFields: []string{"temperature"}},
		{name: "wrong type", body: `{"message":42}`, wantStatus: 400, wantCode: "invalid_request", wantFields: []string{"message"}},
		{name: "trailing data", body: `{"message":"hi"} {}`, wantStatus: 400, wantCode: "invalid_request"},
		{name: "not JSON", body: `message=hi`, wantStatus: 400, wantCode: "invalid_request"},
		{name: "invalid UTF-8", body: "{\"message\":\"\xff\"}", wantStatus: 400, wantCode: "invalid_request"},
		{name: "form content type", contentType: "application/x-www-form-urlencoded", body: `message=hi`, wantStatus: 415, wantCode: "unsupported_media_type"},
		{name: "text content type", contentType: "text/plain", body: `{"message":"hi"}`, wantStatus: 415, wantCode: "unsupported_media_type"},
		{name: "latin-1 charset", contentType: "application/json; charset=latin1", body: `{"message":"hi"}`, wantStatus: 415, wantCode: "unsupported_media_type"},
		{name: "too large", body: `{"message":"` + strings.Repeat("a", 2000) + `"}`, wantStatus: 413, wantCode: "too_large"},
		{name: "unknown conversation", body: `{"message":"hi","conversation_id":"nope"}`, wantStatus: 404, wantCode: "not_found"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ct := tc.contentType
			if ct == "" {
				ct = "application/json"
			}
			rec := ev.as("acme-member", http.MethodPost, "/chat/stream", tc.body, "Content-Type", ct)
			p := requireProblem(t, rec, tc.wantStatus, tc.wantCode)
			if tc.wantFields != nil {
				assert.Equal(t, tc.wantFields, fieldsOf(p))
			}
		})
	}
	t.Run("chunked body over the limit", func(t *testing.T) {
		body := io.MultiReader(strings.NewReader(`{"message":"`), strings.NewReader(strings.Repeat("a", 4000)), strings.NewReader(`"}`))
		rec := ev.do(http.MethodPost, "/chat/stream", body, "Authorization", "Bearer "+ev.token("acme-member"), "Content-Type", "application/json")
		requireProblem(t, rec, http.StatusRequestEntityTooLarge, "too_large")
	})
	t.Run("retrieval outage", func(t *testing.T) {
		ev := newEnv(t)
		tok := ev.token("acme-member")
		ev.db.SetDown(true)
		rec := ev.do(http.MethodPost, "/chat/stream", strings.NewReader(`{"message":"hi"}`), "Authorization", "Bearer "+tok, "Content-Type", "application/json")
		requireProblem(t, rec, http.StatusServiceUnavailable, "unavailable")
	})
}

func TestChatFailureAfterStartIsOneErrorEvent(t *testing.T) {
	ev := newEnv(t)
	ev.vendors.setModel(func(ctx context.Context, _ []domain.ChatMessage, _ domain.ChatParams) iter.Seq2[domain.Delta, error] {
		return func(yield func(domain.Delta, error) bool) {
			if !yield(domain.Delta{Text: "partial <b> & "}, nil) {
				return
			}
			yield(domain.Delta{}, domain.ErrUnavailable.WithDetail("the model vendor failed").WithRetryAfter(5))
		}
	})
	srv := httptest.NewServer(ev.e)
	defer srv.Close()
	res := chat(t, srv, ev.token("acme-member"), `{"message":"hello there"}`)
	require.Equal(t, http.StatusOK, res.StatusCode)
	evs, _ := readEvents(t, res.Body)
	types := make([]string, 0, len(evs))
	for _, e := range evs {
		types = append(types, e.Type)
	}
	assert.Equal(t, []string{"sources", "token", "error"}, types)
	assert.JSONEq(t, `{"delta":"partial <b> & "}`, evs[1].Data)
	assert.Contains(t, evs[1].Data, "<b> &", "no HTML escaping in JSON")
	var p problemBody
	require.NoError(t, json.Unmarshal([]byte(evs[2].Data), &p))
	assert.Equal(t, 503, p.Status)
	assert.Equal(t, "unavailable", p.Code)
	assert.Equal(t, "https://tenantry.dev/problems/unavailable", p.Type)
	assert.Equal(t, "the model vendor failed", p.Detail)
	assert.Equal(t, "/chat/stream", p.Instance)
	assert.Equal(t, res.Header.Get("X-Request-ID"), p.RequestID)
}

func TestChatPingsWhileWaiting(t *testing.T) {
	ev := newEnv(t, func(c *httpapi.Config, _ *httpapi.Deps) { c.PingInterval = 20 * time.Millisecond })
	release := make(chan struct{})
	ev.vendors.setModel(func(ctx context.Context, _ []domain.ChatMessage, _ domain.ChatParams) iter.Seq2[domain.Delta, error] {
		return func(yield func(domain.Delta, error) bool) {
			select { // the model stays silent until the client has seen pings
			case <-release:
			case <-ctx.Done():
				yield(domain.Delta{}, ctx.Err())
				return
			}
			if yield(domain.Delta{Text: "slow answer"}, nil) {
				yield(domain.Delta{Done: true, FinishReason: "stop", Model: "slow"}, nil)
			}
		}
	})
	srv := httptest.NewServer(ev.e)
	defer srv.Close()
	res := chat(t, srv, ev.token("acme-member"), `{"message":"hello"}`)
	require.Equal(t, http.StatusOK, res.StatusCode)
	p := newSSEParser(res.Body)
	p.OnComment = func(string) {
		if len(p.Comments) == 2 {
			close(release)
		}
	}
	var evs []sseEvent
	for {
		e, err := p.Next()
		if err != nil {
			break
		}
		evs = append(evs, e)
	}
	require.GreaterOrEqual(t, len(p.Comments), 2)
	for _, c := range p.Comments {
		assert.Equal(t, " ping", c)
	}
	require.Len(t, evs, 3)
	assert.Equal(t, []string{"sources", "token", "done"}, []string{evs[0].Type, evs[1].Type, evs[2].Type})
}

func TestChatEventsAreFlushedAsTheyCome(t *testing.T) {
	ev := newEnv(t)
	release := make(chan struct{})
	ev.vendors.setModel(heldModel(make(chan struct{}), release)) // "hi", then waits
	srv := httptest.NewServer(ev.e)
	defer srv.Close()
	res := chat(t, srv, ev.token("acme-member"), `{"message":"hello"}`)
	require.Equal(t, http.StatusOK, res.StatusCode)
	p := newSSEParser(res.Body)
	first, err := p.Next()
	require.NoError(t, err)
	assert.Equal(t, "sources", first.Type)
	second, err := p.Next()
	require.NoError(t, err, "the token arrives while the model is still blocked")
	assert.Equal(t, "token", second.Type)
	close(release)
	third, err := p.Next()
	require.NoError(t, err)
	assert.Equal(t, "done", third.Type)
}

func TestChatClientDisconnectCancelsTheModel(t *testing.T) {
	ev := newEnv(t)
	var mu sync.Mutex
	var modelErr error
	stopped := make(chan struct{})
	ev.vendors.setModel(func(ctx context.Context, _ []domain.ChatMessage, _ domain.ChatParams) iter.Seq2[domain.Delta, error] {
		return func(yield func(domain.Delta, error) bool) {
			defer close(stopped)
			if !yield(domain.Delta{Text: "partial"}, nil) {
				return
			}
			<-ctx.Done()
			mu.Lock()
			modelErr = ctx.Err()
			mu.Unlock()
			yield(domain.Delta{}, ctx.Err())
		}
	})
	srv := httptest.NewServer(ev.e)
	defer srv.Close()
	ctx, cancel := context.WithCancel(t.Context())
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL+"/chat/stream", strings.NewReader(`{"message":"hello"}`))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+ev.token("acme-member"))
	req.Header.Set("Content-Type", "application/json")
	res, err := srv.Client().Do(req)
	require.NoError(t, err)
	p := newSSEParser(res.Body)
	for range 2 { // sources, token
		_, err := p.Next()
		require.NoError(t, err)
	}
	cancel()
	_ = res.Body.Close()

	select {
	case <-stopped:
	case <-time.After(5 * time.Second):
		t.Fatal("the model was not cancelled when the client left")
	}
	mu.Lock()
	assert.ErrorIs(t, modelErr, context.Canceled)
	mu.Unlock()

	// The partial answer is stored, marked incomplete.
	require.Eventually(t, func() bool {
		cs, err := ev.db.Conversations().List(context.Background(), "acme", "u-acme-member", domain.Page{Limit: 10})
		if err != nil || len(cs) != 1 {
			return false
		}
		msgs, err := ev.db.Conversations().Messages(context.Background(), "acme", cs[0].ID, 10)
		return err == nil && len(msgs) == 2 && msgs[1].Incomplete && msgs[1].Content == "partial"
	}, 5*time.Second, 10*time.Millisecond)
}

func TestChatDisconnectLeavesNoGoroutines(t *testing.T) {
	ev := newEnv(t, func(c *httpapi.Config, _ *httpapi.Deps) { c.PingInterval = 5 * time.Millisecond })
	ev.vendors.setModel(func(ctx context.Context, _ []domain.ChatMessage, _ domain.ChatParams) iter.Seq2[domain.Delta, error] {
		return func(yield func(domain.Delta, error) bool) {
			if !yield(domain.Delta{Text: "partial"}, nil) {
				return
			}
			<-ctx.Done()
			yield(domain.Delta{}, ctx.Err())
		}
	})
	tok := ev.token("acme-member")
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	srv := httptest.NewServer(ev.e)
	defer srv.Close()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL+"/chat/stream", strings.NewReader(`{"message":"hello"}`))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/json")
	res, err := srv.Client().Do(req)
	require.NoError(t, err)
	p := newSSEParser(res.Body)
	for range 2 {
		_, err := p.Next()
		require.NoError(t, err)
	}
	time.Sleep(20 * time.Millisecond) // let a few pings go out
	cancel()
	_ = res.Body.Close()
}
