package observe

import (
	"context"

	"go.uber.org/zap"

	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/ports"
)

// VectorIndex times and counts the calls of the VectorIndex it wraps.
type VectorIndex struct {
	next     ports.VectorIndex
	provider string
	o        *Observer
}

var _ ports.VectorIndex = (*VectorIndex)(nil)

// NewVectorIndex wraps next, an index of provider.
func NewVectorIndex(next ports.VectorIndex, provider string, o *Observer) *VectorIndex {
	return &VectorIndex{next: next, provider: provider, o: o}
}

// Upsert calls the wrapped index.
func (v *VectorIndex) Upsert(ctx context.Context, t domain.TenantID, chunks []domain.Chunk) error {
	c := v.o.begin(ServiceVectorStore, v.provider, "upsert", t)
	err := v.next.Upsert(ctx, t, chunks)
	c.end(ctx, outcomeOf(ctx, err), err, zap.Int("chunks", len(chunks)))
	return err
}

// Search calls the wrapped index.
func (v *VectorIndex) Search(ctx context.Context, t domain.TenantID, q []float32, k int, minScore float64) (domain.SearchResult, error) {
	c := v.o.begin(ServiceVectorStore, v.provider, "search", t)
	res, err := v.next.Search(ctx, t, q, k, minScore)
	c.end(ctx, outcomeOf(ctx, err), err, zap.Int("k", k), zap.Int("passages", len(res.Passages)), zap.Int("read_units", res.ReadUnits))
	return res, err
}

// DeleteDocument calls the wrapped index.
func (v *VectorIndex) DeleteDocument(ctx context.Context, t domain.TenantID, d domain.DocumentID) error {
	c := v.o.begin(ServiceVectorStore, v.provider, "delete_document", t)
	err := v.next.DeleteDocument(ctx, t, d)
	c.end(ctx, outcomeOf(ctx, err), err, zap.String("document_id", string(d)))
	return err
}

// DropTenant calls the wrapped index.
func (v *VectorIndex) DropTenant(ctx context.Context, t domain.TenantID) error {
	c := v.o.begin(ServiceVectorStore, v.provider, "drop_tenant", t)
	err := v.next.DropTenant(ctx, t)
	c.end(ctx, outcomeOf(ctx, err), err)
	return err
}

// ListingVectorIndex is the VectorIndex decorator for an index that is also a
// ports.VectorLister (one outside tenantry's database, such as Pinecone): it stays one,
// so that the vector sweeper still finds the vectors whose document is gone.
type ListingVectorIndex struct {
	*VectorIndex
	lister ports.VectorLister
}

var _ ports.VectorLister = (*ListingVectorIndex)(nil)

// VectorDocuments calls the wrapped index.
func (v *ListingVectorIndex) VectorDocuments(ctx context.Context, t domain.TenantID) (map[domain.DocumentID]int, error) {
	c := v.o.begin(ServiceVectorStore, v.provider, "vector_documents", t)
	docs, err := v.lister.VectorDocuments(ctx, t)
	c.end(ctx, outcomeOf(ctx, err), err, zap.Int("documents", len(docs)))
	return docs, err
}
