package cache_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/adapters/cache"
	"github.com/tenantry/tenantry/adapters/memory"
	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/ports"
	"github.com/tenantry/tenantry/ports/porttest"
)

// countingUsage records how often the store behind the cache is asked for totals.
type countingUsage struct {
	ports.UsageStore
	totals atomic.Int64
}

func (c *countingUsage) Totals(ctx context.Context, t domain.TenantID, since time.Time) (domain.UsageTotals, error) {
	c.totals.Add(1)
	return c.UsageStore.Totals(ctx, t, since)
}

func TestUsageContract(t *testing.T) {
	porttest.UsageStore(t, func(t *testing.T) porttest.Stores {
		db := memory.NewDB()
		s := porttest.Stores{Tenants: db.Tenants(), Users: db.Users(), SigningKeys: db.SigningKeys(), RefreshTokens: db.RefreshTokens(),
			Chunks: db.Chunks(), Documents: db.Documents(), Conversations: db.Conversations(), Usage: db.Usage(), Audit: db.Audit()}
		s.Usage = cache.NewUsage(db.Usage(), cache.Options{TTL: time.Minute}, nil)
		return s
	})
}

func TestUsageTotalsAreServedFromTheCacheAndKeptCurrent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := memory.NewDB()
	now := time.Date(2026, 5, 10, 12, 0, 0, 0, time.UTC)
	clock := now
	require.NoError(t, db.Tenants().Create(ctx, domain.Tenant{ID: "acme", Name: "Acme", Status: domain.TenantActive}))
	store := &countingUsage{UsageStore: db.Usage()}
	u := cache.NewUsage(store, cache.Options{TTL: 10 * time.Second}, func() time.Time { return clock })
	month := domain.MonthStart(now)
	rec := func(store ports.UsageStore, tokens int) {
		require.NoError(t, store.Record(ctx, domain.UsageRecord{TenantID: "acme", UserID: "u1", Model: "m", PromptTokens: tokens, CompletionTokens: 1, At: clock}))
	}

	rec(u, 10)
	got, err := u.Totals(ctx, "acme", month)
	require.NoError(t, err)
	assert.EqualValues(t, 11, got.Tokens())

	rec(u, 5) // through the cache: counted at once, without asking the store
	got, err = u.Totals(ctx, "acme", month)
	require.NoError(t, err)
	assert.EqualValues(t, 17, got.Tokens())
	assert.EqualValues(t, 2, got.Requests)
	assert.EqualValues(t, 1, store.totals.Load(), "the second read must come from the cache")

	rec(db.Usage(), 100) // another node, straight to the store: seen after the TTL
	got, err = u.Totals(ctx, "acme", month)
	require.NoError(t, err)
	assert.EqualValues(t, 17, got.Tokens(), "within the TTL another node's record is not yet seen")
	clock = clock.Add(11 * time.Second)
	got, err = u.Totals(ctx, "acme", month)
	require.NoError(t, err)
	assert.EqualValues(t, 118, got.Tokens())
	assert.EqualValues(t, 2, store.totals.Load())

	u.Purge()
	_, err = u.Totals(ctx, "acme", month)
	require.NoError(t, err)
	assert.EqualValues(t, 3, store.totals.Load(), "Purge forgets every total")
}
