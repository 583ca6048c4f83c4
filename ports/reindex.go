package ports

import (
	"context"
	"time"

	"github.com/tenantry/tenantry/domain"
)

// ReindexStore keeps each tenant's latest re-index job, so that a job survives a
// restart and a tenant has one at a time. Methods taking a tenant touch only that
// tenant's job; deleting a tenant deletes its job.
type ReindexStore interface {
	// Get returns tenant t's latest job. A tenant that never had one (or does not
	// exist) is KindNotFound.
	Get(ctx context.Context, t domain.TenantID) (domain.ReindexJob, error)
	// Update runs fn on tenant t's latest job, or on the zero job when it has none
	// (fn tells them apart by the empty ID), and stores the job fn leaves, with
	// TenantID t. Updates of one tenant are serialised: fn sees the result of every
	// Update of t that returned before. An error from fn is returned as it is and
	// nothing is stored; an unknown tenant is KindInvalid.
	Update(ctx context.Context, t domain.TenantID, fn func(*domain.ReindexJob) error) (domain.ReindexJob, error)
	// Claimable returns, across tenants, the running jobs that a runner may claim at
	// now (ReindexJob.Claimable), oldest start first.
	Claimable(ctx context.Context, now time.Time) ([]domain.ReindexJob, error)
}

// ChunkScanner walks a tenant's stored chunk text a page at a time (the ChunkStore's
// rows), which is what a re-index rebuilds vectors from.
type ChunkScanner interface {
	// ChunksAfter returns up to limit chunks of tenant t that come after the chunk
	// after (ordered by document id, bytewise, then index; the zero ChunkRef is before
	// all), with their title and text but no vector, and left, how many chunks of t
	// come after the last one returned (after after when none is). An unreachable
	// store is KindUnavailable.
	ChunksAfter(ctx context.Context, t domain.TenantID, after domain.ChunkRef, limit int) (chunks []domain.Chunk, left int, err error)
	// PutVectors stores the vectors of chunks already stored (matched by document and
	// index) in one transaction; a chunk whose row is gone (its document was deleted)
	// is skipped. It is how the embedded vector index's vectors are rebuilt.
	PutVectors(ctx context.Context, t domain.TenantID, chunks []domain.Chunk) error
}
