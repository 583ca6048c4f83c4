package sqlstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"gorm.io/gorm"

	"github.com/tenantry/tenantry/adapters/memory"
	"github.com/tenantry/tenantry/adapters/sqlstore"
	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/ports"
	"github.com/tenantry/tenantry/ports/porttest"
)

func TestAttemptLimiterPostgres(t *testing.T) {
	requirePostgres(t)
	porttest.AttemptLimiter(t, func(t *testing.T, max int, window time.Duration) ports.AttemptLimiter {
		return sqlstore.NewAttemptLimiter(newPostgres(t).gdb, max, window)
	})
}

func TestRateLimiterPostgres(t *testing.T) {
	requirePostgres(t)
	porttest.RateLimiter(t, func(t *testing.T) ports.RateLimiter { return sqlstore.NewRateLimiter(newPostgres(t).gdb) })
}

func TestStreamSlotsPostgres(t *testing.T) {
	requirePostgres(t)
	porttest.StreamSlots(t, func(t *testing.T) ports.StreamSlots { return sqlstore.NewStreamSlots(newPostgres(t).gdb, 0) })
}

// TestStreamSlotsAreSharedAndLapse takes slots through two pools on one database, as
// two nodes would: they share one budget, and a lease that nobody renews (its node
// crashed) lapses.
func TestStreamSlotsAreSharedAndLapse(t *testing.T) {
	requirePostgres(t)
	b := newPostgres(t)
	other := feedPool(t, b)
	a, c := sqlstore.NewStreamSlots(b.gdb, 0), sqlstore.NewStreamSlots(other, 0)
	release, err := a.Acquire(t.Context(), "acme", 2)
	require.NoError(t, err)
	_, err = c.Acquire(t.Context(), "acme", 2)
	require.NoError(t, err)
	_, err = a.Acquire(t.Context(), "acme", 2)
	require.ErrorIs(t, err, domain.ErrTooManyStreams, "the other node's slot counts")
	release()
	_, err = a.Acquire(t.Context(), "acme", 2)
	require.NoError(t, err)

	// c's node "crashes": its lease is not renewed; make it lapse now.
	require.NoError(t, b.gdb.Exec("UPDATE stream_leases SET expires_at = now() - interval '1 second'").Error)
	_, err = c.Acquire(t.Context(), "acme", 2)
	require.NoError(t, err, "lapsed leases free their slots")
}

// feedPool opens a second pool on b's database.
func feedPool(t *testing.T, b backend) *gorm.DB {
	t.Helper()
	gdb, sqlDB, err := sqlstore.Open(t.Context(), b.cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = sqlDB.Close() })
	return gdb
}

// BenchmarkLimitsPostgres is what the shared limiters add to a request on PostgreSQL
// (one connection round trip away), beside the in-memory ones of a single node: Allow
// per chat or ingestion request, Acquire and release per chat stream, Blocked per login.
func BenchmarkLimitsPostgres(b *testing.B) {
	requirePostgres(b)
	db := openMigrated(b, sqlstore.Config{URL: pgDatabase(b), MaxOpenConns: 10}).gdb
	ctx := context.Background()
	limiters := []struct {
		name     string
		rate     ports.RateLimiter
		slots    ports.StreamSlots
		attempts ports.AttemptLimiter
	}{
		{"memory", memory.NewRateLimiter(), memory.NewStreamSlots(), memory.NewAttemptLimiter(10, 15*time.Minute)},
		{"postgres", sqlstore.NewRateLimiter(db), sqlstore.NewStreamSlots(db, 0), sqlstore.NewAttemptLimiter(db, 10, 15*time.Minute)},
	}
	for _, l := range limiters {
		b.Run("Allow/"+l.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := l.rate.Allow(ctx, "tenant:bench", 1_000_000_000, time.Now()); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("AcquireRelease/"+l.name, func(b *testing.B) {
			for b.Loop() {
				release, err := l.slots.Acquire(ctx, "streams:bench", 1000)
				if err != nil {
					b.Fatal(err)
				}
				release()
			}
		})
		b.Run("Blocked/"+l.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := l.attempts.Blocked(ctx, "login:email:bench@example.com", time.Now()); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
