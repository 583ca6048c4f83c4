// Package bootstrap is tenantry's composition root: it reads and validates the
// configuration, builds the logger, database, clients, stores, use cases and router in
// that order, runs the CLI commands, and closes resources in reverse order. It is the
// only package that imports every adapter, and only main imports it.
package bootstrap

import (
	"errors"
	"fmt"
	"math"
	"net/netip"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/dustin/go-humanize"

	"github.com/tenantry/tenantry/adapters/sqlstore"
)

// Config is tenantry's whole configuration, read from the environment.
type Config struct {
	Port        int
	PublicURL   string
	DataDir     string
	DatabaseURL string // empty: embedded SQLite in DataDir
	LogLevel    string
	LogFormat   string

	DBMaxOpenConns    int
	DBMaxIdleConns    int
	DBConnMaxLifetime time.Duration
	DBTimeout         time.Duration
	// DBQueryTimeout bounds every statement (server-side statement_timeout, and a
	// client-side deadline a little later, so a frozen server cannot hang requests).
	DBQueryTimeout time.Duration

	SecretKey         string   // base64 32 bytes
	PreviousSecretKey []string // older master keys still accepted for decryption

	JWTAlg      string
	JWTAudience string
	JWTSkew     time.Duration
	AccessTTL   time.Duration
	RefreshTTL  time.Duration
	// JWTKeyRefresh is how often the signing keys are reloaded, so a rotation made by
	// the CLI or another node is picked up.
	JWTKeyRefresh time.Duration

	// LoginMaxFailures blocks one client IP from trying one account again after this
	// many failures within LoginWindow; LoginMaxFailuresPerIP blocks a client IP from
	// every login after this many failures, whichever accounts they named.
	LoginMaxFailures      int
	LoginMaxFailuresPerIP int
	LoginWindow           time.Duration
	// LoginMaxDelay bounds how long the answer to an account's repeated failed logins
	// is held (0: never).
	LoginMaxDelay time.Duration
	// TrustedProxies are the proxies whose X-Forwarded-For names the client IP.
	TrustedProxies  []netip.Prefix
	HashConcurrency int
	HashWait        time.Duration
	// StreamLeaseTTL is how long, on PostgreSQL, a node's stream slots outlive the
	// node (they are leases it renews every third of this).
	StreamLeaseTTL time.Duration

	AllowHTTPVendors bool
	MaxBodyBytes     int64
	MaxDocumentBytes int64
	// MaxPDFBytes, MaxDOCXBytes, MaxHTMLBytes and MaxCSVBytes cap uploaded files of
	// those types; text and Markdown files take MaxDocumentBytes.
	MaxPDFBytes  int64
	MaxDOCXBytes int64
	MaxHTMLBytes int64
	MaxCSVBytes  int64
	ChunkSize    int
	ChunkOverlap int
	// IndexMaxBytes bounds the in-memory indexes, half for the embedded vector index's
	// copies and half for the lexical index's postings; 0: no bound.
	IndexMaxBytes int64
	// BM25K1 and BM25B are the lexical index's BM25 parameters.
	BM25K1, BM25B    float64
	ModelTimeout     time.Duration
	ModelIdleTimeout time.Duration
	PingInterval     time.Duration
	// StreamWriteTimeout bounds each write to an SSE client that stopped reading.
	StreamWriteTimeout time.Duration
	// ContentSecurityPolicy is sent on every response.
	ContentSecurityPolicy string

	// ReadHeaderTimeout and ReadTimeout bound how long a client may take to send a
	// request's headers, and its whole request with the body (slow clients are cut).
	ReadHeaderTimeout time.Duration
	ReadTimeout       time.Duration

	ShutdownTimeout time.Duration
	// MemoryLimit is the Go runtime's soft memory limit that serve sets, in bytes; 0
	// leaves the runtime's own (GOMEMLIMIT) when set, else takes 90% of the cgroup's
	// memory limit, if any.
	MemoryLimit  int64
	MetricsToken string
	// MetricsPublic serves /metrics without a token when MetricsToken is unset.
	MetricsPublic  bool
	MetricsTenants []string // only these tenants get their own metrics label
	MetricsTopN    int      // without MetricsTenants, the first N tenants seen do
	CacheTTL       time.Duration
	// ReindexLease is how long a process holds a re-index job without progress before
	// another may take it over (after a crash, the restart goes on after it).
	ReindexLease time.Duration
	// VectorSweepInterval is how often serve deletes external vectors whose document
	// is gone; such vectors are deleted once seen orphaned for one interval.
	VectorSweepInterval time.Duration
	// PDFiumCacheDir keeps PDFium's compiled WebAssembly across restarts.
	PDFiumCacheDir string
}

// Embedded reports whether tenantry runs on its embedded SQLite database.
func (c Config) Embedded() bool { return c.DatabaseURL == "" }

// SQLitePath is the embedded database file.
func (c Config) SQLitePath() string { return filepath.Join(c.DataDir, "tenantry.db") }

// LoadConfig reads the configuration from getenv and validates it; each error names
// its variable.
func LoadConfig(getenv func(string) string) (Config, error) {
	r := envReader{get: getenv}
	c := Config{
		Port:                  r.int("PORT", 8080),
		PublicURL:             r.str("TENANTRY_PUBLIC_URL", ""),
		DataDir:               r.str("TENANTRY_DATA_DIR", "./data"),
		DatabaseURL:           r.str("DATABASE_PUBLIC_URL", r.str("DATABASE_URL", "")),
		LogLevel:              strings.ToLower(r.str("TENANTRY_LOG_LEVEL", "info")),
		LogFormat:             strings.ToLower(r.str("TENANTRY_LOG_FORMAT", "json")),
		DBMaxOpenConns:        r.int("TENANTRY_DB_MAX_OPEN_CONNS", 20),
		DBMaxIdleConns:        r.int("TENANTRY_DB_MAX_IDLE_CONNS", 10),
		DBConnMaxLifetime:     r.dur("TENANTRY_DB_CONN_MAX_LIFETIME", 30*time.Minute),
		DBTimeout:             r.dur("TENANTRY_DB_TIMEOUT", 5*time.Second),
		DBQueryTimeout:        r.dur("TENANTRY_DB_QUERY_TIMEOUT", 15*time.Second),
		SecretKey:             r.str("TENANTRY_SECRET_KEY", ""),
		PreviousSecretKey:     r.list("TENANTRY_SECRET_KEY_PREVIOUS"),
		JWTAlg:                strings.ToUpper(r.str("TENANTRY_JWT_ALG", "ES256")),
		JWTAudience:           r.str("TENANTRY_JWT_AUDIENCE", "tenantry"),
		JWTSkew:               r.dur("TENANTRY_JWT_SKEW", 30*time.Second),
		AccessTTL:             r.dur("TENANTRY_ACCESS_TTL", 15*time.Minute),
		RefreshTTL:            r.dur("TENANTRY_REFRESH_TTL", 30*24*time.Hour),
		JWTKeyRefresh:         r.dur("TENANTRY_JWT_KEY_REFRESH", time.Minute),
		LoginMaxFailures:      r.int("TENANTRY_LOGIN_MAX_FAILURES", 10),
		LoginWindow:           r.dur("TENANTRY_LOGIN_WINDOW", 15*time.Minute),
		TrustedProxies:        r.prefixes("TENANTRY_TRUSTED_PROXIES"),
		StreamLeaseTTL:        r.dur("TENANTRY_STREAM_LEASE_TTL", 30*time.Second),
		HashConcurrency:       r.int("TENANTRY_HASH_CONCURRENCY", 0),
		HashWait:              r.dur("TENANTRY_HASH_WAIT", 2*time.Second),
		AllowHTTPVendors:      r.bool("TENANTRY_ALLOW_HTTP_VENDORS", false),
		MaxBodyBytes:          int64(r.int("TENANTRY_MAX_BODY_BYTES", 1<<20)),
		MaxDocumentBytes:      int64(r.int("TENANTRY_MAX_DOCUMENT_BYTES", 5<<20)),
		MaxPDFBytes:           int64(r.int("TENANTRY_MAX_PDF_BYTES", 50<<20)),
		MaxDOCXBytes:          int64(r.int("TENANTRY_MAX_DOCX_BYTES", 25<<20)),
		MaxHTMLBytes:          int64(r.int("TENANTRY_MAX_HTML_BYTES", 5<<20)),
		MaxCSVBytes:           int64(r.int("TENANTRY_MAX_CSV_BYTES", 10<<20)),
		ChunkSize:             r.int("TENANTRY_CHUNK_SIZE", 800),
		ChunkOverlap:          r.int("TENANTRY_CHUNK_OVERLAP", 100),
		BM25K1:                r.float("TENANTRY_BM25_K1", 0.9),
		BM25B:                 r.float("TENANTRY_BM25_B", 0.4),
		IndexMaxBytes:         int64(r.int("TENANTRY_INDEX_MAX_BYTES", 1<<30)),
		ModelTimeout:          r.dur("TENANTRY_MODEL_TIMEOUT", 120*time.Second),
		ModelIdleTimeout:      r.dur("TENANTRY_MODEL_IDLE_TIMEOUT", 30*time.Second),
		PingInterval:          r.dur("TENANTRY_SSE_PING_INTERVAL", 15*time.Second),
		StreamWriteTimeout:    r.dur("TENANTRY_STREAM_WRITE_TIMEOUT", 30*time.Second),
		ContentSecurityPolicy: r.str("TENANTRY_CONTENT_SECURITY_POLICY", "default-src 'none'; frame-ancestors 'none'"),
		LoginMaxDelay:         r.dur("TENANTRY_LOGIN_MAX_DELAY", 10*time.Second),
		ReadHeaderTimeout:     r.dur("TENANTRY_READ_HEADER_TIMEOUT", 10*time.Second),
		ReadTimeout:           r.dur("TENANTRY_READ_TIMEOUT", 60*time.Second),
		ShutdownTimeout:       r.dur("TENANTRY_SHUTDOWN_TIMEOUT", 20*time.Second),
		MemoryLimit:           r.size("TENANTRY_MEMORY_LIMIT"),
		MetricsToken:          r.str("TENANTRY_METRICS_TOKEN", ""),
		MetricsPublic:         r.bool("TENANTRY_METRICS_PUBLIC", false),
		MetricsTenants:        r.list("TENANTRY_METRICS_TENANTS"),
		MetricsTopN:           r.int("TENANTRY_METRICS_TENANT_LIMIT", 50),
		CacheTTL:              r.dur("TENANTRY_CACHE_TTL", 30*time.Second),
		ReindexLease:          r.dur("TENANTRY_REINDEX_LEASE", time.Minute),
		VectorSweepInterval:   r.dur("TENANTRY_VECTOR_SWEEP_INTERVAL", 10*time.Minute),
	}
	c.LoginMaxFailuresPerIP = r.int("TENANTRY_LOGIN_MAX_FAILURES_PER_IP", max(100, c.LoginMaxFailures))
	c.PDFiumCacheDir = r.str("TENANTRY_PDFIUM_CACHE_DIR", filepath.Join(c.DataDir, "pdfium-cache"))
	if c.PublicURL == "" {
		c.PublicURL = fmt.Sprintf("http://localhost:%d", c.Port)
	}
	c.PublicURL = strings.TrimRight(c.PublicURL, "/")
	r.check(c.Port > 0 && c.Port < 65536, "PORT", "must be a TCP port (1-65535)")
	r.check(oneOf(c.LogLevel, "debug", "info", "warn", "error"), "TENANTRY_LOG_LEVEL", "must be debug, info, warn or error")
	r.check(oneOf(c.LogFormat, "json", "console"), "TENANTRY_LOG_FORMAT", "must be json or console")
	r.check(oneOf(c.JWTAlg, "ES256", "RS256", "EDDSA", "ED25519"), "TENANTRY_JWT_ALG", "must be ES256, RS256 or EdDSA")
	r.check(c.AccessTTL >= time.Minute && c.AccessTTL <= 24*time.Hour, "TENANTRY_ACCESS_TTL", "must be between 1m and 24h")
	r.check(c.RefreshTTL >= c.AccessTTL, "TENANTRY_REFRESH_TTL", "must be at least TENANTRY_ACCESS_TTL")
	r.check(c.DBMaxOpenConns > 0, "TENANTRY_DB_MAX_OPEN_CONNS", "must be positive")
	r.check(c.DBQueryTimeout >= 100*time.Millisecond, "TENANTRY_DB_QUERY_TIMEOUT", "must be at least 100ms")
	r.check(c.DBMaxIdleConns >= 0, "TENANTRY_DB_MAX_IDLE_CONNS", "must not be negative")
	r.check(c.HashConcurrency >= 0, "TENANTRY_HASH_CONCURRENCY", "must not be negative (0: one per CPU)")
	r.check(c.ReadHeaderTimeout > 0, "TENANTRY_READ_HEADER_TIMEOUT", "must be positive")
	r.check(c.ReadTimeout >= c.ReadHeaderTimeout, "TENANTRY_READ_TIMEOUT", "must be at least TENANTRY_READ_HEADER_TIMEOUT")
	r.check(c.JWTKeyRefresh >= time.Second, "TENANTRY_JWT_KEY_REFRESH", "must be at least 1s")
	if u, err := url.Parse(c.PublicURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		r.errs = append(r.errs, fmt.Errorf("TENANTRY_PUBLIC_URL must be an absolute http(s) URL, got %q", c.PublicURL))
	}
	r.check(c.LoginMaxFailures > 0, "TENANTRY_LOGIN_MAX_FAILURES", "must be positive")
	r.check(c.LoginMaxFailuresPerIP >= c.LoginMaxFailures, "TENANTRY_LOGIN_MAX_FAILURES_PER_IP", "must be at least TENANTRY_LOGIN_MAX_FAILURES")
	r.check(c.LoginMaxDelay >= 0 && c.LoginMaxDelay <= time.Minute, "TENANTRY_LOGIN_MAX_DELAY", "must be between 0 and 1m")
	r.check(c.StreamWriteTimeout > 0, "TENANTRY_STREAM_WRITE_TIMEOUT", "must be positive")
	r.check(c.StreamLeaseTTL >= 300*time.Millisecond, "TENANTRY_STREAM_LEASE_TTL", "must be at least 300ms")
	r.check(c.MetricsTopN >= 0 && c.MetricsTopN <= 1000, "TENANTRY_METRICS_TENANT_LIMIT", "must be between 0 and 1000")
	r.check(c.MaxBodyBytes > 0, "TENANTRY_MAX_BODY_BYTES", "must be positive")
	r.check(c.MaxDocumentBytes > 0, "TENANTRY_MAX_DOCUMENT_BYTES", "must be positive")
	r.check(c.MaxPDFBytes > 0, "TENANTRY_MAX_PDF_BYTES", "must be positive")
	r.check(c.MaxDOCXBytes > 0, "TENANTRY_MAX_DOCX_BYTES", "must be positive")
	r.check(c.MaxHTMLBytes > 0, "TENANTRY_MAX_HTML_BYTES", "must be positive")
	r.check(c.MaxCSVBytes > 0, "TENANTRY_MAX_CSV_BYTES", "must be positive")
	r.check(c.BM25K1 > 0 && c.BM25K1 <= 10, "TENANTRY_BM25_K1", "must be above 0 and at most 10")
	r.check(c.BM25B >= 0 && c.BM25B <= 1, "TENANTRY_BM25_B", "must be between 0 and 1")
	r.check(c.ReindexLease >= time.Second, "TENANTRY_REINDEX_LEASE", "must be at least 1s")
	r.check(c.VectorSweepInterval >= time.Second, "TENANTRY_VECTOR_SWEEP_INTERVAL", "must be at least 1s")
	r.check(c.IndexMaxBytes >= 0, "TENANTRY_INDEX_MAX_BYTES", "must not be negative (0: no bound)")
	r.check(c.ChunkSize >= 100 && c.ChunkOverlap >= 0 && c.ChunkOverlap < c.ChunkSize/2, "TENANTRY_CHUNK_SIZE", "must be >= 100, with TENANTRY_CHUNK_OVERLAP below half of it")
	r.check(c.MemoryLimit == 0 || c.MemoryLimit >= minMemoryLimit, "TENANTRY_MEMORY_LIMIT", "must be at least 64MiB")
	r.check(c.MemoryLimit == 0 || strings.TrimSpace(getenv("GOMEMLIMIT")) == "", "TENANTRY_MEMORY_LIMIT",
		"and GOMEMLIMIT are both set: set one of them")
	if c.DatabaseURL != "" {
		if _, err := sqlstore.ParseDatabaseURL(c.DatabaseURL); err != nil {
			r.errs = append(r.errs, fmt.Errorf("%s: %w", databaseVar(getenv), err))
		}
	}
	if c.JWTAlg == "EDDSA" || c.JWTAlg == "ED25519" {
		c.JWTAlg = "EdDSA"
	}
	return c, errors.Join(r.errs...)
}

// databaseVar names the variable the database URL came from.
func databaseVar(getenv func(string) string) string {
	if strings.TrimSpace(getenv("DATABASE_PUBLIC_URL")) != "" {
		return "DATABASE_PUBLIC_URL"
	}
	return "DATABASE_URL"
}

func oneOf(v string, allowed ...string) bool {
	for _, a := range allowed {
		if v == a {
			return true
		}
	}
	return false
}

type envReader struct {
	get  func(string) string
	errs []error
}

func (r *envReader) check(ok bool, name, msg string) {
	if !ok {
		r.errs = append(r.errs, fmt.Errorf("%s %s", name, msg))
	}
}

func (r *envReader) str(name, def string) string {
	if v := strings.TrimSpace(r.get(name)); v != "" {
		return v
	}
	return def
}

// prefixes reads a comma-separated list of CIDR prefixes; a bare address is a
// prefix of that one address.
func (r *envReader) prefixes(name string) []netip.Prefix {
	var out []netip.Prefix
	for _, v := range r.list(name) {
		p, err := netip.ParsePrefix(v)
		if err != nil {
			a, aerr := netip.ParseAddr(v)
			if aerr != nil {
				r.errs = append(r.errs, fmt.Errorf("%s: %q is not a CIDR prefix or IP address", name, v))
				continue
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		out = append(out, p.Masked())
	}
	return out
}

func (r *envReader) list(name string) []string {
	var out []string
	for _, v := range strings.Split(r.get(name), ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

func (r *envReader) int(name string, def int) int {
	v := r.str(name, "")
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		r.errs = append(r.errs, fmt.Errorf("%s must be an integer, got %q", name, v))
		return def
	}
	return n
}

func (r *envReader) float(name string, def float64) float64 {
	v := r.str(name, "")
	if v == "" {
		return def
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		r.errs = append(r.errs, fmt.Errorf("%s must be a number, got %q", name, v))
		return def
	}
	return f
}

func (r *envReader) dur(name string, def time.Duration) time.Duration {
	v := r.str(name, "")
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		r.errs = append(r.errs, fmt.Errorf("%s must be a duration such as 30s or 15m, got %q", name, v))
		return def
	}
	return d
}

// minMemoryLimit is the smallest TENANTRY_MEMORY_LIMIT accepted: below it the GC
// would run all the time.
const minMemoryLimit = 64 << 20

// size reads a byte count such as 448MiB, 1GiB or 500MB (units as go-humanize reads
// them: MiB and GiB are powers of 1024, MB and GB of 1000); empty is 0.
func (r *envReader) size(name string) int64 {
	v := r.str(name, "")
	if v == "" {
		return 0
	}
	n, err := humanize.ParseBytes(v)
	if err != nil || n > math.MaxInt64 {
		r.errs = append(r.errs, fmt.Errorf("%s must be a size such as 448MiB or 2GiB, got %q", name, v))
		return 0
	}
	return int64(n)
}

func (r *envReader) bool(name string, def bool) bool {
	v := r.str(name, "")
	if v == "" {
		return def
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		r.errs = append(r.errs, fmt.Errorf("%s must be true or false, got %q", name, v))
		return def
	}
	return b
}
