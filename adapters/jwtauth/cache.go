package jwtauth

import (
	"context"
	"crypto/sha256"
	"sync"
	"time"
	"unsafe"

	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/ports"
)

const cacheShards = 32 // a power of two

// CachedVerifier remembers tokens that another TokenVerifier accepted, keyed by the
// SHA-256 of the token (the token itself is not kept), until the token's exp. A hit
// costs a hash and a map lookup instead of a signature check.
//
// Caching verified claims is safe because they are a pure function of the token bytes
// and the keys: the same token verifies to the same claims until it expires. What can
// change meanwhile (the user disabled, the token version raised, the tenant
// reassigned) is checked by the caller against the current user on every request
// (domain.User.AcceptsClaims), cached or not. Only successes are cached. Keys are never
// withdrawn before the tokens they signed expire; for an emergency key withdrawal call
// Purge.
type CachedVerifier struct {
	next   ports.TokenVerifier
	clock  func() time.Time
	perMax int
	shards [cacheShards]cacheShard
}

type cacheShard struct {
	mu      sync.RWMutex
	entries map[[sha256.Size]byte]cacheEntry
	_       [64 - (unsafe.Sizeof(sync.RWMutex{})+8)%64]byte // one shard per cache line
}

type cacheEntry struct {
	claims  domain.Claims
	expires int64 // unix nanoseconds
}

var _ ports.TokenVerifier = (*CachedVerifier)(nil)

// NewCachedVerifier wraps next with a cache of at most maxEntries tokens (default
// 10,000 when <= 0). clock gives the current time (nil means time.Now).
func NewCachedVerifier(next ports.TokenVerifier, maxEntries int, clock func() time.Time) *CachedVerifier {
	if maxEntries <= 0 {
		maxEntries = 10_000
	}
	if clock == nil {
		clock = time.Now
	}
	c := &CachedVerifier{next: next, clock: clock, perMax: max(1, maxEntries/cacheShards)}
	for i := range c.shards {
		c.shards[i].entries = make(map[[sha256.Size]byte]cacheEntry)
	}
	return c
}

// Verify returns the cached claims of token while it has not expired, and otherwise
// asks the wrapped verifier and remembers a success.
func (c *CachedVerifier) Verify(ctx context.Context, token string) (domain.Claims, error) {
	// The hash only reads the token's bytes; no copy is needed (and none is kept).
	key := sha256.Sum256(unsafe.Slice(unsafe.StringData(token), len(token)))
	sh := &c.shards[key[0]&(cacheShards-1)]
	now := c.clock().UnixNano()

	sh.mu.RLock()
	e, ok := sh.entries[key]
	sh.mu.RUnlock()
	if ok && now < e.expires {
		return e.claims, nil
	}

	claims, err := c.next.Verify(ctx, token)
	if err != nil {
		return domain.Claims{}, err
	}
	if exp := claims.ExpiresAt.UnixNano(); now < exp {
		sh.put(key, cacheEntry{claims: claims, expires: exp}, now, c.perMax)
	}
	return claims, nil
}

// Purge forgets every cached token.
func (c *CachedVerifier) Purge() {
	for i := range c.shards {
		sh := &c.shards[i]
		sh.mu.Lock()
		clear(sh.entries)
		sh.mu.Unlock()
	}
}

// Len returns the number of cached tokens, expired ones included until evicted.
func (c *CachedVerifier) Len() int {
	n := 0
	for i := range c.shards {
		sh := &c.shards[i]
		sh.mu.RLock()
		n += len(sh.entries)
		sh.mu.RUnlock()
	}
	return n
}

// put stores e, first making room in a full shard: it samples a few entries (Go map
// iteration starts at a random place), drops the expired ones, and if none was expired
// drops the first sampled one. Eviction is thus O(1) and approximately random, which
// is fair for tokens whose lifetimes are all alike.
func (sh *cacheShard) put(key [sha256.Size]byte, e cacheEntry, now int64, limit int) {
	const sample = 8
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if _, exists := sh.entries[key]; !exists && len(sh.entries) >= limit {
		var victim [sha256.Size]byte
		seen, freed := 0, false
		for k, old := range sh.entries {
			if seen == 0 {
				victim = k
			}
			if old.expires <= now {
				delete(sh.entries, k)
				freed = true
			}
			if seen++; seen == sample {
				break
			}
		}
		if !freed {
			delete(sh.entries, victim)
		}
	}
	sh.entries[key] = e
}
