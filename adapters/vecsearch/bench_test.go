package vecsearch

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/tenantry/tenantry/domain"
)

// The benchmarks search 100,000 unit vectors of 384 floats (154 MB) for the top 10,
// and time a read probe that sums the same floats with the same threads and the same
// instruction set minus the multiplications: a plain read of the bytes the search must
// stream. Compare the two within one run (machines are shared and noisy), e.g.
//
//	go test -run '^$' -bench . -benchtime 40x ./adapters/vecsearch
const (
	benchRows = 100_000
	benchDims = 384
	benchK    = 10
)

var (
	benchOnce    sync.Once
	benchMatrix  *matrix
	benchQueries [][]float32
)

func benchFixture(b *testing.B) (*matrix, [][]float32) {
	b.Helper()
	benchOnce.Do(func() {
		rng := rand.New(rand.NewPCG(1, 1))
		m := newMatrix(benchDims, benchRows)
		m.vecs = m.vecs[:benchRows*benchDims]
		for i := range m.vecs {
			m.vecs[i] = rng.Float32() - 0.5
		}
		for r := range benchRows {
			normalizeInto(m.row(r), m.row(r))
			key := rowKey{domain.DocumentID(fmt.Sprintf("doc-%06d", r/8)), r % 8}
			m.meta = append(m.meta, rowMeta{key: key, text: "passage"})
			m.rows[key] = int32(r)
		}
		benchMatrix = m
		for range 16 {
			q := make([]float32, benchDims)
			copy(q, m.row(rng.IntN(benchRows)))
			benchQueries = append(benchQueries, q)
		}
	})
	return benchMatrix, benchQueries
}

func threadCounts() []int {
	if n := runtime.GOMAXPROCS(0); n > 1 {
		return []int{1, n}
	}
	return []int{1}
}

// readProbe sums the matrix split in the same row ranges a search uses.
func readProbe(m *matrix, kern kernel, threads int) float32 {
	rows := m.len()
	per := (rows + threads - 1) / threads
	sums := make([]float32, threads)
	var wg sync.WaitGroup
	for i := 1; i < threads; i++ {
		wg.Go(func() {
			sums[i] = kern.sum(m.vecs[min(rows, i*per)*m.dims : min(rows, (i+1)*per)*m.dims])
		})
	}
	sums[0] = kern.sum(m.vecs[:min(rows, per)*m.dims])
	wg.Wait()
	var total float32
	for _, s := range sums {
		total += s
	}
	return total
}

var sink float32

// BenchmarkSearch times Index.Search alone (ns/op and allocs/op of the hot path).
func BenchmarkSearch(b *testing.B) {
	m, queries := benchFixture(b)
	for _, kern := range kernels() {
		for _, threads := range threadCounts() {
			b.Run(fmt.Sprintf("kernel=%s/threads=%d", kern, threads), func(b *testing.B) {
				x := indexOver(b, m, kern, threads, 1)
				b.ReportAllocs()
				i := 0
				for b.Loop() {
					ps, err := x.search(b.Context(), acme, queries[i%len(queries)], benchK, -1)
					if err != nil || len(ps) != benchK {
						b.Fatalf("search: %v, %d passages", err, len(ps))
					}
					i++
				}
				b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/op")
			})
		}
	}
}

// BenchmarkReadProbe times the read probe alone, for each kernel's instruction set.
func BenchmarkReadProbe(b *testing.B) {
	m, _ := benchFixture(b)
	for _, kern := range kernels() {
		for _, threads := range threadCounts() {
			b.Run(fmt.Sprintf("kernel=%s/threads=%d", kern, threads), func(b *testing.B) {
				for b.Loop() {
					sink += readProbe(m, kern, threads)
				}
				b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/op")
			})
		}
	}
}

// BenchmarkSearchVsRead alternates one search and one read probe per iteration, with
// the same threads, and reports both times and their ratio. The probe reads with the
// fastest instruction set here, so the ratio of the portable kernel shows what the
// assembly buys.
func BenchmarkSearchVsRead(b *testing.B) {
	m, queries := benchFixture(b)
	probe := bestKernel()
	for _, kern := range kernels() {
		for _, threads := range threadCounts() {
			b.Run(fmt.Sprintf("kernel=%s/threads=%d", kern, threads), func(b *testing.B) {
				x := indexOver(b, m, kern, threads, 1)
				var searching, reading time.Duration
				i := 0
				for b.Loop() {
					start := time.Now()
					if _, err := x.search(b.Context(), acme, queries[i%len(queries)], benchK, -1); err != nil {
						b.Fatal(err)
					}
					mid := time.Now()
					sink += readProbe(m, probe, threads)
					reading += time.Since(mid)
					searching += mid.Sub(start)
					i++
				}
				b.ReportMetric(float64(searching.Microseconds())/1000/float64(b.N), "search-ms/op")
				b.ReportMetric(float64(reading.Microseconds())/1000/float64(b.N), "read-ms/op")
				b.ReportMetric(float64(searching)/float64(reading), "ratio")
			})
		}
	}
}

// BenchmarkSearch1k times a search of a tenant with 1,000 chunks, the size the chat
// latency target of the performance issue assumes.
func BenchmarkSearch1k(b *testing.B) {
	m, queries := testMatrix(rand.New(rand.NewPCG(5, 5)), 1000, benchDims, 16)
	x := indexOver(b, m, bestKernel(), runtime.GOMAXPROCS(0), 0)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := x.search(b.Context(), acme, queries[i%len(queries)], benchK, -1); err != nil {
			b.Fatal(err)
		}
		i++
	}
}
