package vecsearch

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/domain"
)

// kernels lists the kernels this machine can run, portable Go first.
func kernels() []kernel {
	out := []kernel{kernelGo}
	for k := kernelAVX2; k <= bestKernel(); k++ {
		out = append(out, k)
	}
	return out
}

func TestKernelsAgreeWithFloat64(t *testing.T) {
	t.Parallel()
	t.Logf("kernels on this machine: %v", kernels())
	rng := rand.New(rand.NewPCG(7, 7))
	for _, dims := range []int{1, 7, 8, 16, 24, 100, 384, 1536} {
		const n = 37
		q := randomVector(rng, dims)
		rows := make([]float32, 0, n*dims)
		for range n {
			rows = append(rows, randomVector(rng, dims)...)
		}
		for _, k := range kernels() {
			t.Run(fmt.Sprintf("%s/dims=%d", k, dims), func(t *testing.T) {
				got := make([]float32, n)
				k.dotRows(q, rows, got)
				for i := range n {
					var want float64
					for j := range dims {
						want += float64(q[j]) * float64(rows[i*dims+j])
					}
					assert.InDelta(t, want, got[i], 1e-5, "row %d", i)
				}
				var want float64
				for _, x := range rows {
					want += float64(x)
				}
				assert.InDelta(t, want, k.sum(rows), 1e-3)
			})
		}
	}
}

// testMatrix returns rows random unit vectors and queries that lie near some of them.
func testMatrix(rng *rand.Rand, rows, dims, queries int) (*matrix, [][]float32) {
	m := newMatrix(dims, rows)
	for i := range rows {
		m.upsert(domain.Chunk{DocumentID: domain.DocumentID(fmt.Sprintf("doc-%06d", i/7)), Index: i % 7, Vector: randomVector(rng, dims)})
	}
	qs := make([][]float32, queries)
	for i := range qs {
		near := m.row(rng.IntN(rows))
		noise := randomVector(rng, dims)
		qs[i] = make([]float32, dims)
		for j := range qs[i] {
			qs[i][j] = near[j] + 0.8*noise[j]
		}
	}
	return m, qs
}

// bruteForce ranks every row in float64 and returns the k best keys.
func bruteForce(m *matrix, q []float32, k int) []rowKey {
	type scored struct {
		key   rowKey
		score float64
	}
	var qn float64
	for _, x := range q {
		qn += float64(x) * float64(x)
	}
	all := make([]scored, m.len())
	for r := range all {
		var s float64
		for j, x := range m.row(r) {
			s += float64(x) * float64(q[j])
		}
		all[r] = scored{m.meta[r].key, s}
	}
	slices.SortFunc(all, func(a, b scored) int {
		switch {
		case a.score > b.score:
			return -1
		case a.score < b.score:
			return 1
		default:
			return 0
		}
	})
	out := make([]rowKey, k)
	for i := range out {
		out[i] = all[i].key
	}
	return out
}

func indexOver(t testing.TB, m *matrix, kern kernel, workers, minRows int) *Index {
	t.Helper()
	x := New(nil, Config{Workers: workers, ParallelMinRows: minRows})
	x.kern = kern
	x.tenants[acme] = &tenantIndex{loaded: true, mats: []*matrix{m}, budget: &x.budget}
	t.Cleanup(func() { _ = x.Close() })
	return x
}

// TestRecallIsExact compares every kernel, single-threaded and split, with a float64
// brute force: recall@10 must be 1.0, and all kernels must return the same ranking.
func TestRecallIsExact(t *testing.T) {
	t.Parallel()
	const rows, dims, k = 20000, 384, 10
	rng := rand.New(rand.NewPCG(42, 42))
	m, queries := testMatrix(rng, rows, dims, 25)
	want := make([][]rowKey, len(queries))
	for i, q := range queries {
		want[i] = bruteForce(m, q, k)
	}
	var reference [][]domain.Passage
	for _, kern := range kernels() {
		for _, workers := range []int{1, 3} {
			x := indexOver(t, m, kern, workers, 1)
			var got [][]domain.Passage
			found := 0
			for i, q := range queries {
				ps, err := x.search(t.Context(), acme, q, k, -1)
				require.NoError(t, err)
				got = append(got, ps)
				for _, key := range keys(ps) {
					if slices.Contains(want[i], key) {
						found++
					}
				}
			}
			recall := float64(found) / float64(len(queries)*k)
			t.Logf("kernel=%s workers=%d recall@%d=%.3f", kern, workers, k, recall)
			assert.Equal(t, 1.0, recall, "kernel=%s workers=%d", kern, workers)
			if reference == nil {
				reference = got
				continue
			}
			for i := range got {
				require.Equal(t, keys(reference[i]), keys(got[i]), "kernel=%s workers=%d query %d ranks differently from the Go kernel", kern, workers, i)
				for j := range got[i] {
					assert.InDelta(t, reference[i][j].Score, got[i][j].Score, 1e-5)
				}
			}
		}
	}
}

// TestSearchAllocatesOnlyItsResult runs the hot path, split across workers, and counts
// allocations: the result slice is the only one.
func TestSearchAllocatesOnlyItsResult(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are meaningless under the race detector; run without -race")
	}
	const rows, dims = 40000, 64
	rng := rand.New(rand.NewPCG(3, 3))
	m, queries := testMatrix(rng, rows, dims, 4)
	for _, workers := range []int{1, 2} {
		t.Run(fmt.Sprintf("workers=%d", workers), func(t *testing.T) {
			x := indexOver(t, m, bestKernel(), workers, 1024)
			i := 0
			search := func() {
				ps, err := x.search(t.Context(), acme, queries[i%len(queries)], 10, -1)
				if err != nil || len(ps) != 10 {
					t.Fatalf("search: %v, %d passages", err, len(ps))
				}
				i++
			}
			search()
			assert.Equal(t, 1.0, testing.AllocsPerRun(200, search))
		})
	}
}
