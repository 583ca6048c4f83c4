package pinecone

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/ports"
)

// IndexConfig configures the client of one tenant's Pinecone index.
type IndexConfig struct {
	// TenantID is the only tenant this client serves.
	TenantID domain.TenantID
	// Host is the index host as Pinecone shows it ("name-xyz.svc.region.pinecone.io",
	// meaning https) or an http(s) URL. Whether plain http is acceptable is the
	// caller's decision (domain.Tenant.VendorURLsSecure).
	Host string
	// APIKey is the tenant's Pinecone key, sent only in the Api-Key header.
	APIKey domain.Secret
	// Namespace holds all of the tenant's vectors; empty means the tenant id.
	Namespace string
	// HTTPClient sends the requests; nil means a new http.Client without timeout
	// (Timeout bounds each attempt instead).
	HTTPClient *http.Client
	// Timeout bounds one attempt, reading the answer included (default 10s).
	Timeout time.Duration
	// Retry bounds retries on 429, 5xx, timeouts and dial errors.
	Retry RetryPolicy
}

// Index is a ports.VectorIndex over one namespace of a tenant's serverless Pinecone
// index, speaking the REST data plane. Safe for concurrent use.
type Index struct {
	tenant    domain.TenantID
	namespace string
	http      *transport
}

var _ ports.VectorIndex = (*Index)(nil)

// NewIndex validates cfg and builds the tenant's index client. It makes no request;
// call Validate to check the key and the dimension.
func NewIndex(cfg IndexConfig) (*Index, error) {
	if _, err := domain.ParseTenantID(string(cfg.TenantID)); err != nil {
		return nil, domain.E(domain.KindInternal, "pinecone_misconfigured", "", fmt.Errorf("pinecone index needs a valid tenant id, got %q", cfg.TenantID))
	}
	if !cfg.APIKey.IsSet() {
		return nil, domain.Invalid(domain.FieldError{Field: "vector_store.api_key", Message: "is required for pinecone"})
	}
	ns := cfg.Namespace
	if ns == "" {
		ns = string(cfg.TenantID)
	}
	if len(ns) > 512 {
		return nil, domain.Invalid(domain.FieldError{Field: "vector_store.namespace", Message: "must be 1-512 characters"})
	}
	tr, err := newTransport(cfg.Host, cfg.APIKey, cfg.HTTPClient, cfg.Timeout, cfg.Retry)
	if err != nil {
		return nil, err
	}
	return &Index{tenant: cfg.TenantID, namespace: ns, http: tr}, nil
}

// Namespace returns the namespace every call of this client uses.
func (x *Index) Namespace() string { return x.namespace }

// own fails with KindInternal unless t is the tenant the client was built for: a wiring
// mistake must never read or write another tenant's vectors.
func (x *Index) own(t domain.TenantID) error {
	if t != x.tenant {
		return domain.E(domain.KindInternal, "tenant_mismatch", "",
			fmt.Errorf("pinecone index of tenant %s called for tenant %s", x.tenant, t))
	}
	return nil
}

// Upsert implements ports.VectorIndex. Chunk c is stored as id "<document id>#<index>"
// with metadata document_id, chunk, title and text, in requests of at most 1000
// vectors and 2 MB.
func (x *Index) Upsert(ctx context.Context, t domain.TenantID, chunks []domain.Chunk) error {
	if err := x.own(t); err != nil {
		return err
	}
	batches, err := upsertBatches(chunks)
	if err != nil {
		return err
	}
	for i, b := range batches {
		var out struct {
			UpsertedCount *int `json:"upsertedCount"`
		}
		req := upsertRequest{Vectors: b.vectors, Namespace: x.namespace}
		if err := x.http.do(ctx, call{method: http.MethodPost, path: "/vectors/upsert", body: req}, &out); err != nil {
			return withBatch(err, i, len(batches))
		}
		if out.UpsertedCount != nil && *out.UpsertedCount != len(b.vectors) {
			return domain.E(domain.KindUnavailable, "vendor_bad_response", "Pinecone did not store every vector",
				fmt.Errorf("upsert batch %d: pinecone stored %d of %d vectors", i+1, *out.UpsertedCount, len(b.vectors)))
		}
	}
	return nil
}

// withBatch says which batch failed when there were several, keeping err's kind.
func withBatch(err error, i, n int) error {
	if n == 1 {
		return err
	}
	if de := domain.AsError(err); de != nil {
		c := *de
		c.Err = fmt.Errorf("upsert batch %d of %d: %w", i+1, n, de.Err)
		return &c
	}
	return err
}

// Search implements ports.VectorIndex with POST /query on the tenant's namespace.
// The read units Pinecone reports in the response's usage are returned for the
// tenant's usage records.
func (x *Index) Search(ctx context.Context, t domain.TenantID, q []float32, k int, minScore float64) (domain.SearchResult, error) {
	if err := x.own(t); err != nil {
		return domain.SearchResult{}, err
	}
	if k <= 0 {
		return domain.SearchResult{Passages: []domain.Passage{}}, nil
	}
	req := queryRequest{Namespace: x.namespace, Vector: q, TopK: min(k, maxTopK), IncludeMetadata: true}
	var out queryResponse
	if err := x.http.do(ctx, call{method: http.MethodPost, path: "/query", body: req}, &out); err != nil {
		if statusOf(err) == http.StatusNotFound {
			return domain.SearchResult{Passages: []domain.Passage{}}, nil // the namespace does not exist yet: nothing stored
		}
		return domain.SearchResult{}, err
	}
	return domain.SearchResult{Passages: passages(out.Matches, k, minScore), ReadUnits: out.Usage.ReadUnits}, nil
}

// DeleteDocument implements ports.VectorIndex. Serverless indexes at API version
// 2025-04 do not delete by metadata filter, so it lists the ids with the prefix
// "<document id>#" (GET /vectors/list, paginated) and deletes them by id, at most 1000
// per request.
func (x *Index) DeleteDocument(ctx context.Context, t domain.TenantID, d domain.DocumentID) error {
	if err := x.own(t); err != nil {
		return err
	}
	if !validDocumentID(d) {
		return nil // no vector can carry such an id: Upsert refuses it
	}
	ids, err := x.listIDs(ctx, string(d)+idSeparator)
	if err != nil {
		return err
	}
	for start := 0; start < len(ids); start += maxDeleteIDs {
		batch := ids[start:min(start+maxDeleteIDs, len(ids))]
		req := deleteRequest{IDs: batch, Namespace: x.namespace}
		if err := x.http.do(ctx, call{method: http.MethodPost, path: "/vectors/delete", body: req}, nil); err != nil {
			return err
		}
	}
	return nil
}

var _ ports.VectorLister = (*Index)(nil)

// VectorDocuments implements ports.VectorLister: it lists every id in the tenant's
// namespace (GET /vectors/list, paginated) and counts them by the document id each
// carries as its prefix ("<document id>#<index>").
func (x *Index) VectorDocuments(ctx context.Context, t domain.TenantID) (map[domain.DocumentID]int, error) {
	if err := x.own(t); err != nil {
		return nil, err
	}
	ids, err := x.listIDs(ctx, "")
	if err != nil {
		return nil, err
	}
	out := make(map[domain.DocumentID]int)
	for _, id := range ids {
		if d, _, ok := strings.Cut(id, idSeparator); ok {
			out[domain.DocumentID(d)]++
		}
	}
	return out, nil
}

// listIDs returns every vector id in the namespace that starts with prefix.
func (x *Index) listIDs(ctx context.Context, prefix string) ([]string, error) {
	var ids []string
	token := ""
	for page := 0; ; page++ {
		if page >= maxListPages {
			return nil, domain.E(domain.KindUnavailable, "vendor_bad_response", "Pinecone kept paginating the id listing",
				fmt.Errorf("list ids: more than %d pages", maxListPages))
		}
		q := url.Values{"namespace": {x.namespace}, "prefix": {prefix}, "limit": {fmt.Sprint(listPageSize)}}
		if token != "" {
			q.Set("paginationToken", token)
		}
		var out listResponse
		if err := x.http.do(ctx, call{method: http.MethodGet, path: "/vectors/list", query: q}, &out); err != nil {
			if statusOf(err) == http.StatusNotFound {
				return ids, nil // the namespace does not exist: nothing stored
			}
			return nil, err
		}
		for _, v := range out.Vectors {
			if strings.HasPrefix(v.ID, prefix) {
				ids = append(ids, v.ID)
			}
		}
		if out.Pagination == nil || out.Pagination.Next == "" || out.Pagination.Next == token {
			return ids, nil
		}
		token = out.Pagination.Next
	}
}

// DropTenant implements ports.VectorIndex by deleting the tenant's namespace
// (DELETE /namespaces/{namespace}); nothing index-wide is ever deleted. A namespace
// that does not exist is not an error.
func (x *Index) DropTenant(ctx context.Context, t domain.TenantID) error {
	if err := x.own(t); err != nil {
		return err
	}
	err := x.http.do(ctx, call{method: http.MethodDelete, path: "/namespaces/" + url.PathEscape(x.namespace)}, nil)
	if err != nil && statusOf(err) == http.StatusNotFound {
		return nil
	}
	return err
}

// DescribeIndexStats returns the index's dimension and its total vector count
// (POST /describe_index_stats).
func (x *Index) DescribeIndexStats(ctx context.Context) (dimension int, totalVectors int64, err error) {
	var out statsResponse
	if err := x.http.do(ctx, call{method: http.MethodPost, path: "/describe_index_stats", body: struct{}{}}, &out); err != nil {
		return 0, 0, err
	}
	return out.Dimension, out.TotalVectorCount, nil
}

// Validate checks, when a tenant configures Pinecone, that the key is accepted and
// that the index is a dense vector index of wantDims dimensions. A rejected key, an
// index of another kind (sparse, or a document index, which refuses the Vectors API)
// or a dimension mismatch is KindInvalid naming the field to fix; an unreachable index
// keeps its own kind.
func (x *Index) Validate(ctx context.Context, wantDims int) error {
	var stats statsResponse
	err := x.http.do(ctx, call{method: http.MethodPost, path: "/describe_index_stats", body: struct{}{}}, &stats)
	dim := stats.Dimension
	if err != nil {
		if de := domain.AsError(err); de != nil && de.Code == "vendor_key_rejected" {
			inv := domain.Invalid(domain.FieldError{Field: "vector_store.api_key", Message: "was rejected by Pinecone for this index"})
			inv.Err = err
			return inv
		}
		return err
	}
	if (stats.VectorType != "" && stats.VectorType != "dense") || dim <= 0 {
		kind := "without a dense dimension"
		if stats.VectorType != "" && stats.VectorType != "dense" {
			kind = "of vector type " + stats.VectorType
		}
		return domain.Invalid(domain.FieldError{Field: "vector_store.index_host",
			Message: "names a Pinecone index " + kind + "; tenantry needs a dense vector index (not a sparse or document index)"})
	}
	if dim != wantDims {
		return domain.Invalid(domain.FieldError{Field: "embedder.dimensions",
			Message: fmt.Sprintf("is %d but the Pinecone index has dimension %d; they must match", wantDims, dim)})
	}
	return nil
}
