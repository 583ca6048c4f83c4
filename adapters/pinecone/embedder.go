package pinecone

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/ports"
)

// EmbedderConfig configures a Pinecone Inference embedder for one tenant.
type EmbedderConfig struct {
	// Host serves POST /embed; empty means DefaultInferenceHost.
	Host string
	// APIKey is the tenant's Pinecone key.
	APIKey domain.Secret
	// Model is a Pinecone-hosted embedding model, e.g. "llama-text-embed-v2".
	Model string
	// Dimensions is the length of every vector; it is sent as the "dimension"
	// parameter unless OmitDimension is set (for fixed-size models).
	Dimensions    int
	OmitDimension bool
	// BatchSize is the number of texts per request (default 96, the hosted models'
	// documented maximum batch).
	BatchSize int
	// HTTPClient, Timeout and Retry work as in IndexConfig.
	HTTPClient *http.Client
	Timeout    time.Duration
	Retry      RetryPolicy
}

// Embedder is a ports.Embedder backed by Pinecone Inference (POST /embed). Safe for
// concurrent use.
type Embedder struct {
	model     string
	dims      int
	omitDim   bool
	batchSize int
	http      *transport
}

var _ ports.Embedder = (*Embedder)(nil)

// NewEmbedder validates cfg and builds the embedder. It makes no request.
func NewEmbedder(cfg EmbedderConfig) (*Embedder, error) {
	var fs []domain.FieldError
	if !cfg.APIKey.IsSet() {
		fs = append(fs, domain.FieldError{Field: "embedder.api_key", Message: "is required for pinecone"})
	}
	if cfg.Model == "" {
		fs = append(fs, domain.FieldError{Field: "embedder.model", Message: "is required for pinecone"})
	}
	if cfg.Dimensions <= 0 {
		fs = append(fs, domain.FieldError{Field: "embedder.dimensions", Message: "must be positive"})
	}
	if len(fs) > 0 {
		return nil, domain.Invalid(fs...)
	}
	host := cfg.Host
	if host == "" {
		host = DefaultInferenceHost
	}
	tr, err := newTransport(host, cfg.APIKey, cfg.HTTPClient, cfg.Timeout, cfg.Retry)
	if err != nil {
		return nil, err
	}
	e := &Embedder{model: cfg.Model, dims: cfg.Dimensions, omitDim: cfg.OmitDimension, batchSize: cfg.BatchSize, http: tr}
	if e.batchSize <= 0 {
		e.batchSize = 96
	}
	return e, nil
}

// Dimensions implements ports.Embedder.
func (e *Embedder) Dimensions() int { return e.dims }

type embedInput struct {
	Text string `json:"text"`
}

type embedRequest struct {
	Model      string         `json:"model"`
	Inputs     []embedInput   `json:"inputs"`
	Parameters map[string]any `json:"parameters"`
}

type embedResponse struct {
	Model      string `json:"model"`
	VectorType string `json:"vector_type"`
	Data       []struct {
		Values     []float32 `json:"values"`
		VectorType string    `json:"vector_type"`
	} `json:"data"`
}

// The input_type values of Pinecone's hosted models: documents are embedded as
// passages, searches as queries.
const (
	inputPassage = "passage"
	inputQuery   = "query"
)

// Embed implements ports.Embedder: texts are passages, at most BatchSize per request.
func (e *Embedder) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	out := make([][]float32, 0, len(texts))
	for start := 0; start < len(texts); start += e.batchSize {
		part := texts[start:min(start+e.batchSize, len(texts))]
		vecs, err := e.embedBatch(ctx, part, inputPassage)
		if err != nil {
			return nil, err
		}
		out = append(out, vecs...)
	}
	return out, nil
}

// EmbedQuery implements ports.Embedder with input_type "query".
func (e *Embedder) EmbedQuery(ctx context.Context, query string) ([]float32, error) {
	vecs, err := e.embedBatch(ctx, []string{query}, inputQuery)
	if err != nil {
		return nil, err
	}
	return vecs[0], nil
}

func (e *Embedder) embedBatch(ctx context.Context, texts []string, inputType string) ([][]float32, error) {
	req := embedRequest{Model: e.model, Inputs: make([]embedInput, len(texts)),
		Parameters: map[string]any{"input_type": inputType, "truncate": "END"}}
	if !e.omitDim {
		req.Parameters["dimension"] = e.dims
	}
	for i, s := range texts {
		req.Inputs[i] = embedInput{Text: s}
	}
	var res embedResponse
	if err := e.http.do(ctx, call{method: http.MethodPost, path: "/embed", body: req}, &res); err != nil {
		return nil, err
	}
	if len(res.Data) != len(texts) {
		return nil, domain.E(domain.KindUnavailable, "vendor_bad_response", "Pinecone returned the wrong number of embeddings",
			fmt.Errorf("embed: %d inputs, %d embeddings", len(texts), len(res.Data)))
	}
	vecs := make([][]float32, len(res.Data))
	for i, d := range res.Data {
		if len(d.Values) != e.dims {
			return nil, domain.E(domain.KindInvalid, "embedding_dimension_mismatch",
				fmt.Sprintf("the embedding model returned %d dimensions but the tenant is configured for %d", len(d.Values), e.dims), nil)
		}
		vecs[i] = d.Values
	}
	return vecs, nil
}

// modelInfo is the part of Inference's model description (GET /models/{model}) that
// Validate reads.
type modelInfo struct {
	Type                string `json:"type"`
	VectorType          string `json:"vector_type"`
	DefaultDimension    int    `json:"default_dimension"`
	SupportedDimensions []int  `json:"supported_dimensions"`
}

// Validate checks, when a tenant configures Pinecone Inference, that the key is
// accepted and that the model is a hosted dense embedding model able to produce
// Dimensions values: one of its supported dimensions when the dimension is sent, its
// default one otherwise. It asks GET /models/{model}, which embeds nothing and costs
// nothing. A wrong key, model or dimension is KindInvalid naming the field to fix; an
// unreachable Pinecone keeps its own kind.
func (e *Embedder) Validate(ctx context.Context) error {
	var m modelInfo
	err := e.http.do(ctx, call{method: http.MethodGet, path: "/models/" + url.PathEscape(e.model)}, &m)
	var ae *apiError
	switch de := domain.AsError(err); {
	case err == nil:
	case de != nil && de.Code == "vendor_key_rejected":
		return invalidWith(err, "embedder.api_key", "was rejected by Pinecone")
	case errors.As(err, &ae) && ae.Status == http.StatusNotFound:
		return invalidWith(err, "embedder.model", fmt.Sprintf("%q is not a model Pinecone Inference hosts", e.model))
	default:
		return err
	}
	if m.Type != "embed" || m.VectorType != "dense" {
		return domain.Invalid(domain.FieldError{Field: "embedder.model",
			Message: fmt.Sprintf("%q is a Pinecone %s model with %s vectors; tenantry needs a dense embedding model", e.model, m.Type, m.VectorType)})
	}
	if e.omitDim || len(m.SupportedDimensions) == 0 {
		if e.dims != m.DefaultDimension {
			return domain.Invalid(domain.FieldError{Field: "embedder.dimensions",
				Message: fmt.Sprintf("is %d but %s produces %d dimensions", e.dims, e.model, m.DefaultDimension)})
		}
		return nil
	}
	if !slices.Contains(m.SupportedDimensions, e.dims) {
		return domain.Invalid(domain.FieldError{Field: "embedder.dimensions",
			Message: fmt.Sprintf("is %d but %s supports %v", e.dims, e.model, m.SupportedDimensions)})
	}
	return nil
}

func invalidWith(cause error, field, msg string) error {
	inv := domain.Invalid(domain.FieldError{Field: field, Message: msg})
	inv.Err = cause
	return inv
}
