package observe_test

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/tenantry/tenantry/adapters/observe"
	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/ports"
)

const (
	secretPrompt  = "SECRET-PROMPT-what is the launch code"
	secretPassage = "SECRET-PASSAGE-the launch code is 0000"
)

// fixture is an Observer on a fresh registry with logs captured at Debug.
type fixture struct {
	reg  *prometheus.Registry
	logs *observer.ObservedLogs
	o    *observe.Observer
}

func newFixture(t *testing.T, tenants *observe.TenantLabels) fixture {
	t.Helper()
	reg := prometheus.NewRegistry()
	m, err := observe.NewMetrics(reg, tenants)
	require.NoError(t, err)
	core, logs := observer.New(zapcore.DebugLevel)
	o := observe.New(observe.Options{Log: zap.New(core), Metrics: m,
		RequestID: func(ctx context.Context) string { id, _ := ctx.Value(ridKey{}).(string); return id }})
	return fixture{reg: reg, logs: logs, o: o}
}

type ridKey struct{}

func withRID(id string) context.Context { return context.WithValue(context.Background(), ridKey{}, id) }

// count returns the sample count of the latency histogram series with these labels.
func (f fixture) latencyCount(t *testing.T, service, provider, op, outcome string) uint64 {
	t.Helper()
	mfs, err := f.reg.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() != "tenantry_upstream_request_duration_seconds" {
			continue
		}
		for _, m := range mf.GetMetric() {
			if labelsMatch(m.GetLabel(), map[string]string{"service": service, "provider": provider, "operation": op, "outcome": outcome}) {
				return m.GetHistogram().GetSampleCount()
			}
		}
	}
	return 0
}

func labelsMatch(got []*dto.LabelPair, want map[string]string) bool {
	n := 0
	for _, l := range got {
		if v, ok := want[l.GetName()]; ok {
			if v != l.GetValue() {
				return false
			}
			n++
		}
	}
	return n == len(want)
}

func (f fixture) errorsTotal(t *testing.T, service, provider, op, kind string) float64 {
	t.Helper()
	return counterValue(t, f.reg, "tenantry_upstream_errors_total", map[string]string{"service": service, "provider": provider, "operation": op, "kind": kind})
}

func counterValue(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if labelsMatch(m.GetLabel(), labels) {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}

// requireNoSecrets checks that no logged field carries a prompt or passage text.
func (f fixture) requireNoSecrets(t *testing.T) {
	t.Helper()
	for _, e := range f.logs.All() {
		line := e.Message + fmt.Sprint(e.ContextMap())
		assert.NotContains(t, line, "SECRET")
	}
}

type stubEmbedder struct{ err error }

func (s stubEmbedder) Dimensions() int { return 3 }
func (s stubEmbedder) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if s.err != nil {
		return nil, s.err
	}
	out := make([][]float32, len(texts))
	for i := range out {
		out[i] = []float32{1, 0, 0}
	}
	return out, nil
}

func (s stubEmbedder) EmbedQuery(ctx context.Context, q string) ([]float32, error) {
	vecs, err := s.Embed(ctx, []string{q})
	if err != nil {
		return nil, err
	}
	return vecs[0], nil
}

func TestEmbedderRecordsLatencyErrorsAndLogsCountsOnly(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	ok := observe.NewEmbedder(stubEmbedder{}, "openai", "acme", f.o)
	vecs, err := ok.Embed(withRID("req-7"), []string{secretPrompt, secretPassage})
	require.NoError(t, err)
	assert.Len(t, vecs, 2)
	assert.Equal(t, 3, ok.Dimensions())

	limited := observe.NewEmbedder(stubEmbedder{err: domain.ErrRateLimited.With(errors.New("vendor said: " + secretPrompt))}, "openai", "acme", f.o)
	_, err = limited.Embed(context.Background(), []string{secretPrompt})
	assert.ErrorIs(t, err, domain.ErrRateLimited, "errors pass through unchanged")

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = ok.Embed(ctx, []string{secretPrompt})
	require.ErrorIs(t, err, context.Canceled)

	assert.EqualValues(t, 1, f.latencyCount(t, "embedder", "openai", "embed", "ok"))
	assert.EqualValues(t, 1, f.latencyCount(t, "embedder", "openai", "embed", "error"))
	assert.EqualValues(t, 1, f.latencyCount(t, "embedder", "openai", "embed", "canceled"))
	assert.Equal(t, 1.0, f.errorsTotal(t, "embedder", "openai", "embed", "rate_limited"))
	assert.Equal(t, 0.0, f.errorsTotal(t, "embedder", "openai", "embed", "internal"), "a cancelled call is not an upstream error")

	lines := f.logs.FilterMessage("upstream call").All()
	require.Len(t, lines, 3)
	first := lines[0].ContextMap()
	assert.Equal(t, zapcore.DebugLevel, lines[0].Level)
	assert.Equal(t, "req-7", first["request_id"])
	assert.Equal(t, "acme", first["tenant_id"])
	assert.EqualValues(t, 2, first["texts"])
	assert.Equal(t, "rate_limited", lines[1].ContextMap()["error_kind"])
	f.requireNoSecrets(t)
}

func TestEmbedQueryIsObservedApartFromEmbed(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	ok := observe.NewEmbedder(stubEmbedder{}, "pinecone", "acme", f.o)
	vec, err := ok.EmbedQuery(withRID("req-8"), secretPrompt)
	require.NoError(t, err)
	assert.Len(t, vec, 3)
	limited := observe.NewEmbedder(stubEmbedder{err: domain.ErrRateLimited.With(errors.New("vendor said: " + secretPrompt))}, "pinecone", "acme", f.o)
	_, err = limited.EmbedQuery(context.Background(), secretPrompt)
	assert.ErrorIs(t, err, domain.ErrRateLimited)

	assert.EqualValues(t, 1, f.latencyCount(t, "embedder", "pinecone", "embed_query", "ok"))
	assert.EqualValues(t, 1, f.latencyCount(t, "embedder", "pinecone", "embed_query", "error"))
	assert.Equal(t, 1.0, f.errorsTotal(t, "embedder", "pinecone", "embed_query", "rate_limited"))
	require.Len(t, f.logs.FilterMessage("upstream call").All(), 2)
	f.requireNoSecrets(t)
}

// stubIndex returns one passage per search, or err.
type stubIndex struct{ err error }

func (s stubIndex) Upsert(context.Context, domain.TenantID, []domain.Chunk) error { return s.err }
func (s stubIndex) Search(_ context.Context, _ domain.TenantID, _ []float32, _ int, _ float64) (domain.SearchResult, error) {
	if s.err != nil {
		return domain.SearchResult{}, s.err
	}
	return domain.SearchResult{Passages: []domain.Passage{{DocumentID: "d1", Text: secretPassage, Score: 0.9}}}, nil
}
func (s stubIndex) DeleteDocument(context.Context, domain.TenantID, domain.DocumentID) error {
	return s.err
}
func (s stubIndex) DropTenant(context.Context, domain.TenantID) error { return s.err }

func TestVectorIndexRecordsEveryOperation(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	idx := observe.NewVectorIndex(stubIndex{}, "pinecone", f.o)
	ctx := context.Background()
	require.NoError(t, idx.Upsert(ctx, "acme", []domain.Chunk{{DocumentID: "d1", Text: secretPassage}}))
	ps, err := passagesOf(idx.Search(ctx, "acme", []float32{1}, 4, 0))
	require.NoError(t, err)
	require.Len(t, ps, 1)
	assert.Equal(t, secretPassage, ps[0].Text, "results pass through unchanged")
	require.NoError(t, idx.DeleteDocument(ctx, "acme", "d1"))
	require.NoError(t, idx.DropTenant(ctx, "acme"))
	down := observe.NewVectorIndex(stubIndex{err: domain.ErrUnavailable}, "pinecone", f.o)
	_, err = passagesOf(down.Search(ctx, "acme", []float32{1}, 4, 0))
	require.ErrorIs(t, err, domain.ErrUnavailable)

	for _, op := range []string{"upsert", "search", "delete_document", "drop_tenant"} {
		assert.EqualValues(t, 1, f.latencyCount(t, "vector_store", "pinecone", op, "ok"), op)
	}
	assert.Equal(t, 1.0, f.errorsTotal(t, "vector_store", "pinecone", "search", "unavailable"))
	f.requireNoSecrets(t)
}

// scriptModel yields the given text deltas, then a final delta (or err instead).
type scriptModel struct {
	pieces []string
	usage  domain.Usage
	err    error
	delay  time.Duration
}

func (s scriptModel) Stream(ctx context.Context, _ []domain.ChatMessage, _ domain.ChatParams) iter.Seq2[domain.Delta, error] {
	return func(yield func(domain.Delta, error) bool) {
		for _, p := range s.pieces {
			if s.delay > 0 {
				time.Sleep(s.delay)
			}
			if ctx.Err() != nil {
				yield(domain.Delta{}, ctx.Err())
				return
			}
			if !yield(domain.Delta{Text: p}, nil) {
				return
			}
		}
		if s.err != nil {
			yield(domain.Delta{}, s.err)
			return
		}
		yield(domain.Delta{Done: true, FinishReason: "stop", Model: "m", Usage: s.usage}, nil)
	}
}

func collect(seq iter.Seq2[domain.Delta, error]) ([]domain.Delta, error) {
	var out []domain.Delta
	for d, err := range seq {
		if err != nil {
			return out, err
		}
		out = append(out, d)
	}
	return out, nil
}

func TestChatModelPassesDeltasThroughAndCountsTokens(t *testing.T) {
	t.Parallel()
	f := newFixture(t, observe.NewTenantLabels(nil, 10))
	msgs := []domain.ChatMessage{{Role: "user", Content: secretPrompt}}
	params := domain.ChatParams{Passages: []domain.Passage{{Text: secretPassage}}}
	m := observe.NewChatModel(scriptModel{pieces: []string{"a", "b", "c"}, usage: domain.Usage{PromptTokens: 11, CompletionTokens: 7}, delay: time.Millisecond}, "openai", "acme", f.o)
	got, err := collect(m.Stream(withRID("r1"), msgs, params))
	require.NoError(t, err)
	require.Len(t, got, 4)
	assert.Equal(t, "abc", got[0].Text+got[1].Text+got[2].Text)
	assert.True(t, got[3].Done)

	assert.Equal(t, 11.0, counterValue(t, f.reg, "tenantry_llm_tokens_total", map[string]string{"tenant": "acme", "type": "prompt"}))
	assert.Equal(t, 7.0, counterValue(t, f.reg, "tenantry_llm_tokens_total", map[string]string{"tenant": "acme", "type": "completion"}))
	assert.EqualValues(t, 1, f.latencyCount(t, "llm", "openai", "stream", "ok"))
	assert.Equal(t, 1, testutil.CollectAndCount(f.reg, "tenantry_llm_first_token_seconds"))

	line := f.logs.FilterMessage("upstream call").All()[0].ContextMap()
	assert.EqualValues(t, 3, line["deltas"])
	assert.EqualValues(t, 11, line["prompt_tokens"])
	assert.EqualValues(t, 1, line["passages"])
	assert.Equal(t, "stop", line["finish_reason"])
	f.requireNoSecrets(t)
}

func TestChatModelOutcomes(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	failing := observe.NewChatModel(scriptModel{pieces: []string{"a"}, err: domain.ErrUnavailable.WithDetail("stalled")}, "openai", "acme", f.o)
	_, err := collect(failing.Stream(context.Background(), nil, domain.ChatParams{}))
	require.ErrorIs(t, err, domain.ErrUnavailable)

	// The consumer stops after the first delta: the call is abandoned, not failed.
	m := observe.NewChatModel(scriptModel{pieces: []string{"a", "b"}, usage: domain.Usage{PromptTokens: 1}}, "openai", "acme", f.o)
	for range m.Stream(context.Background(), nil, domain.ChatParams{}) {
		break
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = collect(m.Stream(ctx, nil, domain.ChatParams{}))
	require.ErrorIs(t, err, context.Canceled)

	assert.EqualValues(t, 1, f.latencyCount(t, "llm", "openai", "stream", "error"))
	assert.EqualValues(t, 2, f.latencyCount(t, "llm", "openai", "stream", "canceled"))
	assert.Equal(t, 1.0, f.errorsTotal(t, "llm", "openai", "stream", "unavailable"))
	assert.Equal(t, 0, testutil.CollectAndCount(f.reg, "tenantry_llm_tokens_total"), "no final usage, no tokens")
}

func TestTenantLabelsFirstN(t *testing.T) {
	t.Parallel()
	l := observe.NewTenantLabels(nil, 2)
	assert.Equal(t, "acme", l.Label("acme"))
	assert.Equal(t, "globex", l.Label("globex"))
	assert.Equal(t, "other", l.Label("initech"), "the third distinct tenant has no label of its own")
	assert.Equal(t, "acme", l.Label("acme"), "a tenant keeps its label")
	assert.Equal(t, "other", l.Label(""))
}

func TestTenantLabelsAllowList(t *testing.T) {
	t.Parallel()
	l := observe.NewTenantLabels([]string{"globex"}, 100)
	assert.Equal(t, "other", l.Label("acme"), "an allow-list wins over the limit")
	assert.Equal(t, "globex", l.Label("globex"))
	none := observe.NewTenantLabels(nil, 0)
	assert.Equal(t, "other", none.Label("acme"))
	var unset *observe.TenantLabels
	assert.Equal(t, "other", unset.Label("acme"))
}

// TestTenantCardinalityIsBounded streams answers for many tenants concurrently and
// checks that the token counter never has more tenant values than the bound plus other.
func TestTenantCardinalityIsBounded(t *testing.T) {
	t.Parallel()
	const limit, tenants = 5, 300
	f := newFixture(t, observe.NewTenantLabels(nil, limit))
	model := scriptModel{pieces: []string{"x"}, usage: domain.Usage{PromptTokens: 2, CompletionTokens: 1}}
	vendors := observe.NewVendors(fixedVendors{model: model}, f.o)
	var wg sync.WaitGroup
	for i := range tenants {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tn := domain.Tenant{ID: domain.TenantID(fmt.Sprintf("t%03d", i))}
			tn.LLM.Provider = "openai"
			cm, err := vendors.ChatModel(tn)
			if assert.NoError(t, err) {
				_, err = collect(cm.Stream(context.Background(), nil, domain.ChatParams{}))
				assert.NoError(t, err)
			}
		}()
	}
	wg.Wait()
	values := tenantValues(t, f.reg)
	assert.Len(t, values, limit+1)
	assert.Contains(t, values, "other")
	var total float64
	for v := range values {
		total += counterValue(t, f.reg, "tenantry_llm_tokens_total", map[string]string{"tenant": v, "type": "prompt"})
	}
	assert.Equal(t, float64(2*tenants), total, "every token is counted, labelled or not")
}

func tenantValues(t *testing.T, reg *prometheus.Registry) map[string]bool {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	out := map[string]bool{}
	for _, mf := range mfs {
		if !strings.HasPrefix(mf.GetName(), "tenantry_") {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "tenant" {
					out[l.GetValue()] = true
				}
			}
		}
	}
	return out
}

type fixedVendors struct {
	model ports.ChatModel
	index ports.VectorIndex // stubIndex{} when nil
	err   error
}

func (v fixedVendors) Embedder(domain.Tenant) (ports.Embedder, error) {
	if v.err != nil {
		return nil, v.err
	}
	return stubEmbedder{}, nil
}
func (v fixedVendors) VectorIndex(domain.Tenant) (ports.VectorIndex, error) {
	if v.err != nil {
		return nil, v.err
	}
	if v.index != nil {
		return v.index, nil
	}
	return stubIndex{}, nil
}
func (v fixedVendors) ChatModel(domain.Tenant) (ports.ChatModel, error) {
	if v.err != nil {
		return nil, v.err
	}
	return v.model, nil
}

func (v fixedVendors) Check(context.Context, domain.Tenant) error { return v.err }

func TestVendorsLabelEachPortWithTheTenantsProvider(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	v := observe.NewVendors(fixedVendors{model: scriptModel{}}, f.o)
	tn := domain.Tenant{ID: "acme"}
	tn.Embedder.Provider, tn.VectorStore.Provider, tn.LLM.Provider = "hashing", "embedded", "extractive"
	ctx := context.Background()
	emb, err := v.Embedder(tn)
	require.NoError(t, err)
	_, err = emb.Embed(ctx, []string{"q"})
	require.NoError(t, err)
	idx, err := v.VectorIndex(tn)
	require.NoError(t, err)
	_, err = passagesOf(idx.Search(ctx, tn.ID, []float32{1}, 1, 0))
	require.NoError(t, err)
	cm, err := v.ChatModel(tn)
	require.NoError(t, err)
	_, err = collect(cm.Stream(ctx, nil, domain.ChatParams{}))
	require.NoError(t, err)
	assert.EqualValues(t, 1, f.latencyCount(t, "embedder", "hashing", "embed", "ok"))
	assert.EqualValues(t, 1, f.latencyCount(t, "vector_store", "embedded", "search", "ok"))
	assert.EqualValues(t, 1, f.latencyCount(t, "llm", "extractive", "stream", "ok"))

	broken := observe.NewVendors(fixedVendors{err: domain.Invalid(domain.FieldError{Field: "llm.provider", Message: "unknown"})}, f.o)
	_, err = broken.ChatModel(tn)
	assert.Equal(t, domain.KindInvalid, domain.KindOf(err), "factory errors pass through")
	_, err = broken.Embedder(tn)
	assert.Error(t, err)
	_, err = broken.VectorIndex(tn)
	assert.Error(t, err)
	assert.Equal(t, domain.KindInvalid, domain.KindOf(broken.Check(ctx, tn)), "Check passes through")
	assert.NoError(t, v.Check(ctx, tn))
}

// listingIndex is a stubIndex that also lists its documents' vectors, as Pinecone does.
type listingIndex struct{ stubIndex }

func (listingIndex) VectorDocuments(context.Context, domain.TenantID) (map[domain.DocumentID]int, error) {
	return map[domain.DocumentID]int{"d1": 2}, nil
}

func TestVendorsKeepAnIndexThatListsItsVectorsAListing(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	tn := domain.Tenant{ID: "acme"}
	tn.VectorStore.Provider = "pinecone"
	idx, err := observe.NewVendors(fixedVendors{index: listingIndex{}}, f.o).VectorIndex(tn)
	require.NoError(t, err)
	lister, ok := idx.(ports.VectorLister)
	require.True(t, ok, "the vector sweeper could not list an observed Pinecone index")
	docs, err := lister.VectorDocuments(context.Background(), "acme")
	require.NoError(t, err)
	assert.Equal(t, map[domain.DocumentID]int{"d1": 2}, docs)
	assert.EqualValues(t, 1, f.latencyCount(t, "vector_store", "pinecone", "vector_documents", "ok"))

	plain, err := observe.NewVendors(fixedVendors{}, f.o).VectorIndex(tn)
	require.NoError(t, err)
	_, ok = plain.(ports.VectorLister)
	assert.False(t, ok, "an index that cannot list claims to")
}

func TestMetricsRegisterOncePerRegistry(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	_, err := observe.NewMetrics(reg, nil)
	require.NoError(t, err)
	_, err = observe.NewMetrics(reg, nil)
	assert.Error(t, err, "a second set on the same registry is a wiring error")
}

func TestNilMetricsOnlyLog(t *testing.T) {
	t.Parallel()
	o := observe.New(observe.Options{})
	_, err := observe.NewEmbedder(stubEmbedder{}, "hashing", "", o).Embed(context.Background(), []string{"x"})
	assert.NoError(t, err)
	_, err = collect(observe.NewChatModel(scriptModel{usage: domain.Usage{PromptTokens: 1}}, "extractive", "acme", o).Stream(context.Background(), nil, domain.ChatParams{}))
	assert.NoError(t, err)
}

// passagesOf keeps the passages of a search result, for tests about them alone.
func passagesOf(r domain.SearchResult, err error) ([]domain.Passage, error) {
	return r.Passages, err
}
