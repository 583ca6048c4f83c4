package application_test

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/application"
	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/ports"
)

const reindexLease = time.Minute

func (e *env) reindex() *application.Reindex {
	return application.NewReindex(application.ReindexDeps{Jobs: e.db.Reindex(), Tenants: e.db.Tenants(), Chunks: e.db.Chunks(),
		Documents: e.db.Documents(), Vendors: e.vendors, Lexical: e.lexical, Audit: e.db.Audit(), Now: e.clock.Now,
		Batch: 2, Lease: reindexLease})
}

// manageTenantsReindexing is ManageTenants that starts a re-index after a change that
// needs new vectors, as bootstrap wires it.
func (e *env) manageTenantsReindexing() *application.ManageTenants {
	return application.NewManageTenants(application.ManageTenantsDeps{Tenants: e.db.Tenants(), Vendors: e.vendors, Lexical: e.lexical,
		Audit: e.db.Audit(), Now: e.clock.Now, Reindex: e.reindex()})
}

// recordingEmbedder embeds with inner and records every text it was given.
type recordingEmbedder struct {
	inner ports.Embedder
	mu    sync.Mutex
	texts []string
	// before, when set, runs before each Embed call.
	before func()
}

func (r *recordingEmbedder) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	if r.before != nil {
		r.before()
	}
	r.mu.Lock()
	r.texts = append(r.texts, texts...)
	r.mu.Unlock()
	return r.inner.Embed(ctx, texts)
}

func (r *recordingEmbedder) EmbedQuery(ctx context.Context, q string) ([]float32, error) {
	return r.inner.EmbedQuery(ctx, q)
}

func (r *recordingEmbedder) Dimensions() int { return r.inner.Dimensions() }

func (r *recordingEmbedder) seen() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.texts)
}

// lexicalCorpus ingests three documents into tc's tenant in lexical mode (no vectors).
func (e *env) lexicalCorpus(tc domain.TenantContext) {
	e.t.Helper()
	for _, d := range []struct{ title, text string }{{"Refunds", refundPolicy},
		{"Shipping", "Orders above fifty euros ship for free within the EU. Parcels arrive within three days."},
		{"Support", "Support answers by email within one business day. Phone support is for enterprise plans."}} {
		_, err := e.ingest().Execute(context.Background(), application.IngestInput{Tenant: tc, Title: d.title, Text: d.text})
		require.NoError(e.t, err)
	}
	for _, c := range e.storedChunks(tc.Tenant.ID) {
		require.Empty(e.t, c.Vector)
	}
}

func (e *env) storedTenant(id domain.TenantID) domain.Tenant {
	e.t.Helper()
	t, err := e.db.Tenants().Get(context.Background(), id)
	require.NoError(e.t, err)
	return t
}

func (e *env) retrieve(id domain.TenantID, q string) []domain.Passage {
	e.t.Helper()
	got, err := passagesOf(application.NewRetrieve(e.lexical, e.vendors, e.db.Documents()).Execute(context.Background(), new(e.storedTenant(id)), q, 4))
	require.NoError(e.t, err)
	return got
}

func (e *env) lexicalHits(id domain.TenantID, q string) []domain.Passage {
	e.t.Helper()
	got, err := passagesOf(e.lexical.Search(context.Background(), id, q, 4))
	require.NoError(e.t, err)
	return got
}

func (e *env) denseHits(id domain.TenantID, q string) []domain.Passage {
	e.t.Helper()
	vec, err := e.embedder.EmbedQuery(context.Background(), q)
	require.NoError(e.t, err)
	got, err := passagesOf(e.index.Search(context.Background(), id, vec, 4, 0))
	require.NoError(e.t, err)
	return got
}

func TestReindexAfterAModeChangeServesLexicalUntilTheVectorsAreComplete(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	acme := e.admin("acme")
	e.lexicalCorpus(acme)
	chunks := len(e.storedChunks("acme"))
	const q = "How long until parcels arrive?"

	dense := domain.RetrievalDense
	_, err := e.manageTenantsReindexing().Update(ctx, actor(e.user("root@x.test", domain.RolePlatformAdmin, "")), "acme",
		domain.TenantPatch{Mode: &dense})
	require.NoError(t, err)

	job, tn, err := e.reindex().Status(ctx, actor(e.storedUser(acme.Principal.UserID)), "acme")
	require.NoError(t, err)
	assert.Equal(t, domain.ReindexRunning, job.State, "the change started a re-index by itself")
	assert.Equal(t, chunks, job.Total)
	assert.False(t, tn.Vectors.Ready)
	assert.Equal(t, domain.RetrievalLexical, tn.ServingMode())
	assert.Equal(t, e.lexicalHits("acme", q), e.retrieve("acme", q), "no vectors yet: served lexically")

	require.NoError(t, e.reindex().Run(ctx, "acme", "node-a"))

	job, tn, err = e.reindex().Status(ctx, actor(e.storedUser(acme.Principal.UserID)), "acme")
	require.NoError(t, err)
	assert.Equal(t, domain.ReindexDone, job.State)
	assert.Equal(t, chunks, job.Done)
	assert.Equal(t, chunks, job.Total)
	assert.Equal(t, e.clock.Now(), job.FinishedAt)
	assert.True(t, tn.Vectors.Ready)
	for _, c := range e.storedChunks("acme") {
		assert.Len(t, c.Vector, domain.DefaultDimensions, "every chunk got its vector")
	}
	assert.Equal(t, domain.RetrievalDense, tn.ServingMode())
	got := e.retrieve("acme", q)
	require.NotEmpty(t, got)
	assert.Equal(t, e.denseHits("acme", q), got, "complete: served by the new vectors")

	entries, err := e.db.Audit().List(ctx, "acme", domain.Page{Limit: 50})
	require.NoError(t, err)
	var actions []string
	for _, en := range entries {
		actions = append(actions, en.Action)
	}
	assert.Contains(t, actions, "tenant.reindex")
}

func TestReindexGoesOnFromItsCursorAfterAPassingFailure(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	acme := e.admin("acme")
	e.lexicalCorpus(acme)
	all := e.storedChunks("acme")
	e.updateTenant("acme", func(t *domain.Tenant) {
		t.Retrieval.Mode = domain.RetrievalHybrid
		t.Vectors = domain.VectorState{Epoch: 1}
	})
	_, err := e.reindex().Start(ctx, actor(e.storedUser(acme.Principal.UserID)), "acme")
	require.NoError(t, err)

	e.vendors.embedder = &failingEmbedder{inner: e.embedder, okCalls: 1}
	err = e.reindex().Run(ctx, "acme", "node-a")
	requireKind(t, domain.KindUnavailable, err)
	job, err := e.db.Reindex().Get(ctx, "acme")
	require.NoError(t, err)
	assert.Equal(t, domain.ReindexRunning, job.State, "a passing failure leaves the job running")
	assert.Equal(t, 2, job.Done, "one batch was done")
	assert.Equal(t, domain.ChunkRef{Document: all[1].DocumentID, Index: all[1].Index}, job.Cursor)
	assert.NotEmpty(t, job.Error)
	assert.Empty(t, job.Owner, "released for the next runner")
	assert.False(t, e.storedTenant("acme").Vectors.Ready)

	rec := &recordingEmbedder{inner: e.embedder}
	e.vendors.embedder = rec
	claimable, err := e.reindex().Claimable(ctx)
	require.NoError(t, err)
	require.Len(t, claimable, 1)
	require.NoError(t, e.reindex().Run(ctx, claimable[0].TenantID, "node-b"))

	var rest []string
	for _, c := range all[2:] {
		rest = append(rest, c.Text)
	}
	assert.Equal(t, rest, rec.seen(), "the second runner embedded only the chunks after the cursor")
	assert.True(t, e.storedTenant("acme").Vectors.Ready)
	job, err = e.db.Reindex().Get(ctx, "acme")
	require.NoError(t, err)
	assert.Equal(t, domain.ReindexDone, job.State)
	assert.Equal(t, len(all), job.Done)
	assert.Empty(t, job.Error)
}

func TestReindexStartsOverWhenTheSettingsChangeMeanwhile(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	acme := e.admin("acme")
	e.lexicalCorpus(acme)
	root := actor(e.user("root@x.test", domain.RolePlatformAdmin, ""))
	hybrid := domain.RetrievalHybrid
	_, err := e.manageTenantsReindexing().Update(ctx, root, "acme", domain.TenantPatch{Mode: &hybrid})
	require.NoError(t, err)

	var once sync.Once
	rec := &recordingEmbedder{inner: e.embedder}
	rec.before = func() {
		once.Do(func() {
			model := "hashing-v2"
			_, err := e.manageTenantsReindexing().Update(ctx, root, "acme", domain.TenantPatch{EmbedderModel: &model})
			assert.NoError(t, err, "a change while a job runs is accepted; the job starts over")
		})
	}
	e.vendors.embedder = rec
	require.NoError(t, e.reindex().Run(ctx, "acme", "node-a"))

	tn := e.storedTenant("acme")
	assert.Equal(t, domain.VectorState{Epoch: 2, Ready: true}, tn.Vectors)
	job, err := e.db.Reindex().Get(ctx, "acme")
	require.NoError(t, err)
	assert.Equal(t, domain.ReindexDone, job.State)
	assert.Equal(t, 2, job.Epoch)
	chunks := len(e.storedChunks("acme"))
	assert.Equal(t, chunks, job.Done, "counted again from the first chunk")
	assert.Len(t, rec.seen(), chunks+2, "the first batch, then every chunk for the new settings")
}

func TestReindexRunsOnceAtATime(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	acme := e.admin("acme")
	e.lexicalCorpus(acme)
	who := actor(e.storedUser(acme.Principal.UserID))
	_, err := e.reindex().Start(ctx, who, "acme")
	require.NoError(t, err)
	_, err = e.reindex().Start(ctx, who, "acme")
	require.ErrorIs(t, err, domain.ErrReindexRunning)

	_, err = e.db.Reindex().Update(ctx, "acme", func(j *domain.ReindexJob) error { return j.Claim("node-a", e.clock.Now(), reindexLease) })
	require.NoError(t, err)
	require.ErrorIs(t, e.reindex().Run(ctx, "acme", "node-b"), domain.ErrReindexLost, "node-a holds the lease")
	claimable, err := e.reindex().Claimable(ctx)
	require.NoError(t, err)
	assert.Empty(t, claimable)

	e.clock.Advance(reindexLease)
	claimable, err = e.reindex().Claimable(ctx)
	require.NoError(t, err)
	require.Len(t, claimable, 1, "node-a stopped renewing: its job is up for grabs")
	require.NoError(t, e.reindex().Run(ctx, "acme", "node-b"))
	job, err := e.db.Reindex().Get(ctx, "acme")
	require.NoError(t, err)
	assert.Equal(t, domain.ReindexDone, job.State)
	_, err = e.reindex().Start(ctx, who, "acme")
	require.NoError(t, err, "a finished job can be followed by a new one")
}

func TestReindexIsTheTenantAdminsOwn(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	acme, globex := e.admin("acme"), e.admin("globex")
	member := actor(e.user("member@acme.test", domain.RoleMember, "acme"))
	acmeAdmin := actor(e.storedUser(acme.Principal.UserID))
	globexAdmin := actor(e.storedUser(globex.Principal.UserID))
	root := actor(e.user("root@x.test", domain.RolePlatformAdmin, ""))

	_, err := e.reindex().Start(ctx, globexAdmin, "acme")
	requireKind(t, domain.KindNotFound, err)
	_, _, err = e.reindex().Status(ctx, globexAdmin, "acme")
	requireKind(t, domain.KindNotFound, err)
	_, err = e.reindex().Start(ctx, member, "acme")
	requireKind(t, domain.KindForbidden, err)
	scoped := root
	scoped.Scope = "globex"
	_, err = e.reindex().Start(ctx, scoped, "acme")
	requireKind(t, domain.KindNotFound, err)

	job, _, err := e.reindex().Status(ctx, acmeAdmin, "acme")
	require.NoError(t, err)
	assert.Equal(t, domain.ReindexIdle, job.State, "nothing was started by the refused calls")

	_, err = e.reindex().Start(ctx, root, "acme")
	require.NoError(t, err)
	job, _, err = e.reindex().Status(ctx, acmeAdmin, "acme")
	require.NoError(t, err)
	assert.Equal(t, domain.ReindexRunning, job.State)
	job, _, err = e.reindex().Status(ctx, globexAdmin, "globex")
	require.NoError(t, err)
	assert.Equal(t, domain.ReindexIdle, job.State, "globex's job is its own")
}

func TestReindexDoesNotBringBackADocumentDeletedMeanwhile(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	acme := e.admin("acme")
	e.lexicalCorpus(acme)
	first := e.storedChunks("acme")[0].DocumentID
	e.updateTenant("acme", func(t *domain.Tenant) {
		t.Retrieval.Mode = domain.RetrievalHybrid
		t.Vectors = domain.VectorState{Epoch: 1}
	})
	_, err := e.reindex().Start(ctx, actor(e.storedUser(acme.Principal.UserID)), "acme")
	require.NoError(t, err)

	var once sync.Once
	rec := &recordingEmbedder{inner: e.embedder}
	rec.before = func() {
		once.Do(func() { require.NoError(t, e.documents().Delete(ctx, acme, first)) })
	}
	e.vendors.embedder = rec
	require.NoError(t, e.reindex().Run(ctx, "acme", "node-a"))

	for _, c := range e.storedChunks("acme") {
		assert.NotEqual(t, first, c.DocumentID, "the deleted document's chunks came back")
	}
	for _, p := range e.retrieve("acme", "Are gift cards refundable?") {
		assert.NotEqual(t, first, p.DocumentID)
	}
}

func TestAChangeOnATenantWithoutDocumentsNeedsNoReindex(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	acme := e.admin("acme")
	hybrid := domain.RetrievalHybrid
	got, err := e.manageTenantsReindexing().Update(ctx, actor(e.user("root@x.test", domain.RolePlatformAdmin, "")), "acme",
		domain.TenantPatch{Mode: &hybrid})
	require.NoError(t, err)

	assert.Equal(t, domain.VectorState{Epoch: 1, Ready: true}, got.Vectors, "nothing to build: ready at once")
	stored := e.storedTenant("acme")
	assert.Equal(t, domain.RetrievalHybrid, stored.ServingMode())
	job, _, err := e.reindex().Status(ctx, actor(e.storedUser(acme.Principal.UserID)), "acme")
	require.NoError(t, err)
	assert.Equal(t, domain.ReindexIdle, job.State, "no job was started")
}

func TestTwoRunnersNeverWorkOnOneJobTogether(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	acme := e.admin("acme")
	e.lexicalCorpus(acme)
	all := e.storedChunks("acme")
	e.updateTenant("acme", func(t *domain.Tenant) {
		t.Retrieval.Mode = domain.RetrievalHybrid
		t.Vectors = domain.VectorState{Epoch: 1}
	})
	_, err := e.reindex().Start(ctx, actor(e.storedUser(acme.Principal.UserID)), "acme")
	require.NoError(t, err)
	rec := &recordingEmbedder{inner: e.embedder}
	e.vendors.embedder = rec

	errs := make([]error, 2)
	var wg sync.WaitGroup
	for i, owner := range []string{"node-a", "node-b"} {
		wg.Go(func() { errs[i] = e.reindex().Run(ctx, "acme", owner) })
	}
	wg.Wait()

	lost := 0
	for _, err := range errs {
		if err != nil {
			require.ErrorIs(t, err, domain.ErrReindexLost)
			lost++
		}
	}
	assert.Equal(t, 1, lost, "one runner did the job, the other found it held or done")
	var texts []string
	for _, c := range all {
		texts = append(texts, c.Text)
	}
	assert.Equal(t, texts, rec.seen(), "every chunk was embedded once, in order")
	assert.True(t, e.storedTenant("acme").Vectors.Ready)
}
