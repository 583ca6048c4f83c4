package domain_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/domain"
)

func p[T any](v T) *T { return &v }

// fullPatch sets every field to a valid value different from NewTenant's defaults.
func fullPatch() domain.TenantPatch {
	return domain.TenantPatch{
		Name: p("Acme Corp"), Status: p(domain.TenantSuspended), SystemPrompt: p("Be brief."),
		TopK: p(8), MinScore: p(0.25),
		VectorProvider: p(domain.VectorPinecone), IndexHost: p("https://idx.example"), Namespace: p("acme-v2"),
		VectorAPIKey: p(domain.Secret("pc-key-123456789")), EmbedderName: p(domain.EmbedderOpenAI), EmbedderModel: p("text-embedding-3-small"),
		EmbedderDims: p(1536), EmbedderSendDims: p(false), EmbedderAPIKey: p(domain.Secret("emb-key-123456789")), LLMProvider: p(domain.LLMOpenAI),
		LLMBaseURL: p("https://llm.example/v1"), LLMModel: p("gpt-x"), LLMTemperature: p(0.7), LLMMaxTokens: p(1024),
		LLMAPIKey: p(domain.Secret("sk-key-123456789")), RequestsPerMin: p(60), MonthlyQuota: p(int64(1_000_000)), MaxStreams: p(4),
	}
}

func TestTenantPatchFields(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		patch domain.TenantPatch
		want  []string
	}{
		{name: "empty", patch: domain.TenantPatch{}},
		{name: "keys only", patch: domain.TenantPatch{LLMAPIKey: p(domain.Secret("sk-x")), VectorAPIKey: p(domain.Secret(""))},
			want: []string{"vector_store.api_key", "llm.api_key"}},
		{name: "zero values count", patch: domain.TenantPatch{MinScore: p(0.0), MaxStreams: p(0)},
			want: []string{"retrieval.min_score", "limits.max_concurrent_streams"}},
		{name: "every field", patch: fullPatch(), want: []string{
			"name", "status", "system_prompt", "retrieval.top_k", "retrieval.min_score",
			"vector_store.provider", "vector_store.index_host", "vector_store.namespace", "vector_store.api_key",
			"embedder.provider", "embedder.model", "embedder.dimensions", "embedder.send_dimensions", "embedder.api_key",
			"llm.provider", "llm.base_url", "llm.model", "llm.temperature", "llm.max_tokens", "llm.api_key",
			"limits.requests_per_minute", "limits.monthly_token_quota", "limits.max_concurrent_streams",
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := tc.patch.Fields()
			assert.Equal(t, tc.want, got)
			for _, f := range got {
				assert.NotContains(t, f, "key-123456789", "field names never carry values")
			}
		})
	}
}

func TestTenantPatchAllowedFor(t *testing.T) {
	t.Parallel()
	tenantAdminPatch := domain.TenantPatch{SystemPrompt: p("x"), TopK: p(3), MinScore: p(0.1),
		VectorAPIKey: p(domain.Secret("a")), EmbedderAPIKey: p(domain.Secret("b")), LLMAPIKey: p(domain.Secret("c"))}
	tests := []struct {
		name       string
		who        domain.Principal
		target     domain.TenantID
		patch      domain.TenantPatch
		wantErr    error
		wantFields []string
	}{
		{name: "platform admin, everything", who: principal(domain.RolePlatformAdmin, ""), target: "acme", patch: fullPatch()},
		{name: "tenant admin, prompt, retrieval and keys", who: principal(domain.RoleTenantAdmin, "acme"), target: "acme", patch: tenantAdminPatch},
		{name: "tenant admin, empty patch", who: principal(domain.RoleTenantAdmin, "acme"), target: "acme", patch: domain.TenantPatch{}},
		{name: "tenant admin, another tenant", who: principal(domain.RoleTenantAdmin, "acme"), target: "globex", patch: tenantAdminPatch, wantErr: domain.ErrForbidden},
		{name: "member, own tenant", who: principal(domain.RoleMember, "acme"), target: "acme", patch: domain.TenantPatch{SystemPrompt: p("x")}, wantErr: domain.ErrForbidden},
		{name: "tenant admin, vendor endpoints and limits", who: principal(domain.RoleTenantAdmin, "acme"), target: "acme",
			patch:   domain.TenantPatch{SystemPrompt: p("x"), LLMBaseURL: p("https://x.example"), IndexHost: p("https://y.example"), RequestsPerMin: p(5), MaxStreams: p(1)},
			wantErr: domain.ErrForbidden, wantFields: []string{"vector_store.index_host", "llm.base_url", "limits.requests_per_minute", "limits.max_concurrent_streams"}},
		{name: "tenant admin, everything", who: principal(domain.RoleTenantAdmin, "acme"), target: "acme", patch: fullPatch(), wantErr: domain.ErrForbidden,
			wantFields: []string{"name", "status", "vector_store.provider", "vector_store.index_host", "vector_store.namespace",
				"embedder.provider", "embedder.model", "embedder.dimensions", "embedder.send_dimensions", "llm.provider", "llm.base_url", "llm.model",
				"llm.temperature", "llm.max_tokens", "limits.requests_per_minute", "limits.monthly_token_quota", "limits.max_concurrent_streams"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := tc.patch.AllowedFor(tc.who, tc.target)
			if tc.wantErr == nil {
				assert.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, tc.wantErr)
			var got []string
			for _, f := range domain.AsError(err).Fields {
				got = append(got, f.Field)
			}
			assert.Equal(t, tc.wantFields, got)
		})
	}
}

func TestTenantPatchApply(t *testing.T) {
	t.Parallel()
	const oldKey = domain.Secret("sk-old-key-000000")
	tests := []struct {
		name       string
		patch      domain.TenantPatch
		check      func(t *testing.T, got domain.Tenant)
		wantFields []string
	}{
		{name: "nothing", patch: domain.TenantPatch{}, check: func(t *testing.T, got domain.Tenant) {
			want := validTenant(t)
			want.LLM.APIKey = oldKey
			assert.Equal(t, want, got)
		}},
		{name: "every field", patch: fullPatch(), check: func(t *testing.T, got domain.Tenant) {
			assert.Equal(t, "Acme Corp", got.Name)
			assert.Equal(t, domain.TenantSuspended, got.Status)
			assert.Equal(t, "Be brief.", got.SystemPrompt)
			assert.Equal(t, domain.RetrievalSettings{TopK: 8, MinScore: 0.25}, got.Retrieval)
			assert.Equal(t, domain.VectorStoreSettings{Provider: domain.VectorPinecone, IndexHost: "https://idx.example", Namespace: "acme-v2", APIKey: "pc-key-123456789"}, got.VectorStore)
			assert.Equal(t, domain.EmbedderSettings{Provider: domain.EmbedderOpenAI, Model: "text-embedding-3-small", Dimensions: 1536, SendDimensions: false, APIKey: "emb-key-123456789"}, got.Embedder)
			assert.Equal(t, domain.LLMSettings{Provider: domain.LLMOpenAI, BaseURL: "https://llm.example/v1", Model: "gpt-x", Temperature: p(0.7), MaxTokens: 1024, MaxTokensParam: domain.MaxTokensParamAuto, APIKey: "sk-key-123456789"}, got.LLM)
			assert.Equal(t, domain.Limits{RequestsPerMinute: 60, MonthlyTokenQuota: 1_000_000, MaxConcurrentStreams: 4}, got.Limits)
			assert.Equal(t, domain.TenantID("acme"), got.ID, "the id is not patchable")
		}},
		{name: "empty key clears it", patch: domain.TenantPatch{LLMAPIKey: p(domain.Secret(""))}, check: func(t *testing.T, got domain.Tenant) {
			assert.False(t, got.LLM.APIKey.IsSet())
		}},
		{name: "zero limits mean unlimited", patch: domain.TenantPatch{RequestsPerMin: p(0), MonthlyQuota: p(int64(0)), MaxStreams: p(0)}, check: func(t *testing.T, got domain.Tenant) {
			assert.Equal(t, domain.Limits{}, got.Limits)
		}},
		{name: "unset temperature and limit", patch: domain.TenantPatch{LLMTemperatureUnset: true, LLMMaxTokens: p(0), LLMMaxTokensParam: p("max_completion_tokens")},
			check: func(t *testing.T, got domain.Tenant) {
				assert.Nil(t, got.LLM.Temperature)
				assert.Zero(t, got.LLM.MaxTokens)
				assert.Equal(t, domain.MaxTokensParamMaxCompletionTokens, got.LLM.MaxTokensParam)
			}},
		{name: "invalid result", patch: domain.TenantPatch{TopK: p(0), LLMTemperature: p(3.0), VectorProvider: p(domain.VectorPinecone)},
			wantFields: []string{"retrieval.top_k", "llm.temperature", "vector_store.index_host"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := validTenant(t)
			got.LLM.APIKey = oldKey
			err := tc.patch.Apply(&got)
			if tc.wantFields != nil {
				assert.ElementsMatch(t, tc.wantFields, invalidFields(t, err))
				return
			}
			require.NoError(t, err)
			tc.check(t, got)
		})
	}
}

func TestTenantPatchChangesVectors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		patch domain.TenantPatch
		want  bool
	}{
		{name: "empty", patch: domain.TenantPatch{}},
		{name: "prompt and keys", patch: domain.TenantPatch{SystemPrompt: p("x"), VectorAPIKey: p(domain.Secret("k")), EmbedderAPIKey: p(domain.Secret("k"))}},
		{name: "retrieval", patch: domain.TenantPatch{TopK: p(3), MinScore: p(0.2)}},
		{name: "vector provider", patch: domain.TenantPatch{VectorProvider: p(domain.VectorPinecone)}, want: true},
		{name: "index host", patch: domain.TenantPatch{IndexHost: p("https://x.example")}, want: true},
		{name: "namespace", patch: domain.TenantPatch{Namespace: p("n2")}, want: true},
		{name: "embedder", patch: domain.TenantPatch{EmbedderName: p(domain.EmbedderOpenAI)}, want: true},
		{name: "embedder model", patch: domain.TenantPatch{EmbedderModel: p("m2")}, want: true},
		{name: "dimensions", patch: domain.TenantPatch{EmbedderDims: p(768)}, want: true},
		{name: "llm only", patch: domain.TenantPatch{LLMProvider: p(domain.LLMOpenAI), LLMModel: p("gpt-x")}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			assert.Equal(t, tc.want, tc.patch.ChangesVectors())
		})
	}
}

func TestIndexHostWithoutSchemeBecomesHTTPS(t *testing.T) {
	t.Parallel()
	tn, err := domain.NewTenant("acme", "Acme", time.Now())
	require.NoError(t, err)
	for in, want := range map[string]string{
		"my-index-abc123.svc.aped-4627-b74a.pinecone.io":         "https://my-index-abc123.svc.aped-4627-b74a.pinecone.io",
		" my-index-abc123.svc.aped-4627-b74a.pinecone.io ":       "https://my-index-abc123.svc.aped-4627-b74a.pinecone.io",
		"https://my-index-abc123.svc.aped-4627-b74a.pinecone.io": "https://my-index-abc123.svc.aped-4627-b74a.pinecone.io",
		"http://localhost:5080":                                  "http://localhost:5080",
	} {
		h := in
		c := tn
		require.NoError(t, domain.TenantPatch{IndexHost: &h}.Apply(&c))
		assert.Equal(t, want, c.VectorStore.IndexHost, in)
	}
}

func TestHTTPVendorRefusalNamesTheSwitch(t *testing.T) {
	t.Parallel()
	tn, err := domain.NewTenant("acme", "Acme", time.Now())
	require.NoError(t, err)
	tn.LLM.BaseURL = "http://localhost:11434/v1"
	err = tn.VendorURLsSecure(false)
	require.Error(t, err)
	assert.Contains(t, domain.AsError(err).Fields[0].Message, "TENANTRY_ALLOW_HTTP_VENDORS=true")
	assert.NoError(t, tn.VendorURLsSecure(true))
}
