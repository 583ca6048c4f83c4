package pinecone_test

import (
	"cmp"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/adapters/pinecone"
	"github.com/tenantry/tenantry/adapters/pinecone/pineconetest"
	"github.com/tenantry/tenantry/domain"
)

func newEmbedder(t *testing.T, srv *pineconetest.Server, key string, dimensions int, edit ...func(*pinecone.EmbedderConfig)) *pinecone.Embedder {
	t.Helper()
	cfg := pinecone.EmbedderConfig{Host: srv.URL, APIKey: domain.Secret(key), Model: "llama-text-embed-v2", Dimensions: dimensions,
		Timeout: 2 * time.Second, Retry: fastRetry}
	for _, e := range edit {
		e(&cfg)
	}
	e, err := pinecone.NewEmbedder(cfg)
	require.NoError(t, err)
	return e
}

func TestEmbedBatchesAndKeepsOrder(t *testing.T) {
	t.Parallel()
	srv := pineconetest.New(t, dims, keyA)
	e := newEmbedder(t, srv, keyA, 16)
	texts := make([]string, 200)
	for i := range texts {
		texts[i] = fmt.Sprintf("text number %d about topic %d", i, i%7)
	}

	got, err := e.Embed(t.Context(), texts)

	require.NoError(t, err)
	require.Len(t, got, 200)
	for i, v := range got {
		require.Equal(t, pineconetest.Vector(texts[i], 16), v, "vector %d", i)
	}
	var sizes []int
	for _, c := range srv.CallsTo(http.MethodPost, "/embed") {
		sizes = append(sizes, c.Count)
	}
	assert.Equal(t, []int{96, 96, 8}, sizes)
	assert.Equal(t, 16, e.Dimensions())
}

// TestQueriesAndPassagesAreEmbeddedAsSuch checks the input_type Pinecone's asymmetric
// models need: documents go in as passages, searches as queries.
func TestQueriesAndPassagesAreEmbeddedAsSuch(t *testing.T) {
	t.Parallel()
	srv := pineconetest.New(t, dims, keyA)
	e := newEmbedder(t, srv, keyA, 16)

	_, err := e.Embed(t.Context(), []string{"Travel is booked through the portal."})
	require.NoError(t, err)
	q, err := e.EmbedQuery(t.Context(), "How do I book travel?")
	require.NoError(t, err)

	assert.Equal(t, pineconetest.Vector("How do I book travel?", 16), q)
	var types []string
	for _, c := range srv.CallsTo(http.MethodPost, "/embed") {
		types = append(types, c.InputType)
	}
	assert.Equal(t, []string{"passage", "query"}, types)
}

func TestEmbedOfNothingCallsNothing(t *testing.T) {
	t.Parallel()
	srv := pineconetest.New(t, dims, keyA)
	e := newEmbedder(t, srv, keyA, dims)

	got, err := e.Embed(t.Context(), nil)

	require.NoError(t, err)
	assert.Empty(t, got)
	assert.Empty(t, srv.Calls())
}

func TestEmbedDimensionMismatchIsInvalid(t *testing.T) {
	t.Parallel()
	srv := pineconetest.New(t, dims, keyA)
	// Without the dimension parameter the model answers with its default (4).
	e := newEmbedder(t, srv, keyA, 8, func(c *pinecone.EmbedderConfig) { c.OmitDimension = true })

	_, err := e.Embed(t.Context(), []string{"hello"})

	requireCode(t, err, domain.KindInvalid, "embedding_dimension_mismatch")
}

func TestEmbedFailures(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		key   string
		fault *pineconetest.Fault
		kind  domain.Kind
		code  string
		calls int
	}{
		{name: "rejected key", key: keyB, kind: domain.KindUnavailable, code: "vendor_key_rejected", calls: 1},
		{name: "rate limited", key: keyA, fault: &pineconetest.Fault{Status: 429, RetryAfter: "30", Times: -1},
			kind: domain.KindRateLimited, code: "vendor_rate_limited", calls: 1},
		{name: "server down", key: keyA, fault: &pineconetest.Fault{Status: 502, Times: -1},
			kind: domain.KindUnavailable, code: "vendor_unavailable", calls: 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := pineconetest.New(t, dims, keyA)
			if tc.fault != nil {
				srv.Inject(*tc.fault)
			}
			e := newEmbedder(t, srv, tc.key, dims)

			_, err := e.Embed(t.Context(), []string{"hello"})

			requireCode(t, err, tc.kind, tc.code)
			assert.Len(t, srv.Calls(), tc.calls)
		})
	}
}

func TestEmbedRetriesThenSucceeds(t *testing.T) {
	t.Parallel()
	srv := pineconetest.New(t, dims, keyA)
	srv.Inject(pineconetest.Fault{Path: "/embed", Status: 500})
	e := newEmbedder(t, srv, keyA, dims)

	got, err := e.Embed(t.Context(), []string{"hello world"})

	require.NoError(t, err)
	assert.Equal(t, [][]float32{pineconetest.Vector("hello world", dims)}, got)
	assert.Len(t, srv.Calls(), 2)
}

func TestNewEmbedderChecksItsConfiguration(t *testing.T) {
	t.Parallel()
	_, err := pinecone.NewEmbedder(pinecone.EmbedderConfig{})
	de := domain.AsError(err)
	require.NotNil(t, de)
	assert.Equal(t, domain.KindInvalid, de.Kind)
	assert.Len(t, de.Fields, 3, "key, model and dimensions")
}

func TestEmbedderValidateAsksTheModelDescription(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		model     string
		key       string
		dims      int
		omitDim   bool
		wantField string
		wantMsg   string
	}{
		{name: "a supported dimension", model: "llama-text-embed-v2", dims: 768},
		{name: "the default dimension, not sent", model: "llama-text-embed-v2", dims: 1024, omitDim: true},
		{name: "a fixed-size model at its size", model: "multilingual-e5-large", dims: 1024},
		{name: "an unsupported dimension", model: "llama-text-embed-v2", dims: 1536, wantField: "embedder.dimensions", wantMsg: "supports [384 512 768 1024 2048]"},
		{name: "not sent, not the default", model: "llama-text-embed-v2", dims: 768, omitDim: true, wantField: "embedder.dimensions", wantMsg: "produces 1024 dimensions"},
		{name: "a fixed-size model at another size", model: "multilingual-e5-large", dims: 384, wantField: "embedder.dimensions", wantMsg: "supports [1024]"},
		{name: "an unknown model", model: "text-embedding-3-small", dims: 1536, wantField: "embedder.model", wantMsg: "not a model Pinecone Inference hosts"},
		{name: "a sparse model", model: "pinecone-sparse-english-v0", dims: 1024, wantField: "embedder.model", wantMsg: "sparse vectors"},
		{name: "a reranker", model: "bge-reranker-v2-m3", dims: 1024, wantField: "embedder.model", wantMsg: "rerank model"},
		{name: "a rejected key", model: "llama-text-embed-v2", key: keyB, dims: 1024, wantField: "embedder.api_key", wantMsg: "rejected"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := pineconetest.New(t, dims, keyA)
			key := cmp.Or(tc.key, keyA)
			e := newEmbedder(t, srv, key, tc.dims, func(c *pinecone.EmbedderConfig) { c.Model = tc.model; c.OmitDimension = tc.omitDim })

			err := e.Validate(t.Context())

			calls := srv.CallsTo(http.MethodGet, "/models/"+tc.model)
			require.Len(t, calls, 1, "one free describe call, no embedding")
			assert.Empty(t, srv.CallsTo(http.MethodPost, "/embed"))
			if tc.wantField == "" {
				require.NoError(t, err)
				return
			}
			de := requireCode(t, err, domain.KindInvalid, "invalid_request")
			require.Len(t, de.Fields, 1)
			assert.Equal(t, tc.wantField, de.Fields[0].Field)
			assert.Contains(t, de.Fields[0].Message, tc.wantMsg)
		})
	}
}
