package bootstrap

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/tenantry/tenantry/adapters/cache"
	"github.com/tenantry/tenantry/adapters/jwtauth"
	"github.com/tenantry/tenantry/adapters/memory"
	"github.com/tenantry/tenantry/adapters/migrate"
	"github.com/tenantry/tenantry/adapters/secretbox"
	"github.com/tenantry/tenantry/adapters/sqlstore"
	"github.com/tenantry/tenantry/application"
	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/ports"
)

// The benchmarks and load tests of the performance issue (#8) drive the production
// router (Router, as serve builds it) on in-memory stores, with the production logger
// writing to /dev/null (a write per request, as to stderr, without filling a disk).
// BENCHMARKS.md has the commands and the numbers.

const (
	benchPassword = "bench password 0123456789"
	benchTenant   = domain.TenantID("bench")
	benchEmail    = "admin@bench.test"
)

// benchEnv is one production router on memory stores, with tenant "bench" and its
// tenant admin benchEmail (password benchPassword).
type benchEnv struct {
	cfg    Config
	db     *memory.DB
	st     Stores
	sealer ports.SecretSealer
	api    *API
	log    *zap.Logger
}

// benchOptions adjust a benchEnv.
type benchOptions struct {
	env     map[string]string          // environment over the defaults
	vendors func(Stores) ports.Vendors // nil: the production vendor factory
	wrap    func(Stores) Stores
	sqlite  bool // the embedded SQLite stores (schema applied) and their change log instead of memory
	limits  Limits
}

// newBenchEnv builds the router and seeds the tenant and its admin through the
// administration use cases (as the CLI does).
func newBenchEnv(tb testing.TB, o benchOptions) *benchEnv {
	tb.Helper()
	vars := map[string]string{"TENANTRY_PUBLIC_URL": "http://tenantry.bench"}
	for k, v := range o.env {
		vars[k] = v
	}
	cfg, err := LoadConfig(func(k string) string { return vars[k] })
	require.NoError(tb, err)
	key, err := secretbox.GenerateKey()
	require.NoError(tb, err)
	keyring, err := secretbox.New(key)
	require.NoError(tb, err)
	devnull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	require.NoError(tb, err)
	tb.Cleanup(func() { _ = devnull.Close() })
	log, err := newLogger(cfg, devnull)
	require.NoError(tb, err)

	var db *memory.DB
	var st Stores
	var changes ports.ChangeFeed
	if o.sqlite {
		st, changes = benchSQLiteStores(tb, keyring)
	} else {
		db = memory.NewDB()
		st = MemoryStores(db)
	}
	if o.wrap != nil {
		st = o.wrap(st)
	}
	var vendors ports.Vendors
	if o.vendors != nil {
		vendors = o.vendors(st)
	}
	api, err := Router(context.Background(), cfg, st, RouterOptions{Log: log, Sealer: keyring, Vendors: vendors, Limits: o.limits, Changes: changes,
		Operator: application.Actor{Principal: domain.Principal{UserID: "cli", Role: domain.RolePlatformAdmin}, Name: "cli:bench"}})
	require.NoError(tb, err)
	tb.Cleanup(func() { _ = api.Close() })
	e := &benchEnv{cfg: cfg, db: db, st: st, sealer: keyring, api: api, log: log}

	ctx := context.Background()
	_, err = api.admin.tenants.Create(ctx, api.admin.actor, string(benchTenant), "Bench Co")
	require.NoError(tb, err)
	_, err = api.admin.users.Create(ctx, api.admin.actor, application.NewUserInput{
		Email: benchEmail, Password: benchPassword, Role: domain.RoleTenantAdmin, TenantID: benchTenant})
	require.NoError(tb, err)
	return e
}

// benchSQLiteStores are the SQL stores on a fresh embedded SQLite database with the
// declared schema applied, and its change log to follow, as `tenantry serve` runs by
// default.
func benchSQLiteStores(tb testing.TB, sealer ports.SecretSealer) (Stores, ports.ChangeFeed) {
	tb.Helper()
	ctx := context.Background()
	dc := sqlstore.Config{SQLitePath: filepath.Join(tb.TempDir(), "tenantry.db")}
	db, sqlDB, err := sqlstore.Open(ctx, dc)
	require.NoError(tb, err)
	tb.Cleanup(func() { _ = sqlDB.Close() })
	schema, err := os.ReadFile("../schema.hcl")
	require.NoError(tb, err)
	_, err = migrate.Apply(ctx, sqlDB, schema, migrate.Options{})
	require.NoError(tb, err)
	feed, err := sqlstore.NewChangeFeed(db, dc, func(err error) { tb.Errorf("follow the change log: %v", err) })
	require.NoError(tb, err)
	return SQLStores(db, sqlstore.NewTenantStore(db, sealer)), feed
}

// patchTenant changes the bench tenant as the operator.
func (e *benchEnv) patchTenant(tb testing.TB, p domain.TenantPatch) {
	tb.Helper()
	_, err := e.api.admin.tenants.Update(context.Background(), e.api.admin.actor, benchTenant, p)
	require.NoError(tb, err)
}

// login runs the password grant through h and returns the access token.
func benchLogin(tb testing.TB, h http.Handler, email string) string {
	tb.Helper()
	form := url.Values{"grant_type": {"password"}, "username": {email}, "password": {benchPassword}}
	req := httptest.NewRequest(http.MethodPost, "/auth/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	require.Equal(tb, http.StatusOK, rec.Code, rec.Body.String())
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	require.NoError(tb, json.Unmarshal(rec.Body.Bytes(), &tok))
	require.NotEmpty(tb, tok.AccessToken)
	return tok.AccessToken
}

// get sends one GET through h and returns the status and body.
func benchGet(h http.Handler, path, token string) (int, string) {
	req := httptest.NewRequest(http.MethodGet, path, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Code, rec.Body.String()
}

// countingUsers and countingTenants count every call that reaches the stores behind
// the router's caches.
type countingUsers struct {
	ports.UserStore
	calls *atomic.Int64
}

func (c countingUsers) Create(ctx context.Context, u domain.User) error {
	c.calls.Add(1)
	return c.UserStore.Create(ctx, u)
}

func (c countingUsers) Get(ctx context.Context, id domain.UserID) (domain.User, error) {
	c.calls.Add(1)
	return c.UserStore.Get(ctx, id)
}

func (c countingUsers) GetByEmail(ctx context.Context, e domain.Email) (domain.User, error) {
	c.calls.Add(1)
	return c.UserStore.GetByEmail(ctx, e)
}

func (c countingUsers) List(ctx context.Context, f ports.UserFilter, p domain.Page) ([]domain.User, error) {
	c.calls.Add(1)
	return c.UserStore.List(ctx, f, p)
}

func (c countingUsers) Update(ctx context.Context, id domain.UserID, fn func(*domain.User) error) (domain.User, error) {
	c.calls.Add(1)
	return c.UserStore.Update(ctx, id, fn)
}

type countingTenants struct {
	ports.TenantStore
	calls *atomic.Int64
}

func (c countingTenants) Create(ctx context.Context, t domain.Tenant) error {
	c.calls.Add(1)
	return c.TenantStore.Create(ctx, t)
}

func (c countingTenants) Get(ctx context.Context, id domain.TenantID) (domain.Tenant, error) {
	c.calls.Add(1)
	return c.TenantStore.Get(ctx, id)
}

func (c countingTenants) List(ctx context.Context, p domain.Page) ([]domain.Tenant, error) {
	c.calls.Add(1)
	return c.TenantStore.List(ctx, p)
}

func (c countingTenants) Update(ctx context.Context, id domain.TenantID, fn func(*domain.Tenant) error) (domain.Tenant, error) {
	c.calls.Add(1)
	return c.TenantStore.Update(ctx, id, fn)
}

func (c countingTenants) Delete(ctx context.Context, id domain.TenantID) error {
	c.calls.Add(1)
	return c.TenantStore.Delete(ctx, id)
}

// TestWarmAuthenticatedPathSkipsTheDatabase shows that on the warm path GET /users/me
// (verify token, load user) and GET /tenant (plus resolve tenant) read no store: the
// counted user and tenant stores see no call, and with the whole database down both
// still answer 200 with the same body, while a route that must read the database
// answers 503. Once the caches expire, the outage shows.
func TestWarmAuthenticatedPathSkipsTheDatabase(t *testing.T) {
	var userCalls, tenantCalls atomic.Int64
	e := newBenchEnv(t, benchOptions{
		env: map[string]string{"TENANTRY_CACHE_TTL": "30s"},
		wrap: func(st Stores) Stores {
			st.Users = countingUsers{UserStore: st.Users, calls: &userCalls}
			st.Tenants = countingTenants{TenantStore: st.Tenants, calls: &tenantCalls}
			return st
		},
	})
	h := e.api.Handler
	token := benchLogin(t, h, benchEmail)

	warm := map[string]string{}
	for _, path := range []string{"/users/me", "/tenant"} {
		status, body := benchGet(h, path, token)
		require.Equal(t, http.StatusOK, status, body)
		warm[path] = body
	}
	users, tenants := userCalls.Load(), tenantCalls.Load()

	e.db.SetDown(true)
	t.Cleanup(func() { e.db.SetDown(false) })
	for range 100 {
		for _, path := range []string{"/users/me", "/tenant"} {
			status, body := benchGet(h, path, token)
			require.Equal(t, http.StatusOK, status, "%s with the database down: %s", path, body)
			require.JSONEq(t, warm[path], body, path)
		}
	}
	require.Equal(t, users, userCalls.Load(), "user store calls on the warm path")
	require.Equal(t, tenants, tenantCalls.Load(), "tenant store calls on the warm path")

	status, body := benchGet(h, "/documents", token)
	require.Equal(t, http.StatusServiceUnavailable, status, "a route that reads the database: %s", body)
}

// TestColdAuthenticatedPathSeesTheOutage is the control for the test above: without
// warm caches the same request reaches the store and reports its outage.
func TestColdAuthenticatedPathSeesTheOutage(t *testing.T) {
	e := newBenchEnv(t, benchOptions{env: map[string]string{"TENANTRY_CACHE_TTL": "1ms"}})
	h := e.api.Handler
	token := benchLogin(t, h, benchEmail)
	time.Sleep(5 * time.Millisecond) // the user cache entry written at login expires
	e.db.SetDown(true)
	t.Cleanup(func() { e.db.SetDown(false) })
	status, body := benchGet(h, "/users/me", token)
	require.Equal(t, http.StatusServiceUnavailable, status, body)
}

// discardWriter is a reusable http.ResponseWriter that keeps nothing, so the router
// benchmarks count the router's allocations rather than a recorder's.
type discardWriter struct {
	h      http.Header
	status int
}

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *discardWriter) WriteHeader(status int)      { w.status = status }

func (w *discardWriter) reset() {
	clear(w.h)
	w.status = http.StatusOK
}

// BenchmarkRouter times whole requests through the production router (middleware,
// authentication, caches, handler, JSON), without the network: GET /healthz as the
// floor, GET /users/me (verify token, load user and tenant) and GET /tenant (the same
// plus ResolveTenant and the tenant's full representation).
func BenchmarkRouter(b *testing.B) {
	e := newBenchEnv(b, benchOptions{})
	h := e.api.Handler
	token := benchLogin(b, h, benchEmail)
	for _, path := range []string{"/healthz", "/users/me", "/tenant"} {
		if status, body := benchGet(h, path, token); status != http.StatusOK {
			b.Fatalf("%s: %d %s", path, status, body)
		}
	}
	for _, path := range []string{"/healthz", "/users/me", "/tenant"} {
		b.Run("path="+path, func(b *testing.B) {
			req := httptest.NewRequest(http.MethodGet, path, nil)
			req.Header.Set("Authorization", "Bearer "+token)
			w := &discardWriter{h: http.Header{}}
			b.ReportAllocs()
			for b.Loop() {
				w.reset()
				h.ServeHTTP(w, req)
				if w.status != http.StatusOK {
					b.Fatalf("status %d", w.status)
				}
			}
		})
		b.Run("parallel/path="+path, func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				req := httptest.NewRequest(http.MethodGet, path, nil)
				req.Header.Set("Authorization", "Bearer "+token)
				w := &discardWriter{h: http.Header{}}
				for pb.Next() {
					w.reset()
					h.ServeHTTP(w, req)
					if w.status != http.StatusOK {
						b.Errorf("status %d", w.status)
						return
					}
				}
			})
		})
	}
}

// BenchmarkAuthenticateResolve times the use cases every tenant route runs first,
// Authenticate (token → principal) and ResolveTenant (principal → tenant), on the same
// adapters Router wires: the cached verifier over the jwx verifier, and the user and
// tenant caches over the stores. "warm" is the steady state; "verify-every-time" swaps
// the token cache for the bare verifier to show what the cache saves.
func BenchmarkAuthenticateResolve(b *testing.B) {
	e := newBenchEnv(b, benchOptions{})
	token := benchLogin(b, e.api.Handler, benchEmail)
	ctx := context.Background()
	keys, err := jwtauth.NewKeys(e.st.SigningKeys, e.sealer, jwtauth.Config{Issuer: e.cfg.PublicURL, Audience: e.cfg.JWTAudience,
		Algorithm: e.cfg.JWTAlg, AccessTTL: e.cfg.AccessTTL, Skew: e.cfg.JWTSkew}, zap.NewNop())
	require.NoError(b, err)
	require.NoError(b, keys.Load(ctx))
	users := cache.NewUsers(e.st.Users, cache.Options{TTL: e.cfg.CacheTTL})
	tenants := cache.NewTenants(e.st.Tenants, cache.Options{TTL: e.cfg.CacheTTL}, users.Invalidate)
	resolve := application.NewResolveTenant(tenants, time.Now)
	bare := jwtauth.NewVerifier(keys)

	for _, v := range []struct {
		name     string
		verifier ports.TokenVerifier
	}{
		{"warm", jwtauth.NewCachedVerifier(bare, 50_000, time.Now)},
		{"verify-every-time", bare},
	} {
		auth := application.NewAuthenticate(v.verifier, users)
		run := func() error {
			p, err := auth.Execute(ctx, token)
			if err != nil {
				return err
			}
			_, err = resolve.Execute(ctx, p)
			return err
		}
		if err := run(); err != nil {
			b.Fatal(err)
		}
		b.Run(v.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := run(); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("parallel/"+v.name, func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if err := run(); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
	if s := users.Stats(); s.Misses > 1 {
		b.Errorf("user cache missed %d times on the warm path", s.Misses)
	}
}

// BenchmarkLoginBlocked times a wrong-password POST /auth/token once the brute-force
// limiter blocks the address: the cheap answer (429) a login storm gets, as opposed to
// a password hash per attempt.
func BenchmarkLoginBlocked(b *testing.B) {
	e := newBenchEnv(b, benchOptions{})
	h := e.api.Handler
	body := "grant_type=password&username=admin%40bench.test&password=not-the-password"
	send := func(w http.ResponseWriter) {
		req, err := http.NewRequest(http.MethodPost, "/auth/token", strings.NewReader(body))
		if err != nil {
			b.Fatal(err)
		}
		req.RemoteAddr = "192.0.2.1:1234"
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		h.ServeHTTP(w, req)
	}
	for range e.cfg.LoginMaxFailures {
		send(httptest.NewRecorder())
	}
	w := &discardWriter{h: http.Header{}}
	b.ReportAllocs()
	for b.Loop() {
		w.reset()
		send(w)
		if w.status != http.StatusTooManyRequests {
			b.Fatalf("status %d", w.status)
		}
	}
}
