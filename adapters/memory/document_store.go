package memory

import (
	"context"
	"maps"
	"sort"

	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/ports"
)

// DocumentStore keeps document records in a DB, scoped by tenant. As in the SQL schema,
// a document's chunks go with it when it is deleted or replaced.
type DocumentStore struct{ db *DB }

var _ ports.DocumentStore = (*DocumentStore)(nil)

func copyDocument(d domain.Document) domain.Document {
	if d.Metadata != nil {
		d.Metadata = maps.Clone(d.Metadata)
	}
	return d
}

// Save stores d and its chunks at once, replacing the tenant's document with the same
// ExternalID and its chunks (whose id it returns). An unknown tenant is KindInvalid.
func (s *DocumentStore) Save(ctx context.Context, d domain.Document, chunks []domain.Chunk) (domain.DocumentID, error) {
	if err := s.db.lock(ctx); err != nil {
		return "", err
	}
	defer s.db.mu.Unlock()
	if !s.db.tenantExists(d.TenantID) {
		return "", unknownTenant(d.TenantID)
	}
	if old, ok := s.db.documents[d.ID]; ok && old.TenantID != d.TenantID {
		return "", conflict("document")
	}
	var replaced domain.DocumentID
	if d.ExternalID != "" {
		for id, old := range s.db.documents {
			if id != d.ID && old.TenantID == d.TenantID && old.ExternalID == d.ExternalID {
				replaced = id
				delete(s.db.documents, id)
				s.db.deleteChunks(d.TenantID, id)
				break
			}
		}
	}
	s.db.documents[d.ID] = copyDocument(d)
	m := s.db.chunks[d.TenantID]
	if m == nil {
		m = map[chunkKey]domain.Chunk{}
		s.db.chunks[d.TenantID] = m
	}
	for _, c := range chunks {
		m[chunkKey{doc: d.ID, index: c.Index}] = copyChunk(c)
	}
	s.db.record(domain.ChangeChunks, string(d.TenantID))
	return replaced, nil
}

// Get returns the tenant's document; unknown or another tenant's id is KindNotFound.
func (s *DocumentStore) Get(ctx context.Context, t domain.TenantID, id domain.DocumentID) (domain.Document, error) {
	if err := s.db.lock(ctx); err != nil {
		return domain.Document{}, err
	}
	defer s.db.mu.Unlock()
	d, ok := s.db.documents[id]
	if !ok || d.TenantID != t {
		return domain.Document{}, notFound("document")
	}
	return copyDocument(d), nil
}

// List returns the tenant's documents, newest first.
func (s *DocumentStore) List(ctx context.Context, t domain.TenantID, p domain.Page) ([]domain.Document, error) {
	if err := s.db.lock(ctx); err != nil {
		return nil, err
	}
	defer s.db.mu.Unlock()
	var all []domain.Document
	for _, d := range s.db.documents {
		if d.TenantID == t {
			all = append(all, d)
		}
	}
	sort.Slice(all, func(i, j int) bool {
		if !all[i].CreatedAt.Equal(all[j].CreatedAt) {
			return all[i].CreatedAt.After(all[j].CreatedAt)
		}
		return all[i].ID > all[j].ID
	})
	lo, hi := page(p, len(all))
	out := make([]domain.Document, 0, hi-lo)
	for _, d := range all[lo:hi] {
		out = append(out, copyDocument(d))
	}
	return out, nil
}

// Delete removes the tenant's document and its chunks; unknown or another tenant's id
// is KindNotFound.
func (s *DocumentStore) Delete(ctx context.Context, t domain.TenantID, id domain.DocumentID) error {
	if err := s.db.lock(ctx); err != nil {
		return err
	}
	defer s.db.mu.Unlock()
	d, ok := s.db.documents[id]
	if !ok || d.TenantID != t {
		return notFound("document")
	}
	delete(s.db.documents, d.ID)
	s.db.deleteChunks(t, d.ID)
	s.db.record(domain.ChangeChunks, string(t))
	return nil
}

// Existing returns which of ids are documents of tenant t.
func (s *DocumentStore) Existing(ctx context.Context, t domain.TenantID, ids []domain.DocumentID) (map[domain.DocumentID]bool, error) {
	if err := s.db.lock(ctx); err != nil {
		return nil, err
	}
	defer s.db.mu.Unlock()
	out := make(map[domain.DocumentID]bool, len(ids))
	for _, id := range ids {
		if d, ok := s.db.documents[id]; ok && d.TenantID == t {
			out[id] = true
		}
	}
	return out, nil
}

// deleteChunks removes document d's chunks of tenant t; the caller holds the lock.
func (db *DB) deleteChunks(t domain.TenantID, d domain.DocumentID) {
	for k := range db.chunks[t] {
		if k.doc == d {
			delete(db.chunks[t], k)
		}
	}
}

// ChunkStore keeps chunks and their vectors in a DB, per tenant.
type ChunkStore struct{ db *DB }

var _ ports.ChunkStore = (*ChunkStore)(nil)

func copyChunk(c domain.Chunk) domain.Chunk {
	if c.Vector != nil {
		c.Vector = append([]float32{}, c.Vector...)
	}
	return c
}

// LoadChunks returns every chunk of tenant t ordered by document id and index.
func (s *ChunkStore) LoadChunks(ctx context.Context, t domain.TenantID) ([]domain.Chunk, error) {
	if err := s.db.lock(ctx); err != nil {
		return nil, err
	}
	defer s.db.mu.Unlock()
	m := s.db.chunks[t]
	out := make([]domain.Chunk, 0, len(m))
	for _, c := range m {
		out = append(out, copyChunk(c))
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].DocumentID != out[j].DocumentID {
			return out[i].DocumentID < out[j].DocumentID
		}
		return out[i].Index < out[j].Index
	})
	return out, nil
}

// PutVectors stores the vectors of tenant t's stored chunks, skipping chunks that are
// gone.
func (s *ChunkStore) PutVectors(ctx context.Context, t domain.TenantID, chunks []domain.Chunk) error {
	if err := s.db.lock(ctx); err != nil {
		return err
	}
	defer s.db.mu.Unlock()
	m := s.db.chunks[t]
	for _, c := range chunks {
		k := chunkKey{doc: c.DocumentID, index: c.Index}
		if old, ok := m[k]; ok {
			old.Vector = append([]float32{}, c.Vector...)
			m[k] = old
		}
	}
	s.db.record(domain.ChangeChunks, string(t))
	return nil
}
