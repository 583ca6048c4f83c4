package sqlstore_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib"
	"github.com/stretchr/testify/require"
	"gorm.io/gorm"

	"github.com/tenantry/tenantry/adapters/migrate"
	"github.com/tenantry/tenantry/adapters/sqlstore"
	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/ports"
	"github.com/tenantry/tenantry/ports/porttest"
)

// The tests apply the real schema.hcl with the migrate adapter: the stores never create
// tables themselves, so there is no other faithful way to get a database to test them
// on. This is a test-only dependency; the sqlstore package itself imports no adapter.

func schemaHCL(t testing.TB) []byte {
	t.Helper()
	b, err := os.ReadFile("../../schema.hcl")
	require.NoError(t, err)
	return b
}

// fakeSealer is a reversible stand-in for secretbox: it binds the aad and a key version
// into the value and hides the plaintext (XOR), so the tests can check that what
// reaches the database is neither the plaintext nor movable to another row.
type fakeSealer struct {
	version byte
	known   map[byte]bool
}

func newFakeSealer(version byte, previous ...byte) *fakeSealer {
	s := &fakeSealer{version: version, known: map[byte]bool{version: true}}
	for _, v := range previous {
		s.known[v] = true
	}
	return s
}

var _ ports.SecretSealer = (*fakeSealer)(nil)

func (s *fakeSealer) Seal(plaintext []byte, aad string) ([]byte, error) {
	out := []byte{s.version}
	out = append(out, []byte(hex.EncodeToString([]byte(aad)))...)
	out = append(out, '|')
	for _, b := range plaintext {
		out = append(out, b^0x5a)
	}
	return out, nil
}

func (s *fakeSealer) Open(sealed []byte, aad string) ([]byte, error) {
	if len(sealed) == 0 || !s.known[sealed[0]] {
		return nil, domain.E(domain.KindInternal, "secret_key_unknown", "unknown key version", nil)
	}
	head, body, ok := bytes.Cut(sealed[1:], []byte("|"))
	if !ok || string(head) != hex.EncodeToString([]byte(aad)) {
		return nil, domain.E(domain.KindInternal, "secret_unreadable", "wrong aad", nil)
	}
	out := make([]byte, len(body))
	for i, b := range body {
		out[i] = b ^ 0x5a
	}
	return out, nil
}

func (s *fakeSealer) NeedsReseal(sealed []byte) bool {
	return len(sealed) == 0 || sealed[0] != s.version
}

// backend is one migrated database for one test.
type backend struct {
	gdb    *gorm.DB
	sqlDB  *sql.DB
	sealer *fakeSealer
	cfg    sqlstore.Config
}

func (b backend) stores() porttest.Stores {
	return porttest.Stores{
		Tenants:           sqlstore.NewTenantStore(b.gdb, b.sealer),
		Users:             sqlstore.NewUserStore(b.gdb),
		SigningKeys:       sqlstore.NewSigningKeyStore(b.gdb),
		RefreshTokens:     sqlstore.NewRefreshTokenStore(b.gdb),
		Chunks:            sqlstore.NewChunkStore(b.gdb),
		Documents:         sqlstore.NewDocumentStore(b.gdb),
		Conversations:     sqlstore.NewConversationStore(b.gdb),
		ConversationEdits: sqlstore.NewConversationStore(b.gdb),
		Usage:             sqlstore.NewUsageStore(b.gdb),
		Audit:             sqlstore.NewAuditLog(b.gdb),
		ChunkScanner:      sqlstore.NewChunkStore(b.gdb),
		Reindex:           sqlstore.NewReindexStore(b.gdb),
		APIKeys:           sqlstore.NewAPIKeyStore(b.gdb),
	}
}

// newSQLite opens a fresh embedded database in a temporary directory with the schema
// applied.
func newSQLite(t *testing.T) backend {
	t.Helper()
	cfg := sqlstore.Config{SQLitePath: filepath.Join(t.TempDir(), "data", "tenantry.db")}
	return openMigrated(t, cfg)
}

// newPostgres returns an empty migrated database of its own on the TEST_DATABASE_URL
// server, so tests can run in parallel.
func newPostgres(t *testing.T) backend {
	t.Helper()
	return openMigrated(t, sqlstore.Config{URL: pgDatabase(t), MaxOpenConns: 10})
}

func openMigrated(t testing.TB, cfg sqlstore.Config) backend {
	t.Helper()
	ctx := context.Background()
	gdb, sqlDB, err := sqlstore.Open(ctx, cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = sqlDB.Close() })
	if cfg.URL == "" {
		_, err = migrate.Apply(ctx, sqlDB, schemaHCL(t), migrate.Options{})
		require.NoError(t, err)
	}
	return backend{gdb: gdb, sqlDB: sqlDB, sealer: newFakeSealer(1), cfg: cfg}
}

// requirePostgres returns TEST_DATABASE_URL. Without it the test skips, except under
// CI=true, where PostgreSQL-backed tests must run and a missing server fails.
func requirePostgres(t testing.TB) string {
	t.Helper()
	u := os.Getenv("TEST_DATABASE_URL")
	if u == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("TEST_DATABASE_URL is not set, but CI=true requires the PostgreSQL-backed tests to run (use `go tool task test`)")
		}
		t.Skip("TEST_DATABASE_URL is not set; run `go tool task test` to run the PostgreSQL-backed tests")
	}
	return u
}

var pgPool struct {
	once  sync.Once
	mu    sync.Mutex
	admin *sql.DB
	free  []string
	all   []string
	err   error
}

func randomName(prefix string) string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

func withDatabase(raw, name string) string {
	u, err := url.Parse(raw)
	if err != nil {
		panic(err)
	}
	u.Path = "/" + name
	return u.String()
}

// pgDatabase lends one test a migrated, empty database of its own. Databases are
// created on demand (one per test running in parallel), emptied with TRUNCATE when the
// test ends and lent again, which is much faster than a CREATE DATABASE per test; all
// are dropped when the package's tests end.
func pgDatabase(t testing.TB) string {
	t.Helper()
	base := requirePostgres(t)
	pgPool.once.Do(func() { pgPool.admin, pgPool.err = sql.Open("pgx", base) })
	require.NoError(t, pgPool.err)
	pgPool.mu.Lock()
	var name string
	if n := len(pgPool.free); n > 0 {
		name, pgPool.free = pgPool.free[n-1], pgPool.free[:n-1]
	}
	pgPool.mu.Unlock()
	if name == "" {
		name = randomName("tenantry_test_")
		_, err := pgPool.admin.Exec("CREATE DATABASE " + name)
		require.NoError(t, err)
		pgPool.mu.Lock()
		pgPool.all = append(pgPool.all, name)
		pgPool.mu.Unlock()
		require.NoError(t, migrateDatabase(withDatabase(base, name), schemaHCLFile()))
	}
	dsn := withDatabase(base, name)
	t.Cleanup(func() {
		if err := truncateAll(dsn); err != nil {
			t.Errorf("empty test database: %v", err)
			return
		}
		pgPool.mu.Lock()
		pgPool.free = append(pgPool.free, name)
		pgPool.mu.Unlock()
	})
	return dsn
}

func truncateAll(dsn string) error {
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		return err
	}
	defer func() { _ = db.Close() }()
	_, err = db.Exec(`DO $$ DECLARE t text; BEGIN
		FOR t IN SELECT tablename FROM pg_tables WHERE schemaname = 'public' LOOP
			EXECUTE format('TRUNCATE TABLE public.%I CASCADE', t);
		END LOOP; END $$`)
	return err
}

func schemaHCLFile() []byte {
	b, err := os.ReadFile("../../schema.hcl")
	if err != nil {
		panic(err)
	}
	return b
}

func migrateDatabase(dsn string, hcl []byte) error {
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		return err
	}
	defer func() { _ = db.Close() }()
	_, err = migrate.Apply(context.Background(), db, hcl, migrate.Options{})
	return err
}

func TestMain(m *testing.M) {
	code := m.Run()
	if pgPool.admin != nil {
		for _, name := range pgPool.all {
			if _, err := pgPool.admin.Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)"); err != nil {
				fmt.Fprintln(os.Stderr, "drop test database:", err)
			}
		}
		_ = pgPool.admin.Close()
	}
	os.Exit(code)
}
