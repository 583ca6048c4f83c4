package sqlstore_test

import (
	"context"
	"database/sql"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/adapters/sqlstore"
	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/ports"
	"github.com/tenantry/tenantry/ports/porttest"
)

// feedOn opens a pool of its own on cfg, as another process would, and its feed.
func feedOn(t *testing.T, cfg sqlstore.Config) *sqlstore.ChangeFeed {
	t.Helper()
	cfg.MaxOpenConns = 2
	gdb, sqlDB, err := sqlstore.Open(context.Background(), cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = sqlDB.Close() })
	f, err := sqlstore.NewChangeFeed(gdb, cfg, nil)
	require.NoError(t, err)
	return f
}

// listen follows feed until the test ends and returns what it hears.
func listen(t *testing.T, feed ports.ChangeFeed) <-chan domain.Change {
	t.Helper()
	heard := make(chan domain.Change, 16)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = feed.Listen(ctx, func(c domain.Change) {
			select { // a test that stopped reading must not keep the feed from ending
			case heard <- c:
			case <-ctx.Done():
			}
		})
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	return heard
}

func changeLogOn(newBackend func(*testing.T) backend) porttest.NewChangeLog {
	return func(t *testing.T) (porttest.Stores, func() ports.ChangeFeed) {
		b := newBackend(t)
		return b.stores(), func() ports.ChangeFeed { return feedOn(t, b.cfg) }
	}
}

func TestChangeFeedSQLite(t *testing.T) { porttest.ChangeFeed(t, changeLogOn(newSQLite)) }

func TestChangeFeedPostgres(t *testing.T) {
	requirePostgres(t)
	porttest.ChangeFeed(t, changeLogOn(newPostgres))
}

// TestChangeFeedPostgresReconnects kills the listening session, as a failover or an
// idle-session reaper would: the feed reconnects by itself and delivers the changes
// recorded while it was away from the log, in order, without a ChangeAll.
func TestChangeFeedPostgresReconnects(t *testing.T) {
	requirePostgres(t)
	b := newPostgres(t)
	stores := b.stores()
	heard := listen(t, feedOn(t, b.cfg))
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

	// The feed said ChangeAll before it connected to listen: wait for its session to
	// appear, then cut it.
	admin := pgFeedAdmin(t, b.cfg.URL)
	for {
		res, err := admin.ExecContext(t.Context(), `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
			WHERE datname = current_database() AND pid <> pg_backend_pid() AND query LIKE 'LISTEN%'`)
		require.NoError(t, err)
		n, err := res.RowsAffected()
		require.NoError(t, err)
		require.LessOrEqual(t, n, int64(1), "one listening session")
		if n == 1 {
			break
		}
		select {
		case <-t.Context().Done():
			t.Fatal("the feed never listened")
		case <-time.After(20 * time.Millisecond): // paces the look-ups; orders nothing
		}
	}

	tn, err := domain.NewTenant("acme", "Acme", time.Now())
	require.NoError(t, err)
	require.NoError(t, stores.Tenants.Create(t.Context(), tn))
	_, err = stores.Tenants.Update(t.Context(), "acme", func(tn *domain.Tenant) error { tn.Name = "Acme 2"; return nil })
	require.NoError(t, err)
	require.Equal(t, domain.Change{Kind: domain.ChangeTenant, ID: "acme"}, next(), "the change made while reconnecting")
	require.Equal(t, domain.Change{Kind: domain.ChangeTenant, ID: "acme"}, next())
}

// TestChangeFeedPrune removes old entries but always keeps the newest, and a follower
// goes on reading after a prune.
func TestChangeFeedPrune(t *testing.T) {
	b := newSQLite(t)
	stores := b.stores()
	feed := feedOn(t, b.cfg)
	for _, id := range []domain.TenantID{"acme", "globex"} {
		tn, err := domain.NewTenant(id, "T", time.Now())
		require.NoError(t, err)
		require.NoError(t, stores.Tenants.Create(t.Context(), tn))
	}
	n, err := feed.Prune(t.Context(), time.Now().Add(time.Hour))
	require.NoError(t, err)
	assert.EqualValues(t, 1, n, "all but the newest entry")
	var left int64
	require.NoError(t, b.gdb.Raw("SELECT COUNT(*) FROM changes").Scan(&left).Error)
	assert.EqualValues(t, 1, left)
	n, err = feed.Prune(t.Context(), time.Now().Add(-time.Hour))
	require.NoError(t, err)
	assert.Zero(t, n, "nothing younger than the cut-off")
}

// pgFeedAdmin is a plain connection pool on dsn for statements the test runs itself.
func pgFeedAdmin(t *testing.T, dsn string) *sql.DB {
	t.Helper()
	db, err := sql.Open("pgx", dsn)
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// TestChangesOfTheFeedsOwnPoolAreLocal records a change through stores on one pool:
// the feed on that same pool (the process that wrote it) hears it marked Local, the
// feed of another pool (another process) hears it plain.
func TestChangesOfTheFeedsOwnPoolAreLocal(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		backend func(*testing.T) backend
	}{{"sqlite", newSQLite}, {"postgres", newPostgres}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := tc.backend(t) // skips without PostgreSQL
			own, err := sqlstore.NewChangeFeed(b.gdb, b.cfg, nil)
			require.NoError(t, err)
			other := feedOn(t, b.cfg)
			hear := func(feed ports.ChangeFeed) <-chan domain.Change {
				heard := listen(t, feed)
				require.Equal(t, domain.Change{Kind: domain.ChangeAll}, <-heard)
				return heard
			}
			fromOwn, fromOther := hear(own), hear(other)

			tn, err := domain.NewTenant("acme", "Acme", time.Now())
			require.NoError(t, err)
			require.NoError(t, b.stores().Tenants.Create(context.Background(), tn))
			assert.Equal(t, domain.Change{Kind: domain.ChangeTenant, ID: "acme", Local: true}, <-fromOwn)
			assert.Equal(t, domain.Change{Kind: domain.ChangeTenant, ID: "acme"}, <-fromOther)
		})
	}
}
