package porttest

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/domain"
)

// ChunksAfter tests a ports.ChunkScanner over the chunks of the backend's ChunkStore: pages in document-then-index
// order, no vectors, the count left, and tenant isolation.
func ChunksAfter(t *testing.T, newStores NewStores) {
	t.Run("pages walk every chunk in order and count what is left", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, newStores)
		f.tenant("acme")
		f.tenant("other")
		d1, d2 := document("acme", "", "One", at(0)), document("acme", "", "Two", at(0))
		if d2.ID < d1.ID {
			d1, d2 = d2, d1
		}
		f.save(d2, chunk(d2.ID, 0, "h0"), chunk(d2.ID, 1, "h1"))
		f.save(d1, chunk(d1.ID, 10, "l10"), chunk(d1.ID, 0, "l0"), chunk(d1.ID, 2, "l2"))
		od := document("other", "", "Theirs", at(0))
		f.save(od, chunk(od.ID, 0, "theirs"))

		var texts []string
		var lefts []int
		after := domain.ChunkRef{}
		for {
			page, left, err := f.s.ChunkScanner.ChunksAfter(f.ctx, "acme", after, 2)
			require.NoError(t, err)
			if len(page) == 0 {
				assert.Zero(t, left)
				break
			}
			for _, c := range page {
				assert.Nil(t, c.Vector, "pages carry no vectors")
				assert.Equal(t, "title of "+string(c.DocumentID), c.Title)
				texts = append(texts, c.Text)
			}
			lefts = append(lefts, left)
			last := page[len(page)-1]
			after = domain.ChunkRef{Document: last.DocumentID, Index: last.Index}
		}
		assert.Equal(t, []string{"l0", "l2", "l10", "h0", "h1"}, texts)
		assert.Equal(t, []int{3, 1, 0}, lefts)
	})

	t.Run("a zero limit only counts", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, newStores)
		f.tenant("acme")
		f.tenant("other")
		d := document("acme", "", "Doc", at(0))
		f.save(d, chunk(d.ID, 0, "a"), chunk(d.ID, 1, "b"))
		page, left, err := f.s.ChunkScanner.ChunksAfter(f.ctx, "acme", domain.ChunkRef{}, 0)
		require.NoError(t, err)
		assert.Empty(t, page)
		assert.Equal(t, 2, left)
		page, left, err = f.s.ChunkScanner.ChunksAfter(f.ctx, "acme", domain.ChunkRef{Document: d.ID, Index: 0}, 0)
		require.NoError(t, err)
		assert.Empty(t, page)
		assert.Equal(t, 1, left)
		page, left, err = f.s.ChunkScanner.ChunksAfter(f.ctx, "other", domain.ChunkRef{}, 10)
		require.NoError(t, err)
		assert.Empty(t, page, "another tenant's chunks are never returned")
		assert.Zero(t, left)
	})
}

// ReindexStore tests a ports.ReindexStore. Jobs belong to tenants created through the
// same backend's TenantStore.
func ReindexStore(t *testing.T, newStores NewStores) {
	job := func(f *fixture, tn domain.Tenant, id string) domain.ReindexJob {
		f.t.Helper()
		got, err := f.s.Reindex.Update(f.ctx, tn.ID, func(j *domain.ReindexJob) error { return j.StartReindex(id, tn, at(0)) })
		require.NoError(f.t, err)
		return got
	}

	t.Run("a tenant without a job is NotFound", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, newStores)
		f.tenant("acme")
		_, err := f.s.Reindex.Get(f.ctx, "acme")
		requireKind(t, domain.KindNotFound, err)
		_, err = f.s.Reindex.Get(f.ctx, "nobody")
		requireKind(t, domain.KindNotFound, err)
	})

	t.Run("update round-trips every field", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, newStores)
		f.tenant("acme")
		want := domain.ReindexJob{ID: newID(), TenantID: "acme", State: domain.ReindexFailed, Epoch: 7,
			Cursor: domain.ChunkRef{Document: domain.DocumentID(newID()), Index: 12}, Done: 40, Total: 90,
			Error: "the embedder refused the key ✗", Owner: "node-1", LeaseUntil: at(time.Minute),
			StartedAt: at(0), FinishedAt: at(2 * time.Minute)}
		got, err := f.s.Reindex.Update(f.ctx, "acme", func(j *domain.ReindexJob) error {
			assert.Empty(t, j.ID, "a tenant without a job gets the zero job")
			*j = want
			j.TenantID = "somebody-else"
			return nil
		})
		require.NoError(t, err)
		assert.Equal(t, want, got, "the job is stored under the tenant updated")
		read, err := f.s.Reindex.Get(f.ctx, "acme")
		require.NoError(t, err)
		assert.Equal(t, want, read)
		running := domain.ReindexJob{ID: newID(), TenantID: "acme", State: domain.ReindexRunning, StartedAt: at(time.Hour)}
		_, err = f.s.Reindex.Update(f.ctx, "acme", func(j *domain.ReindexJob) error {
			assert.Equal(t, want, *j)
			*j = running
			return nil
		})
		require.NoError(t, err)
		read, err = f.s.Reindex.Get(f.ctx, "acme")
		require.NoError(t, err)
		assert.Equal(t, running, read, "zero times and cursor are stored as such")
	})

	t.Run("an error from fn stores nothing and comes back as it is", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, newStores)
		tn := f.tenant("acme")
		before := job(f, tn, "job-1")
		_, err := f.s.Reindex.Update(f.ctx, "acme", func(j *domain.ReindexJob) error { return j.StartReindex("job-2", tn, at(time.Hour)) })
		require.True(t, errors.Is(err, domain.ErrReindexRunning), "got %v", err)
		mine := errors.New("mine")
		_, err = f.s.Reindex.Update(f.ctx, "acme", func(j *domain.ReindexJob) error { j.Done = 99; return mine })
		require.ErrorIs(t, err, mine)
		got, err := f.s.Reindex.Get(f.ctx, "acme")
		require.NoError(t, err)
		assert.Equal(t, before, got)
	})

	t.Run("an unknown tenant is Invalid", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, newStores)
		tn, err := domain.NewTenant("ghost", "Ghost", base)
		require.NoError(t, err)
		_, err = f.s.Reindex.Update(f.ctx, "ghost", func(j *domain.ReindexJob) error { return j.StartReindex("job", tn, at(0)) })
		requireKind(t, domain.KindInvalid, err)
	})

	t.Run("tenants never see or change each other's jobs", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, newStores)
		acme, other := f.tenant("acme"), f.tenant("other")
		mine := job(f, acme, "job-acme")
		_, err := f.s.Reindex.Get(f.ctx, "other")
		requireKind(t, domain.KindNotFound, err)
		theirs := job(f, other, "job-other")
		assert.Equal(t, domain.TenantID("other"), theirs.TenantID)
		got, err := f.s.Reindex.Get(f.ctx, "acme")
		require.NoError(t, err)
		assert.Equal(t, mine, got)
	})

	t.Run("concurrent starts of one tenant: exactly one wins", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, newStores)
		tn := f.tenant("acme")
		const n = 8
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				_, errs[i] = f.s.Reindex.Update(f.ctx, "acme", func(j *domain.ReindexJob) error {
					return j.StartReindex(newID(), tn, at(0))
				})
			})
		}
		wg.Wait()
		won := 0
		for _, err := range errs {
			if err == nil {
				won++
				continue
			}
			if !errors.Is(err, domain.ErrReindexRunning) {
				// A backend may refuse a racing first insert as a conflict; never anything else.
				requireKind(t, domain.KindConflict, err)
			}
		}
		assert.Equal(t, 1, won)
	})

	t.Run("claimable lists unheld running jobs of every tenant, oldest first", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, newStores)
		set := func(id domain.TenantID, j domain.ReindexJob) {
			f.tenant(string(id))
			_, err := f.s.Reindex.Update(f.ctx, id, func(x *domain.ReindexJob) error { *x = j; return nil })
			require.NoError(t, err)
		}
		set("free", domain.ReindexJob{ID: "a", State: domain.ReindexRunning, StartedAt: at(2 * time.Second)})
		set("expired", domain.ReindexJob{ID: "b", State: domain.ReindexRunning, Owner: "gone", LeaseUntil: at(time.Minute), StartedAt: at(time.Second)})
		set("held", domain.ReindexJob{ID: "c", State: domain.ReindexRunning, Owner: "busy", LeaseUntil: at(time.Hour), StartedAt: at(0)})
		set("finished", domain.ReindexJob{ID: "d", State: domain.ReindexDone, StartedAt: at(0), FinishedAt: at(time.Second)})
		got, err := f.s.Reindex.Claimable(f.ctx, at(time.Minute))
		require.NoError(t, err)
		var ids []string
		for _, j := range got {
			ids = append(ids, j.ID)
		}
		assert.Equal(t, []string{"b", "a"}, ids)
	})

	t.Run("the tenant's vector state is stored with it", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, newStores)
		tn := f.tenant("acme")
		assert.Equal(t, domain.VectorState{Ready: true}, tn.Vectors)
		_, err := f.s.Tenants.Update(f.ctx, "acme", func(x *domain.Tenant) error {
			x.Vectors = domain.VectorState{Epoch: 3}
			return nil
		})
		require.NoError(t, err)
		got, err := f.s.Tenants.Get(f.ctx, "acme")
		require.NoError(t, err)
		assert.Equal(t, domain.VectorState{Epoch: 3}, got.Vectors)
		_, err = f.s.Tenants.Update(f.ctx, "acme", func(x *domain.Tenant) error {
			require.True(t, x.VectorsBuilt(3))
			return nil
		})
		require.NoError(t, err)
		got, err = f.s.Tenants.Get(f.ctx, "acme")
		require.NoError(t, err)
		assert.Equal(t, domain.VectorState{Epoch: 3, Ready: true}, got.Vectors)
	})

	t.Run("deleting the tenant deletes its job", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, newStores)
		tn := f.tenant("acme")
		job(f, tn, "job-1")
		require.NoError(t, f.s.Tenants.Delete(f.ctx, "acme"))
		_, err := f.s.Reindex.Get(f.ctx, "acme")
		requireKind(t, domain.KindNotFound, err)
		got, err := f.s.Reindex.Claimable(f.ctx, at(0))
		require.NoError(t, err)
		assert.Empty(t, got)
	})
}
