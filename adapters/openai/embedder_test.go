package openai_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/adapters/openai"
	"github.com/tenantry/tenantry/adapters/openai/openaitest"
	"github.com/tenantry/tenantry/domain"
)

func newEmbedder(t *testing.T, srv *openaitest.Server, key string, dims int, edit ...func(*openai.EmbedderConfig)) *openai.Embedder {
	t.Helper()
	cfg := openai.EmbedderConfig{BaseURL: srv.URL, APIKey: domain.Secret(key), Model: "text-embedding-3-small", Dimensions: dims,
		HTTPClient: newHTTPClient(t), Timeout: 2 * time.Second}
	for _, e := range edit {
		e(&cfg)
	}
	e, err := openai.NewEmbedder(cfg)
	require.NoError(t, err)
	return e
}

func TestEmbedBatchesAndRestoresOrderByIndex(t *testing.T) {
	t.Parallel()
	srv := openaitest.New(t, openaitest.Options{APIKey: tenantKey})
	e := newEmbedder(t, srv, tenantKey, 16, func(c *openai.EmbedderConfig) { c.BatchSize = 128 })
	texts := make([]string, 300)
	for i := range texts {
		texts[i] = fmt.Sprintf("passage %d on subject %d", i, i%11)
	}

	got, err := e.Embed(t.Context(), texts)

	require.NoError(t, err)
	require.Len(t, got, 300)
	for i, v := range got {
		require.Equal(t, openaitest.Vector(texts[i], 16), v, "vector %d (the server lists them in reverse)", i)
	}
	reqs := srv.EmbeddingRequests()
	require.Len(t, reqs, 3)
	for i, want := range []int{128, 128, 44} {
		assert.Len(t, reqs[i].Input, want)
		assert.Equal(t, "Bearer "+tenantKey, reqs[i].Authorization)
		assert.Equal(t, "text-embedding-3-small", reqs[i].Model)
		assert.Equal(t, ptr(16), reqs[i].Dimensions)
		assert.Equal(t, "float", reqs[i].EncodingFormat)
	}
	assert.Equal(t, texts[128:256], reqs[1].Input)
}

func TestEmbedCanOmitDimensions(t *testing.T) {
	t.Parallel()
	srv := openaitest.New(t, openaitest.Options{EmbeddingDims: 8}) // a local server, no key
	e := newEmbedder(t, srv, "", 8, func(c *openai.EmbedderConfig) { c.OmitDimensions = true })

	got, err := e.Embed(t.Context(), []string{"hello"})

	require.NoError(t, err)
	assert.Equal(t, [][]float32{openaitest.Vector("hello", 8)}, got)
	assert.Nil(t, srv.EmbeddingRequests()[0].Dimensions)
	assert.Empty(t, srv.EmbeddingRequests()[0].Authorization)
}

func TestEmbedModelWithoutMatryoshkaRefusesDimensions(t *testing.T) {
	t.Parallel()
	srv := openaitest.New(t, openaitest.Options{APIKey: tenantKey, EmbeddingDims: 8, NoMatryoshka: true})
	sending := newEmbedder(t, srv, tenantKey, 8, func(c *openai.EmbedderConfig) { c.Model = "BAAI/bge-m3" })
	omitting := newEmbedder(t, srv, tenantKey, 8, func(c *openai.EmbedderConfig) { c.Model = "BAAI/bge-m3"; c.OmitDimensions = true })

	_, err := sending.Embed(t.Context(), []string{"hello"})
	requireCode(t, err, domain.KindInvalid, openai.CodeInvalid)
	assert.Equal(t, []string{"embeddings: dimensions sent to BAAI/bge-m3"}, srv.TakeViolations())
	got, err := omitting.Embed(t.Context(), []string{"hello"})

	require.NoError(t, err)
	assert.Equal(t, [][]float32{openaitest.Vector("hello", 8)}, got)
}

func TestEmbedDimensionMismatchIsInvalid(t *testing.T) {
	t.Parallel()
	srv := openaitest.New(t, openaitest.Options{APIKey: tenantKey, EmbeddingDims: 8})
	e := newEmbedder(t, srv, tenantKey, 384, func(c *openai.EmbedderConfig) { c.OmitDimensions = true })

	_, err := e.Embed(t.Context(), []string{"hello"})

	de := requireCode(t, err, domain.KindInvalid, openai.CodeDimensionsOff)
	assert.Equal(t, "the embedding model returned 8 dimensions but the tenant is configured for 384", de.Detail)
}

func TestEmbedFailures(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		key   string
		fault openaitest.Fault
		kind  domain.Kind
		code  string
		retry int
		calls int
	}{
		{name: "rejected key", key: "sk-wrong-0000000000", kind: domain.KindUnavailable, code: openai.CodeKeyRejected, calls: 1},
		{name: "rate limited beyond the retry delay", fault: openaitest.Fault{Status: 429, RetryAfter: "30", Times: -1},
			kind: domain.KindRateLimited, code: openai.CodeRateLimited, retry: 30, calls: 1},
		{name: "server down after retries", fault: openaitest.Fault{Status: 503, RetryAfter: "0", Times: -1},
			kind: domain.KindUnavailable, code: openai.CodeUnavailable, retry: 1, calls: 3},
		{name: "unknown model", fault: openaitest.Fault{Status: 404, Code: "model_not_found"},
			kind: domain.KindInvalid, code: openai.CodeInvalid, calls: 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := openaitest.New(t, openaitest.Options{APIKey: tenantKey})
			if tc.fault != (openaitest.Fault{}) {
				srv.Inject(tc.fault)
			}
			key := tenantKey
			if tc.key != "" {
				key = tc.key
			}
			e := newEmbedder(t, srv, key, 8)

			_, err := e.Embed(t.Context(), []string{"hello"})

			de := requireCode(t, err, tc.kind, tc.code)
			assert.Equal(t, tc.retry, de.RetryAfterSeconds)
			assert.Len(t, srv.EmbeddingRequests(), tc.calls)
		})
	}
}

func TestEmbedRetriesAServerErrorThenSucceeds(t *testing.T) {
	t.Parallel()
	srv := openaitest.New(t, openaitest.Options{APIKey: tenantKey})
	srv.Inject(openaitest.Fault{Path: "/embeddings", Status: 500, RetryAfter: "0"})
	e := newEmbedder(t, srv, tenantKey, 8)

	got, err := e.Embed(t.Context(), []string{"hello world"})

	require.NoError(t, err)
	assert.Equal(t, [][]float32{openaitest.Vector("hello world", 8)}, got)
	assert.Len(t, srv.EmbeddingRequests(), 2)
}

func TestNewEmbedderChecksItsConfiguration(t *testing.T) {
	t.Parallel()
	_, err := openai.NewEmbedder(openai.EmbedderConfig{})
	de := domain.AsError(err)
	require.NotNil(t, de)
	assert.Equal(t, domain.KindInvalid, de.Kind)
	assert.Len(t, de.Fields, 2, "model and dimensions")
}
