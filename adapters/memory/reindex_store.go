package memory

import (
	"context"
	"sort"
	"time"

	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/ports"
)

// ReindexStore keeps each tenant's latest re-index job in a DB. A ReindexJob holds
// only values, so copying the struct is a deep copy.
type ReindexStore struct{ db *DB }

var _ ports.ReindexStore = (*ReindexStore)(nil)

// Reindex returns the ReindexStore view of db.
func (db *DB) Reindex() *ReindexStore { return &ReindexStore{db: db} }

// Get returns tenant t's latest job; none is KindNotFound.
func (s *ReindexStore) Get(ctx context.Context, t domain.TenantID) (domain.ReindexJob, error) {
	if err := s.db.lock(ctx); err != nil {
		return domain.ReindexJob{}, err
	}
	defer s.db.mu.Unlock()
	j, ok := s.db.reindex[t]
	if !ok {
		return domain.ReindexJob{}, notFound("re-index job")
	}
	return j, nil
}

// Update runs fn on a copy of tenant t's job (the zero job when none) under the DB's
// lock and stores the result; an error from fn stores nothing and is returned as is.
// An unknown tenant is KindInvalid.
func (s *ReindexStore) Update(ctx context.Context, t domain.TenantID, fn func(*domain.ReindexJob) error) (domain.ReindexJob, error) {
	if err := s.db.lock(ctx); err != nil {
		return domain.ReindexJob{}, err
	}
	defer s.db.mu.Unlock()
	if !s.db.tenantExists(t) {
		return domain.ReindexJob{}, unknownTenant(t)
	}
	j := s.db.reindex[t]
	if err := fn(&j); err != nil {
		return domain.ReindexJob{}, err
	}
	j.TenantID = t
	s.db.reindex[t] = j
	return j, nil
}

// Claimable returns the running jobs nobody holds at now, oldest start first.
func (s *ReindexStore) Claimable(ctx context.Context, now time.Time) ([]domain.ReindexJob, error) {
	if err := s.db.lock(ctx); err != nil {
		return nil, err
	}
	defer s.db.mu.Unlock()
	var out []domain.ReindexJob
	for _, j := range s.db.reindex {
		if j.Claimable(now) {
			out = append(out, j)
		}
	}
	sort.Slice(out, func(a, b int) bool {
		if !out[a].StartedAt.Equal(out[b].StartedAt) {
			return out[a].StartedAt.Before(out[b].StartedAt)
		}
		return out[a].TenantID < out[b].TenantID
	})
	return out, nil
}

var _ ports.ChunkScanner = (*ChunkStore)(nil)

// ChunksAfter returns up to limit chunks of tenant t after the chunk after, without
// vectors, and how many come after the last one returned.
func (s *ChunkStore) ChunksAfter(ctx context.Context, t domain.TenantID, after domain.ChunkRef, limit int) ([]domain.Chunk, int, error) {
	if err := s.db.lock(ctx); err != nil {
		return nil, 0, err
	}
	defer s.db.mu.Unlock()
	var rest []domain.Chunk
	for k, c := range s.db.chunks[t] {
		if k.doc > after.Document || (k.doc == after.Document && k.index > after.Index) {
			c.Vector = nil
			rest = append(rest, c)
		}
	}
	sort.Slice(rest, func(i, j int) bool {
		if rest[i].DocumentID != rest[j].DocumentID {
			return rest[i].DocumentID < rest[j].DocumentID
		}
		return rest[i].Index < rest[j].Index
	})
	n := min(max(limit, 0), len(rest))
	return rest[:n:n], len(rest) - n, nil
}
