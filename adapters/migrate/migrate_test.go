package migrate_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	_ "github.com/glebarez/go-sqlite"
	_ "github.com/jackc/pgx/v5/stdlib"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/adapters/migrate"
	"github.com/tenantry/tenantry/domain"
)

func schemaHCL(t *testing.T) []byte {
	t.Helper()
	b, err := os.ReadFile("../../schema.hcl")
	require.NoError(t, err)
	return b
}

// engine opens an empty database of one kind for one test.
type engine struct {
	name string
	open func(t *testing.T) *sql.DB
}

func engines() []engine {
	return []engine{{name: "sqlite", open: openSQLite}, {name: "postgres", open: openPostgres}}
}

func openSQLite(t *testing.T) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", filepath.Join(t.TempDir(), "t.db")+"?_pragma=foreign_keys(1)&_pragma=journal_mode(WAL)&_pragma=busy_timeout(5000)")
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// openPostgres creates a database of its own on the TEST_DATABASE_URL server and drops
// it after the test. Without the variable the test skips, except under CI=true where it
// fails.
func openPostgres(t *testing.T) *sql.DB {
	t.Helper()
	base := os.Getenv("TEST_DATABASE_URL")
	if base == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("TEST_DATABASE_URL is not set, but CI=true requires the PostgreSQL-backed tests to run (use `go tool task test`)")
		}
		t.Skip("TEST_DATABASE_URL is not set; run `go tool task test` to run the PostgreSQL-backed tests")
	}
	admin, err := sql.Open("pgx", base)
	require.NoError(t, err)
	t.Cleanup(func() { _ = admin.Close() })
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "tenantry_migrate_" + hex.EncodeToString(b[:])
	_, err = admin.Exec("CREATE DATABASE " + name)
	require.NoError(t, err)
	u, err := url.Parse(base)
	require.NoError(t, err)
	u.Path = "/" + name
	db, err := sql.Open("pgx", u.String())
	require.NoError(t, err)
	t.Cleanup(func() {
		_ = db.Close()
		_, _ = admin.Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)")
	})
	return db
}

func tables(t *testing.T, db *sql.DB, dialect string) []string {
	t.Helper()
	q := "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename"
	if dialect == "sqlite" {
		q = "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"
	}
	rows, err := db.Query(q)
	require.NoError(t, err)
	defer func() { _ = rows.Close() }()
	var out []string
	for rows.Next() {
		var n string
		require.NoError(t, rows.Scan(&n))
		out = append(out, n)
	}
	require.NoError(t, rows.Err())
	return out
}

func columns(t *testing.T, db *sql.DB, dialect, table string) []string {
	t.Helper()
	q := "SELECT column_name FROM information_schema.columns WHERE table_schema = 'public' AND table_name = $1 ORDER BY ordinal_position"
	if dialect == "sqlite" {
		q = "SELECT name FROM pragma_table_info(?) ORDER BY cid"
	}
	rows, err := db.Query(q, table)
	require.NoError(t, err)
	defer func() { _ = rows.Close() }()
	var out []string
	for rows.Next() {
		var n string
		require.NoError(t, rows.Scan(&n))
		out = append(out, n)
	}
	require.NoError(t, rows.Err())
	return out
}

var wantTables = []string{"api_keys", "audit_log", "changes", "chunks", "conversations", "documents", "login_failures", "messages", "rate_limits", "refresh_tokens", "reindex_jobs", "signing_keys", "stream_leases", "tenants", "usage_records", "users"}

func TestApply(t *testing.T) {
	for _, e := range engines() {
		t.Run(e.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			db := e.open(t)
			hcl := schemaHCL(t)

			t.Run("dry run plans every table and changes nothing", func(t *testing.T) {
				plan, err := migrate.Apply(ctx, db, hcl, migrate.Options{DryRun: true})
				require.NoError(t, err)
				assert.Equal(t, e.name, plan.Dialect)
				assert.Empty(t, plan.Destructive)
				for _, table := range wantTables {
					assert.Contains(t, plan.SQL(), "CREATE TABLE", table)
					assert.Contains(t, plan.SQL(), table)
				}
				assert.Empty(t, tables(t, db, e.name), "a dry run created tables")
				require.ErrorIs(t, migrate.Check(ctx, db, hcl), migrate.ErrDrift)
			})

			t.Run("first apply creates the schema", func(t *testing.T) {
				plan, err := migrate.Apply(ctx, db, hcl, migrate.Options{})
				require.NoError(t, err)
				assert.False(t, plan.Empty())
				assert.Equal(t, wantTables, tables(t, db, e.name))
			})

			t.Run("second apply reports no changes and check passes", func(t *testing.T) {
				plan, err := migrate.Apply(ctx, db, hcl, migrate.Options{})
				require.NoError(t, err)
				assert.True(t, plan.Empty(), "unexpected plan:\n%s", plan.SQL())
				assert.Empty(t, plan.SQL())
				require.NoError(t, migrate.Check(ctx, db, hcl))
			})
		})
	}
}

// dropColumn returns the schema with one column of users removed.
func dropColumn(t *testing.T, hcl []byte) []byte {
	t.Helper()
	block := "  column \"disabled\" {\n    type    = boolean\n    default = false\n  }\n"
	require.Contains(t, string(hcl), block)
	return []byte(strings.Replace(string(hcl), block, "", 1))
}

func TestDestructiveChangesAreRefusedUnlessAllowed(t *testing.T) {
	for _, e := range engines() {
		t.Run(e.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			db := e.open(t)
			hcl := schemaHCL(t)
			_, err := migrate.Apply(ctx, db, hcl, migrate.Options{})
			require.NoError(t, err)
			// A row in a parent table proves the rebuild SQLite needs keeps the data and
			// does not cascade into child tables.
			insertTenantAndUser(t, db, e.name)

			edited := dropColumn(t, hcl)
			plan, err := migrate.Apply(ctx, db, edited, migrate.Options{})
			require.ErrorIs(t, err, migrate.ErrDestructive)
			assert.Equal(t, domain.KindConflict, domain.KindOf(err))
			assert.Contains(t, err.Error(), `drop column "disabled" of table "users"`)
			assert.Contains(t, err.Error(), "--allow-destructive")
			assert.Equal(t, []string{`drop column "disabled" of table "users"`}, plan.Destructive)
			assert.Contains(t, columns(t, db, e.name, "users"), "disabled", "a refused plan changed the schema")

			dry, err := migrate.Apply(ctx, db, edited, migrate.Options{DryRun: true, AllowDestructive: true})
			require.NoError(t, err)
			assert.NotEmpty(t, dry.Statements)
			assert.Contains(t, columns(t, db, e.name, "users"), "disabled", "a dry run changed the schema")

			require.ErrorIs(t, migrate.Check(ctx, db, edited), migrate.ErrDrift)

			_, err = migrate.Apply(ctx, db, edited, migrate.Options{AllowDestructive: true})
			require.NoError(t, err)
			assert.NotContains(t, columns(t, db, e.name, "users"), "disabled")
			assert.Equal(t, 1, count(t, db, "users"), "rows were lost")
			assert.Equal(t, 1, count(t, db, "refresh_tokens"), "a child row was lost")

			again, err := migrate.Apply(ctx, db, edited, migrate.Options{})
			require.NoError(t, err)
			assert.True(t, again.Empty(), "unexpected plan:\n%s", again.SQL())

			// The live schema now lacks a declared column: drift against the original.
			err = migrate.Check(ctx, db, hcl)
			require.ErrorIs(t, err, migrate.ErrDrift)
			assert.Contains(t, err.Error(), migrate.Command)
			assert.Equal(t, domain.KindUnavailable, domain.KindOf(err))
			_, err = migrate.Apply(ctx, db, hcl, migrate.Options{})
			require.NoError(t, err, "adding the column back is not destructive")
			require.NoError(t, migrate.Check(ctx, db, hcl))
		})
	}
}

func TestDriftFromAHandMadeChangeIsDetected(t *testing.T) {
	for _, e := range engines() {
		t.Run(e.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			db := e.open(t)
			hcl := schemaHCL(t)
			_, err := migrate.Apply(ctx, db, hcl, migrate.Options{})
			require.NoError(t, err)
			_, err = db.Exec("CREATE TABLE scratch (id integer)")
			require.NoError(t, err)

			require.ErrorIs(t, migrate.Check(ctx, db, hcl), migrate.ErrDrift)
			_, err = migrate.Apply(ctx, db, hcl, migrate.Options{})
			require.ErrorIs(t, err, migrate.ErrDestructive)
			assert.Contains(t, err.Error(), `drop table "scratch"`)
		})
	}
}

func TestInvalidSchemaIsInvalid(t *testing.T) {
	db := openSQLite(t)
	_, err := migrate.Apply(context.Background(), db, []byte(`table "x" {`), migrate.Options{})
	require.Error(t, err)
	assert.Equal(t, domain.KindInvalid, domain.KindOf(err))
}

func insertTenantAndUser(t *testing.T, db *sql.DB, dialect string) {
	t.Helper()
	ph := func(n int) string {
		if dialect == "sqlite" {
			return "?"
		}
		return "$" + string(rune('0'+n))
	}
	_, err := db.Exec(`INSERT INTO tenants (id, name, status, retrieval_top_k, vector_provider, vector_namespace,
		embedder_provider, embedder_dimensions, llm_provider, llm_model, llm_max_tokens, created_at, updated_at)
		VALUES ('acme', 'Acme', 'active', 4, 'embedded', 'acme', 'hashing', 384, 'extractive', 'extractive', 512, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)`)
	require.NoError(t, err)
	_, err = db.Exec(`INSERT INTO users (id, email, tenant_id, role, created_at, updated_at)
		VALUES ('u1', 'ada@example.com', 'acme', 'member', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)`)
	require.NoError(t, err)
	_, err = db.Exec(`INSERT INTO refresh_tokens (hash, family_id, user_id, tenant_id, expires_at, created_at)
		VALUES (`+ph(1)+`, 'f1', 'u1', 'acme', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)`, "h1")
	require.NoError(t, err)
}

func count(t *testing.T, db *sql.DB, table string) int {
	t.Helper()
	var n int
	require.NoError(t, db.QueryRow("SELECT COUNT(*) FROM "+table).Scan(&n))
	return n
}

// TestRebuildingAParentTableKeepsItsChildren changes a column of tenants in a way
// SQLite can only apply by rebuilding the table (create, copy, drop, rename): with
// foreign keys enforced, dropping the old table would cascade into users and their
// refresh tokens.
func TestRebuildingAParentTableKeepsItsChildren(t *testing.T) {
	for _, e := range engines() {
		t.Run(e.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			db := e.open(t)
			hcl := schemaHCL(t)
			_, err := migrate.Apply(ctx, db, hcl, migrate.Options{})
			require.NoError(t, err)
			insertTenantAndUser(t, db, e.name)

			block := "  column \"system_prompt\" {\n    type    = text\n    default = \"\"\n  }\n"
			require.Contains(t, string(hcl), block)
			edited := []byte(strings.Replace(string(hcl), block, "  column \"system_prompt\" {\n    type    = text\n    null    = true\n    default = \"\"\n  }\n", 1))
			plan, err := migrate.Apply(ctx, db, edited, migrate.Options{})
			require.NoError(t, err)
			assert.False(t, plan.Empty())
			assert.Empty(t, plan.Destructive)

			assert.Equal(t, 1, count(t, db, "tenants"))
			assert.Equal(t, 1, count(t, db, "users"), "users were lost with the rebuilt tenants table")
			assert.Equal(t, 1, count(t, db, "refresh_tokens"))
			var tenant sql.NullString
			require.NoError(t, db.QueryRow("SELECT tenant_id FROM users").Scan(&tenant))
			assert.Equal(t, "acme", tenant.String, "the user lost its tenant")
			require.NoError(t, migrate.Check(ctx, db, edited))
		})
	}
}

// TestOrphanChunksAreDeletedBeforeTheirForeignKeyIsAdded applies the schema as it was
// before chunks referenced their document, stores chunks of a document that exists and
// of one that does not (as a crash between writing chunks and the record left them),
// then applies the declared schema: the orphans are gone, the others kept, and the
// foreign key holds from then on.
func TestOrphanChunksAreDeletedBeforeTheirForeignKeyIsAdded(t *testing.T) {
	for _, e := range engines() {
		t.Run(e.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			db := e.open(t)
			hcl := schemaHCL(t)
			fk := "  foreign_key \"chunks_document_id_fkey\" {\n    columns     = [column.document_id]\n    ref_columns = [table.documents.column.id]\n    on_update   = NO_ACTION\n    on_delete   = CASCADE\n  }\n"
			require.Contains(t, string(hcl), fk)
			before := []byte(strings.Replace(string(hcl), fk, "", 1))
			_, err := migrate.Apply(ctx, db, before, migrate.Options{})
			require.NoError(t, err)
			insertTenantAndUser(t, db, e.name)
			_, err = db.Exec(`INSERT INTO documents (id, tenant_id, title, created_at, updated_at)
				VALUES ('kept', 'acme', 'Kept', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)`)
			require.NoError(t, err)
			for _, doc := range []string{"kept", "kept", "orphan", "orphan"} {
				_, err = db.Exec(`INSERT INTO chunks (tenant_id, document_id, idx, text, vector)
					VALUES ('acme', '` + doc + `', (SELECT COUNT(*) FROM chunks WHERE document_id = '` + doc + `'), 'text', '')`)
				require.NoError(t, err)
			}
			require.Equal(t, 4, count(t, db, "chunks"))

			plan, err := migrate.Apply(ctx, db, hcl, migrate.Options{})
			require.NoError(t, err)
			assert.Contains(t, plan.SQL(), "DELETE FROM chunks", "the plan shows the data step")
			assert.Equal(t, 2, count(t, db, "chunks"), "the orphans went, the others stayed")
			var orphans int
			require.NoError(t, db.QueryRow("SELECT COUNT(*) FROM chunks WHERE document_id = 'orphan'").Scan(&orphans))
			assert.Zero(t, orphans)

			_, err = db.Exec(`INSERT INTO chunks (tenant_id, document_id, idx, text, vector) VALUES ('acme', 'orphan', 9, 'text', '')`)
			assert.Error(t, err, "a chunk of a missing document is refused")
			_, err = db.Exec(`DELETE FROM documents WHERE id = 'kept'`)
			require.NoError(t, err)
			assert.Zero(t, count(t, db, "chunks"), "deleting the document deletes its chunks")

			again, err := migrate.Apply(ctx, db, hcl, migrate.Options{})
			require.NoError(t, err)
			assert.True(t, again.Empty(), "a second run changes nothing: %s", again.SQL())
		})
	}
}
