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

// Execute stores the document. Nothing is listed until every chunk is indexed: the
// record is saved last, and a failure removes the chunks already written.
// Re-ingesting a document with the same external id replaces it. A file's text is
// chunked page by page and heading by heading, so no chunk spans two pages, and every
// chunk records its page and heading.
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
	if err := allowRequest(ctx, u.d.Limiter, t, now); err != nil {
		return domain.Document{}, err
	}
	chunks := make([]domain.Chunk, len(pieces))
	for i, p := range pieces {
		chunks[i] = domain.Chunk{DocumentID: doc.ID, Index: i, Title: doc.Title, Text: p.Text, Page: p.Page, Heading: p.Heading}
	}
	if err := u.index(ctx, t, chunks); err != nil {
		return domain.Document{}, err
	}
	doc.Chunks = len(chunks)
	replaced, err := u.d.Documents.Save(ctx, doc)
	if err != nil {
		u.undo(ctx, t, doc.ID)
		return domain.Document{}, fmt.Errorf("save document: %w", err)
	}
	if replaced != "" {
		if err := removeChunks(ctx, u.d.Lexical, u.d.Vendors, t, replaced); err != nil {
			return domain.Document{}, fmt.Errorf("remove replaced chunks: %w", err)
		}
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

// index writes the chunks' text to the lexical index and, when the tenant's mode uses
// vectors, their embeddings to its vector index; on failure it removes what it wrote.
func (u *IngestDocument) index(ctx context.Context, t domain.Tenant, chunks []domain.Chunk) error {
	if err := u.d.Lexical.Upsert(ctx, t.ID, chunks); err != nil {
		u.undo(ctx, t, chunks[0].DocumentID)
		return fmt.Errorf("index chunk text: %w", err)
	}
	if !t.UsesVectors() {
		return nil
	}
	if err := embedChunks(ctx, u.d.Vendors, t, chunks, u.d.EmbedBatch); err != nil {
		u.undo(ctx, t, chunks[0].DocumentID)
		return err
	}
	idx, err := u.d.Vendors.VectorIndex(t)
	if err == nil {
		err = idx.Upsert(ctx, t.ID, chunks)
	}
	if err != nil {
		u.undo(ctx, t, chunks[0].DocumentID)
		return fmt.Errorf("index chunks: %w", err)
	}
	return nil
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

// undo removes the chunks of a document that never became visible. It runs detached
// from the request so a departed client cannot leave orphans behind; its own failure
// leaves only unreachable chunks (their document record does not exist).
func (u *IngestDocument) undo(ctx context.Context, t domain.Tenant, id domain.DocumentID) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	_ = removeChunks(ctx, u.d.Lexical, u.d.Vendors, t, id)
}
