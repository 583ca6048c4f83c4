package porttest

import (
	"math"
	"sort"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/ports"
)

// IndexDimensions is the length of every vector the VectorIndex suite stores and
// searches; a backend that fixes its dimension at creation uses this one.
const IndexDimensions = 4

// IndexTenants returns the tenants the VectorIndex suite stores vectors for. A factory
// whose backend needs a tenant to exist before it holds the tenant's chunks (a
// ChunkStore with foreign keys) creates them.
func IndexTenants() []domain.TenantID { return []domain.TenantID{"acme", "globex"} }

// NewVectorIndex builds a fresh, empty index. It is called once per subtest, and
// subtests run in parallel.
type NewVectorIndex func(t *testing.T) ports.VectorIndex

// scoreTolerance absorbs float32 arithmetic in the scores an index reports.
const scoreTolerance = 1e-4

// unit returns v scaled to length 1, so that cosine similarity and dot product agree.
func unit(v ...float32) []float32 {
	var n float64
	for _, x := range v {
		n += float64(x) * float64(x)
	}
	n = math.Sqrt(n)
	out := make([]float32, len(v))
	for i, x := range v {
		out[i] = float32(float64(x) / n)
	}
	return out
}

// twoDocIDs returns two document ids, the first sorting before the second.
func twoDocIDs() (domain.DocumentID, domain.DocumentID) {
	a, b := domain.DocumentID(newID()), domain.DocumentID(newID())
	if b < a {
		a, b = b, a
	}
	return a, b
}

type hit struct {
	doc   domain.DocumentID
	chunk int
}

func hits(ps []domain.Passage) []hit {
	out := make([]hit, 0, len(ps))
	for _, p := range ps {
		out = append(out, hit{p.DocumentID, p.Chunk})
	}
	return out
}

// VectorIndex tests a ports.VectorIndex: ordering, k, minScore, replacement, deletion
// and strict tenant isolation. Vectors are unit length, so the suite holds for cosine
// and dot-product indexes alike.
func VectorIndex(t *testing.T, newIndex NewVectorIndex) {
	acme, globex := IndexTenants()[0], IndexTenants()[1]
	q := unit(1, 0, 0, 0)
	search := func(t *testing.T, x ports.VectorIndex, tenant domain.TenantID, k int, minScore float64) []domain.Passage {
		t.Helper()
		got, err := x.Search(t.Context(), tenant, q, k, minScore)
		require.NoError(t, err)
		require.GreaterOrEqual(t, got.ReadUnits, 0, "read units are a count")
		require.NotNil(t, got.Passages, "no match is an empty slice, not nil")
		return got.Passages
	}
	upsert := func(t *testing.T, x ports.VectorIndex, tenant domain.TenantID, chunks ...domain.Chunk) {
		t.Helper()
		require.NoError(t, x.Upsert(t.Context(), tenant, chunks))
	}

	t.Run("an empty index finds nothing without error", func(t *testing.T) {
		t.Parallel()
		x := newIndex(t)
		assert.Empty(t, search(t, x, acme, 5, -1))
	})

	t.Run("search returns passages best first with every field", func(t *testing.T) {
		t.Parallel()
		x := newIndex(t)
		d1, d2 := twoDocIDs()
		upsert(t, x, acme,
			domain.Chunk{DocumentID: d2, Index: 0, Title: "Two", Text: "far", Vector: unit(0, 1, 0, 0)},
			domain.Chunk{DocumentID: d1, Index: 1, Title: "One", Text: "close", Vector: unit(4, 3, 0, 0)},
			domain.Chunk{DocumentID: d1, Index: 0, Title: "One", Text: "exact ✓", Vector: unit(1, 0, 0, 0), Page: 3, Heading: "Parking"},
			domain.Chunk{DocumentID: d2, Index: 1, Title: "Two", Text: "middling", Vector: unit(3, 4, 0, 0)},
		)
		got := search(t, x, acme, 10, -1)
		require.Equal(t, []hit{{d1, 0}, {d1, 1}, {d2, 1}, {d2, 0}}, hits(got))
		wantScores := []float64{1, 0.8, 0.6, 0}
		for i, p := range got {
			assert.InDelta(t, wantScores[i], p.Score, scoreTolerance, "score of passage %d", i)
		}
		assert.Equal(t, "One", got[0].Title)
		assert.Equal(t, "exact ✓", got[0].Text)
		assert.Equal(t, 3, got[0].Page)
		assert.Equal(t, "Parking", got[0].Heading)
		assert.Zero(t, got[2].Page)
		assert.Empty(t, got[2].Heading)
		assert.Equal(t, "Two", got[2].Title)
		assert.Equal(t, "middling", got[2].Text)
	})

	t.Run("search returns at most k passages", func(t *testing.T) {
		t.Parallel()
		x := newIndex(t)
		d1, d2 := twoDocIDs()
		upsert(t, x, acme, chunk(d1, 0, "a", unit(1, 0, 0, 0)...), chunk(d1, 1, "b", unit(4, 3, 0, 0)...), chunk(d2, 0, "c", unit(3, 4, 0, 0)...))
		assert.Equal(t, []hit{{d1, 0}, {d1, 1}}, hits(search(t, x, acme, 2, -1)))
		assert.Equal(t, []hit{{d1, 0}}, hits(search(t, x, acme, 1, -1)))
	})

	t.Run("search drops passages scoring below minScore", func(t *testing.T) {
		t.Parallel()
		x := newIndex(t)
		d1, d2 := twoDocIDs()
		upsert(t, x, acme, chunk(d1, 0, "a", unit(1, 0, 0, 0)...), chunk(d1, 1, "b", unit(4, 3, 0, 0)...), chunk(d2, 0, "c", unit(3, 4, 0, 0)...), chunk(d2, 1, "d", unit(-1, 0, 0, 0)...))
		assert.Equal(t, []hit{{d1, 0}, {d1, 1}}, hits(search(t, x, acme, 10, 0.7)))
		assert.Equal(t, []hit{{d1, 0}, {d1, 1}, {d2, 0}}, hits(search(t, x, acme, 10, 0)))
		got := search(t, x, acme, 10, 1.5)
		assert.Empty(t, got, "no passage can score above 1")
	})

	t.Run("ties are ordered by document id then chunk", func(t *testing.T) {
		t.Parallel()
		x := newIndex(t)
		d1, d2 := twoDocIDs()
		same := unit(1, 1, 0, 0)
		upsert(t, x, acme, chunk(d2, 0, "a", same...), chunk(d1, 2, "b", same...), chunk(d2, 1, "c", same...), chunk(d1, 0, "d", same...))
		assert.Equal(t, []hit{{d1, 0}, {d1, 2}, {d2, 0}, {d2, 1}}, hits(search(t, x, acme, 10, -1)))
	})

	t.Run("upsert replaces the chunk with the same document and index", func(t *testing.T) {
		t.Parallel()
		x := newIndex(t)
		d1, _ := twoDocIDs()
		upsert(t, x, acme, chunk(d1, 0, "old zero", unit(0, 1, 0, 0)...), chunk(d1, 1, "old one", unit(0, 0, 1, 0)...))
		upsert(t, x, acme, domain.Chunk{DocumentID: d1, Index: 0, Title: "New title", Text: "new zero", Vector: unit(1, 0, 0, 0)})
		got := search(t, x, acme, 10, -1)
		require.Equal(t, []hit{{d1, 0}, {d1, 1}}, hits(got))
		assert.Equal(t, "new zero", got[0].Text)
		assert.Equal(t, "New title", got[0].Title)
		assert.InDelta(t, 1, got[0].Score, scoreTolerance)
		assert.Equal(t, "old one", got[1].Text)
	})

	t.Run("delete document removes all its chunks only", func(t *testing.T) {
		t.Parallel()
		x := newIndex(t)
		d1, d2 := twoDocIDs()
		upsert(t, x, acme, chunk(d1, 0, "a", unit(1, 0, 0, 0)...), chunk(d1, 1, "b", unit(4, 3, 0, 0)...), chunk(d2, 0, "c", unit(3, 4, 0, 0)...))
		require.NoError(t, x.DeleteDocument(t.Context(), acme, d1))
		assert.Equal(t, []hit{{d2, 0}}, hits(search(t, x, acme, 10, -1)))
	})

	t.Run("delete of an unknown document is not an error", func(t *testing.T) {
		t.Parallel()
		x := newIndex(t)
		d1, d2 := twoDocIDs()
		upsert(t, x, acme, chunk(d1, 0, "a", unit(1, 0, 0, 0)...))
		require.NoError(t, x.DeleteDocument(t.Context(), acme, d2))
		require.NoError(t, x.DeleteDocument(t.Context(), globex, d1))
		assert.Equal(t, []hit{{d1, 0}}, hits(search(t, x, acme, 10, -1)))
	})

	t.Run("drop tenant removes all of its vectors and nothing else", func(t *testing.T) {
		t.Parallel()
		x := newIndex(t)
		d1, d2 := twoDocIDs()
		upsert(t, x, acme, chunk(d1, 0, "a", unit(1, 0, 0, 0)...), chunk(d2, 0, "b", unit(4, 3, 0, 0)...))
		upsert(t, x, globex, chunk(d1, 0, "g", unit(1, 0, 0, 0)...))
		require.NoError(t, x.DropTenant(t.Context(), acme))
		assert.Empty(t, search(t, x, acme, 10, -1))
		got := search(t, x, globex, 10, -1)
		require.Equal(t, []hit{{d1, 0}}, hits(got))
		assert.Equal(t, "g", got[0].Text)
	})

	t.Run("tenants never see or change each other's vectors", func(t *testing.T) {
		t.Parallel()
		x := newIndex(t)
		mine, theirs := twoDocIDs()
		// globex's chunks match the query better and one shares acme's document id.
		upsert(t, x, globex, chunk(theirs, 0, "globex secret", unit(1, 0, 0, 0)...), chunk(mine, 0, "globex same id", unit(1, 0.01, 0, 0)...))
		upsert(t, x, acme, chunk(mine, 0, "acme text", unit(0, 1, 0, 0)...))

		got := search(t, x, acme, 10, -1)
		require.Equal(t, []hit{{mine, 0}}, hits(got))
		assert.Equal(t, "acme text", got[0].Text)

		require.NoError(t, x.DeleteDocument(t.Context(), acme, mine))
		require.NoError(t, x.DeleteDocument(t.Context(), acme, theirs))
		require.NoError(t, x.DropTenant(t.Context(), acme))
		got = search(t, x, globex, 10, -1)
		assert.Equal(t, []hit{{theirs, 0}, {mine, 0}}, hits(got), "another tenant's vectors changed")
		texts := []string{got[0].Text, got[1].Text}
		sort.Strings(texts)
		assert.Equal(t, []string{"globex same id", "globex secret"}, texts)
	})
}
