package pinecone_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/adapters/pinecone"
	"github.com/tenantry/tenantry/adapters/pinecone/pineconetest"
	"github.com/tenantry/tenantry/domain"
)

// Recognisable keys, so tests can show they never leak into errors.
const (
	keyA = "pcsk_acme_SECRET_a1b2c3d4e5"
	keyB = "pcsk_globex_SECRET_f6g7h8i9"
)

const dims = 4

// fastRetry keeps retry tests quick while exercising the same code paths.
var fastRetry = pinecone.RetryPolicy{MaxAttempts: 3, BaseDelay: time.Millisecond, MaxDelay: 5 * time.Millisecond, MaxElapsed: 3 * time.Second}

func newIndex(t *testing.T, srv *pineconetest.Server, tenant domain.TenantID, key, ns string, edit ...func(*pinecone.IndexConfig)) *pinecone.Index {
	t.Helper()
	cfg := pinecone.IndexConfig{TenantID: tenant, Host: srv.URL, APIKey: domain.Secret(key), Namespace: ns, Timeout: 2 * time.Second, Retry: fastRetry}
	for _, e := range edit {
		e(&cfg)
	}
	x, err := pinecone.NewIndex(cfg)
	require.NoError(t, err)
	return x
}

func chunk(doc string, i int, text string, vec ...float32) domain.Chunk {
	return domain.Chunk{DocumentID: domain.DocumentID(doc), Index: i, Title: "Title " + doc, Text: text, Vector: vec}
}

func requireCode(t *testing.T, err error, kind domain.Kind, code string) *domain.Error {
	t.Helper()
	require.Error(t, err)
	de := domain.AsError(err)
	require.NotNil(t, de, "want a *domain.Error, got %T: %v", err, err)
	require.Equal(t, kind, de.Kind, "kind of %v", err)
	require.Equal(t, code, de.Code, "code of %v", err)
	assert.NotContains(t, err.Error(), keyA)
	assert.NotContains(t, err.Error(), keyB)
	assert.NotContains(t, fmt.Sprintf("%+v %#v", err, err), keyA)
	return de
}

func TestUpsertStoresDocumentedIDsAndMetadata(t *testing.T) {
	t.Parallel()
	srv := pineconetest.New(t, dims, keyA)
	x := newIndex(t, srv, "acme", keyA, "acme-ns")

	err := x.Upsert(t.Context(), "acme", []domain.Chunk{
		chunk("doc1", 0, "alpha", 1, 0, 0, 0),
		chunk("doc1", 1, "beta", 0, 1, 0, 0),
		chunk("doc2", 0, "gamma", 0, 0, 1, 0),
	})
	require.NoError(t, err)

	assert.Equal(t, []string{"doc1#0", "doc1#1", "doc2#0"}, srv.IDs(keyA, "acme-ns"))
	assert.Equal(t, map[string]any{"document_id": "doc1", "chunk": float64(1), "title": "Title doc1", "text": "beta"},
		srv.Metadata(keyA, "acme-ns", "doc1#1"))
	calls := srv.CallsTo(http.MethodPost, "/vectors/upsert")
	require.Len(t, calls, 1)
	assert.Equal(t, pineconetest.Call{Method: http.MethodPost, Path: "/vectors/upsert", APIKey: keyA, Namespace: "acme-ns", Status: 200, Count: 3}, calls[0])
}

func TestUpsertBatchesOfAtMostAThousand(t *testing.T) {
	t.Parallel()
	srv := pineconetest.New(t, dims, keyA)
	x := newIndex(t, srv, "acme", keyA, "acme")
	chunks := make([]domain.Chunk, 2500)
	for i := range chunks {
		chunks[i] = chunk("doc", i, "text", 1, float32(i), 0, 0)
	}

	require.NoError(t, x.Upsert(t.Context(), "acme", chunks))

	var got []int
	for _, c := range srv.CallsTo(http.MethodPost, "/vectors/upsert") {
		got = append(got, c.Count)
	}
	assert.Equal(t, []int{1000, 1000, 500}, got)
	assert.Len(t, srv.IDs(keyA, "acme"), 2500)
}

func TestUpsertKeepsRequestsUnderTwoMegabytes(t *testing.T) {
	t.Parallel()
	srv := pineconetest.New(t, dims, keyA)
	x := newIndex(t, srv, "acme", keyA, "acme")
	text := strings.Repeat("lorem ipsum ", 2500) // 30 KB of metadata per vector
	chunks := make([]domain.Chunk, 150)
	for i := range chunks {
		chunks[i] = chunk("big", i, text, 1, 1, 1, 1)
	}

	require.NoError(t, x.Upsert(t.Context(), "acme", chunks))

	calls := srv.CallsTo(http.MethodPost, "/vectors/upsert")
	assert.GreaterOrEqual(t, len(calls), 3, "4.5 MB must take at least three requests")
	assert.Len(t, srv.IDs(keyA, "acme"), 150)
}

func TestUpsertRejectsWhatPineconeCannotStore(t *testing.T) {
	t.Parallel()
	srv := pineconetest.New(t, dims, keyA)
	x := newIndex(t, srv, "acme", keyA, "acme")
	tests := []struct {
		name  string
		chunk domain.Chunk
	}{
		{name: "separator in document id", chunk: chunk("a#b", 0, "t", 1, 0, 0, 0)},
		{name: "empty document id", chunk: chunk("", 0, "t", 1, 0, 0, 0)},
		{name: "no vector", chunk: chunk("doc", 0, "t")},
		{name: "metadata over 40 KB", chunk: chunk("doc", 0, strings.Repeat("x", 41_000), 1, 0, 0, 0)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := x.Upsert(t.Context(), "acme", []domain.Chunk{tc.chunk})
			assert.Equal(t, domain.KindInvalid, domain.KindOf(err), "%v", err)
		})
	}
	assert.Empty(t, srv.Calls(), "nothing invalid may reach Pinecone")
}

func TestSearchOrdersFiltersAndMapsMetadata(t *testing.T) {
	t.Parallel()
	srv := pineconetest.New(t, dims, keyA)
	x := newIndex(t, srv, "acme", keyA, "acme")
	ctx := t.Context()
	require.NoError(t, x.Upsert(ctx, "acme", []domain.Chunk{
		chunk("doc-b", 0, "exact b", 1, 0, 0, 0),
		chunk("doc-a", 1, "exact a1", 1, 0, 0, 0),
		chunk("doc-a", 0, "exact a0", 1, 0, 0, 0),
		chunk("doc-c", 0, "close", 1, 1, 0, 0),
		chunk("doc-d", 0, "far", 0, 0, 0, 1),
	}))

	got, err := passagesOf(x.Search(ctx, "acme", []float32{1, 0, 0, 0}, 4, 0.5))
	require.NoError(t, err)

	require.Len(t, got, 4)
	assert.Equal(t, domain.Passage{DocumentID: "doc-a", Title: "Title doc-a", Chunk: 0, Score: got[0].Score, Text: "exact a0"}, got[0])
	assert.InDelta(t, 1.0, got[0].Score, 1e-6)
	assert.Equal(t, []string{"doc-a#0", "doc-a#1", "doc-b#0", "doc-c#0"}, passageIDs(got), "best first, ties by document then chunk")
	assert.InDelta(t, 0.7071, got[3].Score, 1e-3)

	got, err = passagesOf(x.Search(ctx, "acme", []float32{1, 0, 0, 0}, 10, 0.9))
	require.NoError(t, err)
	assert.Equal(t, []string{"doc-a#0", "doc-a#1", "doc-b#0"}, passageIDs(got), "scores below minScore are dropped")

	got, err = passagesOf(x.Search(ctx, "acme", []float32{1, 0, 0, 0}, 0, 0))
	require.NoError(t, err)
	assert.Empty(t, got)

	res, err := x.Search(ctx, "acme", []float32{1, 0, 0, 0}, 2, 0)
	require.NoError(t, err)
	assert.Equal(t, 5, res.ReadUnits, "the read units of the query's usage, as the fake reports them")
}

func TestSearchOfEmptyNamespaceIsEmptyNotNil(t *testing.T) {
	t.Parallel()
	srv := pineconetest.New(t, dims, keyA)
	x := newIndex(t, srv, "acme", keyA, "acme")

	got, err := passagesOf(x.Search(t.Context(), "acme", []float32{1, 0, 0, 0}, 5, -1))

	require.NoError(t, err)
	assert.NotNil(t, got)
	assert.Empty(t, got)
}

func passageIDs(ps []domain.Passage) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = fmt.Sprintf("%s#%d", p.DocumentID, p.Chunk)
	}
	return out
}

func TestDeleteDocumentListsByPrefixAndDeletesByID(t *testing.T) {
	t.Parallel()
	srv := pineconetest.New(t, dims, keyA)
	x := newIndex(t, srv, "acme", keyA, "acme")
	ctx := t.Context()
	var chunks []domain.Chunk
	for i := range 250 {
		chunks = append(chunks, chunk("doc1", i, "t", 1, 0, 0, 0))
	}
	chunks = append(chunks, chunk("doc10", 0, "keep", 1, 0, 0, 0), chunk("doc2", 0, "keep", 1, 0, 0, 0))
	require.NoError(t, x.Upsert(ctx, "acme", chunks))

	require.NoError(t, x.DeleteDocument(ctx, "acme", "doc1"))

	assert.Equal(t, []string{"doc10#0", "doc2#0"}, srv.IDs(keyA, "acme"), "the prefix doc1# must not reach doc10")
	assert.Len(t, srv.CallsTo(http.MethodGet, "/vectors/list"), 3, "250 ids take three pages of 100")
	deletes := srv.CallsTo(http.MethodPost, "/vectors/delete")
	require.Len(t, deletes, 1)
	assert.Equal(t, 250, deletes[0].Count)

	require.NoError(t, x.DeleteDocument(ctx, "acme", "unknown-doc"), "unknown document is not an error")
	assert.Len(t, srv.CallsTo(http.MethodPost, "/vectors/delete"), 1, "nothing to delete, no delete call")
}

func TestDropTenantDeletesOnlyItsNamespace(t *testing.T) {
	t.Parallel()
	srv := pineconetest.New(t, dims, keyA, keyB)
	ctx := t.Context()
	acme := newIndex(t, srv, "acme", keyA, "acme")
	require.NoError(t, acme.Upsert(ctx, "acme", []domain.Chunk{chunk("d", 0, "a", 1, 0, 0, 0)}))
	srv.Put(keyA, "initech", "x#0", []float32{1, 0, 0, 0}, nil) // same key, another namespace
	srv.Put(keyB, "acme", "x#0", []float32{1, 0, 0, 0}, nil)    // same namespace name, another key

	require.NoError(t, acme.DropTenant(ctx, "acme"))

	assert.Empty(t, srv.IDs(keyA, "acme"))
	assert.Equal(t, []string{"initech"}, srv.Namespaces(keyA))
	assert.Equal(t, []string{"acme"}, srv.Namespaces(keyB))
	drops := srv.CallsTo(http.MethodDelete, "/namespaces/acme")
	require.Len(t, drops, 1)
	assert.Equal(t, "acme", drops[0].Namespace)

	require.NoError(t, acme.DropTenant(ctx, "acme"), "an already deleted namespace is not an error")
}

func TestTenantsAreIsolatedByKeyAndNamespace(t *testing.T) {
	t.Parallel()
	srv := pineconetest.New(t, dims, keyA, keyB)
	ctx := t.Context()
	acme := newIndex(t, srv, "acme", keyA, "acme")
	globex := newIndex(t, srv, "globex", keyB, "globex")
	sameKey := newIndex(t, srv, "initech", keyA, "initech") // shares acme's key, not its namespace
	require.NoError(t, acme.Upsert(ctx, "acme", []domain.Chunk{chunk("acme-doc", 0, "acme secret", 1, 0, 0, 0)}))
	require.NoError(t, globex.Upsert(ctx, "globex", []domain.Chunk{chunk("globex-doc", 0, "globex secret", 1, 0, 0, 0)}))

	for _, tc := range []struct {
		name   string
		x      *pinecone.Index
		tenant domain.TenantID
		want   []string
	}{
		{name: "acme", x: acme, tenant: "acme", want: []string{"acme-doc#0"}},
		{name: "globex", x: globex, tenant: "globex", want: []string{"globex-doc#0"}},
		{name: "same key other namespace", x: sameKey, tenant: "initech", want: []string{}},
	} {
		got, err := passagesOf(tc.x.Search(ctx, tc.tenant, []float32{1, 0, 0, 0}, 10, -1))
		require.NoError(t, err, tc.name)
		assert.Equal(t, tc.want, passageIDs(got), tc.name)
	}
	assert.Equal(t, []string{"acme"}, srv.Namespaces(keyA))
	assert.Equal(t, []string{"globex"}, srv.Namespaces(keyB))
}

func TestCallForAnotherTenantIsInternalAndSendsNothing(t *testing.T) {
	t.Parallel()
	srv := pineconetest.New(t, dims, keyA)
	x := newIndex(t, srv, "acme", keyA, "acme")
	ctx := t.Context()

	_, searchErr := passagesOf(x.Search(ctx, "globex", []float32{1, 0, 0, 0}, 3, 0))
	for name, err := range map[string]error{
		"upsert": x.Upsert(ctx, "globex", []domain.Chunk{chunk("d", 0, "t", 1, 0, 0, 0)}),
		"search": searchErr,
		"delete": x.DeleteDocument(ctx, "globex", "d"),
		"drop":   x.DropTenant(ctx, "globex"),
	} {
		t.Run(name, func(t *testing.T) { requireCode(t, err, domain.KindInternal, "tenant_mismatch") })
	}
	assert.Empty(t, srv.Calls())
}

func TestRetriesServerErrorsThenSucceeds(t *testing.T) {
	t.Parallel()
	srv := pineconetest.New(t, dims, keyA)
	x := newIndex(t, srv, "acme", keyA, "acme")
	srv.Inject(pineconetest.Fault{Path: "/query", Status: http.StatusServiceUnavailable, Times: 2})

	got, err := passagesOf(x.Search(t.Context(), "acme", []float32{1, 0, 0, 0}, 3, 0))

	require.NoError(t, err)
	assert.Empty(t, got)
	var statuses []int
	for _, c := range srv.CallsTo(http.MethodPost, "/query") {
		statuses = append(statuses, c.Status)
	}
	assert.Equal(t, []int{503, 503, 200}, statuses)
}

func TestRetryHonoursRetryAfter(t *testing.T) {
	t.Parallel()
	srv := pineconetest.New(t, dims, keyA)
	x := newIndex(t, srv, "acme", keyA, "acme")
	srv.Inject(pineconetest.Fault{Path: "/vectors/upsert", Status: http.StatusTooManyRequests, RetryAfter: "1"})

	start := time.Now()
	err := x.Upsert(t.Context(), "acme", []domain.Chunk{chunk("d", 0, "t", 1, 0, 0, 0)})

	require.NoError(t, err)
	assert.GreaterOrEqual(t, time.Since(start), time.Second, "waited as Retry-After said, not the 1ms backoff")
	assert.Len(t, srv.CallsTo(http.MethodPost, "/vectors/upsert"), 2)
}

func TestRetriesExhaustedIsUnavailable(t *testing.T) {
	t.Parallel()
	srv := pineconetest.New(t, dims, keyA)
	x := newIndex(t, srv, "acme", keyA, "acme")
	srv.Inject(pineconetest.Fault{Status: http.StatusInternalServerError, Times: -1})

	_, err := passagesOf(x.Search(t.Context(), "acme", []float32{1, 0, 0, 0}, 3, 0))

	requireCode(t, err, domain.KindUnavailable, "vendor_unavailable")
	assert.Len(t, srv.Calls(), 3, "MaxAttempts bounds the tries")
}

func TestRateLimitBeyondBudgetIsRateLimitedWithRetryAfter(t *testing.T) {
	t.Parallel()
	srv := pineconetest.New(t, dims, keyA)
	x := newIndex(t, srv, "acme", keyA, "acme")
	srv.Inject(pineconetest.Fault{Status: http.StatusTooManyRequests, RetryAfter: "7", Times: -1})

	start := time.Now()
	_, err := passagesOf(x.Search(t.Context(), "acme", []float32{1, 0, 0, 0}, 3, 0))

	de := requireCode(t, err, domain.KindRateLimited, "vendor_rate_limited")
	assert.Equal(t, 7, de.RetryAfterSeconds)
	assert.Len(t, srv.Calls(), 1, "a 7s wait does not fit the 3s budget: no retry")
	assert.Less(t, time.Since(start), time.Second)
}

func TestRejectedKeyIsUnavailableAndNotRetried(t *testing.T) {
	t.Parallel()
	srv := pineconetest.New(t, dims, keyA)
	x := newIndex(t, srv, "acme", keyB, "acme") // keyB is unknown to this project

	_, err := passagesOf(x.Search(t.Context(), "acme", []float32{1, 0, 0, 0}, 3, 0))

	de := requireCode(t, err, domain.KindUnavailable, "vendor_key_rejected")
	assert.Equal(t, "the tenant's Pinecone API key was rejected", de.Detail)
	assert.Len(t, srv.Calls(), 1)
}

func TestBadRequestIsInvalid(t *testing.T) {
	t.Parallel()
	srv := pineconetest.New(t, dims, keyA)
	x := newIndex(t, srv, "acme", keyA, "acme")

	_, err := passagesOf(x.Search(t.Context(), "acme", []float32{1, 0, 0}, 3, 0)) // wrong dimension

	requireCode(t, err, domain.KindInvalid, "vendor_invalid_request")
	assert.Len(t, srv.Calls(), 1)
}

func TestAttemptTimeoutIsUnavailable(t *testing.T) {
	t.Parallel()
	srv := pineconetest.New(t, dims, keyA)
	x := newIndex(t, srv, "acme", keyA, "acme", func(c *pinecone.IndexConfig) {
		c.Timeout = 50 * time.Millisecond
		c.Retry.MaxAttempts = 2
	})
	srv.Inject(pineconetest.Fault{Path: "/query", Delay: 5 * time.Second, Times: -1})

	start := time.Now()
	_, err := passagesOf(x.Search(t.Context(), "acme", []float32{1, 0, 0, 0}, 3, 0))

	requireCode(t, err, domain.KindUnavailable, "vendor_timeout")
	assert.Less(t, time.Since(start), 2*time.Second)
}

func TestUnreachableHostIsUnavailable(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	x, err := pinecone.NewIndex(pinecone.IndexConfig{TenantID: "acme", Host: "http://" + addr, APIKey: keyA, Retry: fastRetry})
	require.NoError(t, err)

	_, err = passagesOf(x.Search(t.Context(), "acme", []float32{1, 0, 0, 0}, 3, 0))

	requireCode(t, err, domain.KindUnavailable, "vendor_unreachable")
}

func TestCallerCancellationEndsAtOnce(t *testing.T) {
	t.Parallel()
	srv := pineconetest.New(t, dims, keyA)
	x := newIndex(t, srv, "acme", keyA, "acme", func(c *pinecone.IndexConfig) { c.Timeout = 10 * time.Second })
	srv.Inject(pineconetest.Fault{Delay: 10 * time.Second, Times: -1})
	ctx, cancel := context.WithCancel(t.Context())
	time.AfterFunc(50*time.Millisecond, cancel)

	start := time.Now()
	_, err := passagesOf(x.Search(ctx, "acme", []float32{1, 0, 0, 0}, 3, 0))

	require.ErrorIs(t, err, context.Canceled)
	assert.Less(t, time.Since(start), time.Second)
}

func TestDescribeIndexStatsAndValidate(t *testing.T) {
	t.Parallel()
	srv := pineconetest.New(t, dims, keyA)
	ctx := t.Context()
	x := newIndex(t, srv, "acme", keyA, "acme")
	require.NoError(t, x.Upsert(ctx, "acme", []domain.Chunk{chunk("d", 0, "t", 1, 0, 0, 0), chunk("d", 1, "t", 0, 1, 0, 0)}))

	dim, total, err := x.DescribeIndexStats(ctx)
	require.NoError(t, err)
	assert.Equal(t, dims, dim)
	assert.Equal(t, int64(2), total)

	require.NoError(t, x.Validate(ctx, dims))

	err = x.Validate(ctx, 384)
	de := requireCode(t, err, domain.KindInvalid, "invalid_request")
	require.Len(t, de.Fields, 1)
	assert.Equal(t, "embedder.dimensions", de.Fields[0].Field)
	assert.Contains(t, de.Detail, "Pinecone index has dimension 4")

	bad := newIndex(t, srv, "acme", keyB, "acme")
	de = requireCode(t, bad.Validate(ctx, dims), domain.KindInvalid, "invalid_request")
	assert.Equal(t, "vector_store.api_key", de.Fields[0].Field)
	assert.Equal(t, "vendor_key_rejected", domain.AsError(de.Err).Code, "the cause keeps the vendor failure")
}

func TestValidateRefusesAnIndexThatIsNotADenseVectorIndex(t *testing.T) {
	t.Parallel()
	for _, kind := range []string{"sparse", "document"} {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			srv := pineconetest.New(t, dims, keyA)
			srv.SetVectorType(kind)
			x := newIndex(t, srv, "acme", keyA, "acme")

			de := requireCode(t, x.Validate(t.Context(), dims), domain.KindInvalid, "invalid_request")

			require.Len(t, de.Fields, 1)
			assert.Equal(t, "vector_store.index_host", de.Fields[0].Field)
			assert.Contains(t, de.Fields[0].Message, "of vector type "+kind)
			assert.Contains(t, de.Fields[0].Message, "needs a dense vector index")
		})
	}
}

func TestAPIVersionIsOnePineconeServes(t *testing.T) {
	t.Parallel()
	assert.Equal(t, "2025-10", pinecone.APIVersion)
	assert.Contains(t, pineconetest.APIVersions, pinecone.APIVersion)
}

func TestNewIndexChecksItsConfiguration(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		cfg  pinecone.IndexConfig
		want domain.Kind
	}{
		{name: "missing key", cfg: pinecone.IndexConfig{TenantID: "acme", Host: "https://idx.svc.pinecone.io"}, want: domain.KindInvalid},
		{name: "missing host", cfg: pinecone.IndexConfig{TenantID: "acme", APIKey: keyA}, want: domain.KindInvalid},
		{name: "host with credentials", cfg: pinecone.IndexConfig{TenantID: "acme", Host: "https://u:p@idx.io", APIKey: keyA}, want: domain.KindInvalid},
		{name: "ftp host", cfg: pinecone.IndexConfig{TenantID: "acme", Host: "ftp://idx.io", APIKey: keyA}, want: domain.KindInvalid},
		{name: "no tenant", cfg: pinecone.IndexConfig{Host: "idx.io", APIKey: keyA}, want: domain.KindInternal},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := pinecone.NewIndex(tc.cfg)
			require.Error(t, err)
			assert.Equal(t, tc.want, domain.KindOf(err))
		})
	}

	x, err := pinecone.NewIndex(pinecone.IndexConfig{TenantID: "acme", Host: "idx-abc.svc.aped-4627-b74a.pinecone.io", APIKey: keyA})
	require.NoError(t, err)
	assert.Equal(t, "acme", x.Namespace(), "the namespace defaults to the tenant id")
}

func TestMissingNamespaceReadsAsEmpty(t *testing.T) {
	t.Parallel()
	srv := pineconetest.New(t, dims, keyA)
	x := newIndex(t, srv, "acme", keyA, "acme")
	srv.Inject(pineconetest.Fault{Status: http.StatusNotFound, Times: -1})

	got, err := passagesOf(x.Search(t.Context(), "acme", []float32{1, 0, 0, 0}, 3, 0))
	require.NoError(t, err)
	assert.Empty(t, got)
	require.NoError(t, x.DeleteDocument(t.Context(), "acme", "doc"))
	require.NoError(t, x.DropTenant(t.Context(), "acme"))
	assert.Len(t, srv.Calls(), 3, "a 404 is an answer, not a failure to retry")
}

func TestRedirectsAreNotFollowedWithTheKey(t *testing.T) {
	t.Parallel()
	var reached atomic.Int32
	elsewhere := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { reached.Add(1) }))
	t.Cleanup(elsewhere.Close)
	redirector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, elsewhere.URL+r.URL.Path, http.StatusTemporaryRedirect)
	}))
	t.Cleanup(redirector.Close)
	x, err := pinecone.NewIndex(pinecone.IndexConfig{TenantID: "acme", Host: redirector.URL, APIKey: keyA, Retry: fastRetry})
	require.NoError(t, err)

	_, err = passagesOf(x.Search(t.Context(), "acme", []float32{1, 0, 0, 0}, 3, 0))

	requireCode(t, err, domain.KindUnavailable, "vendor_error")
	assert.Zero(t, reached.Load(), "the key went to the redirect target")
}

func TestMaxElapsedBoundsTheWholeCall(t *testing.T) {
	t.Parallel()
	srv := pineconetest.New(t, dims, keyA)
	x := newIndex(t, srv, "acme", keyA, "acme", func(c *pinecone.IndexConfig) {
		c.Timeout = 5 * time.Second
		c.Retry = pinecone.RetryPolicy{MaxAttempts: 10, BaseDelay: time.Millisecond, MaxElapsed: 300 * time.Millisecond}
	})
	srv.Inject(pineconetest.Fault{Delay: 10 * time.Second, Times: -1})

	start := time.Now()
	_, err := passagesOf(x.Search(t.Context(), "acme", []float32{1, 0, 0, 0}, 3, 0))

	requireCode(t, err, domain.KindUnavailable, "vendor_timeout")
	assert.Less(t, time.Since(start), 2*time.Second, "a 5s attempt timeout may not outlast the 300ms budget")
}

// passagesOf keeps the passages of a search result, for tests about them alone.
func passagesOf(r domain.SearchResult, err error) ([]domain.Passage, error) {
	return r.Passages, err
}
