package application

import (
	"context"
	"fmt"
	"time"

	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/ports"
)

// IngestDeps are the ports IngestDocument calls.
type IngestDeps struct {
	Documents ports.DocumentStore
	Vendors   ports.Vendors
	Limiter   ports.RateLimiter
	Chunker   domain.Chunker
	// EmbedBatch is how many chunks go to the embedder in one call.
	EmbedBatch int
	Now        func() time.Time
}

// IngestDocument splits a document into chunks, embeds them and indexes them in the
// tenant's own vector index. Tenant admins only.
type IngestDocument struct {
	d IngestDeps
}

// NewIngestDocument builds the use case.
func NewIngestDocument(d IngestDeps) *IngestDocument {
	if d.EmbedBatch <= 0 {
		d.EmbedBatch = 64
	}
	return &IngestDocument{d: d}
}

// IngestInput is one document.
type IngestInput struct {
	Tenant     domain.TenantContext
	Title      string
	Text       string
	ExternalID string
	Metadata   map[string]string
}

// Execute stores the document. Nothing is visible until every chunk is indexed: the
// record is saved last, and a failure removes the vectors already written.
// Re-ingesting a document with the same external id replaces it.
func (u *IngestDocument) Execute(ctx context.Context, in IngestInput) (domain.Document, error) {
	t, who := in.Tenant.Tenant, in.Tenant.Principal
	if !who.CanAdminTenant(t.ID) {
		return domain.Document{}, domain.ErrForbidden.WithDetail("only tenant admins may add documents")
	}
	now := u.d.Now()
	doc, err := domain.NewDocument(domain.DocumentID(newID()), t.ID, in.ExternalID, in.Title, in.Text, in.Metadata, now)
	if err != nil {
		return domain.Document{}, err
	}
	pieces := u.d.Chunker.Split(in.Text)
	if len(pieces) == 0 {
		return domain.Document{}, domain.Invalid(domain.FieldError{Field: "text", Message: "has no indexable content"})
	}
	if err := allowRequest(ctx, u.d.Limiter, t, now); err != nil {
		return domain.Document{}, err
	}
	chunks, err := u.embed(ctx, t, doc, pieces)
	if err != nil {
		return domain.Document{}, err
	}
	idx, err := u.d.Vendors.VectorIndex(t)
	if err != nil {
		return domain.Document{}, err
	}
	if err := idx.Upsert(ctx, t.ID, chunks); err != nil {
		u.undo(ctx, idx, t.ID, doc.ID)
		return domain.Document{}, fmt.Errorf("index chunks: %w", err)
	}
	doc.Chunks = len(chunks)
	replaced, err := u.d.Documents.Save(ctx, doc)
	if err != nil {
		u.undo(ctx, idx, t.ID, doc.ID)
		return domain.Document{}, fmt.Errorf("save document: %w", err)
	}
	if replaced != "" {
		if err := idx.DeleteDocument(ctx, t.ID, replaced); err != nil {
			return domain.Document{}, fmt.Errorf("remove replaced chunks: %w", err)
		}
	}
	return doc, nil
}

func (u *IngestDocument) embed(ctx context.Context, t domain.Tenant, doc domain.Document, pieces []string) ([]domain.Chunk, error) {
	emb, err := u.d.Vendors.Embedder(t)
	if err != nil {
		return nil, err
	}
	chunks := make([]domain.Chunk, 0, len(pieces))
	for start := 0; start < len(pieces); start += u.d.EmbedBatch {
		end := min(start+u.d.EmbedBatch, len(pieces))
		vecs, err := emb.Embed(ctx, pieces[start:end])
		if err != nil {
			return nil, fmt.Errorf("embed chunks: %w", err)
		}
		if len(vecs) != end-start {
			return nil, domain.E(domain.KindInternal, "internal", "", fmt.Errorf("embedder returned %d vectors for %d texts", len(vecs), end-start))
		}
		for i, v := range vecs {
			chunks = append(chunks, domain.Chunk{DocumentID: doc.ID, Index: start + i, Title: doc.Title, Text: pieces[start+i], Vector: v})
		}
	}
	return chunks, nil
}

// undo removes vectors of a document that never became visible. It runs detached from
// the request so a departed client cannot leave orphans behind; its own failure leaves
// only unreachable vectors (their document record does not exist).
func (u *IngestDocument) undo(ctx context.Context, idx ports.VectorIndex, t domain.TenantID, id domain.DocumentID) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	_ = idx.DeleteDocument(ctx, t, id)
}
