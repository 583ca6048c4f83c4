package bootstrap

import (
	"context"
	"net/http"
	"time"

	"github.com/tenantry/tenantry/adapters/hashing"
	"github.com/tenantry/tenantry/adapters/openai"
	"github.com/tenantry/tenantry/adapters/pinecone"
	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/ports"
)

// vendors builds each tenant's embedder, vector index and chat model from its own
// configuration. Offline adapters are shared (they hold no tenant state beyond what is
// scoped by tenant id); vendor clients are built per call with the tenant's own key and
// share one HTTP connection pool.
type vendors struct {
	embedded  ports.VectorIndex
	answerer  ports.ChatModel
	http      *http.Client
	modelIdle time.Duration
	modelMax  time.Duration
	// inferenceHost serves Pinecone Inference; empty is Pinecone's own.
	inferenceHost string
}

var _ ports.Vendors = (*vendors)(nil)

func (v *vendors) Embedder(t domain.Tenant) (ports.Embedder, error) {
	switch t.Embedder.Provider {
	case domain.EmbedderHashing:
		return hashing.New(t.Embedder.Dimensions), nil
	case domain.EmbedderOpenAI:
		// The embedder shares the chat model's base URL (llm.base_url). "dimensions" is
		// sent as embedder.send_dimensions says, and never to text-embedding-ada-002,
		// which refuses it; the adapter checks every returned vector's length either way.
		return openai.NewEmbedder(openai.EmbedderConfig{BaseURL: t.LLMBaseURL(), APIKey: t.Embedder.APIKey,
			Model: t.Embedder.Model, Dimensions: t.Embedder.Dimensions,
			OmitDimensions: !t.Embedder.SendDimensions || t.Embedder.Model == "text-embedding-ada-002",
			HTTPClient:     v.http})
	case domain.EmbedderPinecone:
		return v.pineconeEmbedder(t)
	}
	return nil, unknownProvider("embedder.provider", t.Embedder.Provider)
}

func (v *vendors) pineconeEmbedder(t domain.Tenant) (*pinecone.Embedder, error) {
	return pinecone.NewEmbedder(pinecone.EmbedderConfig{Host: v.inferenceHost, APIKey: t.Embedder.APIKey, Model: t.Embedder.Model,
		Dimensions: t.Embedder.Dimensions, OmitDimension: !t.Embedder.SendDimensions, HTTPClient: v.http})
}

func (v *vendors) VectorIndex(t domain.Tenant) (ports.VectorIndex, error) {
	switch t.VectorStore.Provider {
	case domain.VectorEmbedded:
		return v.embedded, nil
	case domain.VectorPinecone:
		return v.pineconeIndex(t)
	}
	return nil, unknownProvider("vector_store.provider", t.VectorStore.Provider)
}

func (v *vendors) pineconeIndex(t domain.Tenant) (*pinecone.Index, error) {
	return pinecone.NewIndex(pinecone.IndexConfig{TenantID: t.ID, Host: t.VectorStore.IndexHost,
		APIKey: t.VectorStore.APIKey, Namespace: t.VectorStore.Namespace, HTTPClient: v.http})
}

func (v *vendors) ChatModel(t domain.Tenant) (ports.ChatModel, error) {
	switch t.LLM.Provider {
	case domain.LLMExtractive:
		return v.answerer, nil
	case domain.LLMOpenAI:
		return openai.NewChatModel(openai.ChatConfig{BaseURL: t.LLMBaseURL(), APIKey: t.LLM.APIKey, HTTPClient: v.http,
			IdleTimeout: v.modelIdle, Timeout: v.modelMax, MaxCompletionTokens: t.LLM.SendsMaxCompletionTokens()})
	}
	return nil, unknownProvider("llm.provider", t.LLM.Provider)
}

// Check implements ports.Vendors. Only Pinecone is asked, at calls that cost nothing:
// Inference's model description for a Pinecone embedder (the key, the model, and the
// dimension against what the model produces), and a Pinecone vector store's
// describe_index_stats (the key, a dense vector index, and its dimension against the
// embedder's). The embedded index and the hashing, extractive and OpenAI-compatible
// providers are not called: an embeddings or chat call would spend the tenant's
// tokens, and a wrong model key or embedding size shows at the first use as
// vendor_key_rejected or embedding_dimension_mismatch.
func (v *vendors) Check(ctx context.Context, t domain.Tenant) error {
	if t.Embedder.Provider == domain.EmbedderPinecone {
		e, err := v.pineconeEmbedder(t)
		if err != nil {
			return err
		}
		if err := e.Validate(ctx); err != nil {
			return err
		}
	}
	if t.VectorStore.Provider != domain.VectorPinecone {
		return nil
	}
	idx, err := v.pineconeIndex(t)
	if err != nil {
		return err
	}
	return idx.Validate(ctx, t.Embedder.Dimensions)
}

func unknownProvider(field, name string) error {
	return domain.Invalid(domain.FieldError{Field: field, Message: "unknown provider " + name})
}

// newVendorHTTPClient is the one pool for every outgoing vendor call; per-call
// timeouts live in the adapters.
func newVendorHTTPClient() *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 32
	tr.ResponseHeaderTimeout = 60 * time.Second
	return &http.Client{Transport: tr}
}
