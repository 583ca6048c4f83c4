package application

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/ports"
)

// IngestDeps are the ports IngestDocument calls.
type IngestDeps struct {
	Documents ports.DocumentStore
	Vendors   ports.Vendors
	Lexical   ports.LexicalIndex
	Limiter   ports.RateLimiter
	// Extractor reads uploaded files; documents given as text do not need it.
	Extractor ports.TextExtractor
	Chunker   domain.Chunker
	// EmbedBatch is how many chunks go to the embedder in one call.
	EmbedBatch int
	Now        func() time.Time
}

// IngestDocument splits a document into chunks and indexes them: their text always in
// the tenant's lexical index (tenantry's own copy, which re-indexing rebuilds from),
// and, when the tenant's retrieval mode uses vectors, their embeddings in the tenant's
// own vector index. Tenant admins only.
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

// IngestInput is one document: its Text, or an uploaded File whose text is extracted.
type IngestInput struct {
	Tenant     domain.TenantContext
	Title      string
	Text       string
	File       *IngestFile
	ExternalID string
	Metadata   map[string]string
}

// IngestFile is an uploaded document file of a known format.
type IngestFile struct {
	Format domain.FileFormat
	Data   []byte
}

// Execute stores the document. The record and its chunks (text and, for the embedded
// vector index, vectors) are saved in one transaction, so nothing is listed or
// retrievable until all of it is, and a crash leaves all or nothing. Vectors for an
// external store (Pinecone) are written before that transaction, since it cannot join
// it; a failure removes them, and a crash leaves only vectors whose document does not
// exist, which the vector sweeper (SweepVectors) deletes. After the commit the
// process's in-memory indexes take the chunks in. Re-ingesting a document with the
// same external id replaces it. A file's text is chunked
// page by page and heading by heading, so no chunk spans two pages, and every chunk
// records its page and heading.
func (u *IngestDocument) Execute(ctx context.Context, in IngestInput) (domain.Document, error) {
	t, who := in.Tenant.Tenant, in.Tenant.Principal
	if !who.CanAdminTenant(t.ID) {
		return domain.Document{}, domain.ErrForbidden.WithDetail("only tenant admins may add documents")
	}
	sections, err := u.sections(ctx, in)
	if err != nil {
		return domain.Document{}, err
	}
	now := u.d.Now()
	doc, err := domain.NewDocument(domain.DocumentID(newID()), t.ID, in.ExternalID, in.Title, domain.SectionsText(sections), in.Metadata, now)
	if err != nil {
		return domain.Document{}, err
	}
	pieces := u.d.Chunker.SplitSections(sections)
	if len(pieces) == 0 {
		return domain.Document{}, domain.Invalid(domain.FieldError{Field: "text", Message: "has no indexable content"})
	}
	if _, err := allowRequest(ctx, u.d.Limiter, t, now); err != nil {
		return domain.Document{}, err
	}
	chunks := make([]domain.Chunk, len(pieces))
	for i, p := range pieces {
		chunks[i] = domain.Chunk{DocumentID: doc.ID, Index: i, Title: doc.Title, Text: p.Text, Page: p.Page, Heading: p.Heading}
	}
	var external ports.VectorIndex
	if t.UsesVectors() {
		if err := embedChunks(ctx, u.d.Vendors, t, chunks, u.d.EmbedBatch); err != nil {
			return domain.Document{}, err
		}
		if t.VectorsExternal() {
			if external, err = u.upsertExternal(ctx, t, chunks); err != nil {
				return domain.Document{}, err
			}
		}
	}
	rows := chunks
	if external != nil {
		rows = withoutVectors(chunks)
	}
	doc.Chunks = len(chunks)
	replaced, err := u.d.Documents.Save(ctx, doc, rows)
	if err != nil {
		if external != nil {
			detached(ctx, func(ctx context.Context) { _ = external.DeleteDocument(ctx, t.ID, doc.ID) })
		}
		return domain.Document{}, fmt.Errorf("save document: %w", err)
	}
	// Committed: what follows must not depend on the client staying.
	var after error
	detached(ctx, func(ctx context.Context) { after = u.indexed(ctx, t, chunks, replaced) })
	if after != nil {
		return domain.Document{}, after
	}
	return doc, nil
}

// sections returns the document's text: the file's, extracted, or the given text.
func (u *IngestDocument) sections(ctx context.Context, in IngestInput) ([]domain.Section, error) {
	if in.File == nil {
		return []domain.Section{{Text: in.Text}}, nil
	}
	if u.d.Extractor == nil {
		return nil, domain.E(domain.KindInternal, "internal", "", errors.New("no text extractor configured"))
	}
	sections, err := u.d.Extractor.Extract(ctx, in.File.Format, in.File.Data)
	if err != nil {
		return nil, fmt.Errorf("extract %s text: %w", in.File.Format, err)
	}
	if strings.TrimSpace(domain.SectionsText(sections)) == "" {
		return nil, domain.E(domain.KindUnprocessable, "file_empty", "the file contains no text", nil)
	}
	return sections, nil
}

// upsertExternal writes the chunks' vectors to the tenant's external vector index,
// removing what it wrote when that fails.
func (u *IngestDocument) upsertExternal(ctx context.Context, t domain.Tenant, chunks []domain.Chunk) (ports.VectorIndex, error) {
	idx, err := u.d.Vendors.VectorIndex(t)
	if err != nil {
		return nil, err
	}
	if err := idx.Upsert(ctx, t.ID, chunks); err != nil {
		detached(ctx, func(ctx context.Context) { _ = idx.DeleteDocument(ctx, t.ID, chunks[0].DocumentID) })
		return nil, fmt.Errorf("index chunks: %w", err)
	}
	return idx, nil
}

// indexed brings the process's in-memory indexes up to date with a committed save:
// the chunks' text into the lexical index and, on the embedded vector index, their
// vectors; the replaced document, if any, out of both and then out of an external
// store. The process does not reload its indexes for its own writes, so a failure of
// the external store must not keep the in-memory ones behind: they go first.
func (u *IngestDocument) indexed(ctx context.Context, t domain.Tenant, chunks []domain.Chunk, replaced domain.DocumentID) error {
	if replaced != "" {
		if err := u.d.Lexical.DeleteDocument(ctx, t.ID, replaced); err != nil {
			return fmt.Errorf("remove replaced chunks: %w", err)
		}
	}
	if err := u.d.Lexical.Upsert(ctx, t.ID, chunks); err != nil {
		return fmt.Errorf("index chunk text: %w", err)
	}
	embedded := t.UsesVectors() && !t.VectorsExternal()
	if !embedded && replaced == "" {
		return nil
	}
	idx, err := u.d.Vendors.VectorIndex(t)
	if err != nil {
		return err
	}
	if embedded {
		if err := idx.Upsert(ctx, t.ID, chunks); err != nil {
			return fmt.Errorf("index chunks: %w", err)
		}
	}
	if replaced != "" {
		// The vector index may hold the replaced document's vectors from an earlier mode.
		if err := idx.DeleteDocument(ctx, t.ID, replaced); err != nil {
			return fmt.Errorf("remove replaced vectors: %w", err)
		}
	}
	return nil
}

// withoutVectors copies chunks without their vectors.
func withoutVectors(chunks []domain.Chunk) []domain.Chunk {
	out := make([]domain.Chunk, len(chunks))
	for i, c := range chunks {
		c.Vector = nil
		out[i] = c
	}
	return out
}

// sideEffectTimeout bounds work that runs detached from the request after a commit.
const sideEffectTimeout = 30 * time.Second

// detached runs fn with a context that keeps ctx's values but not its cancellation,
// bounded by sideEffectTimeout: work that must finish once a change is committed (or
// undone) even if the client goes away.
func detached(ctx context.Context, fn func(context.Context)) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), sideEffectTimeout)
	defer cancel()
	fn(ctx)
}

// embedChunks sets the vector of every chunk with the tenant's embedder, batch chunks
// per call.
func embedChunks(ctx context.Context, v ports.Vendors, t domain.Tenant, chunks []domain.Chunk, batch int) error {
	emb, err := v.Embedder(t)
	if err != nil {
		return err
	}
	texts := make([]string, 0, batch)
	for start := 0; start < len(chunks); start += batch {
		end := min(start+batch, len(chunks))
		texts = texts[:0]
		for _, c := range chunks[start:end] {
			texts = append(texts, c.Text)
		}
		vecs, err := emb.Embed(ctx, texts)
		if err != nil {
			return fmt.Errorf("embed chunks: %w", err)
		}
		if len(vecs) != end-start {
			return domain.E(domain.KindInternal, "internal", "", fmt.Errorf("embedder returned %d vectors for %d texts", len(vecs), end-start))
		}
		for i, vec := range vecs {
			chunks[start+i].Vector = vec
		}
	}
	return nil
}

// removeChunks deletes document d's chunks from the lexical index and from the
// tenant's vector index (which may hold vectors from an earlier mode).
func removeChunks(ctx context.Context, lex ports.LexicalIndex, v ports.Vendors, t domain.Tenant, d domain.DocumentID) error {
	if err := lex.DeleteDocument(ctx, t.ID, d); err != nil {
		return fmt.Errorf("delete chunks of %s: %w", d, err)
	}
	idx, err := v.VectorIndex(t)
	if err != nil {
		return err
	}
	if err := idx.DeleteDocument(ctx, t.ID, d); err != nil {
		return fmt.Errorf("delete vectors of %s: %w", d, err)
	}
	return nil
}
