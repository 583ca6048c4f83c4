package sqlstore_test

import (
	"testing"

	"github.com/tenantry/tenantry/ports/porttest"
)

// TestContractSQLite runs every storage contract suite on the embedded SQLite database,
// a fresh file per subtest.
func TestContractSQLite(t *testing.T) {
	porttest.Storage(t, func(t *testing.T) porttest.Stores { return newSQLite(t).stores() })
}

// TestContractPostgres runs every storage contract suite on PostgreSQL, a fresh
// database per subtest.
func TestContractPostgres(t *testing.T) {
	requirePostgres(t)
	porttest.Storage(t, func(t *testing.T) porttest.Stores { return newPostgres(t).stores() })
}
