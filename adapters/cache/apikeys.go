package cache

import (
	"context"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/ports"
)

// APIKeys caches APIKeyStore.GetByHash, so that a request made with an API key does not
// touch the database on the warm path. Revoke and Touch drop the key's entry; the store
// records a revocation in the change log, which other processes follow (Forget).
type APIKeys struct {
	next    ports.APIKeyStore
	entries *table[string, domain.APIKey]

	mu     sync.Mutex
	hashes map[domain.APIKeyID]string // the cached keys' hashes, to drop them by id
	loads  singleflight.Group
}

var _ ports.APIKeyStore = (*APIKeys)(nil)

// NewAPIKeys wraps next.
func NewAPIKeys(next ports.APIKeyStore, o Options) *APIKeys {
	o = o.withDefaults()
	return &APIKeys{next: next, entries: newTable[string, domain.APIKey](o.Size, o.TTL),
		hashes: map[domain.APIKeyID]string{}}
}

// Create stores k.
func (c *APIKeys) Create(ctx context.Context, k domain.APIKey) error {
	defer c.entries.remove(k.Hash)
	return c.next.Create(ctx, k)
}

// GetByHash returns the key, from the cache when fresh. Only found keys are cached;
// concurrent misses of one hash share one read.
func (c *APIKeys) GetByHash(ctx context.Context, hash string) (domain.APIKey, error) {
	if k := c.entries.get(hash); k != nil {
		return *k, nil
	}
	return loadShared(ctx, c.entries, &c.loads, hash, c.read)
}

// read reads the key from the store and remembers its hash by id, so that Forget can
// drop it.
func (c *APIKeys) read(ctx context.Context, hash string) (domain.APIKey, error) {
	k, err := c.next.GetByHash(ctx, hash)
	if err != nil {
		return domain.APIKey{}, err
	}
	c.mu.Lock()
	c.hashes[k.ID] = k.Hash
	c.mu.Unlock()
	return k, nil
}

// List reads the store.
func (c *APIKeys) List(ctx context.Context, t domain.TenantID, page domain.Page) ([]domain.APIKey, error) {
	return c.next.List(ctx, t, page)
}

// Revoke writes through and drops the entry, even when the write fails (its outcome
// is then unknown).
func (c *APIKeys) Revoke(ctx context.Context, t domain.TenantID, id domain.APIKeyID, now time.Time) (domain.APIKey, error) {
	defer c.Forget(id)
	return c.next.Revoke(ctx, t, id, now)
}

// Touch writes through and drops the entry, so that the next read sees LastUsedAt.
func (c *APIKeys) Touch(ctx context.Context, id domain.APIKeyID, now time.Time) error {
	defer c.Forget(id)
	return c.next.Touch(ctx, id, now)
}

// Forget drops the cached key id (another node revoked it).
func (c *APIKeys) Forget(id domain.APIKeyID) {
	c.mu.Lock()
	h, ok := c.hashes[id]
	delete(c.hashes, id)
	c.mu.Unlock()
	if ok {
		c.entries.remove(h)
	}
}

// Invalidate drops every cached key.
func (c *APIKeys) Invalidate() {
	c.mu.Lock()
	clear(c.hashes)
	c.mu.Unlock()
	c.entries.purge()
}
