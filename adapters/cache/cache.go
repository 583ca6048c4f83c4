// Package cache holds read-through caches in front of the user and tenant stores, so
// that an authenticated request on the warm path does not touch the database. Entries
// are bounded in number and age; every write through the cache invalidates the entry at
// once, and a read that loaded the entry before such a write does not put the old value
// back. Writes made by another process are seen after at most the TTL, or as soon as
// the change log's word of them arrives (Forget, Invalidate). Concurrent misses of one
// key share a single read of the store.
//
// It imports domain, ports, the standard library and golang.org/x/sync; never another
// adapter.
package cache

import (
	"context"
	"strconv"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/ports"
)

// Options bound a cache: at most Size entries (default 10,000), each kept at most TTL
// after it was read from the store (default 30 seconds).
type Options struct {
	Size int
	TTL  time.Duration
}

func (o Options) withDefaults() Options {
	if o.Size <= 0 {
		o.Size = 10_000
	}
	if o.TTL <= 0 {
		o.TTL = 30 * time.Second
	}
	return o
}

// Stats count cache lookups.
type Stats struct {
	Hits, Misses uint64
}

// Users caches UserStore.Get by id. GetByEmail and List always read the store.
type Users struct {
	next    ports.UserStore
	entries *table[domain.UserID, domain.User]
	loads   singleflight.Group
}

var _ ports.UserStore = (*Users)(nil)

// NewUsers wraps next.
func NewUsers(next ports.UserStore, o Options) *Users {
	o = o.withDefaults()
	return &Users{next: next, entries: newTable[domain.UserID, domain.User](o.Size, o.TTL)}
}

// Create stores u.
func (c *Users) Create(ctx context.Context, u domain.User) error {
	defer c.entries.remove(u.ID)
	return c.next.Create(ctx, u)
}

// Get returns the user, from the cache when fresh. Only found users are cached.
func (c *Users) Get(ctx context.Context, id domain.UserID) (domain.User, error) {
	if u := c.entries.get(id); u != nil {
		return *u, nil
	}
	return c.load(ctx, id)
}

// load reads the user from the store and caches it; concurrent loads of id share one
// read. It is apart from Get so that the hit path's frame holds no second copy of a user.
func (c *Users) load(ctx context.Context, id domain.UserID) (domain.User, error) {
	return loadShared(ctx, c.entries, &c.loads, id, c.next.Get)
}

// loadShared reads k with read and caches what it found unless k was invalidated
// meanwhile; concurrent loads of k share one read (see shared).
func loadShared[K ~string, V any](ctx context.Context, entries *table[K, V], g *singleflight.Group, k K, read func(context.Context, K) (V, error)) (V, error) {
	gen := entries.generation(k)
	return shared(ctx, g, string(k), gen, func(ctx context.Context) (V, error) {
		if v := entries.peek(k); v != nil {
			return *v, nil // a load that finished after this caller's miss stored it
		}
		v, err := read(ctx, k)
		if err != nil {
			return v, err
		}
		entries.storeIfUnchanged(k, v, gen)
		return v, nil
	})
}

// shared runs load once for all concurrent callers with the same key and cache
// generation gen: a caller that arrives after the key was invalidated starts a read of
// its own rather than share one that may predate the write. The read runs without the
// first caller's cancellation, so that a caller who gives up does not fail the others;
// each caller still returns as soon as its own ctx ends.
func shared[V any](ctx context.Context, g *singleflight.Group, key string, gen uint64, load func(context.Context) (V, error)) (V, error) {
	ch := g.DoChan(key+"\x00"+strconv.FormatUint(gen, 10), func() (any, error) { return load(context.WithoutCancel(ctx)) })
	select {
	case r := <-ch:
		if r.Err != nil {
			var zero V
			return zero, r.Err
		}
		return r.Val.(V), nil
	case <-ctx.Done():
		var zero V
		return zero, domain.ErrUnavailable.With(ctx.Err())
	}
}

// GetByEmail reads the store.
func (c *Users) GetByEmail(ctx context.Context, email domain.Email) (domain.User, error) {
	return c.next.GetByEmail(ctx, email)
}

// List reads the store.
func (c *Users) List(ctx context.Context, f ports.UserFilter, page domain.Page) ([]domain.User, error) {
	return c.next.List(ctx, f, page)
}

// Update writes through and drops the cached entry, even when the write fails (its
// outcome is then unknown).
func (c *Users) Update(ctx context.Context, id domain.UserID, fn func(*domain.User) error) (domain.User, error) {
	defer c.entries.remove(id)
	return c.next.Update(ctx, id, fn)
}

// Forget drops the cached user id (another node changed it).
func (c *Users) Forget(id domain.UserID) { c.entries.remove(id) }

// Invalidate drops every cached user (after a bulk change such as a tenant deletion).
func (c *Users) Invalidate() { c.entries.purge() }

// Stats returns the hit and miss counts.
func (c *Users) Stats() Stats { return c.entries.stats() }

// Tenants caches TenantStore.Get by id.
type Tenants struct {
	next    ports.TenantStore
	entries *table[domain.TenantID, domain.Tenant]
	// onDelete runs after a tenant is deleted, so dependent caches (users) drop what
	// the cascade changed.
	onDelete func()
	loads    singleflight.Group
}

var _ ports.TenantStore = (*Tenants)(nil)

// NewTenants wraps next. onDelete may be nil.
func NewTenants(next ports.TenantStore, o Options, onDelete func()) *Tenants {
	o = o.withDefaults()
	return &Tenants{next: next, entries: newTable[domain.TenantID, domain.Tenant](o.Size, o.TTL), onDelete: onDelete}
}

// Create stores t.
func (c *Tenants) Create(ctx context.Context, t domain.Tenant) error {
	defer c.entries.remove(t.ID)
	return c.next.Create(ctx, t)
}

// Get returns the tenant, from the cache when fresh. Only found tenants are cached.
func (c *Tenants) Get(ctx context.Context, id domain.TenantID) (domain.Tenant, error) {
	if t := c.entries.get(id); t != nil {
		return *t, nil
	}
	return c.load(ctx, id)
}

// load reads the tenant from the store and caches it (apart from Get, as Users.load).
func (c *Tenants) load(ctx context.Context, id domain.TenantID) (domain.Tenant, error) {
	return loadShared(ctx, c.entries, &c.loads, id, c.next.Get)
}

// List reads the store.
func (c *Tenants) List(ctx context.Context, page domain.Page) ([]domain.Tenant, error) {
	return c.next.List(ctx, page)
}

// Update writes through and drops the cached entry.
func (c *Tenants) Update(ctx context.Context, id domain.TenantID, fn func(*domain.Tenant) error) (domain.Tenant, error) {
	defer c.entries.remove(id)
	return c.next.Update(ctx, id, fn)
}

// Delete removes the tenant and drops it and the dependent caches.
func (c *Tenants) Delete(ctx context.Context, id domain.TenantID) error {
	defer c.Forget(id, true)
	return c.next.Delete(ctx, id)
}

// Forget drops the cached tenant id (another node changed it); deleted also drops
// what the deletion's cascade changed in the dependent caches.
func (c *Tenants) Forget(id domain.TenantID, deleted bool) {
	c.entries.remove(id)
	if deleted && c.onDelete != nil {
		c.onDelete()
	}
}

// Invalidate drops every cached tenant.
func (c *Tenants) Invalidate() { c.entries.purge() }

// Stats returns the hit and miss counts.
func (c *Tenants) Stats() Stats { return c.entries.stats() }
