package lexical

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/ports"
	"github.com/tenantry/tenantry/ports/porttest"
)

// fakeStore is a ports.ChunkStore in a map, counting LoadChunks calls.
type fakeStore struct {
	mu     sync.Mutex
	chunks map[domain.TenantID]map[rowKey]domain.Chunk
	loads  int
}

func newFakeStore() *fakeStore {
	return &fakeStore{chunks: make(map[domain.TenantID]map[rowKey]domain.Chunk)}
}

func (s *fakeStore) PutChunks(_ context.Context, t domain.TenantID, chunks []domain.Chunk) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.chunks[t] == nil {
		s.chunks[t] = make(map[rowKey]domain.Chunk)
	}
	for _, c := range chunks {
		s.chunks[t][rowKey{c.DocumentID, c.Index}] = c
	}
	return nil
}

func (s *fakeStore) LoadChunks(_ context.Context, t domain.TenantID) ([]domain.Chunk, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.loads++
	out := make([]domain.Chunk, 0, len(s.chunks[t]))
	for _, c := range s.chunks[t] {
		out = append(out, c)
	}
	slices.SortFunc(out, func(a, b domain.Chunk) int {
		return cmp.Or(cmp.Compare(a.DocumentID, b.DocumentID), cmp.Compare(a.Index, b.Index))
	})
	return out, nil
}

func (s *fakeStore) DeleteChunks(_ context.Context, t domain.TenantID, d domain.DocumentID) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k := range s.chunks[t] {
		if k.doc == d {
			delete(s.chunks[t], k)
		}
	}
	return nil
}

func (s *fakeStore) DropChunks(_ context.Context, t domain.TenantID) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.chunks, t)
	return nil
}

func (s *fakeStore) loadCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.loads
}

func search(t *testing.T, x *Index, tenant domain.TenantID, q string, k int) []domain.Passage {
	t.Helper()
	got, err := x.Search(context.Background(), tenant, q, k)
	require.NoError(t, err)
	return got.Passages
}

func upsert(t *testing.T, x *Index, tenant domain.TenantID, chunks ...domain.Chunk) {
	t.Helper()
	require.NoError(t, stored(x).Upsert(context.Background(), tenant, chunks))
}

// okapi is the BM25 score of one chunk written out from the textbook formula, with
// Lucene's idf: sum over query terms of idf·tf·(k1+1) / (tf + k1·(1−b+b·len/avglen)).
func okapi(k1, b float64, n int, avgLen float64, df map[string]int, tf map[string]int, length int, query []string) float64 {
	var s float64
	for _, q := range query {
		f := float64(tf[q])
		if f == 0 {
			continue
		}
		d := float64(df[q])
		idf := math.Log(1 + (float64(n)-d+0.5)/(d+0.5))
		s += idf * f * (k1 + 1) / (f + k1*(1-b+b*float64(length)/avgLen))
	}
	return s
}

func TestSearchScoresAreOkapiBM25(t *testing.T) {
	t.Parallel()
	corpus := []domain.Chunk{
		{DocumentID: "d1", Title: "Orchard report", Text: "apple banana apple"},
		{DocumentID: "d2", Text: "banana cherry"},
		{DocumentID: "d3", Text: "cherry cherry cherry date elderberry"},
		{DocumentID: "d4", Title: "Apple", Text: "fig grape"},
		{DocumentID: "d5", Text: "kiwi lemon mango nectarine"},
	}
	// Hand-counted after analysis: stems "orchard report appl banana appl" etc.
	lens := map[domain.DocumentID]int{"d1": 5, "d2": 2, "d3": 5, "d4": 3, "d5": 4}
	tfs := map[domain.DocumentID]map[string]int{
		"d1": {"orchard": 1, "report": 1, "appl": 2, "banana": 1},
		"d2": {"banana": 1, "cherri": 1},
		"d3": {"cherri": 3, "date": 1, "elderberri": 1},
		"d4": {"appl": 1, "fig": 1, "grape": 1},
		"d5": {"kiwi": 1, "lemon": 1, "mango": 1, "nectarin": 1},
	}
	df := map[string]int{"appl": 2, "banana": 2, "cherri": 2}
	avg := float64(5+2+5+3+4) / 5
	query := "apples and cherries, apple"
	qterms := []string{"appl", "cherri", "appl"}
	require.Equal(t, qterms, QueryTerms(query), "the analysis this test counts by hand")

	for _, prm := range []Params{{K1: DefaultK1, B: DefaultB}, {K1: 1.2, B: 0.75}, {K1: 2, B: 0}} {
		t.Run(fmt.Sprintf("k1=%g b=%g", prm.K1, prm.B), func(t *testing.T) {
			t.Parallel()
			x := New(newFakeStore(), Config{Params: prm})
			upsert(t, x, "t1", corpus...)
			got := search(t, x, "t1", query, 10)

			type scored struct {
				doc   domain.DocumentID
				score float64
			}
			var want []scored
			for _, c := range corpus {
				if s := okapi(prm.K1, prm.B, 5, avg, df, tfs[c.DocumentID], lens[c.DocumentID], qterms); s > 0 {
					want = append(want, scored{c.DocumentID, s})
				}
			}
			slices.SortFunc(want, func(a, b scored) int { return cmp.Compare(b.score, a.score) })
			require.Len(t, got, len(want), "only chunks holding a query term are found")
			for i := range want {
				assert.Equal(t, want[i].doc, got[i].DocumentID, "rank %d", i+1)
				assert.InEpsilon(t, want[i].score, got[i].Score, 1e-6, "score of %s", want[i].doc)
			}
		})
	}
}

func TestSearchBreaksTiesByDocumentThenChunk(t *testing.T) {
	t.Parallel()
	x := New(newFakeStore(), Config{})
	same := "identical passage about tides"
	// Written in the reverse of the order expected back.
	upsert(t, x, "t1",
		domain.Chunk{DocumentID: "b", Index: 1, Text: same},
		domain.Chunk{DocumentID: "b", Index: 0, Text: same},
		domain.Chunk{DocumentID: "a", Index: 2, Text: same},
		domain.Chunk{DocumentID: "a", Index: 0, Text: same},
		domain.Chunk{DocumentID: "c", Index: 0, Text: "unrelated words entirely"},
	)
	got := search(t, x, "t1", "tides", 10)
	require.Len(t, got, 4)
	for _, p := range got[1:] {
		require.Equal(t, got[0].Score, p.Score, "the tie this test is about")
	}
	assert.Equal(t, []string{"a/0", "a/2", "b/0", "b/1"}, keys(got))

	top := search(t, x, "t1", "tides", 3)
	assert.Equal(t, []string{"a/0", "a/2", "b/0"}, keys(top), "the best k keep the same tie order")
}

func keys(ps []domain.Passage) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = fmt.Sprintf("%s/%d", p.DocumentID, p.Chunk)
	}
	return out
}

// randomCorpus returns docs documents of perDoc chunks over a small Zipf-like
// vocabulary, so that terms recur across chunks with varied document frequencies.
func randomCorpus(seed uint64, prefix string, docs, perDoc int) [][]domain.Chunk {
	rng := rand.New(rand.NewPCG(seed, 1))
	vocab := make([]string, 300)
	for i := range vocab {
		vocab[i] = fmt.Sprintf("w%03dx", i)
	}
	zipf := rand.NewZipf(rng, 1.1, 1, uint64(len(vocab)-1))
	out := make([][]domain.Chunk, docs)
	for d := range docs {
		id := domain.DocumentID(fmt.Sprintf("%s%04d", prefix, d))
		for c := range perDoc {
			words := make([]string, 5+rng.IntN(40))
			for i := range words {
				words[i] = vocab[zipf.Uint64()]
			}
			out[d] = append(out[d], domain.Chunk{DocumentID: id, Index: c, Title: "title " + vocab[zipf.Uint64()],
				Text: strings.Join(words, " ")})
		}
	}
	return out
}

var probeQueries = []string{"w001x w010x", "w000x w050x w120x w007x", "w200x", "w003x w003x w090x", "w299x w001x w002x w004x w005x"}

func rankings(t *testing.T, x *Index, tenant domain.TenantID) [][]domain.Passage {
	t.Helper()
	out := make([][]domain.Passage, len(probeQueries))
	for i, q := range probeQueries {
		out[i] = search(t, x, tenant, q, 50)
	}
	return out
}

func TestDeletionAndCompactionRankLikeAFreshBuild(t *testing.T) {
	t.Parallel()
	corpus := randomCorpus(1, "doc", 200, 3)
	x := New(newFakeStore(), Config{})
	for _, chunks := range corpus {
		upsert(t, x, "t1", chunks...)
	}
	require.NotEmpty(t, rankings(t, x, "t1")[0], "the probe queries find something")
	ctx := context.Background()
	fresh := func(kept [][]domain.Chunk) [][]domain.Passage {
		y := New(newFakeStore(), Config{})
		for _, chunks := range kept {
			upsert(t, y, "t1", chunks...)
		}
		return rankings(t, y, "t1")
	}
	postingsOf := func() *postings {
		ti := x.tenant("t1")
		ti.mu.RLock()
		defer ti.mu.RUnlock()
		return ti.p
	}

	// A few deletions leave dead slots behind.
	for d := range 20 {
		require.NoError(t, stored(x).DeleteDocument(ctx, "t1", corpus[d][0].DocumentID))
	}
	require.Positive(t, postingsOf().dead, "dead slots still in the lists")
	assert.Equal(t, fresh(corpus[20:]), rankings(t, x, "t1"), "with dead slots")

	// Re-ingesting a document replaces its chunks.
	replaced := []domain.Chunk{{DocumentID: corpus[30][0].DocumentID, Index: 0, Text: "w001x w001x w200x"}}
	upsert(t, x, "t1", replaced...)
	require.NoError(t, stored(x).DeleteDocument(ctx, "t1", "no-such-document"))
	kept := slices.Clone(corpus[20:])
	kept[10] = nil
	require.NoError(t, stored(x).DeleteDocument(ctx, "t1", corpus[30][0].DocumentID))
	upsert(t, x, "t1", replaced...)
	assert.Equal(t, fresh(append(kept, replaced)), rankings(t, x, "t1"), "after a replacement")

	// Deleting most documents compacts the lists: stop right after a compaction, and
	// check again after more deletions leave dead slots in the compacted lists.
	d := 31
	for ; postingsOf().dead > 0; d++ {
		require.Less(t, d, 200, "no compaction happened")
		require.NoError(t, stored(x).DeleteDocument(ctx, "t1", corpus[d][0].DocumentID))
	}
	p := postingsOf()
	assert.Len(t, p.slots, p.live, "compacted: no dead slot left")
	kept = append(slices.Clone(corpus[20:30]), replaced)
	assert.Equal(t, fresh(append(slices.Clone(kept), corpus[d:]...)), rankings(t, x, "t1"), "after compaction")
	for ; d < 190; d++ {
		require.NoError(t, stored(x).DeleteDocument(ctx, "t1", corpus[d][0].DocumentID))
	}
	assert.Equal(t, fresh(append(kept, corpus[190:]...)), rankings(t, x, "t1"), "deletions after a compaction")
}

func TestSearchIsDeterministic(t *testing.T) {
	t.Parallel()
	x := New(newFakeStore(), Config{})
	for _, chunks := range randomCorpus(2, "doc", 100, 2) {
		upsert(t, x, "t1", chunks...)
	}
	first := rankings(t, x, "t1")
	for range 20 {
		require.Equal(t, first, rankings(t, x, "t1"), "the same query scores the same every time")
	}
}

// stored returns x with each write preceded by the same write to its store, as
// ingestion and deletion commit the rows before the index takes them in.
func stored(x *Index) ports.LexicalIndex {
	return porttest.StoredLexical(x, porttest.Rows{Chunks: x.store.(porttest.ChunkWriter)})
}
