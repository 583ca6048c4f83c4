package cache

import "time"

// SetUsersClock and SetTenantsClock replace a cache's monotonic clock (time since the
// cache was built), so tests can let entries expire without sleeping.
func SetUsersClock(c *Users, now func() time.Duration)     { c.entries.clock = now }
func SetTenantsClock(c *Tenants, now func() time.Duration) { c.entries.clock = now }

// UsersLen counts a user cache's entries, expired ones included until evicted.
func UsersLen(c *Users) int { return c.entries.len() }

// TenantsLen counts a tenant cache's entries.
func TenantsLen(c *Tenants) int { return c.entries.len() }

func (t *table[K, V]) len() int {
	n := 0
	for i := range t.shards {
		sh := &t.shards[i]
		sh.mu.RLock()
		n += len(sh.entries)
		sh.mu.RUnlock()
	}
	return n
}
