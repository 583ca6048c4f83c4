package application

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/tenantry/tenantry/domain"
)

// errEpochMoved is a completion refused because the tenant's settings changed since
// the job's epoch; the job then starts over.
var errEpochMoved = errors.New("the vector epoch moved")

// Run claims tenant id's job for owner and works on it, one batch of chunks at a time
// from its cursor, until it is done or failed, ctx ends, or another runner holds it.
// A job it cannot claim (not running, or held by another owner whose lease has not run
// out) is domain.ErrReindexLost and nothing is done.
//
// After a passing failure (a vendor or the database unavailable or rate limiting) the
// job is released, still running, to be claimed again later; any other failure ends it
// as failed, with the error's client-safe detail. When ctx ends, the job is released,
// so that the next runner goes on from its cursor at once.
func (r *Reindex) Run(ctx context.Context, id domain.TenantID, owner string) error {
	job, err := r.d.Jobs.Update(ctx, id, func(j *domain.ReindexJob) error { return j.Claim(owner, r.d.Now(), r.d.Lease) })
	if err != nil {
		return err
	}
	for {
		finished, err := r.step(ctx, &job, owner)
		if err == nil && finished {
			return nil
		}
		if err != nil {
			return r.stop(ctx, job, owner, err)
		}
	}
}

// step does one batch of job: it starts over when the tenant's epoch moved, completes
// the job when no chunk is left, and otherwise rebuilds the vectors of the next batch
// and records the cursor. It reports whether the job is finished.
func (r *Reindex) step(ctx context.Context, job *domain.ReindexJob, owner string) (bool, error) {
	t, err := r.d.Tenants.Get(ctx, job.TenantID)
	if err != nil {
		return false, err
	}
	if t.Vectors.Epoch != job.Epoch {
		_, total, err := r.d.Chunks.ChunksAfter(ctx, t.ID, domain.ChunkRef{}, 0)
		if err != nil {
			return false, err
		}
		return false, r.save(ctx, job, func(j *domain.ReindexJob) error { return j.Rewind(owner, t.Vectors.Epoch, total) })
	}
	var chunks []domain.Chunk
	left := 0
	if t.UsesVectors() {
		if chunks, left, err = r.d.Chunks.ChunksAfter(ctx, t.ID, job.Cursor, r.d.Batch); err != nil {
			return false, err
		}
	}
	if len(chunks) == 0 {
		return r.complete(ctx, job, owner)
	}
	if err := r.rebuild(ctx, t, chunks); err != nil {
		return false, err
	}
	last := chunks[len(chunks)-1]
	cursor := domain.ChunkRef{Document: last.DocumentID, Index: last.Index}
	return false, r.save(ctx, job, func(j *domain.ReindexJob) error {
		return j.Advance(owner, cursor, len(chunks), left, r.d.Now(), r.d.Lease)
	})
}

// complete makes the new vectors used (the tenant's vectors ready at the job's epoch)
// and ends the job as done. When the epoch moved meanwhile, nothing changes and the
// next step starts over.
func (r *Reindex) complete(ctx context.Context, job *domain.ReindexJob, owner string) (bool, error) {
	_, err := r.d.Tenants.Update(ctx, job.TenantID, func(t *domain.Tenant) error {
		if !t.VectorsBuilt(job.Epoch) {
			return errEpochMoved
		}
		return nil
	})
	if errors.Is(err, errEpochMoved) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	r.d.TenantChanged(job.TenantID)
	return true, r.save(ctx, job, func(j *domain.ReindexJob) error { return j.Finish(owner, r.d.Now()) })
}

// rebuild embeds chunks with the tenant's embedder and writes them to its vector
// index. Chunks of documents without a record are skipped: such a document is being
// ingested (which writes its own vectors, with the same settings) or deleted. A
// document deleted while its vectors were being written is removed again, so that the
// write does not bring its chunks back.
func (r *Reindex) rebuild(ctx context.Context, t domain.Tenant, chunks []domain.Chunk) error {
	live, docs, err := r.listed(ctx, t.ID, chunks)
	if err != nil || len(live) == 0 {
		return err
	}
	if err := embedChunks(ctx, r.d.Vendors, t, live, r.d.Batch); err != nil {
		return err
	}
	idx, err := r.d.Vendors.VectorIndex(t)
	if err != nil {
		return err
	}
	if !t.VectorsExternal() {
		if err := r.d.Chunks.PutVectors(ctx, t.ID, live); err != nil {
			return fmt.Errorf("store vectors: %w", err)
		}
	}
	if err := idx.Upsert(ctx, t.ID, live); err != nil {
		return fmt.Errorf("index chunks: %w", err)
	}
	for _, d := range docs {
		_, err := r.d.Documents.Get(ctx, t.ID, d)
		if domain.KindOf(err) == domain.KindNotFound {
			err = removeChunks(ctx, r.d.Lexical, r.d.Vendors, t, d)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// listed returns the chunks whose document has a record, and those documents.
func (r *Reindex) listed(ctx context.Context, t domain.TenantID, chunks []domain.Chunk) ([]domain.Chunk, []domain.DocumentID, error) {
	var live []domain.Chunk
	var docs []domain.DocumentID
	known := map[domain.DocumentID]bool{}
	for _, c := range chunks {
		ok, seen := known[c.DocumentID]
		if !seen {
			_, err := r.d.Documents.Get(ctx, t, c.DocumentID)
			if err != nil && domain.KindOf(err) != domain.KindNotFound {
				return nil, nil, err
			}
			ok = err == nil
			known[c.DocumentID] = ok
			if ok {
				docs = append(docs, c.DocumentID)
			}
		}
		if ok {
			live = append(live, c)
		}
	}
	return live, docs, nil
}

// save writes a change of the job through the store and keeps the stored result.
func (r *Reindex) save(ctx context.Context, job *domain.ReindexJob, change func(*domain.ReindexJob) error) error {
	saved, err := r.d.Jobs.Update(ctx, job.TenantID, change)
	if err != nil {
		return err
	}
	*job = saved
	return nil
}

// stop handles err that ended owner's work on job: it releases the job after a
// passing failure or when ctx ended, fails it otherwise, and returns err (nil when
// the job was simply no longer owner's, or its tenant is gone).
func (r *Reindex) stop(ctx context.Context, job domain.ReindexJob, owner string, err error) error {
	if errors.Is(err, domain.ErrReindexLost) || r.tenantGone(ctx, job.TenantID) {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	reason := reindexReason(err)
	change := func(j *domain.ReindexJob) error { return j.Fail(owner, reason, r.d.Now()) }
	if passing(err) {
		change = func(j *domain.ReindexJob) error { return j.Release(owner, reason) }
	}
	if _, serr := r.d.Jobs.Update(ctx, job.TenantID, change); serr != nil && !errors.Is(serr, domain.ErrReindexLost) {
		return errors.Join(err, fmt.Errorf("record re-index stop: %w", serr))
	}
	return err
}

// tenantGone reports whether tenant id no longer exists (its job went with it).
func (r *Reindex) tenantGone(ctx context.Context, id domain.TenantID) bool {
	_, err := r.d.Tenants.Get(context.WithoutCancel(ctx), id)
	return domain.KindOf(err) == domain.KindNotFound
}

// passing reports whether err may go away by itself: a dependency unavailable or rate
// limiting, or the run's own context ending (shutdown).
func passing(err error) bool {
	switch domain.KindOf(err) {
	case domain.KindUnavailable, domain.KindRateLimited:
		return true
	}
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

// reindexReason is what the job shows about err: the client-safe detail of a
// *domain.Error, never its cause (which may carry vendor text).
func reindexReason(err error) string {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return "interrupted; it goes on from where it stopped"
	}
	if de := domain.AsError(err); de != nil && de.Kind != domain.KindInternal && de.Detail != "" {
		return de.Detail
	}
	return "internal error"
}
