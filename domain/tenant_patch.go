package domain

import "strings"

// TenantPatch is a partial change to a tenant's configuration: nil fields stay as they
// are. API keys are write-only: a non-nil empty key clears it.
type TenantPatch struct {
	Name         *string
	Status       *TenantStatus
	SystemPrompt *string

	TopK     *int
	MinScore *float64
	// Mode is a retrieval mode or RetrievalAuto.
	Mode *string

	VectorProvider *string
	IndexHost      *string
	Namespace      *string
	VectorAPIKey   *Secret
	EmbedderName   *string
	EmbedderModel  *string
	EmbedderDims   *int
	// EmbedderSendDims switches sending the dimensions to the embedding model.
	EmbedderSendDims *bool
	EmbedderAPIKey   *Secret
	LLMProvider      *string
	LLMBaseURL       *string
	LLMModel         *string
	// LLMTemperature sets the temperature; LLMTemperatureUnset removes it.
	LLMTemperature      *float64
	LLMTemperatureUnset bool
	// LLMMaxTokens sets the answer limit; 0 removes it.
	LLMMaxTokens      *int
	LLMMaxTokensParam *string
	LLMAPIKey         *Secret
	RequestsPerMin    *int
	MonthlyQuota      *int64
	MaxStreams        *int
}

// TenantAdminFields are what a tenant admin may change on their own tenant: the system
// prompt, retrieval settings and API keys. Everything else is the platform's.
var tenantAdminFields = map[string]bool{
	"system_prompt": true, "retrieval.top_k": true, "retrieval.min_score": true, "retrieval.mode": true,
	"vector_store.api_key": true, "embedder.api_key": true, "llm.api_key": true,
}

// Fields lists the names of the fields the patch sets, in the API's dotted form. It
// names secrets but never carries their values.
func (p TenantPatch) Fields() []string {
	var fs []string
	add := func(set bool, name string) {
		if set {
			fs = append(fs, name)
		}
	}
	add(p.Name != nil, "name")
	add(p.Status != nil, "status")
	add(p.SystemPrompt != nil, "system_prompt")
	add(p.TopK != nil, "retrieval.top_k")
	add(p.MinScore != nil, "retrieval.min_score")
	add(p.Mode != nil, "retrieval.mode")
	add(p.VectorProvider != nil, "vector_store.provider")
	add(p.IndexHost != nil, "vector_store.index_host")
	add(p.Namespace != nil, "vector_store.namespace")
	add(p.VectorAPIKey != nil, "vector_store.api_key")
	add(p.EmbedderName != nil, "embedder.provider")
	add(p.EmbedderModel != nil, "embedder.model")
	add(p.EmbedderDims != nil, "embedder.dimensions")
	add(p.EmbedderSendDims != nil, "embedder.send_dimensions")
	add(p.EmbedderAPIKey != nil, "embedder.api_key")
	add(p.LLMProvider != nil, "llm.provider")
	add(p.LLMBaseURL != nil, "llm.base_url")
	add(p.LLMModel != nil, "llm.model")
	add(p.LLMTemperature != nil || p.LLMTemperatureUnset, "llm.temperature")
	add(p.LLMMaxTokens != nil, "llm.max_tokens")
	add(p.LLMMaxTokensParam != nil, "llm.max_tokens_param")
	add(p.LLMAPIKey != nil, "llm.api_key")
	add(p.RequestsPerMin != nil, "limits.requests_per_minute")
	add(p.MonthlyQuota != nil, "limits.monthly_token_quota")
	add(p.MaxStreams != nil, "limits.max_concurrent_streams")
	return fs
}

// AllowedFor checks that the caller may make this change: platform admins may change
// everything; tenant admins only their own tenant's prompt, retrieval settings and keys.
func (p TenantPatch) AllowedFor(who Principal, target TenantID) error {
	if who.IsPlatformAdmin() {
		return nil
	}
	if !who.CanAdminTenant(target) {
		return ErrForbidden
	}
	var denied []FieldError
	for _, f := range p.Fields() {
		if !tenantAdminFields[f] {
			denied = append(denied, FieldError{Field: f, Message: "only a platform admin may change this"})
		}
	}
	if len(denied) > 0 {
		e := ErrForbidden.WithDetail("a tenant admin may change only the system prompt, retrieval settings and API keys")
		e.Fields = denied
		return e
	}
	return nil
}

// ChangesVectors reports whether the patch changes where or how the tenant's vectors
// live, after which its stored vectors no longer fit.
func (p TenantPatch) ChangesVectors() bool {
	return p.VectorProvider != nil || p.IndexHost != nil || p.Namespace != nil ||
		p.EmbedderName != nil || p.EmbedderModel != nil || p.EmbedderDims != nil
}

// Apply changes t as the patch says and validates the result. A change of the
// tenant's VectorSource opens a new vector epoch (see VectorState).
func (p TenantPatch) Apply(t *Tenant) error {
	defer t.vectorSourceChanged(t.VectorSource())
	setVal(&t.Name, p.Name)
	if p.Status != nil {
		t.Status = *p.Status
	}
	setVal(&t.SystemPrompt, p.SystemPrompt)
	setVal(&t.Retrieval.TopK, p.TopK)
	setVal(&t.Retrieval.MinScore, p.MinScore)
	if p.Mode != nil {
		t.Retrieval.Mode = *p.Mode
		if t.Retrieval.Mode == RetrievalAuto {
			t.Retrieval.Mode = ""
		}
	}
	setVal(&t.VectorStore.Provider, p.VectorProvider)
	if p.IndexHost != nil {
		t.VectorStore.IndexHost = IndexHostURL(*p.IndexHost)
	}
	setVal(&t.VectorStore.Namespace, p.Namespace)
	setVal(&t.VectorStore.APIKey, p.VectorAPIKey)
	setVal(&t.Embedder.Provider, p.EmbedderName)
	setVal(&t.Embedder.Model, p.EmbedderModel)
	setVal(&t.Embedder.Dimensions, p.EmbedderDims)
	setVal(&t.Embedder.SendDimensions, p.EmbedderSendDims)
	setVal(&t.Embedder.APIKey, p.EmbedderAPIKey)
	setVal(&t.LLM.Provider, p.LLMProvider)
	setVal(&t.LLM.BaseURL, p.LLMBaseURL)
	setVal(&t.LLM.Model, p.LLMModel)
	if p.LLMTemperatureUnset {
		t.LLM.Temperature = nil
	} else if p.LLMTemperature != nil {
		t.LLM.Temperature = ptrTo(*p.LLMTemperature)
	}
	setVal(&t.LLM.MaxTokens, p.LLMMaxTokens)
	setVal(&t.LLM.MaxTokensParam, p.LLMMaxTokensParam)
	setVal(&t.LLM.APIKey, p.LLMAPIKey)
	setVal(&t.Limits.RequestsPerMinute, p.RequestsPerMin)
	setVal(&t.Limits.MonthlyTokenQuota, p.MonthlyQuota)
	setVal(&t.Limits.MaxConcurrentStreams, p.MaxStreams)
	return t.Validate()
}

func setVal[T any](dst *T, v *T) {
	if v != nil {
		*dst = *v
	}
}

// IndexHostURL accepts a Pinecone index host as Pinecone's console shows it, without a
// scheme ("my-index-abc123.svc.aped-4627-b74a.pinecone.io"), and makes it an https://
// URL; a value with a scheme, or an empty one, is kept as given.
func IndexHostURL(s string) string {
	s = strings.TrimSpace(s)
	if s == "" || strings.Contains(s, "://") {
		return s
	}
	return "https://" + s
}
