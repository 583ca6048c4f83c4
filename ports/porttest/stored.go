package porttest

import (
	"context"
	"time"

	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/ports"
)

// Rows writes chunk rows the way ingestion and deletion do (ports.DocumentStore and
// the database's cascades), so that the index suites can run on an in-process index
// whose writes only bring its in-memory copy in step with rows already committed.
type Rows struct {
	Chunks ports.ChunkStore
	// Documents, when set, gets a record for every document before its chunks are
	// stored (a store whose chunks reference their document needs one), and deleting a
	// document deletes its record.
	Documents ports.DocumentStore
}

func (r Rows) put(ctx context.Context, t domain.TenantID, chunks []domain.Chunk) error {
	if r.Documents != nil {
		for _, c := range chunks {
			_, err := r.Documents.Get(ctx, t, c.DocumentID)
			if domain.KindOf(err) == domain.KindNotFound {
				now := time.Now().UTC().Truncate(time.Millisecond)
				_, err = r.Documents.Save(ctx, domain.Document{ID: c.DocumentID, TenantID: t, Title: c.Title, CreatedAt: now, UpdatedAt: now}, nil)
			}
			if err != nil {
				return err
			}
		}
	}
	return r.Chunks.PutChunks(ctx, t, chunks)
}

func (r Rows) deleteDocument(ctx context.Context, t domain.TenantID, d domain.DocumentID) error {
	if r.Documents == nil {
		return r.Chunks.DeleteChunks(ctx, t, d)
	}
	if err := r.Documents.Delete(ctx, t, d); err != nil && domain.KindOf(err) != domain.KindNotFound {
		return err
	}
	return nil
}

// StoredLexical returns x with every write preceded by the same write to rows.
func StoredLexical(x ports.LexicalIndex, rows Rows) ports.LexicalIndex { return storedLexical{x, rows} }

type storedLexical struct {
	ports.LexicalIndex
	rows Rows
}

func (s storedLexical) Upsert(ctx context.Context, t domain.TenantID, chunks []domain.Chunk) error {
	if err := s.rows.put(ctx, t, chunks); err != nil {
		return err
	}
	return s.LexicalIndex.Upsert(ctx, t, chunks)
}

func (s storedLexical) DeleteDocument(ctx context.Context, t domain.TenantID, d domain.DocumentID) error {
	if err := s.rows.deleteDocument(ctx, t, d); err != nil {
		return err
	}
	return s.LexicalIndex.DeleteDocument(ctx, t, d)
}

func (s storedLexical) DropTenant(ctx context.Context, t domain.TenantID) error {
	if err := s.rows.Chunks.DropChunks(ctx, t); err != nil {
		return err
	}
	return s.LexicalIndex.DropTenant(ctx, t)
}

// StoredVectors returns x with every write preceded by the same write to rows.
func StoredVectors(x ports.VectorIndex, rows Rows) ports.VectorIndex { return storedVectors{x, rows} }

type storedVectors struct {
	ports.VectorIndex
	rows Rows
}

func (s storedVectors) Upsert(ctx context.Context, t domain.TenantID, chunks []domain.Chunk) error {
	if err := s.rows.put(ctx, t, chunks); err != nil {
		return err
	}
	return s.VectorIndex.Upsert(ctx, t, chunks)
}

func (s storedVectors) DeleteDocument(ctx context.Context, t domain.TenantID, d domain.DocumentID) error {
	if err := s.rows.deleteDocument(ctx, t, d); err != nil {
		return err
	}
	return s.VectorIndex.DeleteDocument(ctx, t, d)
}

func (s storedVectors) DropTenant(ctx context.Context, t domain.TenantID) error {
	if err := s.rows.Chunks.DropChunks(ctx, t); err != nil {
		return err
	}
	return s.VectorIndex.DropTenant(ctx, t)
}
