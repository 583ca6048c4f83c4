package cache_test

import (
	"context"
	"fmt"
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
	"github.com/tenantry/tenantry/ports/porttest"
)

// cachedStores is a memory backend with the user and tenant caches in front, wired as
// bootstrap wires them (a tenant deletion invalidates the user cache).
func cachedStores(t *testing.T) porttest.Stores {
	db := memory.NewDB()
	users := cache.NewUsers(db.Users(), cache.Options{TTL: time.Minute})
	return porttest.Stores{Tenants: cache.NewTenants(db.Tenants(), cache.Options{TTL: time.Minute}, users.Invalidate), Users: users,
		SigningKeys: db.SigningKeys(), RefreshTokens: db.RefreshTokens(), Chunks: db.Chunks(), Documents: db.Documents(),
		Conversations: db.Conversations(), Usage: db.Usage(), Audit: db.Audit()}
}

// The caches are seen by every use case as the stores themselves, so they must keep
// the stores' contracts, reads after writes included.
func TestUsersContract(t *testing.T)   { porttest.UserStore(t, cachedStores) }
func TestTenantsContract(t *testing.T) { porttest.TenantStore(t, cachedStores) }

// fakeClock is a cache's monotonic clock under the test's control.
type fakeClock struct{ now atomic.Int64 }

func (c *fakeClock) Now() time.Duration      { return time.Duration(c.now.Load()) }
func (c *fakeClock) Advance(d time.Duration) { c.now.Add(int64(d)) }

// countingUsers counts the Get calls that reach the store. When gate is set, Get reads
// the store and then waits for gate before returning.
type countingUsers struct {
	ports.UserStore
	gets   atomic.Int64
	loaded chan struct{}
	gate   chan struct{}
}

func (c *countingUsers) Get(ctx context.Context, id domain.UserID) (domain.User, error) {
	c.gets.Add(1)
	u, err := c.UserStore.Get(ctx, id)
	if c.gate != nil {
		c.loaded <- struct{}{}
		<-c.gate
	}
	return u, err
}

type countingTenants struct {
	ports.TenantStore
	gets atomic.Int64
}

func (c *countingTenants) Get(ctx context.Context, id domain.TenantID) (domain.Tenant, error) {
	c.gets.Add(1)
	return c.TenantStore.Get(ctx, id)
}

func newUser(t *testing.T, n int) domain.User {
	t.Helper()
	u, err := domain.NewUser(domain.UserID(fmt.Sprintf("u-%04d", n)), domain.Email(fmt.Sprintf("user%d@acme.test", n)), domain.RoleMember, "", "", time.Now())
	require.NoError(t, err)
	return u
}

// userWorld is a memory store with users 0..n-1 and a cache in front of it.
func userWorld(t *testing.T, n int, o cache.Options) (*memory.DB, *countingUsers, *cache.Users, *fakeClock) {
	t.Helper()
	db := memory.NewDB()
	store := &countingUsers{UserStore: db.Users()}
	for i := range n {
		require.NoError(t, store.Create(context.Background(), newUser(t, i)))
	}
	c := cache.NewUsers(store, o)
	clk := &fakeClock{}
	cache.SetUsersClock(c, clk.Now)
	return db, store, c, clk
}

func TestUsersAreServedFromTheCacheUntilTheTTL(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, store, c, clk := userWorld(t, 1, cache.Options{TTL: 10 * time.Second})
	want := newUser(t, 0)

	for range 3 {
		got, err := c.Get(ctx, want.ID)
		require.NoError(t, err)
		assert.Equal(t, want.Email, got.Email)
	}
	assert.EqualValues(t, 1, store.gets.Load(), "one read of the store, then hits")
	assert.Equal(t, cache.Stats{Hits: 2, Misses: 1}, c.Stats())

	db.SetDown(true)
	clk.Advance(10*time.Second - 1)
	_, err := c.Get(ctx, want.ID)
	require.NoError(t, err, "a fresh entry answers while the store is down")

	clk.Advance(1)
	_, err = c.Get(ctx, want.ID)
	assert.Equal(t, domain.KindUnavailable, domain.KindOf(err), "an expired entry is read again, and the outage shows")
	db.SetDown(false)

	_, err = c.Get(ctx, "nobody")
	assert.ErrorIs(t, err, domain.ErrNotFound)
	_, err = c.Get(ctx, "nobody")
	assert.ErrorIs(t, err, domain.ErrNotFound)
	assert.EqualValues(t, 4, store.gets.Load(), "failures are not cached")
}

func TestUserWritesInvalidateAtOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, store, c, _ := userWorld(t, 2, cache.Options{TTL: time.Hour})
	u0, u1 := newUser(t, 0).ID, newUser(t, 1).ID
	for _, id := range []domain.UserID{u0, u1} {
		_, err := c.Get(ctx, id)
		require.NoError(t, err)
	}

	_, err := c.Update(ctx, u0, func(u *domain.User) error { u.SetDisabled(true, time.Now()); return nil })
	require.NoError(t, err)
	got, err := c.Get(ctx, u0)
	require.NoError(t, err)
	assert.True(t, got.Disabled, "an update through the cache is seen by the next read")

	// A failed write drops the entry too: its outcome is unknown.
	db.FailNext(domain.E(domain.KindUnavailable, "db_down", "", nil))
	_, err = c.Update(ctx, u1, func(u *domain.User) error { u.SetDisabled(true, time.Now()); return nil })
	require.Error(t, err)
	before := store.gets.Load()
	_, err = c.Get(ctx, u1)
	require.NoError(t, err)
	assert.Equal(t, before+1, store.gets.Load(), "the entry was dropped by the failed update")

	// A change made behind the cache (a tenant deletion's cascade) shows after Invalidate.
	_, err = db.Users().Update(ctx, u1, func(u *domain.User) error { u.SetRole(domain.RolePlatformAdmin, time.Now()); return nil })
	require.NoError(t, err)
	got, err = c.Get(ctx, u1)
	require.NoError(t, err)
	assert.Equal(t, domain.RoleMember, got.Role, "within the TTL the cache does not see writes behind it")
	c.Invalidate()
	got, err = c.Get(ctx, u1)
	require.NoError(t, err)
	assert.Equal(t, domain.RolePlatformAdmin, got.Role)
}

func TestTenantWritesInvalidateAtOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := memory.NewDB()
	store := &countingTenants{TenantStore: db.Tenants()}
	tn, err := domain.NewTenant("acme", "Acme", time.Now())
	require.NoError(t, err)
	require.NoError(t, store.Create(ctx, tn))
	var deletions atomic.Int64
	c := cache.NewTenants(store, cache.Options{TTL: time.Hour}, func() { deletions.Add(1) })
	clk := &fakeClock{}
	cache.SetTenantsClock(c, clk.Now)

	for range 2 {
		_, err = c.Get(ctx, "acme")
		require.NoError(t, err)
	}
	assert.EqualValues(t, 1, store.gets.Load())
	clk.Advance(time.Hour)
	_, err = c.Get(ctx, "acme")
	require.NoError(t, err)
	assert.EqualValues(t, 2, store.gets.Load(), "entries expire after the TTL")

	_, err = c.Update(ctx, "acme", func(t *domain.Tenant) error { t.Name = "Acme Two"; return nil })
	require.NoError(t, err)
	got, err := c.Get(ctx, "acme")
	require.NoError(t, err)
	assert.Equal(t, "Acme Two", got.Name)

	require.NoError(t, c.Delete(ctx, "acme"))
	_, err = c.Get(ctx, "acme")
	assert.ErrorIs(t, err, domain.ErrNotFound, "a deleted tenant is gone at once")
	assert.EqualValues(t, 1, deletions.Load(), "dependent caches are told")
	assert.Equal(t, 0, cache.TenantsLen(c))
}

// TestALoadRacingAnUpdateIsNotCached: a read that loaded the user before a concurrent
// update must not put that old value into the cache after the update invalidated it.
func TestALoadRacingAnUpdateIsNotCached(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	_, store, c, _ := userWorld(t, 1, cache.Options{TTL: time.Hour})
	id := newUser(t, 0).ID
	store.loaded, store.gate = make(chan struct{}), make(chan struct{})

	read := make(chan domain.User)
	go func() {
		u, err := c.Get(ctx, id)
		assert.NoError(t, err)
		read <- u
	}()
	<-store.loaded // the reader holds the old user
	_, err := c.Update(ctx, id, func(u *domain.User) error { u.SetDisabled(true, time.Now()); return nil })
	require.NoError(t, err)
	close(store.gate)
	assert.False(t, (<-read).Disabled, "the racing read answers what it loaded")

	store.gate = nil
	got, err := c.Get(ctx, id)
	require.NoError(t, err)
	assert.True(t, got.Disabled, "but the cache does not keep it")
}

func TestCachesAreBounded(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, size := range []int{1, 5, 16, 1000} {
		t.Run(fmt.Sprint("size=", size), func(t *testing.T) {
			t.Parallel()
			n := 3*size + 50
			_, _, c, _ := userWorld(t, n, cache.Options{Size: size, TTL: time.Hour})
			for i := range n {
				got, err := c.Get(ctx, newUser(t, i).ID)
				require.NoError(t, err)
				require.Equal(t, newUser(t, i).ID, got.ID)
				require.LessOrEqual(t, cache.UsersLen(c), size)
			}
			assert.GreaterOrEqual(t, cache.UsersLen(c), size/2, "a full cache stays nearly full")
		})
	}
}

func TestExpiredEntriesAreEvictedFirst(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	const size, fresh = 1000, 16
	_, store, c, clk := userWorld(t, size+fresh, cache.Options{Size: size, TTL: time.Minute})
	for i := range size {
		_, err := c.Get(ctx, newUser(t, fresh+i).ID)
		require.NoError(t, err)
	}
	clk.Advance(time.Minute)
	for i := range fresh {
		_, err := c.Get(ctx, newUser(t, i).ID)
		require.NoError(t, err)
	}
	before := store.gets.Load()
	for i := range fresh {
		_, err := c.Get(ctx, newUser(t, i).ID)
		require.NoError(t, err)
	}
	assert.Equal(t, before, store.gets.Load(), "the fresh entries displaced expired ones, not each other")
}

// TestCachesUnderConcurrentUse mixes reads, updates and invalidations of a few users
// from many goroutines (run with -race). Afterwards every cached user equals the store's.
func TestCachesUnderConcurrentUse(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	const users = 8
	db, _, c, _ := userWorld(t, users, cache.Options{Size: 4, TTL: time.Hour})
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 300 {
				id := newUser(t, (g+i)%users).ID
				switch {
				case i%10 == 0:
					_, err := c.Update(ctx, id, func(u *domain.User) error { u.SetDisabled(!u.Disabled, time.Now()); return nil })
					assert.NoError(t, err)
				case i%97 == 0:
					c.Invalidate()
				default:
					got, err := c.Get(ctx, id)
					if assert.NoError(t, err) {
						assert.Equal(t, id, got.ID)
					}
				}
			}
		})
	}
	wg.Wait()
	assert.LessOrEqual(t, cache.UsersLen(c), 4)
	for i := range users {
		id := newUser(t, i).ID
		want, err := db.Users().Get(ctx, id)
		require.NoError(t, err)
		got, err := c.Get(ctx, id)
		require.NoError(t, err)
		assert.Equal(t, want, got, "user %s", id)
	}
	s := c.Stats()
	assert.Positive(t, s.Hits)
	assert.Positive(t, s.Misses)
}

// TestOtherProcessesChangesForgotten checks that Forget drops what another process
// changed, and that a forgotten deletion tells the dependent caches.
func TestOtherProcessesChangesForgotten(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	o := cache.Options{TTL: time.Hour}
	db, store, users, _ := userWorld(t, 1, o)
	u0 := newUser(t, 0).ID
	_, err := users.Get(ctx, u0)
	require.NoError(t, err)
	_, err = db.Users().Update(ctx, u0, func(u *domain.User) error { u.SetRole(domain.RolePlatformAdmin, time.Now()); return nil })
	require.NoError(t, err)
	before := store.gets.Load()
	users.Forget(u0)
	got, err := users.Get(ctx, u0)
	require.NoError(t, err)
	assert.Equal(t, domain.RolePlatformAdmin, got.Role, "the other process's change shows after Forget")
	assert.Equal(t, before+1, store.gets.Load())

	tn, err := domain.NewTenant("acme", "Acme", time.Now())
	require.NoError(t, err)
	require.NoError(t, db.Tenants().Create(ctx, tn))
	var deletions atomic.Int64
	tenants := cache.NewTenants(db.Tenants(), o, func() { deletions.Add(1) })
	require.NoError(t, tenants.Delete(ctx, "acme"))
	assert.EqualValues(t, 1, deletions.Load())
	tenants.Forget("acme", true)
	assert.EqualValues(t, 2, deletions.Load(), "another process's deletion tells the dependent caches too")
}

// TestConcurrentMissesShareOneRead sends 200 concurrent lookups of one uncached user
// at a store whose first read is held: the others join it or, once it is done, hit the
// cache, so one read serves them all.
func TestConcurrentMissesShareOneRead(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	_, store, users, _ := userWorld(t, 1, cache.Options{TTL: time.Hour})
	u0 := newUser(t, 0).ID
	store.loaded, store.gate = make(chan struct{}, 1), make(chan struct{})
	var wg sync.WaitGroup
	for range 200 {
		wg.Go(func() {
			got, err := users.Get(ctx, u0)
			assert.NoError(t, err)
			assert.Equal(t, u0, got.ID)
		})
	}
	<-store.loaded // the first read is under way and held until the gate opens
	close(store.gate)
	wg.Wait()
	assert.EqualValues(t, 1, store.gets.Load(), "one read for 200 concurrent misses")
}
