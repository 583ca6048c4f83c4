// Package cache holds read-through caches in front of the user and tenant stores, so
// that an authenticated request on the warm path does not touch the database. Entries
// are bounded in number and age; every write through the cache invalidates the entry at
// once, and a read that loaded the entry before such a write does not put the old value
// back. Writes made by another node are seen after at most the TTL, or as soon as that
// node's word of them arrives (Options.Changed on its side, Forget on this one).
//
// It imports only domain, ports and the standard library; never another adapter.
package cache

import (
	"context"
	"time"

	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/ports"
)

// Options bound a cache: at most Size entries (default 10,000), each kept at most TTL
// after it was read from the store (default 30 seconds). Changed, when set, hears of
// every write through the Users or Tenants cache that may outdate other nodes' copies,
// once the write has returned; Usage announces nothing (one change per chat would be
// too many) and ignores it.
type Options struct {
	Size    int
	TTL     time.Duration
	Changed func(domain.Change)
}

func (o Options) withDefaults() Options {
	if o.Size <= 0 {
		o.Size = 10_000
	}
	if o.TTL <= 0 {
		o.TTL = 30 * time.Second
	}
	if o.Changed == nil {
		o.Changed = func(domain.Change) {}
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
	changed func(domain.Change)
}

var _ ports.UserStore = (*Users)(nil)

// NewUsers wraps next.
func NewUsers(next ports.UserStore, o Options) *Users {
	o = o.withDefaults()
	return &Users{next: next, entries: newTable[domain.UserID, domain.User](o.Size, o.TTL), changed: o.Changed}
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

// load reads the user from the store and caches it. It is apart from Get so that the
// hit path's frame holds no second copy of a user.
func (c *Users) load(ctx context.Context, id domain.UserID) (domain.User, error) {
	gen := c.entries.generation(id)
	u, err := c.next.Get(ctx, id)
	if err != nil {
		return domain.User{}, err
	}
	c.entries.storeIfUnchanged(id, u, gen)
	return u, nil
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
	defer func() {
		c.entries.remove(id)
		c.changed(domain.Change{Kind: domain.ChangeUser, ID: string(id)})
	}()
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
	changed  func(domain.Change)
}

var _ ports.TenantStore = (*Tenants)(nil)

// NewTenants wraps next. onDelete may be nil.
func NewTenants(next ports.TenantStore, o Options, onDelete func()) *Tenants {
	o = o.withDefaults()
	return &Tenants{next: next, entries: newTable[domain.TenantID, domain.Tenant](o.Size, o.TTL), onDelete: onDelete, changed: o.Changed}
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
	gen := c.entries.generation(id)
	t, err := c.next.Get(ctx, id)
	if err != nil {
		return domain.Tenant{}, err
	}
	c.entries.storeIfUnchanged(id, t, gen)
	return t, nil
}

// List reads the store.
func (c *Tenants) List(ctx context.Context, page domain.Page) ([]domain.Tenant, error) {
	return c.next.List(ctx, page)
}

// Update writes through and drops the cached entry.
func (c *Tenants) Update(ctx context.Context, id domain.TenantID, fn func(*domain.Tenant) error) (domain.Tenant, error) {
	defer func() {
		c.entries.remove(id)
		c.changed(domain.Change{Kind: domain.ChangeTenant, ID: string(id)})
	}()
	return c.next.Update(ctx, id, fn)
}

// Delete removes the tenant and drops it and the dependent caches.
func (c *Tenants) Delete(ctx context.Context, id domain.TenantID) error {
	defer func() {
		c.Forget(id, true)
		c.changed(domain.Change{Kind: domain.ChangeTenantDeleted, ID: string(id)})
	}()
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
