package observe

import (
	"errors"
	"fmt"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tenantry/tenantry/domain"
)

// OtherTenants is the tenant label of every tenant without a label of its own.
const OtherTenants = "other"

// TenantLabels bounds the values of a tenant label so that the number of series cannot
// grow with the number of tenants. With an allow-list only the listed tenants get their
// own label; without one the first limit distinct tenants seen do. Every other tenant
// is OtherTenants. It is safe for concurrent use.
type TenantLabels struct {
	mu    sync.Mutex
	allow map[domain.TenantID]bool
	limit int
	seen  map[domain.TenantID]bool
}

// NewTenantLabels builds the bound. A non-empty allow wins over limit; limit <= 0 with
// no allow-list puts every tenant under OtherTenants.
func NewTenantLabels(allow []string, limit int) *TenantLabels {
	l := &TenantLabels{limit: limit, seen: map[domain.TenantID]bool{}}
	if len(allow) > 0 {
		l.allow = make(map[domain.TenantID]bool, len(allow))
		for _, a := range allow {
			l.allow[domain.TenantID(a)] = true
		}
	}
	return l
}

// Label returns t's label value.
func (l *TenantLabels) Label(t domain.TenantID) string {
	if l == nil || t == "" {
		return OtherTenants
	}
	if l.allow != nil {
		if l.allow[t] {
			return string(t)
		}
		return OtherTenants
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.seen[t] {
		return string(t)
	}
	if len(l.seen) < l.limit {
		l.seen[t] = true
		return string(t)
	}
	return OtherTenants
}

// Services named by the service label.
const (
	ServiceLLM         = "llm"
	ServiceEmbedder    = "embedder"
	ServiceVectorStore = "vector_store"
)

// Outcomes of a call, the outcome label of the latency histogram. A call the caller
// cancelled (or stopped reading) is not an upstream error.
const (
	outcomeOK       = "ok"
	outcomeError    = "error"
	outcomeCanceled = "canceled"
)

// Metrics are the upstream collectors: latency and errors by service, provider and
// operation, time to the first token, and token usage by (bounded) tenant.
type Metrics struct {
	latency    *prometheus.HistogramVec
	errors     *prometheus.CounterVec
	firstToken *prometheus.HistogramVec
	tokens     *prometheus.CounterVec
	tenants    *TenantLabels
}

// NewMetrics registers the upstream collectors on reg. tenants bounds the tenant label
// of the token counter (nil: every tenant is OtherTenants).
func NewMetrics(reg prometheus.Registerer, tenants *TenantLabels) (*Metrics, error) {
	m := &Metrics{
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "tenantry_upstream_request_duration_seconds",
			Help:    "Duration of calls to upstream services (LLM streams end to end, embeddings, vector store operations).",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120},
		}, []string{"service", "provider", "operation", "outcome"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tenantry_upstream_errors_total",
			Help: "Failed calls to upstream services by error kind (calls the client cancelled are not counted).",
		}, []string{"service", "provider", "operation", "kind"}),
		firstToken: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "tenantry_llm_first_token_seconds",
			Help:    "Time from the start of an LLM stream to its first text delta.",
			Buckets: []float64{.05, .1, .25, .5, 1, 2, 4, 8, 15, 30},
		}, []string{"provider"}),
		tokens: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tenantry_llm_tokens_total",
			Help: "LLM tokens by tenant and type (prompt or completion); tenants beyond the configured bound are \"other\".",
		}, []string{"tenant", "type"}),
		tenants: tenants,
	}
	for _, c := range []prometheus.Collector{m.latency, m.errors, m.firstToken, m.tokens} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register upstream metrics: %w", err)
		}
	}
	return m, nil
}

// observe records one finished call.
func (m *Metrics) observe(service, provider, op, outcome string, seconds float64, err error) {
	if m == nil {
		return
	}
	m.latency.WithLabelValues(service, provider, op, outcome).Observe(seconds)
	if outcome == outcomeError {
		m.errors.WithLabelValues(service, provider, op, errorKind(err)).Inc()
	}
}

func (m *Metrics) observeFirstToken(provider string, seconds float64) {
	if m != nil {
		m.firstToken.WithLabelValues(provider).Observe(seconds)
	}
}

func (m *Metrics) addTokens(t domain.TenantID, u domain.Usage) {
	if m == nil || u.Total() == 0 {
		return
	}
	label := m.tenants.Label(t)
	m.tokens.WithLabelValues(label, "prompt").Add(float64(u.PromptTokens))
	m.tokens.WithLabelValues(label, "completion").Add(float64(u.CompletionTokens))
}

// errorKind is the kind label of err: the domain kind's name, or "internal".
func errorKind(err error) string {
	var de *domain.Error
	if errors.As(err, &de) {
		return de.Kind.String()
	}
	return domain.KindInternal.String()
}
