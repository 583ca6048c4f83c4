package lexical

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/domain"
)

// fill stores a random corpus for tenant straight in the store, so that an index
// loads it on the tenant's first search.
func fill(t *testing.T, store *fakeStore, tenant domain.TenantID, seed uint64) {
	t.Helper()
	for _, chunks := range randomCorpus(seed, string(tenant)+"-", 60, 2) {
		require.NoError(t, store.PutChunks(context.Background(), tenant, chunks))
	}
}

func (x *Index) isLoaded(tenant domain.TenantID) bool {
	return x.tenant(tenant).loaded()
}

func TestMaxBytesDropsTheLeastRecentlySearchedTenants(t *testing.T) {
	t.Parallel()
	store := newFakeStore()
	tenants := []domain.TenantID{"t1", "t2", "t3"}
	for i, tn := range tenants {
		fill(t, store, tn, uint64(i+1))
	}
	// Each tenant's rankings and the size of its copy, on an unbounded index.
	probe := New(store, Config{})
	want := map[domain.TenantID][][]domain.Passage{}
	var largest int64
	for _, tn := range tenants {
		before := probe.Bytes()
		want[tn] = rankings(t, probe, tn)
		largest = max(largest, probe.Bytes()-before)
		require.NotEmpty(t, want[tn][0])
	}
	budget := 2*largest + largest/2 // room for two copies, not three
	require.Greater(t, probe.Bytes(), budget)

	x := New(store, Config{MaxBytes: budget})
	loads := store.loadCount()
	assert.Equal(t, want["t1"], rankings(t, x, "t1"))
	assert.Equal(t, want["t2"], rankings(t, x, "t2"))
	assert.Equal(t, loads+2, store.loadCount(), "each tenant loaded once")
	assert.Equal(t, want["t1"], rankings(t, x, "t1"), "t1 is now the most recently searched")
	assert.Equal(t, want["t3"], rankings(t, x, "t3"), "over the budget: t2 goes")
	assert.Equal(t, loads+3, store.loadCount())
	assert.LessOrEqual(t, x.Bytes(), budget)
	assert.True(t, x.isLoaded("t1"))
	assert.False(t, x.isLoaded("t2"), "the least recently searched copy was dropped")
	assert.True(t, x.isLoaded("t3"))

	assert.Equal(t, want["t2"], rankings(t, x, "t2"), "a dropped tenant reloads on demand and ranks as before")
	assert.Equal(t, loads+4, store.loadCount())
	assert.False(t, x.isLoaded("t1"), "t1 was then the least recently searched")
	assert.LessOrEqual(t, x.Bytes(), budget)
}

func TestMaxBytesKeepsTheCopyInUseEvenWhenItAloneIsLarger(t *testing.T) {
	t.Parallel()
	store := newFakeStore()
	fill(t, store, "t1", 1)
	probe := New(store, Config{})
	want := rankings(t, probe, "t1")

	x := New(store, Config{MaxBytes: 1})
	assert.Equal(t, want, rankings(t, x, "t1"))
	assert.True(t, x.isLoaded("t1"))
}

func TestWritesKeepALoadedCopyInStepAndSizedRight(t *testing.T) {
	t.Parallel()
	store := newFakeStore()
	x := New(store, Config{})
	for _, chunks := range randomCorpus(3, "doc", 40, 2) {
		upsert(t, x, "t1", chunks...)
	}
	rankings(t, x, "t1") // loaded (empty at first write, so loaded now from the store)
	for _, chunks := range randomCorpus(4, "new", 40, 2) {
		upsert(t, x, "t1", chunks...)
	}
	require.NoError(t, stored(x).DeleteDocument(context.Background(), "t1", "doc0003"))
	kept := rankings(t, x, "t1")
	bytes := x.Bytes()

	reloaded := New(store, Config{})
	assert.Equal(t, kept, rankings(t, reloaded, "t1"), "what the writes did in memory is what the store holds")
	assert.InEpsilon(t, reloaded.Bytes(), bytes, 0.5,
		"a copy kept in step is estimated near a fresh load (slices grown by appends keep spare capacity)")

	x.Invalidate("t1")
	assert.Zero(t, x.Bytes())
	assert.Equal(t, kept, rankings(t, x, "t1"))
	require.NoError(t, stored(x).DropTenant(context.Background(), "t1"))
	assert.Empty(t, search(t, x, "t1", probeQueries[0], 10))
	assert.Empty(t, search(t, New(store, Config{}), "t1", probeQueries[0], 10))
}

func TestASecondIndexOverTheSameStoreRanksAlike(t *testing.T) {
	t.Parallel()
	store := newFakeStore()
	first := New(store, Config{})
	corpus := randomCorpus(5, "doc", 80, 3)
	for _, chunks := range corpus {
		upsert(t, first, "t1", chunks...)
		upsert(t, first, "t2", chunks[:1]...)
	}
	for d := 0; d < 80; d += 3 {
		require.NoError(t, stored(first).DeleteDocument(context.Background(), "t1", corpus[d][0].DocumentID))
	}
	for _, tn := range []domain.TenantID{"t1", "t2"} {
		want := rankings(t, first, tn)
		require.NotEmpty(t, want[0])
		second := New(store, Config{})
		assert.Equal(t, want, rankings(t, second, tn), "tenant %s", tn)
	}
}
