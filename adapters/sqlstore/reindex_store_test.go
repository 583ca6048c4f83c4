package sqlstore_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/adapters/sqlstore"
	"github.com/tenantry/tenantry/domain"
)

// TestTenantsStoredBeforeReindexingHaveReadyVectors checks the schema's defaults for
// rows written before the vector epoch existed: such a tenant's vectors were kept in
// step by ingestion, so they count as ready and its retrieval mode stays in force.
func TestTenantsStoredBeforeReindexingHaveReadyVectors(t *testing.T) {
	for name, open := range map[string]func(*testing.T) backend{"sqlite": newSQLite, "postgres": func(t *testing.T) backend {
		requirePostgres(t)
		return newPostgres(t)
	}} {
		t.Run(name, func(t *testing.T) {
			b := open(t)
			ctx := context.Background()
			tenants := sqlstore.NewTenantStore(b.gdb, b.sealer)
			tn, err := domain.NewTenant("acme", "Acme", time.Now())
			require.NoError(t, err)
			tn.Retrieval.Mode = domain.RetrievalHybrid
			tn.Vectors = domain.VectorState{Epoch: 4, Ready: false}
			require.NoError(t, tenants.Create(ctx, tn))

			// Copy the row as an older tenantry would have written it: without the
			// vector columns, which then take their defaults.
			rows, err := b.sqlDB.QueryContext(ctx, "SELECT * FROM tenants WHERE 1 = 0")
			require.NoError(t, err)
			cols, err := rows.Columns()
			require.NoError(t, err)
			require.NoError(t, rows.Close())
			cols = slices.DeleteFunc(cols, func(c string) bool { return strings.HasPrefix(c, "vectors_") })
			sel := slices.Clone(cols)
			sel[slices.Index(cols, "id")] = "'legacy'"
			_, err = b.sqlDB.ExecContext(ctx, "INSERT INTO tenants ("+strings.Join(cols, ", ")+") SELECT "+
				strings.Join(sel, ", ")+" FROM tenants WHERE id = 'acme'")
			require.NoError(t, err)

			got, err := tenants.Get(ctx, "legacy")
			require.NoError(t, err)
			assert.Equal(t, domain.VectorState{Epoch: 0, Ready: true}, got.Vectors)
			assert.Equal(t, domain.RetrievalHybrid, got.ServingMode())
		})
	}
}
