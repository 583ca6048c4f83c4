// Package cache holds read-through caches in front of the user and tenant stores, so
// that an authenticated request on the warm path does not touch the database. Entries
// are bounded in number and age; every write through the cache invalidates the entry at
// once. Writes made by another node are seen after at most the TTL.
//
// It imports only domain, ports and its LRU library; never another adapter.
package cache

import (
	"context"
	"time"

	lru "github.com/hashicorp/golang-lru/v2/expirable"

	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/ports"
)

// Options bound a cache.
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
	entries *lru.LRU[domain.UserID, domain.User]
	stats   counters
}

var _ ports.UserStore = (*Users)(nil)

// NewUsers wraps next.
func NewUsers(next ports.UserStore, o Options) *Users {
	o = o.withDefaults()
	return &Users{next: next, entries: lru.NewLRU[domain.UserID, domain.User](o.Size, nil, o.TTL)}
}

// Create stores u.
func (c *Users) Create(ctx context.Context, u domain.User) error {
	c.entries.Remove(u.ID)
	return c.next.Create(ctx, u)
}

// Get returns the user, from the cache when fresh.
func (c *Users) Get(ctx context.Context, id domain.UserID) (domain.User, error) {
	if u, ok := c.entries.Get(id); ok {
		c.stats.hit()
		return u, nil
	}
	c.stats.miss()
	u, err := c.next.Get(ctx, id)
	if err != nil {
		return domain.User{}, err
	}
	c.entries.Add(id, u)
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
	defer c.entries.Remove(id)
	return c.next.Update(ctx, id, fn)
}

// Invalidate drops every cached user (after a bulk change such as a tenant deletion).
func (c *Users) Invalidate() { c.entries.Purge() }

// Stats returns the hit and miss counts.
func (c *Users) Stats() Stats { return c.stats.get() }

// Tenants caches TenantStore.Get by id.
type Tenants struct {
	next    ports.TenantStore
	entries *lru.LRU[domain.TenantID, domain.Tenant]
	stats   counters
	// onDelete runs after a tenant is deleted, so dependent caches (users) drop what
	// the cascade changed.
	onDelete func()
}

var _ ports.TenantStore = (*Tenants)(nil)

// NewTenants wraps next. onDelete may be nil.
func NewTenants(next ports.TenantStore, o Options, onDelete func()) *Tenants {
	o = o.withDefaults()
	return &Tenants{next: next, entries: lru.NewLRU[domain.TenantID, domain.Tenant](o.Size, nil, o.TTL), onDelete: onDelete}
}

// Create stores t.
func (c *Tenants) Create(ctx context.Context, t domain.Tenant) error {
	c.entries.Remove(t.ID)
	return c.next.Create(ctx, t)
}

// Get returns the tenant, from the cache when fresh.
func (c *Tenants) Get(ctx context.Context, id domain.TenantID) (domain.Tenant, error) {
	if t, ok := c.entries.Get(id); ok {
		c.stats.hit()
		return t, nil
	}
	c.stats.miss()
	t, err := c.next.Get(ctx, id)
	if err != nil {
		return domain.Tenant{}, err
	}
	c.entries.Add(id, t)
	return t, nil
}

// List reads the store.
func (c *Tenants) List(ctx context.Context, page domain.Page) ([]domain.Tenant, error) {
	return c.next.List(ctx, page)
}

// Update writes through and drops the cached entry.
func (c *Tenants) Update(ctx context.Context, id domain.TenantID, fn func(*domain.Tenant) error) (domain.Tenant, error) {
	defer c.entries.Remove(id)
	return c.next.Update(ctx, id, fn)
}

// Delete removes the tenant and drops it and the dependent caches.
func (c *Tenants) Delete(ctx context.Context, id domain.TenantID) error {
	defer func() {
		c.entries.Remove(id)
		if c.onDelete != nil {
			c.onDelete()
		}
	}()
	return c.next.Delete(ctx, id)
}

// Stats returns the hit and miss counts.
func (c *Tenants) Stats() Stats { return c.stats.get() }
