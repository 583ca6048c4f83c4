package application

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/ports"
)

// SweepVectorsDeps are the ports SweepVectors calls.
type SweepVectorsDeps struct {
	Tenants   ports.TenantStore
	Documents ports.DocumentStore
	Vendors   ports.Vendors
	Now       func() time.Time
	// Grace is how long a document must have been seen with vectors and no record
	// before its vectors are deleted. Ingestion writes external vectors before it saves
	// the record, so it must exceed the longest ingestion.
	Grace time.Duration
}

// SweepVectors reconciles external vector stores (Pinecone) with the document records:
// vectors of a document that has no record (an ingestion that crashed or failed after
// writing them, or a delete whose cleanup did not finish) are deleted once they have
// been seen that way for the grace period. The embedded index needs no sweep: its
// vectors are rows that go with their document.
type SweepVectors struct {
	d    SweepVectorsDeps
	mu   sync.Mutex
	seen map[sweepKey]time.Time // orphans seen, with when first seen
}

type sweepKey struct {
	tenant domain.TenantID
	doc    domain.DocumentID
}

// NewSweepVectors builds the use case.
func NewSweepVectors(d SweepVectorsDeps) *SweepVectors {
	return &SweepVectors{d: d, seen: make(map[sweepKey]time.Time)}
}

// sweepPage is how many tenants one store call lists.
const sweepPage = 100

// Execute runs one sweep over every tenant with an external vector store and returns
// how many vectors it deleted. A tenant whose store fails is skipped (the next sweep
// tries again) and its error is returned with the count, after the other tenants.
func (s *SweepVectors) Execute(ctx context.Context) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.d.Now()
	orphans := make(map[sweepKey]time.Time)
	removed := 0
	var firstErr error
	for offset := 0; ; offset += sweepPage {
		tenants, err := s.d.Tenants.List(ctx, domain.Page{Limit: sweepPage, Offset: offset})
		if err != nil {
			return removed, fmt.Errorf("list tenants: %w", err)
		}
		for _, t := range tenants {
			n, err := s.tenant(ctx, t, now, orphans)
			removed += n
			if err != nil && firstErr == nil {
				firstErr = fmt.Errorf("sweep vectors of %s: %w", t.ID, err)
			}
		}
		if len(tenants) < sweepPage {
			break
		}
	}
	s.seen = orphans
	return removed, firstErr
}

// tenant sweeps one tenant, recording in orphans the documents still waiting out the
// grace period.
func (s *SweepVectors) tenant(ctx context.Context, t domain.Tenant, now time.Time, orphans map[sweepKey]time.Time) (int, error) {
	if !t.VectorsExternal() {
		return 0, nil
	}
	idx, err := s.d.Vendors.VectorIndex(t)
	if err != nil {
		return 0, err
	}
	lister, ok := idx.(ports.VectorLister)
	if !ok {
		// An external store must list its vectors, or their documents' crashes leave
		// orphans nobody removes: a decorator that hides VectorLister did so once.
		return 0, fmt.Errorf("the vector index of an external store (%T) cannot list its vectors", idx)
	}
	docs, err := lister.VectorDocuments(ctx, t.ID)
	if err != nil {
		return 0, err
	}
	exist, err := s.d.Documents.Existing(ctx, t.ID, slices.Collect(maps.Keys(docs)))
	if err != nil {
		return 0, err
	}
	removed := 0
	for d, n := range docs {
		if exist[d] {
			continue
		}
		k := sweepKey{t.ID, d}
		first, ok := s.seen[k]
		if !ok {
			first = now
		}
		if now.Sub(first) < s.d.Grace {
			orphans[k] = first
			continue
		}
		if err := idx.DeleteDocument(ctx, t.ID, d); err != nil {
			orphans[k] = first
			return removed, err
		}
		removed += n
	}
	return removed, nil
}
