package vecsearch

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/ports"
	"github.com/tenantry/tenantry/ports/porttest"
)

// fakeStore is an in-test ChunkStore: a mutex-guarded map that copies values, counts
// loads and can be told to fail.
type fakeStore struct {
	mu     sync.Mutex
	chunks map[domain.TenantID]map[rowKey]domain.Chunk
	loads  int
	fail   error
}

func newFakeStore() *fakeStore {
	return &fakeStore{chunks: make(map[domain.TenantID]map[rowKey]domain.Chunk)}
}

var _ ports.ChunkStore = (*fakeStore)(nil)

func (s *fakeStore) PutChunks(ctx context.Context, t domain.TenantID, chunks []domain.Chunk) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return s.fail
	}
	if s.chunks[t] == nil {
		s.chunks[t] = make(map[rowKey]domain.Chunk)
	}
	for _, c := range chunks {
		c.Vector = slices.Clone(c.Vector)
		s.chunks[t][rowKey{c.DocumentID, c.Index}] = c
	}
	return nil
}

func (s *fakeStore) LoadChunks(ctx context.Context, t domain.TenantID) ([]domain.Chunk, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return nil, s.fail
	}
	s.loads++
	out := make([]domain.Chunk, 0, len(s.chunks[t]))
	for _, c := range s.chunks[t] {
		c.Vector = slices.Clone(c.Vector)
		out = append(out, c)
	}
	slices.SortFunc(out, func(a, b domain.Chunk) int {
		return cmp.Or(cmp.Compare(a.DocumentID, b.DocumentID), cmp.Compare(a.Index, b.Index))
	})
	return out, nil
}

func (s *fakeStore) DeleteChunks(ctx context.Context, t domain.TenantID, d domain.DocumentID) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return s.fail
	}
	for k := range s.chunks[t] {
		if k.doc == d {
			delete(s.chunks[t], k)
		}
	}
	return nil
}

func (s *fakeStore) DropChunks(ctx context.Context, t domain.TenantID) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return s.fail
	}
	delete(s.chunks, t)
	return nil
}

func (s *fakeStore) setFail(err error) {
	s.mu.Lock()
	s.fail = err
	s.mu.Unlock()
}

func (s *fakeStore) loadCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.loads
}

func (s *fakeStore) stored(t domain.TenantID, d domain.DocumentID, i int) (domain.Chunk, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.chunks[t][rowKey{d, i}]
	return c, ok
}

func newTestIndex(t *testing.T, store ports.ChunkStore, cfg Config) *Index {
	t.Helper()
	x := New(store, cfg)
	t.Cleanup(func() { require.NoError(t, x.Close()) })
	return x
}

func TestVectorIndexContract(t *testing.T) {
	t.Run("small", func(t *testing.T) {
		porttest.VectorIndex(t, func(t *testing.T) ports.VectorIndex {
			store := newFakeStore()
			return porttest.StoredVectors(newTestIndex(t, store, Config{}), porttest.Rows{Chunks: store})
		})
	})
	t.Run("every search split across workers", func(t *testing.T) {
		porttest.VectorIndex(t, func(t *testing.T) ports.VectorIndex {
			store := newFakeStore()
			return porttest.StoredVectors(newTestIndex(t, store, Config{Workers: 3, ParallelMinRows: 1}), porttest.Rows{Chunks: store})
		})
	})
	t.Run("portable kernel", func(t *testing.T) {
		porttest.VectorIndex(t, func(t *testing.T) ports.VectorIndex {
			store := newFakeStore()
			x := newTestIndex(t, store, Config{})
			x.kern = kernelGo
			return porttest.StoredVectors(x, porttest.Rows{Chunks: store})
		})
	})
}

const acme, globex = domain.TenantID("acme"), domain.TenantID("globex")

func vec(xs ...float32) []float32 { return xs }

func TestIndexWritesOnlyItsInMemoryCopy(t *testing.T) {
	t.Parallel()
	store := newFakeStore()
	x := newTestIndex(t, store, Config{})
	_, err := x.search(t.Context(), acme, vec(1, 0), 5, -1)
	require.NoError(t, err)
	in := []domain.Chunk{{DocumentID: "d1", Index: 0, Text: "a", Vector: vec(3, 4)}}
	require.NoError(t, x.Upsert(t.Context(), acme, in))
	got, err := x.search(t.Context(), acme, vec(1, 0), 5, -1)
	require.NoError(t, err)
	require.Len(t, got, 1)
	assert.InDelta(t, 0.6, got[0].Score, 1e-6, "the copy holds the vector normalised")
	assert.Equal(t, []float32{3, 4}, in[0].Vector, "the caller's vector was changed")
	_, ok := store.stored(acme, "d1", 0)
	assert.False(t, ok, "the rows are the DocumentStore's: the index never writes them")
	require.NoError(t, x.DeleteDocument(t.Context(), acme, "d1"))
	got, err = x.search(t.Context(), acme, vec(1, 0), 5, -1)
	require.NoError(t, err)
	assert.Empty(t, got)
}

func TestIndexLoadsLazilyOnceAndStaysInStep(t *testing.T) {
	t.Parallel()
	store := newFakeStore()
	require.NoError(t, store.PutChunks(t.Context(), acme, []domain.Chunk{
		{DocumentID: "d1", Index: 0, Title: "T", Text: "stored before start", Vector: vec(1, 0)},
		{DocumentID: "d2", Index: 0, Text: "not normalised in the store", Vector: vec(0, 10)},
	}))
	x := newTestIndex(t, store, Config{})
	assert.Equal(t, 0, store.loadCount(), "the index loaded before its first search")

	got, err := x.search(t.Context(), acme, vec(1, 0), 5, -1)
	require.NoError(t, err)
	require.Len(t, got, 2)
	assert.Equal(t, "stored before start", got[0].Text)
	assert.InDelta(t, 0, got[1].Score, 1e-6)
	got, err = x.search(t.Context(), acme, vec(0, 1), 1, -1)
	require.NoError(t, err)
	assert.InDelta(t, 1, got[0].Score, 1e-6, "vectors loaded from the store are normalised")

	require.NoError(t, stored(x).Upsert(t.Context(), acme, []domain.Chunk{{DocumentID: "d3", Index: 0, Text: "new", Vector: vec(1, 1)}}))
	require.NoError(t, stored(x).DeleteDocument(t.Context(), acme, "d2"))
	got, err = x.search(t.Context(), acme, vec(0, 1), 5, -1)
	require.NoError(t, err)
	assert.Equal(t, []string{"new", "stored before start"}, texts(got))
	assert.Equal(t, 1, store.loadCount(), "writes through the index must update the copy, not reload it")
	_, err = x.search(t.Context(), globex, vec(0, 1), 5, -1)
	require.NoError(t, err)
	assert.Equal(t, 2, store.loadCount(), "each tenant loads its own copy")

	x.Invalidate(acme)
	_, err = x.search(t.Context(), acme, vec(0, 1), 5, -1)
	require.NoError(t, err)
	assert.Equal(t, 3, store.loadCount(), "Invalidate must make the next search reload")
}

func TestIndexStoreFailures(t *testing.T) {
	t.Parallel()
	down := errors.New("connection refused")
	tests := []struct {
		name     string
		storeErr error
		wantKind domain.Kind
	}{
		{name: "a plain error is unavailable", storeErr: down, wantKind: domain.KindUnavailable},
		{name: "a domain error keeps its kind", storeErr: domain.ErrNotFound.With(down), wantKind: domain.KindNotFound},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			store := newFakeStore()
			x := newTestIndex(t, store, Config{})
			require.NoError(t, stored(x).Upsert(t.Context(), acme, []domain.Chunk{{DocumentID: "d1", Vector: vec(1, 0)}}))
			store.setFail(tc.storeErr)

			x.Invalidate(acme)
			_, err := x.search(t.Context(), acme, vec(1, 0), 5, -1)
			assert.Equal(t, tc.wantKind, domain.KindOf(err), "a failing load is the store's error")
			assert.ErrorIs(t, err, down)

			store.setFail(nil)
			got, err := x.search(t.Context(), acme, vec(1, 0), 5, -1)
			require.NoError(t, err)
			assert.Equal(t, []domain.DocumentID{"d1"}, docs(got), "the index recovers from the store")
		})
	}
}

func TestIndexRejectsInvalidInput(t *testing.T) {
	t.Parallel()
	nan := float32(math.NaN())
	tests := []struct {
		name  string
		chunk domain.Chunk
	}{
		{name: "no document id", chunk: domain.Chunk{Vector: vec(1)}},
		{name: "negative index", chunk: domain.Chunk{DocumentID: "d", Index: -1, Vector: vec(1)}},
		{name: "empty vector", chunk: domain.Chunk{DocumentID: "d"}},
		{name: "NaN", chunk: domain.Chunk{DocumentID: "d", Vector: vec(1, nan)}},
		{name: "infinity", chunk: domain.Chunk{DocumentID: "d", Vector: vec(float32(math.Inf(1)))}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			x := newTestIndex(t, newFakeStore(), Config{})
			_, err := x.search(t.Context(), acme, vec(1), 5, -1)
			require.NoError(t, err)
			ok := domain.Chunk{DocumentID: "fine", Vector: vec(1)}
			err = x.Upsert(t.Context(), acme, []domain.Chunk{ok, tc.chunk})
			assert.Equal(t, domain.KindInvalid, domain.KindOf(err))
			got, err := x.search(t.Context(), acme, vec(1), 5, -1)
			require.NoError(t, err)
			assert.Empty(t, got, "a rejected batch must index nothing")
		})
	}
	x := newTestIndex(t, newFakeStore(), Config{})
	_, err := x.search(t.Context(), acme, vec(1, nan), 3, -1)
	assert.Equal(t, domain.KindInvalid, domain.KindOf(err))
}

func TestIndexSearchEdges(t *testing.T) {
	t.Parallel()
	x := newTestIndex(t, newFakeStore(), Config{})
	require.NoError(t, stored(x).Upsert(t.Context(), acme, []domain.Chunk{
		{DocumentID: "a", Vector: vec(1, 0)},
		{DocumentID: "b", Vector: vec(0, 1)},
		{DocumentID: "c", Vector: vec(1, 0, 0), Text: "three dimensions"},
	}))
	tests := []struct {
		name     string
		q        []float32
		k        int
		minScore float64
		want     []domain.DocumentID
	}{
		{name: "k zero", q: vec(1, 0), k: 0, want: []domain.DocumentID{}},
		{name: "k negative", q: vec(1, 0), k: -3, want: []domain.DocumentID{}},
		{name: "k above the row count", q: vec(1, 0), k: 1 << 30, want: []domain.DocumentID{"a", "b"}},
		{name: "unnormalised query", q: vec(0, 7), k: 1, want: []domain.DocumentID{"b"}},
		{name: "zero query scores zero, ties by id", q: vec(0, 0), k: 5, want: []domain.DocumentID{"a", "b"}},
		{name: "zero query above a positive minScore", q: vec(0, 0), k: 5, minScore: 0.1, want: []domain.DocumentID{}},
		{name: "another dimension sees only its vectors", q: vec(0, 0, 2), k: 5, want: []domain.DocumentID{"c"}},
		{name: "a dimension without vectors finds nothing", q: vec(1, 2, 3, 4), k: 5, want: []domain.DocumentID{}},
		{name: "empty query finds nothing", q: nil, k: 5, want: []domain.DocumentID{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := x.search(t.Context(), acme, tc.q, tc.k, tc.minScore)
			require.NoError(t, err)
			require.NotNil(t, got, "no match must be an empty slice")
			assert.Equal(t, tc.want, docs(got))
		})
	}
}

func TestIndexUpsertMovesAChunkBetweenDimensions(t *testing.T) {
	t.Parallel()
	x := newTestIndex(t, newFakeStore(), Config{})
	require.NoError(t, stored(x).Upsert(t.Context(), acme, []domain.Chunk{{DocumentID: "d", Vector: vec(1, 0)}}))
	require.NoError(t, stored(x).Upsert(t.Context(), acme, []domain.Chunk{{DocumentID: "d", Vector: vec(1, 0, 0)}}))
	got, err := x.search(t.Context(), acme, vec(1, 0), 5, -1)
	require.NoError(t, err)
	assert.Empty(t, got, "the re-embedded chunk must leave its old dimension")
	got, err = x.search(t.Context(), acme, vec(1, 0, 0), 5, -1)
	require.NoError(t, err)
	assert.Equal(t, []domain.DocumentID{"d"}, docs(got))
}

func TestIndexCancelledSearch(t *testing.T) {
	t.Parallel()
	x := newTestIndex(t, newFakeStore(), Config{})
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := x.search(ctx, acme, vec(1, 0), 3, -1)
	assert.ErrorIs(t, err, context.Canceled)
}

func TestIndexConcurrentUse(t *testing.T) {
	t.Parallel()
	store := newFakeStore()
	x := newTestIndex(t, store, Config{Workers: 4, ParallelMinRows: 64})
	const dims, perDoc = 16, 50
	rng := rand.New(rand.NewPCG(1, 2))
	var wg sync.WaitGroup
	for w := range 4 {
		tenant := []domain.TenantID{acme, globex}[w%2]
		wg.Go(func() {
			for i := range 20 {
				doc := domain.DocumentID(fmt.Sprintf("%s-w%d-d%d", tenant, w, i))
				chunks := make([]domain.Chunk, perDoc)
				for j := range chunks {
					chunks[j] = domain.Chunk{DocumentID: doc, Index: j, Text: string(tenant), Vector: randomVector(rand.New(rand.NewPCG(uint64(w), uint64(i*perDoc+j))), dims)}
				}
				assert.NoError(t, stored(x).Upsert(context.Background(), tenant, chunks))
				if i%3 == 0 {
					assert.NoError(t, stored(x).DeleteDocument(context.Background(), tenant, doc))
				}
			}
		})
	}
	queries := make([][]float32, 8)
	for i := range queries {
		queries[i] = randomVector(rng, dims)
	}
	for r := range 4 {
		tenant := []domain.TenantID{acme, globex}[r%2]
		wg.Go(func() {
			for i := range 200 {
				got, err := x.search(context.Background(), tenant, queries[i%len(queries)], 10, -1)
				assert.NoError(t, err)
				for _, p := range got {
					assert.Equal(t, string(tenant), p.Text, "a passage of another tenant")
				}
			}
		})
	}
	wg.Wait()
	for _, tenant := range []domain.TenantID{acme, globex} {
		got, err := x.search(context.Background(), tenant, queries[0], 1<<20, -1)
		require.NoError(t, err)
		fresh := newTestIndex(t, store, Config{})
		want, err := fresh.search(context.Background(), tenant, queries[0], 1<<20, -1)
		require.NoError(t, err)
		assert.Equal(t, keys(want), keys(got), "the in-memory copy drifted from the store")
		assert.Len(t, got, 2*13*perDoc)
	}
}

func TestIndexCloseIsIdempotentAndSearchesGoOn(t *testing.T) {
	t.Parallel()
	x := New(newFakeStore(), Config{Workers: 2, ParallelMinRows: 1})
	require.NoError(t, stored(x).Upsert(t.Context(), acme, []domain.Chunk{{DocumentID: "a", Vector: vec(1, 0)}, {DocumentID: "b", Vector: vec(0, 1)}}))
	_, err := x.search(t.Context(), acme, vec(1, 0), 1, -1)
	require.NoError(t, err)
	require.NoError(t, x.Close())
	require.NoError(t, x.Close())
	got, err := x.search(t.Context(), acme, vec(0, 1), 1, -1)
	require.NoError(t, err)
	assert.Equal(t, []domain.DocumentID{"b"}, docs(got))
}

func texts(ps []domain.Passage) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.Text
	}
	return out
}

func docs(ps []domain.Passage) []domain.DocumentID {
	out := make([]domain.DocumentID, len(ps))
	for i, p := range ps {
		out[i] = p.DocumentID
	}
	return out
}

func keys(ps []domain.Passage) []rowKey {
	out := make([]rowKey, len(ps))
	for i, p := range ps {
		out[i] = rowKey{p.DocumentID, p.Chunk}
	}
	return out
}

func randomVector(rng *rand.Rand, dims int) []float32 {
	v := make([]float32, dims)
	for i := range v {
		v[i] = float32(rng.NormFloat64())
	}
	normalizeInto(v, v)
	return v
}

// TestIndexDropsOtherProcessesChanges runs two indexes on one store, as two processes
// would: a write through one is seen by the other after Invalidate or InvalidateAll,
// not before.
func TestIndexDropsOtherProcessesChanges(t *testing.T) {
	t.Parallel()
	store := newFakeStore()
	a := newTestIndex(t, store, Config{})
	b := newTestIndex(t, store, Config{})
	search := func(x *Index, tn domain.TenantID) []string {
		got, err := x.search(t.Context(), tn, vec(1, 0), 5, -1)
		require.NoError(t, err)
		return texts(got)
	}
	require.NoError(t, stored(a).Upsert(t.Context(), acme, []domain.Chunk{{DocumentID: "d1", Index: 0, Text: "one", Vector: vec(1, 0)}}))
	assert.Equal(t, []string{"one"}, search(b, acme))
	assert.Empty(t, search(b, globex))

	require.NoError(t, stored(a).Upsert(t.Context(), acme, []domain.Chunk{{DocumentID: "d2", Index: 0, Text: "two", Vector: vec(1, 0)}}))
	require.NoError(t, stored(a).Upsert(t.Context(), globex, []domain.Chunk{{DocumentID: "g1", Index: 0, Text: "g", Vector: vec(1, 0)}}))
	assert.Equal(t, []string{"one"}, search(b, acme), "b's copy is stale until told")
	b.Invalidate(acme)
	assert.Equal(t, []string{"one", "two"}, search(b, acme))
	assert.Empty(t, search(b, globex))
	b.InvalidateAll()
	assert.Equal(t, []string{"g"}, search(b, globex))

	require.NoError(t, stored(a).DeleteDocument(t.Context(), acme, "d1"))
	b.Invalidate(acme)
	assert.Equal(t, []string{"two"}, search(b, acme))

	before := len(b.tenants)
	b.Invalidate("never-seen")
	assert.Len(t, b.tenants, before, "invalidating an unknown tenant adds nothing")
}

// stored returns x with each write preceded by the same write to its store, as
// ingestion and deletion commit the rows before the index takes them in.
func stored(x *Index) ports.VectorIndex {
	return porttest.StoredVectors(x, porttest.Rows{Chunks: x.store.(porttest.ChunkWriter)})
}
