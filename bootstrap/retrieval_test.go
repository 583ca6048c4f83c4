package bootstrap

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/adapters/lexical"
	"github.com/tenantry/tenantry/adapters/memory"
	"github.com/tenantry/tenantry/adapters/migrate"
	"github.com/tenantry/tenantry/adapters/sqlstore"
	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/ports"
	"github.com/tenantry/tenantry/ports/porttest"
)

// engineStores returns fresh, empty stores on one engine: "memory", "sqlite" (a new
// file) or "postgres" (a new database on TEST_DATABASE_URL's server), with the schema
// applied.
func engineStores(t *testing.T, engine string) Stores {
	t.Helper()
	if engine == "memory" {
		return MemoryStores(memory.NewDB())
	}
	cfg := sqlstore.Config{SQLitePath: t.TempDir() + "/tenantry.db"}
	if engine == "postgres" {
		cfg = sqlstore.Config{URL: newPostgresDatabase(t).url, MaxOpenConns: 4}
	}
	db, sqlDB, err := sqlstore.Open(context.Background(), cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = sqlDB.Close() })
	_, err = migrate.Apply(context.Background(), sqlDB, schemaHCL(t), migrate.Options{})
	require.NoError(t, err)
	return SQLStores(db, sqlstore.NewTenantStore(db, testSealer(t)))
}

var engines = []string{"memory", "sqlite", "postgres"}

// TestLexicalIndexContract runs the LexicalIndex suite on the lexical index over the
// chunk store of every engine (each write preceded by its rows, as ingestion stores them), its copy rebuilt from the store before each search so
// that what was stored is what is found; on memory also with the copy kept in step by
// the writes themselves.
func TestLexicalIndexContract(t *testing.T) {
	t.Run("memory, kept in step", func(t *testing.T) {
		t.Parallel()
		porttest.LexicalIndex(t, func(t *testing.T) ports.LexicalIndex {
			st := engineStores(t, "memory")
			createIndexTenants(t, st)
			return porttest.StoredLexical(lexical.New(st.Chunks, lexical.Config{}), porttest.Rows{Chunks: porttest.DocumentRows(st.Documents, st.Chunks)})
		})
	})
	for _, engine := range engines {
		t.Run(engine+", reloaded", func(t *testing.T) {
			if engine == "postgres" {
				requirePostgres(t)
			}
			t.Parallel()
			porttest.LexicalIndex(t, func(t *testing.T) ports.LexicalIndex {
				st := engineStores(t, engine)
				createIndexTenants(t, st)
				return porttest.StoredLexical(reloading{lexical.New(st.Chunks, lexical.Config{})}, porttest.Rows{Chunks: porttest.DocumentRows(st.Documents, st.Chunks)})
			})
		})
	}
}

func createIndexTenants(t *testing.T, st Stores) {
	t.Helper()
	for _, id := range porttest.IndexTenants() {
		tenant, err := domain.NewTenant(id, string(id), time.Now())
		require.NoError(t, err)
		require.NoError(t, st.Tenants.Create(context.Background(), tenant))
	}
}

// reloading drops its index's in-memory copy before every search, as another process
// would see the tenant after a change.
type reloading struct{ *lexical.Index }

func (r reloading) Search(ctx context.Context, t domain.TenantID, q string, k int) (domain.SearchResult, error) {
	r.Invalidate(t)
	return r.Index.Search(ctx, t, q, k)
}
