package cache_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/adapters/cache"
	"github.com/tenantry/tenantry/adapters/memory"
	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/ports"
)

// gatedAPIKeys counts the GetByHash calls that reach the store and holds each read
// until gate is closed, after saying on loaded that it began.
type gatedAPIKeys struct {
	ports.APIKeyStore
	gets   atomic.Int64
	loaded chan struct{}
	gate   chan struct{}
}

func (g *gatedAPIKeys) GetByHash(ctx context.Context, hash string) (domain.APIKey, error) {
	g.gets.Add(1)
	k, err := g.APIKeyStore.GetByHash(ctx, hash)
	select { // the first read tells the test; more reads (a regression) must not block
	case g.loaded <- struct{}{}:
	default:
	}
	<-g.gate
	return k, err
}

// TestConcurrentAPIKeyMissesShareOneRead: 200 requests made at once with one uncached
// key cost one read, and a revocation afterwards still reaches the cache.
func TestConcurrentAPIKeyMissesShareOneRead(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	now := time.Now()
	db := memory.NewDB()
	tn, err := domain.NewTenant("acme", "Acme", now)
	require.NoError(t, err)
	require.NoError(t, db.Tenants().Create(ctx, tn))
	u, err := domain.NewUser("u-1", "alice@acme.test", domain.RoleMember, "acme", "", now)
	require.NoError(t, err)
	require.NoError(t, db.Users().Create(ctx, u))
	k, err := domain.NewAPIKey("k-1", "acme", "u-1", "cron", "tnt_secret", "hash-1", "u-1", nil, now)
	require.NoError(t, err)
	require.NoError(t, db.APIKeys().Create(ctx, k))

	store := &gatedAPIKeys{APIKeyStore: db.APIKeys(), loaded: make(chan struct{}, 1), gate: make(chan struct{})}
	keys := cache.NewAPIKeys(store, cache.Options{TTL: time.Hour})
	var wg sync.WaitGroup
	for range 200 {
		wg.Go(func() {
			got, err := keys.GetByHash(ctx, "hash-1")
			assert.NoError(t, err)
			assert.Equal(t, domain.APIKeyID("k-1"), got.ID)
		})
	}
	<-store.loaded // the first read is under way and held until the gate opens
	close(store.gate)
	wg.Wait()
	assert.EqualValues(t, 1, store.gets.Load(), "one read for 200 concurrent misses")

	_, err = keys.Revoke(ctx, "acme", "k-1", now)
	require.NoError(t, err)
	got, err := keys.GetByHash(ctx, "hash-1")
	require.NoError(t, err)
	assert.NotNil(t, got.RevokedAt, "the revocation is read, not the cached key")
	assert.EqualValues(t, 2, store.gets.Load())
}
