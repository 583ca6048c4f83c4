package httpapi

import (
	"cmp"
	"time"

	"github.com/tenantry/tenantry/domain"
)

// tenantJSON is the tenant representation of issue 4. API keys never appear: only
// whether one is set and its last four characters.
type tenantJSON struct {
	ID           string          `json:"id"`
	Name         string          `json:"name"`
	Status       string          `json:"status"`
	SystemPrompt string          `json:"system_prompt"`
	Retrieval    retrievalJSON   `json:"retrieval"`
	VectorStore  vectorStoreJSON `json:"vector_store"`
	Embedder     embedderJSON    `json:"embedder"`
	LLM          llmJSON         `json:"llm"`
	Limits       limitsJSON      `json:"limits"`
	CreatedAt    time.Time       `json:"created_at"`
	UpdatedAt    time.Time       `json:"updated_at"`
}

type retrievalJSON struct {
	TopK     int     `json:"top_k"`
	MinScore float64 `json:"min_score"`
	// Mode is the mode in force; ModeAuto says it follows the embedder (set "auto").
	Mode     string `json:"mode"`
	ModeAuto bool   `json:"mode_auto"`
}

type vectorStoreJSON struct {
	Provider    string `json:"provider"`
	IndexHost   string `json:"index_host"`
	Namespace   string `json:"namespace"`
	APIKeySet   bool   `json:"api_key_set"`
	APIKeyLast4 string `json:"api_key_last4"`
}

type embedderJSON struct {
	Provider   string `json:"provider"`
	Model      string `json:"model"`
	Dimensions int    `json:"dimensions"`
	// SendDimensions says whether dimensions goes to the model with every request.
	SendDimensions bool   `json:"send_dimensions"`
	APIKeySet      bool   `json:"api_key_set"`
	APIKeyLast4    string `json:"api_key_last4"`
}

type llmJSON struct {
	Provider    string   `json:"provider"`
	BaseURL     string   `json:"base_url"`
	Model       string   `json:"model"`
	Temperature *float64 `json:"temperature"`
	// MaxTokens is null when no limit is sent.
	MaxTokens      *int   `json:"max_tokens"`
	MaxTokensParam string `json:"max_tokens_param"`
	APIKeySet      bool   `json:"api_key_set"`
	APIKeyLast4    string `json:"api_key_last4"`
}

type limitsJSON struct {
	RequestsPerMinute    int   `json:"requests_per_minute"`
	MaxConcurrentStreams int   `json:"max_concurrent_streams"`
	MonthlyTokenQuota    int64 `json:"monthly_token_quota"`
}

// TenantRepresentation is a tenant as GET /tenant shows it (secrets only as api_key_set
// and api_key_last4), for other presenters such as the CLI, so the shapes cannot drift.
func TenantRepresentation(t domain.Tenant) any { return toTenantJSON(t) }

func toTenantJSON(t domain.Tenant) tenantJSON {
	return tenantJSON{
		ID: string(t.ID), Name: t.Name, Status: string(t.Status), SystemPrompt: t.SystemPrompt,
		Retrieval: retrievalJSON{TopK: t.Retrieval.TopK, MinScore: t.Retrieval.MinScore,
			Mode: t.RetrievalMode(), ModeAuto: t.Retrieval.Mode == ""},
		VectorStore: vectorStoreJSON{
			Provider: t.VectorStore.Provider, IndexHost: t.VectorStore.IndexHost, Namespace: t.VectorStore.Namespace,
			APIKeySet: t.VectorStore.APIKey.IsSet(), APIKeyLast4: t.VectorStore.APIKey.Last4(),
		},
		Embedder: embedderJSON{
			Provider: t.Embedder.Provider, Model: t.Embedder.Model, Dimensions: t.Embedder.Dimensions,
			SendDimensions: t.Embedder.SendDimensions, APIKeySet: t.Embedder.APIKey.IsSet(), APIKeyLast4: t.Embedder.APIKey.Last4(),
		},
		LLM: llmJSON{
			Provider: t.LLM.Provider, BaseURL: t.LLM.BaseURL, Model: t.LLM.Model, Temperature: t.LLM.Temperature,
			MaxTokens: positiveOrNull(t.LLM.MaxTokens), MaxTokensParam: cmp.Or(t.LLM.MaxTokensParam, domain.MaxTokensParamAuto),
			APIKeySet: t.LLM.APIKey.IsSet(), APIKeyLast4: t.LLM.APIKey.Last4(),
		},
		Limits: limitsJSON{
			RequestsPerMinute: t.Limits.RequestsPerMinute, MaxConcurrentStreams: t.Limits.MaxConcurrentStreams,
			MonthlyTokenQuota: t.Limits.MonthlyTokenQuota,
		},
		CreatedAt: t.CreatedAt, UpdatedAt: t.UpdatedAt,
	}
}

func positiveOrNull(n int) *int {
	if n <= 0 {
		return nil
	}
	return &n
}
