package application

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/ports"
)

// ReindexDeps are the ports the re-index use case calls.
type ReindexDeps struct {
	Jobs ports.ReindexStore
	// Tenants must read through to the store, with no cache in front: a job must
	// never work with settings older than the epoch it builds for.
	Tenants   ports.TenantStore
	Chunks    ports.ChunkScanner
	Documents ports.DocumentStore
	Vendors   ports.Vendors
	Lexical   ports.LexicalIndex
	Audit     ports.AuditLog
	Now       func() time.Time
	// Batch is how many chunks one step embeds and writes (and the embedder's batch).
	Batch int
	// Lease is how long a runner holds a job without writing progress; past it,
	// another runner may take the job over. It must exceed the time of one step.
	Lease time.Duration
	// Started, when set, hears of every job started, so that the process's runner can
	// claim it at once instead of at its next sweep.
	Started func(domain.TenantID)
	// TenantChanged, when set, hears of each tenant whose vectors the use case made
	// ready, so that caches of tenants (which chat reads) drop it at once.
	TenantChanged func(domain.TenantID)
}

// Reindex rebuilds a tenant's vectors from the chunk text tenantry keeps, with the
// tenant's current embedder and vector store, as a background job: one per tenant at
// a time, stored with its cursor so that it survives a restart, and run by whichever
// process holds its lease. While it runs the tenant is served lexically
// (Tenant.ServingMode); its vectors become used all at once when the job completes.
type Reindex struct {
	d ReindexDeps
}

// NewReindex builds the use case.
func NewReindex(d ReindexDeps) *Reindex {
	if d.Batch <= 0 {
		d.Batch = 64
	}
	if d.Lease <= 0 {
		d.Lease = time.Minute
	}
	if d.Started == nil {
		d.Started = func(domain.TenantID) {}
	}
	if d.TenantChanged == nil {
		d.TenantChanged = func(domain.TenantID) {}
	}
	return &Reindex{d: d}
}

// Start starts a re-index of tenant id: tenant admins of their own tenant, platform
// admins of any. A job still running is domain.ErrReindexRunning. The job is audited
// as "tenant.reindex".
func (r *Reindex) Start(ctx context.Context, who Actor, id domain.TenantID) (domain.ReindexJob, error) {
	if err := r.allowed(who, id); err != nil {
		return domain.ReindexJob{}, err
	}
	job, err := r.start(ctx, id)
	if err != nil {
		return domain.ReindexJob{}, err
	}
	return job, appendAudit(ctx, r.d.Audit, r.d.Now(), who, id, "tenant.reindex", job.ID, nil)
}

func (r *Reindex) start(ctx context.Context, id domain.TenantID) (domain.ReindexJob, error) {
	t, err := r.d.Tenants.Get(ctx, id)
	if err != nil {
		return domain.ReindexJob{}, err
	}
	_, total, err := r.d.Chunks.ChunksAfter(ctx, id, domain.ChunkRef{}, 0)
	if err != nil {
		return domain.ReindexJob{}, fmt.Errorf("count chunks of %s: %w", id, err)
	}
	job, err := r.d.Jobs.Update(ctx, id, func(j *domain.ReindexJob) error {
		if err := j.StartReindex(newID(), t, r.d.Now()); err != nil {
			return err
		}
		j.Total = total
		return nil
	})
	if err != nil {
		return domain.ReindexJob{}, err
	}
	r.d.Started(id)
	return job, nil
}

// Status returns tenant id's latest job, or a job in state domain.ReindexIdle when it
// never had one, with the tenant as it is now (its ServingMode says whether the
// vectors are in use). Same access as Start.
func (r *Reindex) Status(ctx context.Context, who Actor, id domain.TenantID) (domain.ReindexJob, domain.Tenant, error) {
	if err := r.allowed(who, id); err != nil {
		return domain.ReindexJob{}, domain.Tenant{}, err
	}
	// The job is read first: a job read as done then comes with the tenant its
	// completion made ready (complete updates the tenant before it ends the job).
	job, err := r.d.Jobs.Get(ctx, id)
	if domain.KindOf(err) == domain.KindNotFound {
		job, err = domain.ReindexJob{TenantID: id, State: domain.ReindexIdle}, nil
	}
	if err != nil {
		return domain.ReindexJob{}, domain.Tenant{}, err
	}
	t, err := r.d.Tenants.Get(ctx, id)
	if err != nil {
		return domain.ReindexJob{}, domain.Tenant{}, err
	}
	return job, t, nil
}

// allowed lets tenant admins reach their own tenant's job and platform admins every
// tenant's (within the actor's scope). A member of the tenant is KindForbidden; any
// other tenant is KindNotFound, so its existence does not leak.
func (r *Reindex) allowed(who Actor, id domain.TenantID) error {
	if who.Principal.CanAdminTenant(id) && who.reaches(id) {
		return nil
	}
	if who.Principal.TenantID != "" && who.Principal.TenantID == id {
		return domain.ErrForbidden.WithDetail("only tenant admins may re-index the tenant")
	}
	return domain.ErrNotFound
}

// startAfterChange follows a configuration change that left tenant t's vectors
// unready: a tenant without chunks has nothing to build and is ready at once (a
// document ingested meanwhile is embedded with the new settings anyway); otherwise a
// re-index starts. A job already running goes on: it starts over by itself when it
// sees the new epoch. It returns the tenant as it is afterwards.
func (r *Reindex) startAfterChange(ctx context.Context, who Actor, t domain.Tenant) (domain.Tenant, error) {
	if t.Vectors.Ready {
		return t, nil
	}
	_, chunks, err := r.d.Chunks.ChunksAfter(ctx, t.ID, domain.ChunkRef{}, 0)
	if err != nil {
		return t, fmt.Errorf("count chunks of %s: %w", t.ID, err)
	}
	if chunks == 0 {
		ready, err := r.d.Tenants.Update(ctx, t.ID, func(x *domain.Tenant) error {
			x.VectorsBuilt(t.Vectors.Epoch)
			return nil
		})
		if err != nil {
			return t, err
		}
		r.d.TenantChanged(t.ID)
		return ready, nil
	}
	job, err := r.start(ctx, t.ID)
	if errors.Is(err, domain.ErrReindexRunning) {
		return t, nil
	}
	if err != nil {
		return t, fmt.Errorf("start re-index of %s: %w", t.ID, err)
	}
	return t, appendAudit(ctx, r.d.Audit, r.d.Now(), who, t.ID, "tenant.reindex", job.ID, []string{"automatic"})
}

// Claimable returns the jobs of every tenant that a runner may claim now.
func (r *Reindex) Claimable(ctx context.Context) ([]domain.ReindexJob, error) {
	return r.d.Jobs.Claimable(ctx, r.d.Now())
}
