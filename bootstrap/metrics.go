package bootstrap

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"go.uber.org/zap"

	"github.com/tenantry/tenantry/adapters/cache"
	"github.com/tenantry/tenantry/adapters/httpapi"
	"github.com/tenantry/tenantry/adapters/lexical"
	"github.com/tenantry/tenantry/adapters/observe"
	"github.com/tenantry/tenantry/adapters/vecsearch"
)

// newMetrics builds one Prometheus registry per router (never the global one, so that
// several routers in one process, as in tests, do not collide) with the Go and process
// collectors, the HTTP and upstream collectors, the caches' hit counts and the embedded
// index's memory (index may be nil). It returns
// what the HTTP adapter serves at GET /metrics and the observer the vendor decorators
// report to.
func newMetrics(cfg Config, log *zap.Logger, users *cache.Users, tenants *cache.Tenants, index *vecsearch.Index, lex *lexical.Index,
	swept func() float64) (*httpapi.Metrics, *observe.Observer, error) {
	reg := prometheus.NewRegistry()
	for _, c := range []prometheus.Collector{
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	} {
		if err := reg.Register(c); err != nil {
			return nil, nil, fmt.Errorf("register runtime metrics: %w", err)
		}
	}
	if err := registerCacheStats(reg, "users", users.Stats); err != nil {
		return nil, nil, err
	}
	if err := registerCacheStats(reg, "tenants", tenants.Stats); err != nil {
		return nil, nil, err
	}
	if index != nil {
		err := reg.Register(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "tenantry_embedded_index_bytes",
			Help: "Estimated memory of the embedded vector index's per-tenant copies (bounded by half of TENANTRY_INDEX_MAX_BYTES).",
		}, func() float64 { return float64(index.Bytes()) }))
		if err != nil {
			return nil, nil, fmt.Errorf("register index metrics: %w", err)
		}
	}
	err := reg.Register(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "tenantry_lexical_index_bytes",
		Help: "Estimated memory of the lexical (BM25) index's per-tenant postings (bounded by half of TENANTRY_INDEX_MAX_BYTES).",
	}, func() float64 { return float64(lex.Bytes()) }))
	if err != nil {
		return nil, nil, fmt.Errorf("register lexical index metrics: %w", err)
	}
	err = reg.Register(prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "tenantry_vector_sweeper_removed_total",
		Help: "Vectors the sweeper deleted from external vector stores (Pinecone) because their document no longer exists.",
	}, swept))
	if err != nil {
		return nil, nil, fmt.Errorf("register vector sweeper metrics: %w", err)
	}
	hm, err := httpapi.NewMetrics(reg, reg)
	if err != nil {
		return nil, nil, err
	}
	om, err := observe.NewMetrics(reg, observe.NewTenantLabels(cfg.MetricsTenants, cfg.MetricsTopN))
	if err != nil {
		return nil, nil, err
	}
	obs := observe.New(observe.Options{Log: log.Named("upstream"), Metrics: om, RequestID: httpapi.RequestIDFrom})
	return hm, obs, nil
}

// registerCacheStats exposes a cache's lookups, read from its counters at scrape time.
func registerCacheStats(reg prometheus.Registerer, name string, stats func() cache.Stats) error {
	labels := prometheus.Labels{"cache": name}
	cs := []prometheus.Collector{
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "tenantry_cache_hits_total", Help: "Lookups answered from the cache.", ConstLabels: labels,
		}, func() float64 { return float64(stats().Hits) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "tenantry_cache_misses_total", Help: "Lookups that went to the store.", ConstLabels: labels,
		}, func() float64 { return float64(stats().Misses) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "tenantry_cache_hit_ratio", Help: "Hits over all lookups since start (0 before the first lookup).", ConstLabels: labels,
		}, func() float64 { return hitRatio(stats()) }),
	}
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			return fmt.Errorf("register %s cache metrics: %w", name, err)
		}
	}
	return nil
}

func hitRatio(s cache.Stats) float64 {
	total := s.Hits + s.Misses
	if total == 0 {
		return 0
	}
	return float64(s.Hits) / float64(total)
}
