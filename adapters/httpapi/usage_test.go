package httpapi_test

import (
	"context"
	"encoding/json"
	"iter"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/domain"
)

type usageView struct {
	PromptTokens     int64 `json:"prompt_tokens"`
	CompletionTokens int64 `json:"completion_tokens"`
	TotalTokens      int64 `json:"total_tokens"`
	EstimatedTokens  int64 `json:"estimated_tokens"`
	Requests         int64 `json:"requests"`
}

func (ev *env) usage(t *testing.T) usageView {
	t.Helper()
	rec := ev.as("acme-member", http.MethodGet, "/usage", "")
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	var u usageView
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &u))
	return u
}

const partialAnswer = "The first part of an answer that the client never saw end."

// TestChatClientGoneStillPays: a client that closes the stream before `done` is
// charged for the prompt and for what the model produced, by estimate, marked so.
func TestChatClientGoneStillPays(t *testing.T) {
	ev := newEnv(t)
	ev.vendors.setModel(func(ctx context.Context, _ []domain.ChatMessage, _ domain.ChatParams) iter.Seq2[domain.Delta, error] {
		return func(yield func(domain.Delta, error) bool) {
			if !yield(domain.Delta{Text: partialAnswer}, nil) {
				return
			}
			<-ctx.Done() // the usage would only come with the end of the stream
			yield(domain.Delta{}, ctx.Err())
		}
	})
	srv := httptest.NewServer(ev.e)
	defer srv.Close()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
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

	require.Eventually(t, func() bool { return ev.usage(t).Requests == 1 }, 5*time.Second, 10*time.Millisecond,
		"the cut-short answer's usage is recorded")
	got := ev.usage(t)
	assert.Equal(t, int64(domain.EstimateTokens(partialAnswer)), got.CompletionTokens)
	assert.Positive(t, got.PromptTokens, "the prompt was sent to the model")
	assert.Equal(t, got.TotalTokens, got.EstimatedTokens, "all of it is marked estimated")
}

// TestChatVendorWithoutUsageStillPays: a vendor that finishes without reporting usage
// (one that ignores stream_options.include_usage) is charged by estimate; one that
// reports usage is charged exactly that, not estimated.
func TestChatVendorWithoutUsageStillPays(t *testing.T) {
	for _, tc := range []struct {
		name          string
		usage         domain.Usage
		wantEstimated bool
	}{
		{name: "no usage reported", wantEstimated: true},
		{name: "usage reported", usage: domain.Usage{PromptTokens: 11, CompletionTokens: 7}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ev := newEnv(t)
			ev.vendors.setModel(func(context.Context, []domain.ChatMessage, domain.ChatParams) iter.Seq2[domain.Delta, error] {
				return func(yield func(domain.Delta, error) bool) {
					if yield(domain.Delta{Text: partialAnswer}, nil) {
						yield(domain.Delta{Done: true, FinishReason: "stop", Usage: tc.usage}, nil)
					}
				}
			})
			rec := ev.as("acme-member", http.MethodPost, "/chat/stream", `{"message":"hello"}`)
			require.Equal(t, http.StatusOK, rec.Code)
			require.Contains(t, rec.Body.String(), "event: done")
			got := ev.usage(t)
			if !tc.wantEstimated {
				assert.Equal(t, usageView{PromptTokens: 11, CompletionTokens: 7, TotalTokens: 18, Requests: 1}, got)
				return
			}
			assert.Equal(t, int64(domain.EstimateTokens(partialAnswer)), got.CompletionTokens)
			assert.Positive(t, got.PromptTokens)
			assert.Equal(t, got.TotalTokens, got.EstimatedTokens)
		})
	}
}

// TestChatModelFailureStillPays: a model that fails mid-answer has produced tokens the
// vendor charges for; they are recorded by estimate.
func TestChatModelFailureStillPays(t *testing.T) {
	ev := newEnv(t)
	ev.vendors.setModel(func(context.Context, []domain.ChatMessage, domain.ChatParams) iter.Seq2[domain.Delta, error] {
		return func(yield func(domain.Delta, error) bool) {
			if yield(domain.Delta{Text: partialAnswer}, nil) {
				yield(domain.Delta{}, domain.ErrUnavailable.WithDetail("the model stream was cut"))
			}
		}
	})
	rec := ev.as("acme-member", http.MethodPost, "/chat/stream", `{"message":"hello"}`)
	require.Equal(t, http.StatusOK, rec.Code)
	require.Contains(t, rec.Body.String(), "event: error")
	got := ev.usage(t)
	assert.Equal(t, int64(domain.EstimateTokens(partialAnswer)), got.CompletionTokens)
	assert.Equal(t, got.TotalTokens, got.EstimatedTokens)
}
