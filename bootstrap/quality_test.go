package bootstrap

import (
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestRetrievalQualityFixture runs the quality harness on a small original collection
// (testdata/quality) on SQLite and PostgreSQL: BM25 finds a relevant document first
// for every claim and ranks well above the hashing embedder, and fusing BM25 with a
// simulated dense ranker of known quality ranks above either alone.
func TestRetrievalQualityFixture(t *testing.T) {
	col := loadBEIR(t, "testdata/quality")
	require.Len(t, col.docs, 40)
	require.Len(t, col.queries, 18, "the unjudged query is left out")
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run(engine, func(t *testing.T) {
			if engine == "postgres" {
				requirePostgres(t)
			}
			t.Parallel()
			e := newQualityEnv(t, engine, col)
			runs := e.retrieveModes(t)
			sim := e.simulatedModes(t, 0.5, 0)
			e.report(t, append(runs, sim...))
			lex, dense, hybrid, simDense, simHybrid := runs[0], runs[1], runs[2], sim[0], sim[1]

			for _, q := range col.queries {
				assert.Equal(t, 1, firstRelevantRank(lex.ranked[q.ID], q.rels), "BM25's first document for %s %q", q.ID, q.Text)
			}
			assert.Greater(t, lex.ndcg, dense.ndcg+0.1, "BM25 ranks well above the hashing embedder")
			assert.GreaterOrEqual(t, lex.recall, dense.recall)
			assert.GreaterOrEqual(t, lex.ndcg, hybrid.ndcg, "fusing the hashing ranker adds nothing to BM25")
			assert.Greater(t, simHybrid.ndcg, simDense.ndcg, "fusion beats the simulated dense ranker alone")
			assert.GreaterOrEqual(t, simHybrid.ndcg, lex.ndcg-0.01, "and keeps BM25's quality")
		})
	}
}

// TestRetrievalQualityBenchmark is `go tool task bench:quality`: the harness on a full
// BEIR collection (TENANTRY_QUALITY_COLLECTION, by default ../shared/datasets/scifact
// from the repository root), on SQLite and, when TEST_DATABASE_URL is set, PostgreSQL
// (TENANTRY_QUALITY_ENGINES narrows the list). It prints the figures recorded in
// BENCHMARKS.md and checks that fusion with a good dense ranker beats BM25 alone.
func TestRetrievalQualityBenchmark(t *testing.T) {
	if os.Getenv("TENANTRY_QUALITY") != "1" {
		t.Skip("quality benchmark: run with TENANTRY_QUALITY=1 (go tool task bench:quality)")
	}
	dir := os.Getenv("TENANTRY_QUALITY_COLLECTION")
	if dir == "" {
		dir = "../../shared/datasets/scifact"
	}
	col := loadBEIR(t, dir)
	engines := strings.Split(os.Getenv("TENANTRY_QUALITY_ENGINES"), ",")
	if engines[0] == "" {
		engines = []string{"sqlite", "postgres"}
	}
	for _, engine := range engines {
		t.Run(engine, func(t *testing.T) {
			if engine == "postgres" && os.Getenv("TEST_DATABASE_URL") == "" {
				t.Skip("TEST_DATABASE_URL is not set (go tool task bench:quality starts a throwaway PostgreSQL)")
			}
			e := newQualityEnv(t, engine, col)
			runs := e.retrieveModes(t)
			good := e.simulatedModes(t, 0.5, 0)
			weak := e.simulatedModes(t, 0.4, 0.3)
			e.report(t, slices.Concat(runs, good, weak))
			lex := runs[0]
			assert.Greater(t, good[1].ndcg, lex.ndcg, "RRF with a good dense ranker beats BM25 alone")
			assert.Greater(t, weak[1].ndcg, lex.ndcg, "RRF with a dense ranker weaker than BM25 but independent of it still beats BM25 alone")
		})
	}
}
