package bootstrap

import (
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/domain"
)

func TestLoadConfigDefaults(t *testing.T) {
	t.Parallel()
	got, err := LoadConfig(env{}.getenv)
	require.NoError(t, err)

	assert.Equal(t, 8080, got.Port)
	assert.Equal(t, "http://localhost:8080", got.PublicURL)
	assert.Equal(t, "./data", got.DataDir)
	assert.Empty(t, got.DatabaseURL)
	assert.True(t, got.Embedded())
	assert.Equal(t, "data/tenantry.db", got.SQLitePath())
	assert.Equal(t, "info", got.LogLevel)
	assert.Equal(t, "json", got.LogFormat)
	assert.Equal(t, 20, got.DBMaxOpenConns)
	assert.Equal(t, 10, got.DBMaxIdleConns)
	assert.Equal(t, 30*time.Minute, got.DBConnMaxLifetime)
	assert.Equal(t, 5*time.Second, got.DBTimeout)
	assert.Empty(t, got.SecretKey)
	assert.Empty(t, got.PreviousSecretKey)
	assert.Equal(t, "ES256", got.JWTAlg)
	assert.Equal(t, "tenantry", got.JWTAudience)
	assert.Equal(t, 30*time.Second, got.JWTSkew)
	assert.Equal(t, 15*time.Minute, got.AccessTTL)
	assert.Equal(t, 30*24*time.Hour, got.RefreshTTL)
	assert.Equal(t, 10, got.LoginMaxFailures)
	assert.Equal(t, 15*time.Minute, got.LoginWindow)
	assert.False(t, got.AllowHTTPVendors)
	assert.EqualValues(t, 1<<20, got.MaxBodyBytes)
	assert.EqualValues(t, 5<<20, got.MaxDocumentBytes)
	assert.EqualValues(t, 50<<20, got.MaxPDFBytes)
	assert.EqualValues(t, 25<<20, got.MaxDOCXBytes)
	assert.EqualValues(t, 5<<20, got.MaxHTMLBytes)
	assert.EqualValues(t, 10<<20, got.MaxCSVBytes)
	assert.EqualValues(t, 1<<30, got.IndexMaxBytes)
	assert.Equal(t, 800, got.ChunkSize)
	assert.Equal(t, 100, got.ChunkOverlap)
	assert.Equal(t, 20*time.Second, got.ShutdownTimeout)
	assert.Equal(t, 30*time.Second, got.CacheTTL)
}

func TestLoadConfigReadsEnvironment(t *testing.T) {
	t.Parallel()
	got, err := LoadConfig(env{
		"PORT":                         "9090",
		"TENANTRY_PUBLIC_URL":          "https://chat.example.com/",
		"TENANTRY_DATA_DIR":            "/var/lib/tenantry",
		"DATABASE_URL":                 "postgres://app@db.internal/tenantry",
		"TENANTRY_LOG_LEVEL":           "DEBUG",
		"TENANTRY_LOG_FORMAT":          "console",
		"TENANTRY_JWT_ALG":             "eddsa",
		"TENANTRY_ACCESS_TTL":          "5m",
		"TENANTRY_SECRET_KEY_PREVIOUS": " old1 , old2 ,",
		"TENANTRY_ALLOW_HTTP_VENDORS":  "true",
		"TENANTRY_CACHE_TTL":           "1s",
	}.getenv)
	require.NoError(t, err)
	assert.Equal(t, 9090, got.Port)
	assert.Equal(t, "https://chat.example.com", got.PublicURL, "the trailing slash is trimmed: it becomes the iss claim")
	assert.Equal(t, "/var/lib/tenantry", got.DataDir)
	assert.Equal(t, "postgres://app@db.internal/tenantry", got.DatabaseURL)
	assert.False(t, got.Embedded())
	assert.Equal(t, "debug", got.LogLevel)
	assert.Equal(t, "console", got.LogFormat)
	assert.Equal(t, "EdDSA", got.JWTAlg)
	assert.Equal(t, 5*time.Minute, got.AccessTTL)
	assert.Equal(t, []string{"old1", "old2"}, got.PreviousSecretKey)
	assert.True(t, got.AllowHTTPVendors)
	assert.Equal(t, time.Second, got.CacheTTL)
	assert.Equal(t, "/var/lib/tenantry/pdfium-cache", got.PDFiumCacheDir, "the default is in the data directory")

	got, err = LoadConfig(env{"PORT": "9191", "TENANTRY_PDFIUM_CACHE_DIR": "/var/cache/tenantry"}.getenv)
	require.NoError(t, err)
	assert.Equal(t, "http://localhost:9191", got.PublicURL, "the default public URL follows PORT")
	assert.Equal(t, "/var/cache/tenantry", got.PDFiumCacheDir)
}

func TestLoadConfigDatabasePublicURLWins(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		env  env
		want string
	}{
		{name: "only DATABASE_URL", env: env{"DATABASE_URL": "postgres://a@private/db"}, want: "postgres://a@private/db"},
		{name: "only DATABASE_PUBLIC_URL", env: env{"DATABASE_PUBLIC_URL": "postgres://a@public/db"}, want: "postgres://a@public/db"},
		{name: "both", env: env{"DATABASE_URL": "postgres://a@private/db", "DATABASE_PUBLIC_URL": "postgresql+asyncpg://a@public/db"}, want: "postgresql+asyncpg://a@public/db"},
		{name: "blank public", env: env{"DATABASE_URL": "postgres://a@private/db", "DATABASE_PUBLIC_URL": "  "}, want: "postgres://a@private/db"},
		{name: "neither", env: env{}, want: ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := LoadConfig(tc.env.getenv)
			require.NoError(t, err)
			assert.Equal(t, tc.want, got.DatabaseURL)
			assert.Equal(t, tc.want == "", got.Embedded())
		})
	}
}

func TestLoadConfigAcceptsEveryPostgresScheme(t *testing.T) {
	t.Parallel()
	for _, scheme := range []string{"postgres", "postgresql", "postgresql+psycopg", "postgresql+psycopg2", "postgresql+asyncpg"} {
		_, err := LoadConfig(env{"DATABASE_URL": scheme + "://app:pw@db.internal:5432/tenantry"}.getenv)
		assert.NoError(t, err, scheme)
	}
}

func TestLoadConfigNamesEachInvalidVariable(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		env  env
		want string // the variable the error must name
	}{
		{name: "port not a number", env: env{"PORT": "eighty"}, want: "PORT"},
		{name: "port zero", env: env{"PORT": "0"}, want: "PORT"},
		{name: "port too large", env: env{"PORT": "70000"}, want: "PORT"},
		{name: "log level", env: env{"TENANTRY_LOG_LEVEL": "verbose"}, want: "TENANTRY_LOG_LEVEL"},
		{name: "log format", env: env{"TENANTRY_LOG_FORMAT": "xml"}, want: "TENANTRY_LOG_FORMAT"},
		{name: "symmetric jwt alg", env: env{"TENANTRY_JWT_ALG": "HS256"}, want: "TENANTRY_JWT_ALG"},
		{name: "none jwt alg", env: env{"TENANTRY_JWT_ALG": "none"}, want: "TENANTRY_JWT_ALG"},
		{name: "access ttl too short", env: env{"TENANTRY_ACCESS_TTL": "10s"}, want: "TENANTRY_ACCESS_TTL"},
		{name: "access ttl not a duration", env: env{"TENANTRY_ACCESS_TTL": "soon"}, want: "TENANTRY_ACCESS_TTL"},
		{name: "refresh ttl below access ttl", env: env{"TENANTRY_REFRESH_TTL": "1m"}, want: "TENANTRY_REFRESH_TTL"},
		{name: "jwt skew negative", env: env{"TENANTRY_JWT_SKEW": "-5s"}, want: "TENANTRY_JWT_SKEW"},
		{name: "db pool", env: env{"TENANTRY_DB_MAX_OPEN_CONNS": "0"}, want: "TENANTRY_DB_MAX_OPEN_CONNS"},
		{name: "db timeout without unit", env: env{"TENANTRY_DB_TIMEOUT": "5"}, want: "TENANTRY_DB_TIMEOUT"},
		{name: "login failures", env: env{"TENANTRY_LOGIN_MAX_FAILURES": "-1"}, want: "TENANTRY_LOGIN_MAX_FAILURES"},
		{name: "stream lease ttl", env: env{"TENANTRY_STREAM_LEASE_TTL": "100ms"}, want: "TENANTRY_STREAM_LEASE_TTL"},
		{name: "body limit", env: env{"TENANTRY_MAX_BODY_BYTES": "0"}, want: "TENANTRY_MAX_BODY_BYTES"},
		{name: "document limit", env: env{"TENANTRY_MAX_DOCUMENT_BYTES": "0"}, want: "TENANTRY_MAX_DOCUMENT_BYTES"},
		{name: "PDF limit", env: env{"TENANTRY_MAX_PDF_BYTES": "0"}, want: "TENANTRY_MAX_PDF_BYTES"},
		{name: "DOCX limit", env: env{"TENANTRY_MAX_DOCX_BYTES": "-1"}, want: "TENANTRY_MAX_DOCX_BYTES"},
		{name: "HTML limit", env: env{"TENANTRY_MAX_HTML_BYTES": "0"}, want: "TENANTRY_MAX_HTML_BYTES"},
		{name: "CSV limit", env: env{"TENANTRY_MAX_CSV_BYTES": "0"}, want: "TENANTRY_MAX_CSV_BYTES"},
		{name: "index memory", env: env{"TENANTRY_INDEX_MAX_BYTES": "-1"}, want: "TENANTRY_INDEX_MAX_BYTES"},
		{name: "chunk size", env: env{"TENANTRY_CHUNK_SIZE": "50"}, want: "TENANTRY_CHUNK_SIZE"},
		{name: "chunk overlap", env: env{"TENANTRY_CHUNK_OVERLAP": "600"}, want: "TENANTRY_CHUNK_OVERLAP"},
		{name: "allow http vendors", env: env{"TENANTRY_ALLOW_HTTP_VENDORS": "maybe"}, want: "TENANTRY_ALLOW_HTTP_VENDORS"},
		{name: "cache ttl negative", env: env{"TENANTRY_CACHE_TTL": "-1s"}, want: "TENANTRY_CACHE_TTL"},
		{name: "shutdown timeout", env: env{"TENANTRY_SHUTDOWN_TIMEOUT": "forever"}, want: "TENANTRY_SHUTDOWN_TIMEOUT"},
		{name: "memory limit not a size", env: env{"TENANTRY_MEMORY_LIMIT": "lots"}, want: "TENANTRY_MEMORY_LIMIT"},
		{name: "memory limit too small", env: env{"TENANTRY_MEMORY_LIMIT": "10MiB"}, want: "TENANTRY_MEMORY_LIMIT"},
		{name: "memory limit beside GOMEMLIMIT", env: env{"TENANTRY_MEMORY_LIMIT": "1GiB", "GOMEMLIMIT": "900MiB"}, want: "GOMEMLIMIT"},
		{name: "database url scheme", env: env{"DATABASE_URL": "mysql://app@db/tenantry"}, want: "DATABASE_URL"},
		{name: "database url without host", env: env{"DATABASE_URL": "postgres:///tenantry"}, want: "DATABASE_URL"},
		{name: "public database url scheme", env: env{"DATABASE_URL": "postgres://app@db/tenantry", "DATABASE_PUBLIC_URL": "sqlite:///tmp/x.db"}, want: "DATABASE_PUBLIC_URL"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := LoadConfig(tc.env.getenv)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

func TestLoadConfigReadsTheMemoryLimit(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, value string
		want        int64
	}{
		{name: "unset", want: 0},
		{name: "binary units", value: "448MiB", want: 448 << 20},
		{name: "decimal units", value: "2GB", want: 2_000_000_000},
		{name: "bytes", value: "134217728", want: 128 << 20},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg, err := LoadConfig(env{"TENANTRY_MEMORY_LIMIT": tc.value}.getenv)
			require.NoError(t, err)
			assert.Equal(t, tc.want, cfg.MemoryLimit)
		})
	}
}

func TestLoadConfigReportsEveryInvalidVariableAtOnce(t *testing.T) {
	t.Parallel()
	_, err := LoadConfig(env{"PORT": "x", "TENANTRY_LOG_LEVEL": "loud", "TENANTRY_JWT_ALG": "HS512"}.getenv)
	require.Error(t, err)
	for _, name := range []string{"PORT", "TENANTRY_LOG_LEVEL", "TENANTRY_JWT_ALG"} {
		assert.Contains(t, err.Error(), name)
	}
}

// TestDatabasePasswordNeverShows feeds URLs carrying a password that tenantry must
// refuse or fail to reach, and checks every error and log line: the config error, and
// what a command prints when it stops on it.
func TestDatabasePasswordNeverShows(t *testing.T) {
	t.Parallel()
	const password = "hunter2"
	tests := []struct {
		name string
		url  string
	}{
		{name: "unsupported scheme", url: "mysql://user:hunter2@host/db"},
		{name: "bad port", url: "postgres://user:hunter2@host:port/db"},
		{name: "no scheme", url: "user:hunter2@host/db"},
		{name: "no host", url: "postgresql+psycopg://user:hunter2@/db"},
		{name: "password parameter", url: "ftp://host/db?user=app&password=hunter2"},
		{name: "unreachable server", url: "postgresql+psycopg://user:hunter2@127.0.0.1:1/db?connect_timeout=1"},
		{name: "unreachable server, password parameter", url: "postgres://127.0.0.1:1/db?user=app&password=hunter2"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t).with("DATABASE_URL", tc.url, "TENANTRY_SECRET_KEY", secretKey(t), "TENANTRY_DB_TIMEOUT", "1s", "TENANTRY_LOG_LEVEL", "debug")
			if _, err := LoadConfig(e.getenv); err != nil {
				assert.NotContains(t, err.Error(), password)
				assert.Contains(t, err.Error(), "DATABASE_URL")
			}
			for _, args := range [][]string{{"migrate"}, {"serve"}, {"tenant", "list"}} {
				r := run(t, e, "", args...)
				assert.Equal(t, 1, r.code, "tenantry %s: %s", strings.Join(args, " "), r)
				assert.NotEmpty(t, r.err)
				assert.NotContains(t, r.err+r.out, password, "tenantry %s", strings.Join(args, " "))
			}
		})
	}
}

// TestEveryHTTPOptionIsWired fails when a field of httpapi.Config is not set from the
// configuration: with every variable set, no field may be left at its zero value.
func TestEveryHTTPOptionIsWired(t *testing.T) {
	t.Parallel()
	vars := map[string]string{
		"TENANTRY_MAX_BODY_BYTES": "2048", "TENANTRY_MAX_DOCUMENT_BYTES": "4096", "TENANTRY_SSE_PING_INTERVAL": "5s",
		"TENANTRY_STREAM_WRITE_TIMEOUT": "7s", "TENANTRY_TRUSTED_PROXIES": "10.0.0.0/8, 192.0.2.7",
		"TENANTRY_CONTENT_SECURITY_POLICY": "default-src 'self'", "TENANTRY_METRICS_TOKEN": "m-token",
		"TENANTRY_METRICS_PUBLIC": "true", "TENANTRY_MAX_PDF_BYTES": "1001", "TENANTRY_MAX_DOCX_BYTES": "1002",
		"TENANTRY_MAX_HTML_BYTES": "1003", "TENANTRY_MAX_CSV_BYTES": "1004",
	}
	cfg, err := LoadConfig(func(k string) string { return vars[k] })
	require.NoError(t, err)
	assert.Equal(t, map[domain.FileFormat]int64{domain.FormatPDF: 1001, domain.FormatDOCX: 1002, domain.FormatHTML: 1003, domain.FormatCSV: 1004},
		httpConfig(cfg).MaxFileBytes, "each file type's limit comes from its own variable")
	h := reflect.ValueOf(httpConfig(cfg))
	for i := range h.NumField() {
		assert.False(t, h.Field(i).IsZero(), "httpapi.Config.%s is not wired from the configuration", h.Type().Field(i).Name)
	}
	assert.Equal(t, []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("192.0.2.7/32")}, cfg.TrustedProxies)

	_, err = LoadConfig(func(k string) string { return map[string]string{"TENANTRY_TRUSTED_PROXIES": "10.0.0.0/33"}[k] })
	require.ErrorContains(t, err, "TENANTRY_TRUSTED_PROXIES")
}
