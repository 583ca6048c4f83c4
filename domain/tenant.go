package domain

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"time"
)

// TenantID is a validated tenant slug: 3–63 characters of [a-z0-9-], starting and ending
// with a letter or digit.
type TenantID string

var tenantIDPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$`)

// ParseTenantID validates s as a tenant id.
func ParseTenantID(s string) (TenantID, error) {
	if !tenantIDPattern.MatchString(s) {
		return "", Invalid(FieldError{Field: "id", Message: "must be 3-63 characters of a-z, 0-9 and '-', starting and ending with a letter or digit"})
	}
	return TenantID(s), nil
}

// String returns the slug.
func (id TenantID) String() string { return string(id) }

// TenantStatus says whether a tenant may be used.
type TenantStatus string

// Tenant statuses.
const (
	TenantActive    TenantStatus = "active"
	TenantSuspended TenantStatus = "suspended"
)

// Provider names for vector stores, embedders and chat models.
const (
	VectorEmbedded   = "embedded"
	VectorPinecone   = "pinecone"
	EmbedderHashing  = "hashing"
	EmbedderOpenAI   = "openai"
	EmbedderPinecone = "pinecone"
	LLMExtractive    = "extractive"
	LLMOpenAI        = "openai"
)

// Secret is a vendor API key in plaintext, held only in memory. Its String and GoString
// never reveal the value, so it is safe to pass to a formatter or logger by accident.
type Secret string

// String hides the value.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return "[redacted]"
}

// GoString hides the value.
func (s Secret) GoString() string { return s.String() }

// Format hides the value for every verb: without it, a verb that does not fit a string
// (%d, %t) makes fmt print the raw value.
func (s Secret) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(s.String())) }

// MarshalJSON hides the value, so a tenant serialised by accident (a JSON logger, a
// debug dump) never carries its keys.
func (s Secret) MarshalJSON() ([]byte, error) { return []byte(`"` + s.String() + `"`), nil }

// Reveal returns the plaintext, for the one outgoing call that needs it.
func (s Secret) Reveal() string { return string(s) }

// IsSet reports whether a value is present.
func (s Secret) IsSet() bool { return s != "" }

// Last4 returns the last four characters, or fewer for a very short key, which is all a
// response may show.
func (s Secret) Last4() string {
	r := []rune(string(s))
	if len(r) <= 8 {
		return ""
	}
	return string(r[len(r)-4:])
}

// RetrievalSettings tune how passages are found.
type RetrievalSettings struct {
	TopK int
	// MinScore is the least cosine similarity of a passage found by vectors; it does
	// not apply to lexical matches, whose BM25 scores have no fixed scale.
	MinScore float64
	// Mode is RetrievalLexical, RetrievalDense or RetrievalHybrid; empty means
	// automatic (see Tenant.RetrievalMode).
	Mode string
}

// Retrieval modes: how a tenant's passages are found.
const (
	// RetrievalLexical ranks chunks by BM25 over their words; no embedder is called.
	RetrievalLexical = "lexical"
	// RetrievalDense ranks chunks by the similarity of their vectors to the question's.
	RetrievalDense = "dense"
	// RetrievalHybrid fuses the lexical and the dense ranking (reciprocal rank fusion).
	RetrievalHybrid = "hybrid"
	// RetrievalAuto, accepted when setting the mode, returns it to automatic.
	RetrievalAuto = "auto"
)

// RetrievalMode is the mode in force: the one set, or automatically lexical on the
// offline defaults (hashing embedder, embedded vector store: hashed vectors rank below
// BM25) and hybrid once the tenant has a neural embedder or an external vector store
// such as Pinecone, whose vectors it then keeps up to date.
func (t Tenant) RetrievalMode() string {
	if t.Retrieval.Mode != "" {
		return t.Retrieval.Mode
	}
	if t.Embedder.Provider == EmbedderHashing && t.VectorStore.Provider == VectorEmbedded {
		return RetrievalLexical
	}
	return RetrievalHybrid
}

// UsesVectors reports whether the tenant's retrieval mode embeds chunks and questions.
func (t Tenant) UsesVectors() bool { return t.RetrievalMode() != RetrievalLexical }

// VectorStoreSettings select and configure a tenant's vector index.
type VectorStoreSettings struct {
	Provider  string
	IndexHost string
	Namespace string
	APIKey    Secret
}

// EmbedderSettings select and configure a tenant's embedder.
type EmbedderSettings struct {
	Provider   string
	Model      string
	Dimensions int
	// SendDimensions asks the model for Dimensions values per vector. Off, the model's
	// native size is used (and must equal Dimensions): models without Matryoshka
	// training refuse the request parameter (vLLM serving bge-m3, for one).
	SendDimensions bool
	APIKey         Secret
}

// LLMSettings select and configure a tenant's chat model.
type LLMSettings struct {
	Provider string
	BaseURL  string
	Model    string
	// Temperature is sent when set; nil leaves it to the model (reasoning models accept
	// only their default).
	Temperature *float64
	// MaxTokens bounds an answer when positive; 0 sends no limit.
	MaxTokens int
	// MaxTokensParam names the request field that carries MaxTokens: one of the
	// MaxTokensParam* values ("" is MaxTokensParamAuto).
	MaxTokensParam string
	APIKey         Secret
}

// Values of LLMSettings.MaxTokensParam.
const (
	// MaxTokensParamAuto sends max_completion_tokens to OpenAI and Azure OpenAI, whose
	// reasoning and GPT-5 models refuse max_tokens, and max_tokens to every other server.
	MaxTokensParamAuto = "auto"
	// MaxTokensParamMaxTokens is the field every OpenAI-compatible server understands.
	MaxTokensParamMaxTokens = "max_tokens"
	// MaxTokensParamMaxCompletionTokens is the field OpenAI's current API documents.
	MaxTokensParamMaxCompletionTokens = "max_completion_tokens"
)

// SendsMaxCompletionTokens reports whether the limit goes out as max_completion_tokens:
// as MaxTokensParam says, or under "auto" when the base URL is OpenAI's own API
// (api.openai.com, also the default) or an Azure OpenAI resource.
func (l LLMSettings) SendsMaxCompletionTokens() bool {
	switch l.MaxTokensParam {
	case MaxTokensParamMaxTokens:
		return false
	case MaxTokensParamMaxCompletionTokens:
		return true
	}
	if l.BaseURL == "" {
		return true
	}
	u, err := url.Parse(l.BaseURL)
	if err != nil {
		return false
	}
	host := strings.ToLower(u.Hostname())
	return host == "api.openai.com" || strings.HasSuffix(host, ".openai.azure.com") ||
		strings.HasSuffix(host, ".cognitiveservices.azure.com") || strings.HasSuffix(host, ".services.ai.azure.com")
}

// Limits bound what one tenant may consume. Zero means unlimited.
type Limits struct {
	RequestsPerMinute    int
	MonthlyTokenQuota    int64
	MaxConcurrentStreams int
}

// Tenant is one company served by tenantry, with the configuration that drives its
// requests.
type Tenant struct {
	ID           TenantID
	Name         string
	Status       TenantStatus
	SystemPrompt string
	Retrieval    RetrievalSettings
	VectorStore  VectorStoreSettings
	Embedder     EmbedderSettings
	LLM          LLMSettings
	Limits       Limits
	Vectors      VectorState // whether the stored vectors fit the settings (see ServingMode)
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

// Defaults for a new tenant: it works offline at once.
const (
	DefaultTopK          = 4
	DefaultDimensions    = 384
	DefaultSystemPrompt  = "You are a helpful assistant. Answer using the reference passages when they are relevant, and cite them as [n]."
	DefaultMaxTokens     = 512
	DefaultTemperature   = 0.2
	DefaultOpenAIBaseURL = "https://api.openai.com/v1"
)

// NewTenant builds an active tenant with offline defaults (embedded store, automatic
// retrieval mode, which is lexical with the hashing embedder, extractive answerer).
func NewTenant(id TenantID, name string, now time.Time) (Tenant, error) {
	t := Tenant{
		ID:           id,
		Name:         strings.TrimSpace(name),
		Status:       TenantActive,
		SystemPrompt: DefaultSystemPrompt,
		Retrieval:    RetrievalSettings{TopK: DefaultTopK},
		VectorStore:  VectorStoreSettings{Provider: VectorEmbedded, Namespace: string(id)},
		Embedder:     EmbedderSettings{Provider: EmbedderHashing, Model: "hashing-v1", Dimensions: DefaultDimensions, SendDimensions: true},
		LLM: LLMSettings{Provider: LLMExtractive, Model: "extractive", Temperature: ptrTo(DefaultTemperature),
			MaxTokens: DefaultMaxTokens, MaxTokensParam: MaxTokensParamAuto},
		Vectors:   VectorState{Ready: true}, // no documents yet: nothing to build
		CreatedAt: now.UTC(),
		UpdatedAt: now.UTC(),
	}
	if err := t.Validate(); err != nil {
		return Tenant{}, err
	}
	return t, nil
}

// Validate checks every field and lists each one that is wrong.
func (t Tenant) Validate() error {
	var fs []FieldError
	add := func(field, msg string) { fs = append(fs, FieldError{Field: field, Message: msg}) }
	if _, err := ParseTenantID(string(t.ID)); err != nil {
		add("id", "must be 3-63 characters of a-z, 0-9 and '-'")
	}
	if t.Name == "" || len(t.Name) > 200 {
		add("name", "must be 1-200 characters")
	}
	if t.Status != TenantActive && t.Status != TenantSuspended {
		add("status", "must be active or suspended")
	}
	if len(t.SystemPrompt) > 20000 {
		add("system_prompt", "must be at most 20000 characters")
	}
	for _, f := range []struct{ field, value string }{{"name", t.Name}, {"system_prompt", t.SystemPrompt},
		{"vector_store.namespace", t.VectorStore.Namespace}, {"embedder.model", t.Embedder.Model}, {"llm.model", t.LLM.Model}} {
		if !storableText(f.value) {
			add(f.field, "must be valid UTF-8 without NUL characters")
		}
	}
	if t.Retrieval.TopK < 1 || t.Retrieval.TopK > 50 {
		add("retrieval.top_k", "must be between 1 and 50")
	}
	if t.Retrieval.MinScore < -1 || t.Retrieval.MinScore > 1 {
		add("retrieval.min_score", "must be between -1 and 1")
	}
	switch t.Retrieval.Mode {
	case "", RetrievalLexical, RetrievalDense, RetrievalHybrid:
	default:
		add("retrieval.mode", "must be lexical, dense, hybrid or auto")
	}
	fs = append(fs, t.validateVendors()...)
	if t.Limits.RequestsPerMinute < 0 || t.Limits.RequestsPerMinute > 1_000_000 {
		add("limits.requests_per_minute", "must be between 0 (unlimited) and 1000000")
	}
	if t.Limits.MaxConcurrentStreams < 0 || t.Limits.MaxConcurrentStreams > 100_000 {
		add("limits.max_concurrent_streams", "must be between 0 (unlimited) and 100000")
	}
	if t.Limits.MonthlyTokenQuota < 0 || t.Limits.MonthlyTokenQuota > 1_000_000_000_000 {
		add("limits.monthly_token_quota", "must be between 0 (unlimited) and 1e12")
	}
	if len(fs) > 0 {
		return Invalid(fs...)
	}
	return nil
}

func (t Tenant) validateVendors() []FieldError {
	var fs []FieldError
	add := func(field, msg string) { fs = append(fs, FieldError{Field: field, Message: msg}) }
	switch t.VectorStore.Provider {
	case VectorEmbedded:
	case VectorPinecone:
		if t.VectorStore.IndexHost == "" {
			add("vector_store.index_host", "is required for pinecone")
		}
	default:
		add("vector_store.provider", "must be embedded or pinecone")
	}
	if t.VectorStore.IndexHost != "" && !validHTTPURL(t.VectorStore.IndexHost) {
		add("vector_store.index_host", "must be an http(s) URL")
	}
	if t.VectorStore.Namespace == "" || len(t.VectorStore.Namespace) > 512 {
		add("vector_store.namespace", "must be 1-512 characters")
	}
	switch t.Embedder.Provider {
	case EmbedderHashing, EmbedderOpenAI, EmbedderPinecone:
	default:
		add("embedder.provider", "must be hashing, openai or pinecone")
	}
	if t.Embedder.Dimensions < 8 || t.Embedder.Dimensions > 8192 {
		add("embedder.dimensions", "must be between 8 and 8192")
	}
	if len(t.Embedder.Model) > 200 {
		add("embedder.model", "must be at most 200 characters")
	}
	switch t.LLM.Provider {
	case LLMExtractive, LLMOpenAI:
	default:
		add("llm.provider", "must be extractive or openai")
	}
	if t.LLM.BaseURL != "" && !validHTTPURL(t.LLM.BaseURL) {
		add("llm.base_url", "must be an http(s) URL")
	}
	if t.LLM.Model == "" || len(t.LLM.Model) > 200 {
		add("llm.model", "must be 1-200 characters")
	}
	if tp := t.LLM.Temperature; tp != nil && !(*tp >= 0 && *tp <= 2) {
		add("llm.temperature", "must be between 0 and 2, or null")
	}
	if t.LLM.MaxTokens < 0 || t.LLM.MaxTokens > 200_000 {
		add("llm.max_tokens", "must be between 1 and 200000, or null")
	}
	switch t.LLM.MaxTokensParam {
	case "", MaxTokensParamAuto, MaxTokensParamMaxTokens, MaxTokensParamMaxCompletionTokens:
	default:
		add("llm.max_tokens_param", "must be auto, max_tokens or max_completion_tokens")
	}
	return fs
}

func validHTTPURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != "" && u.User == nil
}

// VendorURLsSecure reports an error naming each vendor endpoint that is not https://,
// unless plain http is allowed (local Ollama or vLLM, tests).
func (t Tenant) VendorURLsSecure(allowHTTP bool) error {
	if allowHTTP {
		return nil
	}
	var fs []FieldError
	for field, raw := range map[string]string{"llm.base_url": t.LLM.BaseURL, "vector_store.index_host": t.VectorStore.IndexHost} {
		if u, err := url.Parse(raw); raw != "" && (err != nil || u.Scheme != "https") {
			fs = append(fs, FieldError{Field: field, Message: "must use https:// (for a local model over plain http, start the server with TENANTRY_ALLOW_HTTP_VENDORS=true)"})
		}
	}
	if len(fs) > 0 {
		return Invalid(fs...)
	}
	return nil
}

// CanChat reports whether the tenant may serve requests at now.
func (t Tenant) CanChat(now time.Time) error {
	if t.Status != TenantActive {
		return ErrTenantSuspended
	}
	return nil
}

// Deletable reports whether the tenant may be deleted: only a suspended tenant may.
func (t Tenant) Deletable() error {
	if t.Status != TenantSuspended {
		return E(KindConflict, "tenant_not_suspended", "suspend the tenant before deleting it", nil)
	}
	return nil
}

// Touch records a change at now.
func (t *Tenant) Touch(now time.Time) { t.UpdatedAt = now.UTC() }

// LLMBaseURL returns the configured base URL or the vendor default.
func (t Tenant) LLMBaseURL() string {
	if t.LLM.BaseURL != "" {
		return t.LLM.BaseURL
	}
	return DefaultOpenAIBaseURL
}

// AssistantID is the model name under which the tenant's assistant is offered on the
// OpenAI-compatible endpoint.
func (t Tenant) AssistantID() string { return fmt.Sprintf("tenantry-%s", t.ID) }

func ptrTo[T any](v T) *T { return &v }

// VectorsExternal reports whether the tenant's vectors live outside tenantry's database
// (Pinecone): such a store cannot join the transaction that saves a document, so its
// vectors are written before it and reconciled afterwards. The embedded index keeps
// each vector in its chunk's row instead.
func (t Tenant) VectorsExternal() bool { return t.VectorStore.Provider != VectorEmbedded }
