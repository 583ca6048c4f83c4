package bootstrap

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/tenantry/tenantry/adapters/lexical"
	"github.com/tenantry/tenantry/application"
	"github.com/tenantry/tenantry/domain"
)

// The quality harness ingests a BEIR collection through the production ingest use case
// (bootstrap.Router's wiring, default chunking) and asks every judged query through
// the production Retrieve use case, the one chat's sources come from, in each
// retrieval mode. Documents are ranked by their best chunk.

// qualityEnv is one engine's router with the collection ingested twice: into a tenant
// on the offline defaults (lexical) and into one set to hybrid, which also embeds the
// chunks with the hashing embedder into the embedded vector index.
type qualityEnv struct {
	engine  string
	cfg     Config
	st      Stores
	api     *API
	col     beirCollection
	lexical domain.Tenant
	hybrid  domain.Tenant
	// ids maps tenantry's document ids to the collection's, per tenant.
	ids map[domain.DocumentID]string
	// byID maps the collection's ids to the hybrid tenant's document ids, and counts
	// holds the number of chunks of each of them.
	byID   map[string]domain.DocumentID
	counts map[domain.DocumentID]int
	// ingest is the docs/s of each tenant's ingestion, sequential.
	ingest map[string]float64
}

// qualityConfig is the production config with only the knobs the benchmark varies
// taken from the process environment.
func qualityConfig(t *testing.T) Config {
	t.Helper()
	vars := map[string]string{"TENANTRY_PUBLIC_URL": "http://tenantry.quality"}
	for _, k := range []string{"TENANTRY_CHUNK_SIZE", "TENANTRY_CHUNK_OVERLAP", "TENANTRY_BM25_K1", "TENANTRY_BM25_B", "TENANTRY_INDEX_MAX_BYTES"} {
		if v, ok := os.LookupEnv(k); ok {
			vars[k] = v
		}
	}
	cfg, err := LoadConfig(func(k string) string { return vars[k] })
	require.NoError(t, err)
	return cfg
}

func newQualityEnv(t *testing.T, engine string, col beirCollection) *qualityEnv {
	t.Helper()
	ctx := context.Background()
	e := &qualityEnv{engine: engine, cfg: qualityConfig(t), st: engineStores(t, engine), col: col,
		ids: make(map[domain.DocumentID]string), byID: make(map[string]domain.DocumentID),
		counts: make(map[domain.DocumentID]int), ingest: make(map[string]float64)}
	api, err := Router(ctx, e.cfg, e.st, RouterOptions{Log: zap.NewNop(), Sealer: testSealer(t)})
	require.NoError(t, err)
	t.Cleanup(func() { _ = api.Close() })
	e.api = api
	newTenant := func(id domain.TenantID, mode string) domain.Tenant {
		tn, err := domain.NewTenant(id, string(id), time.Now())
		require.NoError(t, err)
		tn.Limits.RequestsPerMinute = 0 // unlimited: the benchmark measures indexing, not the limiter
		tn.Retrieval.Mode = mode
		require.NoError(t, e.st.Tenants.Create(ctx, tn))
		return tn
	}
	e.lexical = newTenant("quality-lexical", "")
	require.Equal(t, domain.RetrievalLexical, e.lexical.RetrievalMode(), "a new tenant on the offline defaults")
	e.hybrid = newTenant("quality-hybrid", domain.RetrievalHybrid)
	for _, tn := range []domain.Tenant{e.lexical, e.hybrid} {
		e.ingestAll(t, tn)
	}
	return e
}

// ingestAll ingests every document (title and text) into tenant tn as its admin.
func (e *qualityEnv) ingestAll(t *testing.T, tn domain.Tenant) {
	t.Helper()
	who := domain.Principal{UserID: "quality-admin", Role: domain.RoleTenantAdmin, TenantID: tn.ID}
	start := time.Now()
	for _, d := range e.col.docs {
		doc, err := e.api.admin.ingest.Execute(context.Background(), application.IngestInput{
			Tenant: domain.TenantContext{Principal: who, Tenant: tn}, Title: d.Title, Text: d.Text, ExternalID: d.ID})
		require.NoError(t, err, "document %s", d.ID)
		e.ids[doc.ID] = d.ID
		if tn.ID == e.hybrid.ID {
			e.byID[d.ID] = doc.ID
			e.counts[doc.ID] = doc.Chunks
		}
	}
	e.ingest[tn.RetrievalMode()] = float64(len(e.col.docs)) / time.Since(start).Seconds()
}

// modeRun is one retrieval mode's figures over every judged query.
type modeRun struct {
	name         string
	ndcg, recall float64
	// latency of Retrieve asking for the chat's default number of passages (chat) and
	// for enough chunks to rank 100 documents (deep).
	chat, deep []float64 // milliseconds
	ranked     map[string][]string
}

// retriever ranks a tenant's chunks for a question: Retrieve.Execute, or the same use
// case built over a simulated dense ranker.
type retriever func(ctx context.Context, t *domain.Tenant, q string, k int) (domain.SearchResult, error)

// run asks every query through retrieve as tenant tn (its mode forced to mode) and
// scores the documents ranked by their best chunk.
func (e *qualityEnv) run(t *testing.T, name string, tn domain.Tenant, mode string, retrieve retriever) modeRun {
	t.Helper()
	ctx := context.Background()
	tn.Retrieval.Mode = mode
	r := modeRun{name: name, ranked: make(map[string][]string)}
	for _, q := range e.col.queries {
		start := time.Now()
		_, err := retrieve(ctx, &tn, q.Text, domain.DefaultTopK)
		r.chat = append(r.chat, float64(time.Since(start).Microseconds())/1000)
		require.NoError(t, err)

		docs := []string{}
		for k := 400; ; k *= 2 {
			start := time.Now()
			found, err := retrieve(ctx, &tn, q.Text, k)
			r.deep = append(r.deep, float64(time.Since(start).Microseconds())/1000)
			require.NoError(t, err)
			docs = e.bestChunkOrder(found.Passages)
			if len(docs) >= 100 || len(found.Passages) < k {
				break
			}
		}
		r.ranked[q.ID] = docs
		r.ndcg += ndcgAt(docs, q.rels, 10)
		r.recall += recallAt(docs, q.rels, 100)
	}
	r.ndcg /= float64(len(e.col.queries))
	r.recall /= float64(len(e.col.queries))
	return r
}

// bestChunkOrder turns passages, best first, into the collection's document ids in the
// order of each document's best chunk.
func (e *qualityEnv) bestChunkOrder(ps []domain.Passage) []string {
	out := make([]string, 0, len(ps))
	seen := make(map[string]bool, len(ps))
	for _, p := range ps {
		if id := e.ids[p.DocumentID]; !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}

// retrieveModes runs the production Retrieve in each mode: lexical on the tenant on
// the offline defaults, dense and hybrid (hashing embedder) on the hybrid tenant.
func (e *qualityEnv) retrieveModes(t *testing.T) []modeRun {
	t.Helper()
	real := retriever(e.api.retrieve.Execute)
	return []modeRun{
		e.run(t, "lexical (BM25)", e.lexical, domain.RetrievalLexical, real),
		e.run(t, "dense (hashing)", e.hybrid, domain.RetrievalDense, real),
		e.run(t, "hybrid (BM25 + hashing, RRF)", e.hybrid, domain.RetrievalHybrid, real),
	}
}

// simulatedModes runs Retrieve over the production lexical index and a simulated dense
// ranker of known quality (simDense): alone (dense) and fused with BM25 (hybrid).
func (e *qualityEnv) simulatedModes(t *testing.T, firstRank, miss float64) []modeRun {
	t.Helper()
	sim := newSimDense(e, firstRank, miss)
	lex := lexical.New(e.st.Chunks, lexical.Config{Params: lexical.Params{K1: e.cfg.BM25K1, B: e.cfg.BM25B}})
	retrieve := retriever(application.NewRetrieve(lex, sim, e.st.Documents).Execute)
	label := fmt.Sprintf("SIMULATED dense p=%.2f miss=%.2f", firstRank, miss)
	return []modeRun{
		e.run(t, label, e.hybrid, domain.RetrievalDense, retrieve),
		e.run(t, "hybrid (BM25 + "+label+", RRF)", e.hybrid, domain.RetrievalHybrid, retrieve),
	}
}

// report prints one engine's figures.
func (e *qualityEnv) report(t *testing.T, runs []modeRun) {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "RESULT quality collection=%s engine=%s docs=%d queries=%d chunk=%d/%d k1=%g b=%g\n",
		e.col.name, e.engine, len(e.col.docs), len(e.col.queries), e.cfg.ChunkSize, e.cfg.ChunkOverlap, e.cfg.BM25K1, e.cfg.BM25B)
	fmt.Fprintf(&b, "  ingestion (sequential, in process): lexical %.0f docs/s, hybrid with hashing vectors %.0f docs/s\n",
		e.ingest[domain.RetrievalLexical], e.ingest[domain.RetrievalHybrid])
	fmt.Fprintf(&b, "  %-58s %8s %10s %18s %18s\n", "mode", "nDCG@10", "Recall@100", "p50/p99 k=4 (ms)", "p50/p99 deep (ms)")
	for _, r := range runs {
		fmt.Fprintf(&b, "  %-58s %8.3f %10.3f %8.3f/%-9.3f %8.3f/%-9.3f\n", r.name, r.ndcg, r.recall,
			percentile(r.chat, 50), percentile(r.chat, 99), percentile(r.deep, 50), percentile(r.deep, 99))
	}
	t.Log("\n" + b.String())
}

// firstRelevantRank is the 1-based rank of the first relevant document, 0 if none.
func firstRelevantRank(ranked []string, rels map[string]int) int {
	i := slices.IndexFunc(ranked, func(d string) bool { return rels[d] > 0 })
	return i + 1
}
