package domain

import (
	"fmt"
	"time"
)

// VectorState says whether the vectors in a tenant's vector store fit its settings.
// Changing what makes the vectors (VectorSource) opens a new epoch whose vectors are
// not ready until a re-index built them for every document; until then the tenant is
// served lexically (ServingMode).
type VectorState struct {
	// Epoch counts the changes of VectorSource. A re-index completes only for the
	// epoch it was working for.
	Epoch int
	// Ready reports whether every document has vectors made at Epoch.
	Ready bool
}

// VectorSource names what makes and keeps the tenant's vectors: embedder provider,
// model and dimensions, and vector store provider, index and namespace (not the keys).
// It is empty when the retrieval mode uses no vectors. Vectors made under one source
// do not fit another.
func (t Tenant) VectorSource() string {
	if !t.UsesVectors() {
		return ""
	}
	return fmt.Sprintf("%s|%s|%d|%s|%s|%s", t.Embedder.Provider, t.Embedder.Model, t.Embedder.Dimensions,
		t.VectorStore.Provider, t.VectorStore.IndexHost, t.VectorStore.Namespace)
}

// ServingMode is how the tenant's passages are found right now: its RetrievalMode,
// except lexical while its vectors are not ready (a re-index is due or running), so
// that questions never meet vectors made by other settings. The lexical index is
// always complete.
func (t *Tenant) ServingMode() string {
	if !t.Vectors.Ready {
		return RetrievalLexical
	}
	return t.RetrievalMode()
}

// vectorSourceChanged opens a new epoch after the settings moved from source before:
// ready at once when the new mode uses no vectors (there is nothing to build).
func (t *Tenant) vectorSourceChanged(before string) {
	if t.VectorSource() == before {
		return
	}
	t.Vectors = VectorState{Epoch: t.Vectors.Epoch + 1, Ready: !t.UsesVectors()}
}

// VectorsBuilt records that a re-index made vectors for every document at epoch. It
// reports false, changing nothing, when the settings changed since (another epoch).
func (t *Tenant) VectorsBuilt(epoch int) bool {
	if t.Vectors.Epoch != epoch {
		return false
	}
	t.Vectors.Ready = true
	return true
}

// Re-index job states. ReindexIdle is the state shown for a tenant that never had a
// job; a stored job is running, done or failed.
const (
	ReindexIdle    = "idle"
	ReindexRunning = "running"
	ReindexDone    = "done"
	ReindexFailed  = "failed"
)

// ErrReindexRunning is a start refused because the tenant's job is still running.
var ErrReindexRunning = &Error{Kind: KindConflict, Code: "reindex_running", Detail: "a re-index of this tenant is already running"}

// ErrReindexLost is a runner's write refused because the job is no longer its own: it
// ended, was replaced, or another runner took it over after the lease ran out.
var ErrReindexLost = &Error{Kind: KindConflict, Code: "reindex_lost", Detail: "the re-index job is held by another runner"}

// ChunkRef names one chunk of a tenant. Chunks are ordered by document id, then
// index; the zero value comes before every chunk.
type ChunkRef struct {
	Document DocumentID
	Index    int
}

// ReindexJob rebuilds one tenant's vectors from the chunk text tenantry keeps. A
// tenant has at most one job at a time; it survives restarts, and whichever process
// holds its lease (Owner, LeaseUntil) runs it from Cursor on.
type ReindexJob struct {
	ID       string
	TenantID TenantID
	State    string
	// Epoch is the tenant's VectorState.Epoch the job builds for.
	Epoch int
	// Cursor is the last chunk done; the job goes on after it.
	Cursor ChunkRef
	// Done counts the chunks done at Epoch; Total is Done plus the chunks after Cursor
	// when last counted.
	Done, Total int
	// Error says why the job failed, or why its last attempt stopped while it is still
	// running (it is then retried).
	Error      string
	Owner      string
	LeaseUntil time.Time
	StartedAt  time.Time
	FinishedAt time.Time
}

// StartReindex makes job the tenant's new job, running at the tenant's current epoch
// from the first chunk. A running job is ErrReindexRunning; a finished one is
// replaced.
func (j *ReindexJob) StartReindex(id string, t Tenant, now time.Time) error {
	if j.State == ReindexRunning {
		return ErrReindexRunning
	}
	*j = ReindexJob{ID: id, TenantID: t.ID, State: ReindexRunning, Epoch: t.Vectors.Epoch, StartedAt: now.UTC()}
	return nil
}

// Claim gives the job to owner for lease from now: a running job nobody holds, whose
// lease ran out, or that owner holds already. Otherwise ErrReindexLost.
func (j *ReindexJob) Claim(owner string, now time.Time, lease time.Duration) error {
	if j.State != ReindexRunning || (j.Owner != "" && j.Owner != owner && now.Before(j.LeaseUntil)) {
		return ErrReindexLost
	}
	j.Owner, j.LeaseUntil = owner, now.Add(lease).UTC()
	return nil
}

// Claimable reports whether a runner may claim the job at now.
func (j ReindexJob) Claimable(now time.Time) bool {
	return j.State == ReindexRunning && (j.Owner == "" || !now.Before(j.LeaseUntil))
}

// holds checks that owner still holds the running job.
func (j ReindexJob) holds(owner string) error {
	if j.State != ReindexRunning || j.Owner != owner {
		return ErrReindexLost
	}
	return nil
}

// Advance records, for owner, that the chunks up to cursor are done (n more of them)
// with left still after it, and renews the lease.
func (j *ReindexJob) Advance(owner string, cursor ChunkRef, n, left int, now time.Time, lease time.Duration) error {
	if err := j.holds(owner); err != nil {
		return err
	}
	j.Cursor, j.Done, j.Error = cursor, j.Done+n, ""
	j.Total = j.Done + left
	j.LeaseUntil = now.Add(lease).UTC()
	return nil
}

// Rewind starts the job over from the first chunk for epoch, after the tenant's
// settings changed under it; total is the chunks there are.
func (j *ReindexJob) Rewind(owner string, epoch, total int) error {
	if err := j.holds(owner); err != nil {
		return err
	}
	j.Epoch, j.Cursor, j.Done, j.Total = epoch, ChunkRef{}, 0, total
	return nil
}

// Finish ends owner's job as done.
func (j *ReindexJob) Finish(owner string, now time.Time) error {
	if err := j.holds(owner); err != nil {
		return err
	}
	j.State, j.Error, j.Owner, j.LeaseUntil, j.FinishedAt = ReindexDone, "", "", time.Time{}, now.UTC()
	j.Total = j.Done
	return nil
}

// Fail ends owner's job as failed, saying why.
func (j *ReindexJob) Fail(owner, reason string, now time.Time) error {
	if err := j.holds(owner); err != nil {
		return err
	}
	j.State, j.Error, j.Owner, j.LeaseUntil, j.FinishedAt = ReindexFailed, reason, "", time.Time{}, now.UTC()
	return nil
}

// Release gives owner's running job up after a passing failure, saying why, so that
// a runner claims it again later and goes on from Cursor.
func (j *ReindexJob) Release(owner, reason string) error {
	if err := j.holds(owner); err != nil {
		return err
	}
	j.Error, j.Owner, j.LeaseUntil = reason, "", time.Time{}
	return nil
}
