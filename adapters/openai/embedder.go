package openai

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"time"

	sdk "github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/ports"
)

// Defaults of EmbedderConfig.
const (
	DefaultEmbedTimeout    = 30 * time.Second
	DefaultEmbedRetries    = 2
	DefaultEmbedBatch      = 128
	DefaultMaxRetryDelay   = 8 * time.Second
	maxInputsPerEmbedCall  = 2048
	maxEmbeddingDimensions = 65536
)

// EmbedderConfig configures one tenant's OpenAI-compatible embedder.
type EmbedderConfig struct {
	// BaseURL and APIKey work as in ChatConfig.
	BaseURL string
	APIKey  domain.Secret
	// Model names the embedding model, e.g. "text-embedding-3-small" or "nomic-embed-text".
	Model string
	// Dimensions is the length of every vector. It is sent as "dimensions" unless
	// OmitDimensions is set, for models and servers that reject the parameter
	// (text-embedding-ada-002, many local servers).
	Dimensions     int
	OmitDimensions bool
	// BatchSize is the number of texts per request (default 128, at most 2048).
	BatchSize int
	// HTTPClient sends the requests; nil means a new http.Client.
	HTTPClient *http.Client
	// Timeout bounds one attempt (default 30s).
	Timeout time.Duration
	// MaxRetries is how often a 429, 5xx or connection error is retried with the SDK's
	// jittered exponential backoff, which honours Retry-After (default 2; negative
	// disables). A Retry-After longer than MaxRetryDelay (default 8s) is not waited.
	MaxRetries    int
	MaxRetryDelay time.Duration
}

// Embedder is a ports.Embedder calling POST {base}/embeddings. Safe for concurrent use.
type Embedder struct {
	svc       sdk.EmbeddingService
	key       domain.Secret
	model     string
	dims      int
	omitDims  bool
	batchSize int
	timeout   time.Duration
}

var _ ports.Embedder = (*Embedder)(nil)

// NewEmbedder builds the tenant's embedder. It makes no request.
func NewEmbedder(cfg EmbedderConfig) (*Embedder, error) {
	var fs []domain.FieldError
	if cfg.Model == "" {
		fs = append(fs, domain.FieldError{Field: "embedder.model", Message: "is required for openai"})
	}
	if cfg.Dimensions <= 0 || cfg.Dimensions > maxEmbeddingDimensions {
		fs = append(fs, domain.FieldError{Field: "embedder.dimensions", Message: "must be positive"})
	}
	if len(fs) > 0 {
		return nil, domain.Invalid(fs...)
	}
	retries := cfg.MaxRetries
	if retries == 0 {
		retries = DefaultEmbedRetries
	}
	opts, err := clientOptions(cfg.BaseURL, cfg.APIKey, cfg.HTTPClient, max(retries, 0), "embedder.base_url")
	if err != nil {
		return nil, err
	}
	delay := cfg.MaxRetryDelay
	if delay <= 0 {
		delay = DefaultMaxRetryDelay
	}
	opts = append(opts, option.WithMaxRetryDelay(delay))
	e := &Embedder{svc: sdk.NewEmbeddingService(opts...), key: cfg.APIKey, model: cfg.Model, dims: cfg.Dimensions,
		omitDims: cfg.OmitDimensions, batchSize: cfg.BatchSize, timeout: cfg.Timeout}
	if e.batchSize <= 0 {
		e.batchSize = DefaultEmbedBatch
	}
	e.batchSize = min(e.batchSize, maxInputsPerEmbedCall)
	if e.timeout <= 0 {
		e.timeout = DefaultEmbedTimeout
	}
	return e, nil
}

// Dimensions implements ports.Embedder.
func (e *Embedder) Dimensions() int { return e.dims }

// Embed implements ports.Embedder, BatchSize texts per request, each answer put back
// in input order by its index.
func (e *Embedder) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	out := make([][]float32, 0, len(texts))
	for start := 0; start < len(texts); start += e.batchSize {
		vecs, err := e.embedBatch(ctx, texts[start:min(start+e.batchSize, len(texts))])
		if err != nil {
			return nil, err
		}
		out = append(out, vecs...)
	}
	return out, nil
}

// EmbedQuery implements ports.Embedder: OpenAI's embedding models take queries and
// documents alike.
func (e *Embedder) EmbedQuery(ctx context.Context, query string) ([]float32, error) {
	vecs, err := e.embedBatch(ctx, []string{query})
	if err != nil {
		return nil, err
	}
	return vecs[0], nil
}

func (e *Embedder) embedBatch(ctx context.Context, texts []string) ([][]float32, error) {
	params := sdk.EmbeddingNewParams{
		Model:          e.model,
		Input:          sdk.EmbeddingNewParamsInputUnion{OfArrayOfStrings: slices.Clone(texts)},
		EncodingFormat: sdk.EmbeddingNewParamsEncodingFormatFloat,
	}
	if !e.omitDims {
		params.Dimensions = sdk.Int(int64(e.dims))
	}
	res, err := e.svc.New(ctx, params, option.WithRequestTimeout(e.timeout))
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, vendorError(err, e.key, false)
	}
	vecs := make([][]float32, len(texts))
	for _, d := range res.Data {
		i := int(d.Index)
		if i < 0 || i >= len(vecs) || vecs[i] != nil {
			return nil, domain.E(domain.KindUnavailable, CodeBadResponse, "the model provider returned malformed embeddings",
				fmt.Errorf("embedding index %d out of range or repeated for %d inputs", d.Index, len(texts)))
		}
		if len(d.Embedding) != e.dims {
			return nil, domain.E(domain.KindInvalid, CodeDimensionsOff,
				fmt.Sprintf("the embedding model returned %d dimensions but the tenant is configured for %d", len(d.Embedding), e.dims), nil)
		}
		v := make([]float32, len(d.Embedding))
		for j, f := range d.Embedding {
			v[j] = float32(f)
		}
		vecs[i] = v
	}
	if len(res.Data) != len(texts) {
		return nil, domain.E(domain.KindUnavailable, CodeBadResponse, "the model provider returned the wrong number of embeddings",
			fmt.Errorf("%d inputs, %d embeddings", len(texts), len(res.Data)))
	}
	return vecs, nil
}

func validBaseURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != "" && u.User == nil
}
