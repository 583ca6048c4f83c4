package httpapi

import (
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/tenantry/tenantry/adapters/httpapi/sse"
	"github.com/tenantry/tenantry/domain"
)

// Metrics are the HTTP adapter's Prometheus collectors and the registry GET /metrics
// exposes. Labels are bounded: the route is the registered template (or "unmatched"),
// the method one of the standard ones (or "other"), and tenants never appear.
type Metrics struct {
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	streams  prometheus.Gauge
	logins   *prometheus.CounterVec
	gatherer prometheus.Gatherer
}

// NewMetrics registers the HTTP collectors on reg; GET /metrics serves what g gathers
// (usually the same registry, with every other adapter's collectors).
func NewMetrics(reg prometheus.Registerer, g prometheus.Gatherer) (*Metrics, error) {
	m := &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tenantry_http_requests_total",
			Help: "HTTP requests by method, route template and status.",
		}, []string{"method", "route", "status"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "tenantry_http_request_duration_seconds",
			Help:    "HTTP request duration by method, route template and status; SSE streams count until they close.",
			Buckets: []float64{.001, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120},
		}, []string{"method", "route", "status"}),
		streams: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "tenantry_http_active_streams",
			Help: "Server-sent event streams open now.",
		}),
		logins: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tenantry_login_failures_total",
			Help: "Rejected password logins on POST /auth/token: invalid_grant (bad credentials) or slow_down (blocked after repeated failures).",
		}, []string{"reason"}),
		gatherer: g,
	}
	for _, c := range []prometheus.Collector{m.requests, m.latency, m.streams, m.logins} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register http metrics: %w", err)
		}
	}
	return m, nil
}

const (
	keyLoginFailure = "httpapi.login_failure"
	routeUnmatched  = "unmatched"
)

// noteLoginFailure marks a rejected password login for the metrics middleware.
func noteLoginFailure(c echo.Context, reason string) { c.Set(keyLoginFailure, reason) }

var knownMethods = map[string]bool{
	http.MethodGet: true, http.MethodHead: true, http.MethodPost: true, http.MethodPut: true, http.MethodPatch: true,
	http.MethodDelete: true, http.MethodOptions: true,
}

// middleware counts and times every request, and tracks open SSE streams. It runs
// before routing (Echo's Pre) and reads the route and the final status afterwards,
// once the request-log middleware has handed any error to the error handler.
func (m *Metrics) middleware(e *echo.Echo) echo.MiddlewareFunc {
	var once sync.Once
	var templates map[string]bool
	routeOf := func(c echo.Context) string {
		once.Do(func() {
			templates = map[string]bool{}
			for _, r := range e.Routes() {
				templates[r.Path] = true
			}
		})
		if p := c.Path(); templates[p] {
			return p
		}
		return routeUnmatched
	}
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			start := time.Now()
			streaming := false
			c.Response().Before(func() {
				if strings.HasPrefix(c.Response().Header().Get(echo.HeaderContentType), sse.ContentType) {
					streaming = true
					m.streams.Inc()
				}
			})
			defer func() {
				if streaming {
					m.streams.Dec()
				}
			}()
			err := next(c)
			if err != nil {
				c.Error(err)
			}
			method, status := m.labels(c)
			m.observe(method, routeOf(c), status, time.Since(start))
			return nil
		}
	}
}

// labels returns the method and status labels of a finished request, and counts a
// rejected login.
func (m *Metrics) labels(c echo.Context) (method, status string) {
	method = c.Request().Method
	if !knownMethods[method] {
		method = "other"
	}
	code := c.Response().Status
	if isClientGone(c) && !c.Response().Committed {
		code = 499
	}
	if reason, ok := c.Get(keyLoginFailure).(string); ok {
		m.logins.WithLabelValues(reason).Inc()
	}
	return method, strconv.Itoa(code)
}

func (m *Metrics) observe(method, route, status string, took time.Duration) {
	m.requests.WithLabelValues(method, route, status).Inc()
	m.latency.WithLabelValues(method, route, status).Observe(took.Seconds())
}

// handler serves GET /metrics in the Prometheus text format. With a token set, the
// request must carry it as a bearer token (compared in constant time).
func (m *Metrics) handler(token string, public bool) echo.HandlerFunc {
	h := promhttp.HandlerFor(m.gatherer, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
	want := sha256.Sum256([]byte(token))
	return func(c echo.Context) error {
		if token == "" && !public && !directLoopback(c.Request()) {
			return domain.ErrForbidden.WithDetail("metrics are served to this machine only; set TENANTRY_METRICS_TOKEN to scrape them remotely")
		}
		if token != "" {
			got, err := parseBearer(c.Request().Header.Values(echo.HeaderAuthorization))
			if err != nil {
				return err
			}
			sum := sha256.Sum256([]byte(got))
			if subtle.ConstantTimeCompare(sum[:], want[:]) != 1 {
				return domain.ErrInvalidToken
			}
		}
		c.Response().Header().Set("Cache-Control", "no-store")
		h.ServeHTTP(c.Response(), c.Request())
		return nil
	}
}

// directLoopback reports whether r comes straight from this machine: a loopback peer
// that no proxy forwarded (a proxy on the same machine sets X-Forwarded-For or
// Forwarded).
func directLoopback(r *http.Request) bool {
	if r.Header.Get(echo.HeaderXForwardedFor) != "" || r.Header.Get("Forwarded") != "" || r.Header.Get(echo.HeaderXRealIP) != "" {
		return false
	}
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	return err == nil && ap.Addr().Unmap().IsLoopback()
}
