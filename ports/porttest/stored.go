package porttest

import (
	"cmp"
	"context"
	"maps"
	"slices"
	"time"

	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/ports"
)

// ChunkWriter writes chunk rows straight: PutChunks replaces chunks with the same
// document and index (a chunk without a vector keeps the stored one), DeleteChunks
// removes a document's, DropChunks a tenant's. The in-process indexes' test fakes of
// ports.ChunkStore offer it; a real backend's rows are written by its DocumentStore
// alone, which DocumentRows drives.
type ChunkWriter interface {
	PutChunks(ctx context.Context, t domain.TenantID, chunks []domain.Chunk) error
	DeleteChunks(ctx context.Context, t domain.TenantID, d domain.DocumentID) error
	DropChunks(ctx context.Context, t domain.TenantID) error
}

// Rows writes chunk rows the way ingestion and deletion do, so that the index suites
// can run on an in-process index whose writes only bring its in-memory copy in step
// with rows already committed.
type Rows struct {
	Chunks ChunkWriter
}

func (r Rows) put(ctx context.Context, t domain.TenantID, chunks []domain.Chunk) error {
	return r.Chunks.PutChunks(ctx, t, chunks)
}

func (r Rows) deleteDocument(ctx context.Context, t domain.TenantID, d domain.DocumentID) error {
	return r.Chunks.DeleteChunks(ctx, t, d)
}

// DocumentRows is a ChunkWriter over a real backend, which writes chunk rows only with
// their document: putting chunks saves each document again with its stored chunks and
// the new ones, deleting a document's chunks deletes the document, and dropping a
// tenant's deletes all its documents.
func DocumentRows(docs ports.DocumentStore, chunks ports.ChunkStore) ChunkWriter {
	return documentRows{docs: docs, chunks: chunks}
}

type documentRows struct {
	docs   ports.DocumentStore
	chunks ports.ChunkStore
}

func (r documentRows) PutChunks(ctx context.Context, t domain.TenantID, chunks []domain.Chunk) error {
	stored, err := r.chunks.LoadChunks(ctx, t)
	if err != nil {
		return err
	}
	byDoc := map[domain.DocumentID]map[int]domain.Chunk{}
	var order []domain.DocumentID
	for _, c := range chunks {
		m, ok := byDoc[c.DocumentID]
		if !ok {
			m = map[int]domain.Chunk{}
			for _, s := range stored {
				if s.DocumentID == c.DocumentID {
					m[s.Index] = s
				}
			}
			byDoc[c.DocumentID] = m
			order = append(order, c.DocumentID)
		}
		if len(c.Vector) == 0 {
			c.Vector = m[c.Index].Vector
		}
		m[c.Index] = c
	}
	for _, d := range order {
		merged := slices.SortedFunc(maps.Values(byDoc[d]), func(a, b domain.Chunk) int { return cmp.Compare(a.Index, b.Index) })
		if err := r.DeleteChunks(ctx, t, d); err != nil {
			return err
		}
		now := time.Now().UTC().Truncate(time.Millisecond)
		doc := domain.Document{ID: d, TenantID: t, Title: merged[0].Title, Chunks: len(merged), CreatedAt: now, UpdatedAt: now}
		if _, err := r.docs.Save(ctx, doc, merged); err != nil {
			return err
		}
	}
	return nil
}

func (r documentRows) DeleteChunks(ctx context.Context, t domain.TenantID, d domain.DocumentID) error {
	if err := r.docs.Delete(ctx, t, d); err != nil && domain.KindOf(err) != domain.KindNotFound {
		return err
	}
	return nil
}

func (r documentRows) DropChunks(ctx context.Context, t domain.TenantID) error {
	for {
		docs, err := r.docs.List(ctx, t, domain.Page{Limit: 100})
		if err != nil || len(docs) == 0 {
			return err
		}
		for _, d := range docs {
			if err := r.DeleteChunks(ctx, t, d.ID); err != nil {
				return err
			}
		}
	}
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
