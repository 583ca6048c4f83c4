package bootstrap

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/tenantry/tenantry/adapters/memory"
	"github.com/tenantry/tenantry/adapters/pinecone/pineconetest"
	"github.com/tenantry/tenantry/application"
	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/ports"
)

// TestSweeperDeletesPineconeVectorsWhoseDocumentIsGone stores, in a Pinecone fake,
// vectors of a document that exists, of one that does not (an ingestion that crashed
// after its upsert), and of one whose record arrives before the grace period ends (an
// ingestion in flight): only the orphan's vectors go, after the grace period, and the
// counter says how many.
func TestSweeperDeletesPineconeVectorsWhoseDocumentIsGone(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	key := vtKey("pcsk", "sweep")
	pc := pineconetest.New(t, vtDims, key)
	db := memory.NewDB()
	clock := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	tenant, err := domain.NewTenant("acme", "Acme", clock)
	require.NoError(t, err)
	tenant.VectorStore = domain.VectorStoreSettings{Provider: domain.VectorPinecone, IndexHost: pc.URL, APIKey: domain.Secret(key), Namespace: "acme-ns"}
	tenant.Embedder = domain.EmbedderSettings{Provider: domain.EmbedderHashing, Model: "hashing-v1", Dimensions: vtDims}
	require.NoError(t, db.Tenants().Create(ctx, tenant))
	save := func(id domain.DocumentID) {
		t.Helper()
		_, err := db.Documents().Save(ctx, domain.Document{ID: id, TenantID: "acme", Title: string(id), CreatedAt: clock, UpdatedAt: clock}, nil)
		require.NoError(t, err)
	}
	vec := make([]float32, vtDims)
	vec[0] = 1
	for _, id := range []string{"kept#0", "kept#1", "orphan#0", "orphan#1", "orphan#2", "inflight#0"} {
		pc.Put(key, "acme-ns", id, vec, map[string]any{"document_id": id})
	}
	save("kept")

	s := newVectorSweeper(zap.NewNop(), time.Minute)
	s.uc = application.NewSweepVectors(application.SweepVectorsDeps{Tenants: db.Tenants(), Documents: db.Documents(),
		Vendors: &vendors{http: newVendorHTTPClient()}, Now: func() time.Time { return clock }, Grace: time.Minute})

	s.sweep(ctx)
	assert.Zero(t, s.Removed(), "a document first seen orphaned waits out the grace period")
	assert.Len(t, pc.IDs(key, "acme-ns"), 6)

	save("inflight") // its ingestion committed
	clock = clock.Add(time.Minute)
	s.sweep(ctx)
	assert.Equal(t, float64(3), s.Removed())
	assert.ElementsMatch(t, []string{"kept#0", "kept#1", "inflight#0"}, pc.IDs(key, "acme-ns"))

	clock = clock.Add(time.Minute)
	s.sweep(ctx)
	assert.Equal(t, float64(3), s.Removed(), "nothing more to remove")
	assert.Empty(t, pc.Violations())
}

// hidingVendors hands out the tenant's vector index behind a wrapper that hides
// ports.VectorLister, as the observe decorator once did.
type hidingVendors struct{ *vendors }

func (v hidingVendors) VectorIndex(t domain.Tenant) (ports.VectorIndex, error) {
	idx, err := v.vendors.VectorIndex(t)
	return struct{ ports.VectorIndex }{idx}, err
}

// TestSweeperRefusesAnExternalIndexThatCannotList: a Pinecone tenant whose index does
// not list its vectors is an error, not a sweep that silently does nothing.
func TestSweeperRefusesAnExternalIndexThatCannotList(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	key := vtKey("pcsk", "hide")
	pc := pineconetest.New(t, vtDims, key)
	db := memory.NewDB()
	tenant, err := domain.NewTenant("acme", "Acme", time.Now())
	require.NoError(t, err)
	tenant.VectorStore = domain.VectorStoreSettings{Provider: domain.VectorPinecone, IndexHost: pc.URL, APIKey: domain.Secret(key), Namespace: "acme-ns"}
	tenant.Embedder = domain.EmbedderSettings{Provider: domain.EmbedderHashing, Model: "hashing-v1", Dimensions: vtDims}
	require.NoError(t, db.Tenants().Create(ctx, tenant))
	uc := application.NewSweepVectors(application.SweepVectorsDeps{Tenants: db.Tenants(), Documents: db.Documents(),
		Vendors: hidingVendors{&vendors{http: newVendorHTTPClient()}}, Now: time.Now, Grace: time.Minute})

	_, err = uc.Execute(ctx)
	require.ErrorContains(t, err, "cannot list its vectors")
}
