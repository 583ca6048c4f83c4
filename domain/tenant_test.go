package domain_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/domain"
)

var now = time.Date(2026, 3, 14, 15, 9, 26, 0, time.UTC)

func validTenant(t *testing.T) domain.Tenant {
	t.Helper()
	tn, err := domain.NewTenant("acme", "  Acme Inc.  ", now)
	require.NoError(t, err)
	return tn
}

// invalidFields returns the field names an Invalid error lists, or fails.
func invalidFields(t *testing.T, err error) []string {
	t.Helper()
	require.Error(t, err)
	require.Equal(t, domain.KindInvalid, domain.KindOf(err), "error: %v", err)
	var names []string
	for _, f := range domain.AsError(err).Fields {
		names = append(names, f.Field)
	}
	return names
}

func TestParseTenantID(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		in      string
		wantErr bool
	}{
		{name: "simple", in: "acme"},
		{name: "shortest", in: "abc"},
		{name: "digits and dashes", in: "team-42-eu"},
		{name: "starts with a digit", in: "1st-tenant"},
		{name: "longest", in: "a" + strings.Repeat("b", 61) + "c"},
		{name: "too long", in: "a" + strings.Repeat("b", 62) + "c", wantErr: true},
		{name: "too short", in: "ab", wantErr: true},
		{name: "empty", in: "", wantErr: true},
		{name: "upper case", in: "Acme", wantErr: true},
		{name: "leading dash", in: "-acme", wantErr: true},
		{name: "trailing dash", in: "acme-", wantErr: true},
		{name: "underscore", in: "ac_me", wantErr: true},
		{name: "dot", in: "ac.me", wantErr: true},
		{name: "space", in: "ac me", wantErr: true},
		{name: "slash", in: "acme/../x", wantErr: true},
		{name: "newline suffix", in: "acme\n", wantErr: true},
		{name: "non-ascii letter", in: "acmé", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := domain.ParseTenantID(tc.in)
			if tc.wantErr {
				assert.Equal(t, []string{"id"}, invalidFields(t, err))
				assert.Empty(t, got)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.in, got.String())
		})
	}
}

func TestNewTenantDefaults(t *testing.T) {
	t.Parallel()
	got := validTenant(t)

	assert.Equal(t, "Acme Inc.", got.Name)
	assert.Equal(t, domain.TenantActive, got.Status)
	assert.Equal(t, domain.DefaultSystemPrompt, got.SystemPrompt)
	assert.Equal(t, domain.DefaultTopK, got.Retrieval.TopK)
	assert.Equal(t, domain.VectorEmbedded, got.VectorStore.Provider)
	assert.Equal(t, "acme", got.VectorStore.Namespace)
	assert.Equal(t, domain.EmbedderHashing, got.Embedder.Provider)
	assert.Equal(t, domain.DefaultDimensions, got.Embedder.Dimensions)
	assert.Equal(t, domain.LLMExtractive, got.LLM.Provider)
	assert.Equal(t, domain.Limits{}, got.Limits, "unlimited by default")
	assert.Equal(t, now, got.CreatedAt)
	assert.NoError(t, got.Validate())

	_, err := domain.NewTenant("acme", " ", now)
	assert.Equal(t, []string{"name"}, invalidFields(t, err))
}

func TestTenantValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		change     func(t *domain.Tenant)
		wantFields []string // nil: valid
	}{
		{name: "defaults", change: func(*domain.Tenant) {}},
		{name: "bad id", change: func(t *domain.Tenant) { t.ID = "A" }, wantFields: []string{"id"}},
		{name: "empty name", change: func(t *domain.Tenant) { t.Name = "" }, wantFields: []string{"name"}},
		{name: "long name", change: func(t *domain.Tenant) { t.Name = strings.Repeat("n", 201) }, wantFields: []string{"name"}},
		{name: "unknown status", change: func(t *domain.Tenant) { t.Status = "paused" }, wantFields: []string{"status"}},
		{name: "suspended is valid", change: func(t *domain.Tenant) { t.Status = domain.TenantSuspended }},
		{name: "empty system prompt is valid", change: func(t *domain.Tenant) { t.SystemPrompt = "" }},
		{name: "long system prompt", change: func(t *domain.Tenant) { t.SystemPrompt = strings.Repeat("p", 20001) }, wantFields: []string{"system_prompt"}},
		{name: "top_k zero", change: func(t *domain.Tenant) { t.Retrieval.TopK = 0 }, wantFields: []string{"retrieval.top_k"}},
		{name: "top_k 50", change: func(t *domain.Tenant) { t.Retrieval.TopK = 50 }},
		{name: "top_k 51", change: func(t *domain.Tenant) { t.Retrieval.TopK = 51 }, wantFields: []string{"retrieval.top_k"}},
		{name: "min_score below -1", change: func(t *domain.Tenant) { t.Retrieval.MinScore = -1.01 }, wantFields: []string{"retrieval.min_score"}},
		{name: "min_score above 1", change: func(t *domain.Tenant) { t.Retrieval.MinScore = 1.5 }, wantFields: []string{"retrieval.min_score"}},
		{name: "unknown vector provider", change: func(t *domain.Tenant) { t.VectorStore.Provider = "qdrant" }, wantFields: []string{"vector_store.provider"}},
		{name: "pinecone without host", change: func(t *domain.Tenant) { t.VectorStore.Provider = domain.VectorPinecone }, wantFields: []string{"vector_store.index_host"}},
		{name: "pinecone with host", change: func(t *domain.Tenant) {
			t.VectorStore.Provider, t.VectorStore.IndexHost = domain.VectorPinecone, "https://idx-abc.svc.pinecone.io"
		}},
		{name: "index host not a url", change: func(t *domain.Tenant) { t.VectorStore.IndexHost = "idx.example" }, wantFields: []string{"vector_store.index_host"}},
		{name: "index host with credentials", change: func(t *domain.Tenant) { t.VectorStore.IndexHost = "https://user:pw@idx.example" }, wantFields: []string{"vector_store.index_host"}},
		{name: "empty namespace", change: func(t *domain.Tenant) { t.VectorStore.Namespace = "" }, wantFields: []string{"vector_store.namespace"}},
		{name: "long namespace", change: func(t *domain.Tenant) { t.VectorStore.Namespace = strings.Repeat("n", 513) }, wantFields: []string{"vector_store.namespace"}},
		{name: "unknown embedder", change: func(t *domain.Tenant) { t.Embedder.Provider = "cohere" }, wantFields: []string{"embedder.provider"}},
		{name: "dimensions too small", change: func(t *domain.Tenant) { t.Embedder.Dimensions = 7 }, wantFields: []string{"embedder.dimensions"}},
		{name: "dimensions too large", change: func(t *domain.Tenant) { t.Embedder.Dimensions = 8193 }, wantFields: []string{"embedder.dimensions"}},
		{name: "long embedder model", change: func(t *domain.Tenant) { t.Embedder.Model = strings.Repeat("m", 201) }, wantFields: []string{"embedder.model"}},
		{name: "unknown llm", change: func(t *domain.Tenant) { t.LLM.Provider = "anthropic" }, wantFields: []string{"llm.provider"}},
		{name: "llm base url not http", change: func(t *domain.Tenant) { t.LLM.BaseURL = "ftp://llm.example" }, wantFields: []string{"llm.base_url"}},
		{name: "llm base url without host", change: func(t *domain.Tenant) { t.LLM.BaseURL = "https://" }, wantFields: []string{"llm.base_url"}},
		{name: "empty llm model", change: func(t *domain.Tenant) { t.LLM.Model = "" }, wantFields: []string{"llm.model"}},
		{name: "negative temperature", change: func(t *domain.Tenant) { t.LLM.Temperature = p(-0.1) }, wantFields: []string{"llm.temperature"}},
		{name: "temperature above 2", change: func(t *domain.Tenant) { t.LLM.Temperature = p(2.1) }, wantFields: []string{"llm.temperature"}},
		{name: "no temperature is valid", change: func(t *domain.Tenant) { t.LLM.Temperature = nil }},
		{name: "max tokens zero is no limit", change: func(t *domain.Tenant) { t.LLM.MaxTokens = 0 }},
		{name: "negative max tokens", change: func(t *domain.Tenant) { t.LLM.MaxTokens = -1 }, wantFields: []string{"llm.max_tokens"}},
		{name: "unknown max tokens param", change: func(t *domain.Tenant) { t.LLM.MaxTokensParam = "max_output_tokens" }, wantFields: []string{"llm.max_tokens_param"}},
		{name: "max tokens too large", change: func(t *domain.Tenant) { t.LLM.MaxTokens = 200_001 }, wantFields: []string{"llm.max_tokens"}},
		{name: "negative requests per minute", change: func(t *domain.Tenant) { t.Limits.RequestsPerMinute = -1 }, wantFields: []string{"limits.requests_per_minute"}},
		{name: "huge requests per minute", change: func(t *domain.Tenant) { t.Limits.RequestsPerMinute = 1_000_001 }, wantFields: []string{"limits.requests_per_minute"}},
		{name: "negative streams", change: func(t *domain.Tenant) { t.Limits.MaxConcurrentStreams = -1 }, wantFields: []string{"limits.max_concurrent_streams"}},
		{name: "huge streams", change: func(t *domain.Tenant) { t.Limits.MaxConcurrentStreams = 100_001 }, wantFields: []string{"limits.max_concurrent_streams"}},
		{name: "negative quota", change: func(t *domain.Tenant) { t.Limits.MonthlyTokenQuota = -1 }, wantFields: []string{"limits.monthly_token_quota"}},
		{name: "huge quota", change: func(t *domain.Tenant) { t.Limits.MonthlyTokenQuota = 1_000_000_000_001 }, wantFields: []string{"limits.monthly_token_quota"}},
		{name: "several at once", change: func(t *domain.Tenant) { t.Name, t.Retrieval.TopK, t.LLM.Model = "", 0, "" },
			wantFields: []string{"name", "retrieval.top_k", "llm.model"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tn := validTenant(t)
			tc.change(&tn)

			err := tn.Validate()

			if tc.wantFields == nil {
				assert.NoError(t, err)
				return
			}
			assert.ElementsMatch(t, tc.wantFields, invalidFields(t, err))
		})
	}
}

func TestTenantVendorURLsSecure(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		baseURL    string
		indexHost  string
		allowHTTP  bool
		wantFields []string
	}{
		{name: "none set"},
		{name: "https", baseURL: "https://llm.example/v1", indexHost: "https://idx.example"},
		{name: "http base url", baseURL: "http://localhost:11434/v1", wantFields: []string{"llm.base_url"}},
		{name: "http index host", indexHost: "http://idx.example", wantFields: []string{"vector_store.index_host"}},
		{name: "both http", baseURL: "http://a.example", indexHost: "http://b.example", wantFields: []string{"llm.base_url", "vector_store.index_host"}},
		{name: "upper-case scheme is still https", baseURL: "HTTPS://llm.example"},
		{name: "http allowed", baseURL: "http://localhost:11434/v1", indexHost: "http://idx.example", allowHTTP: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tn := validTenant(t)
			tn.LLM.BaseURL, tn.VectorStore.IndexHost = tc.baseURL, tc.indexHost

			err := tn.VendorURLsSecure(tc.allowHTTP)

			if tc.wantFields == nil {
				assert.NoError(t, err)
				return
			}
			assert.ElementsMatch(t, tc.wantFields, invalidFields(t, err))
		})
	}
}

func TestTenantStatusRules(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name          string
		status        domain.TenantStatus
		wantChat      error
		wantDeletable domain.Kind // KindInternal: deletable
	}{
		{name: "active", status: domain.TenantActive, wantDeletable: domain.KindConflict},
		{name: "suspended", status: domain.TenantSuspended, wantChat: domain.ErrTenantSuspended},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tn := validTenant(t)
			tn.Status = tc.status

			chat := tn.CanChat(now)
			del := tn.Deletable()

			if tc.wantChat == nil {
				assert.NoError(t, chat)
			} else {
				assert.ErrorIs(t, chat, tc.wantChat)
			}
			if tc.wantDeletable == domain.KindInternal {
				assert.NoError(t, del)
			} else {
				assert.Equal(t, tc.wantDeletable, domain.KindOf(del))
			}
		})
	}
}

func TestTenantSmallHelpers(t *testing.T) {
	t.Parallel()
	tn := validTenant(t)
	assert.Equal(t, domain.DefaultOpenAIBaseURL, tn.LLMBaseURL())
	tn.LLM.BaseURL = "https://llm.example/v1"
	assert.Equal(t, "https://llm.example/v1", tn.LLMBaseURL())
	assert.Equal(t, "tenantry-acme", tn.AssistantID())

	later := now.Add(time.Hour).In(time.FixedZone("X", 3600))
	tn.Touch(later)
	assert.Equal(t, time.UTC, tn.UpdatedAt.Location())
	assert.True(t, tn.UpdatedAt.Equal(later))
}

func TestSecretIsNeverPrinted(t *testing.T) {
	t.Parallel()
	const key = "sk-live-0123456789abcdef"
	s := domain.Secret(key)
	tn := validTenant(t)
	tn.LLM.APIKey = s
	tn.VectorStore.APIKey = s
	tn.Embedder.APIKey = s
	formats := []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%T %v"}

	tests := []struct {
		name  string
		value any
	}{
		{name: "secret", value: s},
		{name: "pointer to secret", value: &s},
		{name: "settings struct", value: tn.LLM},
		{name: "tenant", value: tn},
		{name: "pointer to tenant", value: &tn},
		{name: "slice", value: []domain.Secret{s}},
		{name: "map value", value: map[string]domain.Secret{"k": s}},
	}
	for _, tc := range tests {
		for _, f := range formats {
			t.Run(tc.name+" "+f, func(t *testing.T) {
				t.Parallel()
				got := fmt.Sprintf(f, tc.value)
				assert.NotContains(t, got, key)
				assert.NotContains(t, got, "0123456789abcdef")
				assert.NotContains(t, got, fmt.Sprintf("%x", key))
			})
		}
	}
	assert.Equal(t, "[redacted]", s.String())
	assert.Equal(t, "[redacted]", s.GoString())
	assert.Equal(t, key, s.Reveal())
}

func TestSecretHelpers(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		s         domain.Secret
		wantSet   bool
		wantLast4 string
		wantStr   string
	}{
		{name: "empty", s: "", wantStr: ""},
		{name: "short key shows nothing", s: "abcdefgh", wantSet: true, wantStr: "[redacted]"},
		{name: "long key shows last four", s: "sk-abcdefgh1234", wantSet: true, wantLast4: "1234", wantStr: "[redacted]"},
		{name: "runes, not bytes", s: "ключ-секрет-ёжик", wantSet: true, wantLast4: "ёжик", wantStr: "[redacted]"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			assert.Equal(t, tc.wantSet, tc.s.IsSet())
			assert.Equal(t, tc.wantLast4, tc.s.Last4())
			assert.Equal(t, tc.wantStr, tc.s.String())
		})
	}
}

func TestLLMSendsMaxCompletionTokens(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		llm     domain.LLMSettings
		wantNew bool
	}{
		{name: "auto, default base URL is OpenAI", llm: domain.LLMSettings{MaxTokensParam: domain.MaxTokensParamAuto}, wantNew: true},
		{name: "empty param is auto", llm: domain.LLMSettings{BaseURL: "https://api.openai.com/v1"}, wantNew: true},
		{name: "auto, Azure OpenAI", llm: domain.LLMSettings{BaseURL: "https://acme.openai.azure.com/openai/v1", MaxTokensParam: "auto"}, wantNew: true},
		{name: "auto, Azure AI Foundry", llm: domain.LLMSettings{BaseURL: "https://acme.services.ai.azure.com/openai/v1"}, wantNew: true},
		{name: "auto, Azure cognitive services host", llm: domain.LLMSettings{BaseURL: "https://ACME.cognitiveservices.azure.com/openai/v1"}, wantNew: true},
		{name: "auto, vLLM", llm: domain.LLMSettings{BaseURL: "http://vllm:8000/v1"}},
		{name: "auto, Ollama", llm: domain.LLMSettings{BaseURL: "http://localhost:11434/v1"}},
		{name: "auto, a lookalike host", llm: domain.LLMSettings{BaseURL: "https://api.openai.com.evil.example/v1"}},
		{name: "forced on", llm: domain.LLMSettings{BaseURL: "http://vllm:8000/v1", MaxTokensParam: domain.MaxTokensParamMaxCompletionTokens}, wantNew: true},
		{name: "forced off", llm: domain.LLMSettings{BaseURL: "https://api.openai.com/v1", MaxTokensParam: domain.MaxTokensParamMaxTokens}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			assert.Equal(t, tc.wantNew, tc.llm.SendsMaxCompletionTokens())
		})
	}
}
