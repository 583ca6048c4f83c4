package sqlstore_test

import (
	"context"
	"database/sql"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/adapters/sqlstore"
	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/ports"
	"github.com/tenantry/tenantry/ports/porttest"
)

// pgFeed opens a pool of its own on dsn, as another process would, and its feed.
func pgFeed(t *testing.T, dsn string) *sqlstore.ChangeFeed {
	t.Helper()
	cfg := sqlstore.Config{URL: dsn, MaxOpenConns: 2}
	gdb, sqlDB, err := sqlstore.Open(context.Background(), cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = sqlDB.Close() })
	f, err := sqlstore.NewChangeFeed(gdb, cfg, nil)
	require.NoError(t, err)
	return f
}

func TestChangeFeedPostgres(t *testing.T) {
	requirePostgres(t)
	porttest.ChangeFeed(t, func(t *testing.T) (a, b ports.ChangeFeed) {
		dsn := pgDatabase(t)
		return pgFeed(t, dsn), pgFeed(t, dsn)
	})
}

// TestChangeFeedPostgresReconnects kills the listening session, as a failover or an
// idle-session reaper would: the feed reconnects by itself, says ChangeAll (changes
// may have been lost meanwhile), and hears later changes again.
func TestChangeFeedPostgresReconnects(t *testing.T) {
	dsn := pgDatabase(t)
	a, b := pgFeed(t, dsn), pgFeed(t, dsn)
	heard := make(chan domain.Change, 16)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = b.Listen(ctx, func(c domain.Change) { heard <- c })
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	next := func() domain.Change {
		t.Helper()
		select {
		case c := <-heard:
			return c
		case <-time.After(15 * time.Second):
			t.Fatal("nothing heard")
			return domain.Change{}
		}
	}
	require.Equal(t, domain.ChangeAll, next().Kind)

	admin := pgFeedAdmin(t, dsn)
	res, err := admin.ExecContext(t.Context(), `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
		WHERE datname = current_database() AND pid <> pg_backend_pid() AND query LIKE 'LISTEN%'`)
	require.NoError(t, err)
	n, err := res.RowsAffected()
	require.NoError(t, err)
	require.EqualValues(t, 1, n, "one listening session")

	require.Equal(t, domain.ChangeAll, next().Kind, "after reconnecting")
	require.NoError(t, a.Publish(t.Context(), domain.Change{Kind: domain.ChangeUser, ID: "u-9"}))
	require.Equal(t, domain.Change{Kind: domain.ChangeUser, ID: "u-9"}, next())
}

// pgFeedAdmin is a plain connection pool on dsn for statements the test runs itself.
func pgFeedAdmin(t *testing.T, dsn string) *sql.DB {
	t.Helper()
	db, err := sql.Open("pgx", dsn)
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	return db
}
