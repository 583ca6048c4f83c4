package vecsearch

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/domain"
)

// fillTenant stores docs documents of perDoc chunks of dims for tenant, straight in the
// store, so that the index loads them on the tenant's first search.
func fillTenant(t *testing.T, store *fakeStore, tenant domain.TenantID, docs, perDoc, dims int) {
	t.Helper()
	rng := rand.New(rand.NewPCG(uint64(len(tenant)), uint64(docs)))
	for d := range docs {
		chunks := make([]domain.Chunk, perDoc)
		for j := range chunks {
			chunks[j] = domain.Chunk{DocumentID: domain.DocumentID(fmt.Sprintf("%s-d%d", tenant, d)), Index: j,
				Text: fmt.Sprintf("%s passage %d.%d", tenant, d, j), Vector: randomVector(rng, dims)}
		}
		require.NoError(t, store.PutChunks(context.Background(), tenant, chunks))
	}
}

func TestIndexBudgetDropsTheLeastRecentlySearchedCopies(t *testing.T) {
	t.Parallel()
	store := newFakeStore()
	tenants := []domain.TenantID{"t1", "t2", "t3"}
	for _, tn := range tenants {
		fillTenant(t, store, tn, 4, 25, 32)
	}
	q := randomVector(rand.New(rand.NewPCG(7, 7)), 32)
	search := func(x *Index, tn domain.TenantID) []domain.Passage {
		got, err := x.search(context.Background(), tn, q, 5, -1)
		require.NoError(t, err)
		require.Len(t, got, 5)
		return got
	}
	// One tenant's copy, measured on an unbounded index.
	probe := newTestIndex(t, newFakeStore(), Config{})
	fillTenant(t, probe.store.(*fakeStore), "t1", 4, 25, 32)
	want := search(probe, "t1")
	one := probe.Bytes()
	require.Positive(t, one)

	x := newTestIndex(t, store, Config{MaxBytes: 2*one + one/2}) // room for two copies
	search(x, "t1")
	search(x, "t2")
	assert.Equal(t, 2, store.loadCount())
	search(x, "t1") // t1 is now the most recently searched
	search(x, "t3") // over the budget: t2 goes
	assert.Equal(t, 3, store.loadCount())
	assert.LessOrEqual(t, x.Bytes(), 2*one+one/2)

	assert.Equal(t, keys(want), keys(search(x, "t1")), "t1 stayed loaded and answers the same")
	search(x, "t3")
	assert.Equal(t, 3, store.loadCount(), "t1 and t3 were still loaded")
	search(x, "t2")
	assert.Equal(t, 4, store.loadCount(), "t2 was dropped and comes back from the store")
}

func TestIndexBudgetKeepsTheCopyInUseEvenWhenItAloneIsTooLarge(t *testing.T) {
	t.Parallel()
	store := newFakeStore()
	fillTenant(t, store, "big", 4, 25, 32)
	x := newTestIndex(t, store, Config{MaxBytes: 1})
	q := randomVector(rand.New(rand.NewPCG(1, 1)), 32)
	for range 3 {
		got, err := x.search(context.Background(), "big", q, 3, -1)
		require.NoError(t, err)
		assert.Len(t, got, 3)
	}
	assert.Equal(t, 1, store.loadCount(), "the only copy is not dropped under its own feet")
}

// TestIndexBudgetAccountsEveryChange checks that the byte count follows writes,
// deletes, drops and invalidations of loaded copies, and returns to zero when nothing
// is loaded, with concurrent searches and a budget that keeps evicting.
func TestIndexBudgetAccountsEveryChange(t *testing.T) {
	t.Parallel()
	store := newFakeStore()
	tenants := []domain.TenantID{"t1", "t2", "t3", "t4"}
	for _, tn := range tenants {
		fillTenant(t, store, tn, 3, 20, 16)
	}
	x := newTestIndex(t, store, Config{MaxBytes: 40 << 10})
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), 9))
			for i := range 100 {
				tn := tenants[(w+i)%len(tenants)]
				_, err := x.search(context.Background(), tn, randomVector(rng, 16), 3, -1)
				assert.NoError(t, err)
				doc := domain.DocumentID(fmt.Sprintf("w%d-%d", w, i))
				assert.NoError(t, stored(x).Upsert(context.Background(), tn, []domain.Chunk{{DocumentID: doc, Index: 0, Text: "more text", Vector: randomVector(rng, 16)}}))
				if i%4 == 0 {
					assert.NoError(t, stored(x).DeleteDocument(context.Background(), tn, doc))
				}
			}
		})
	}
	wg.Wait()
	assert.Positive(t, x.Bytes())
	require.NoError(t, stored(x).DropTenant(context.Background(), "t4"))
	for _, tn := range tenants[:3] {
		x.Invalidate(tn)
	}
	assert.Zero(t, x.Bytes(), "nothing loaded, nothing counted")
}
