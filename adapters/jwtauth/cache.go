package jwtauth

import (
	"context"
	"encoding/binary"
	"hash/maphash"
	"strings"
	"sync"
	"time"
	"unsafe"

	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/ports"
)

const (
	cacheShardBits = 5
	cacheShards    = 1 << cacheShardBits
)

// CachedVerifier remembers tokens that another TokenVerifier accepted, until the
// token's exp. A hit costs a 64-bit hash, a map lookup and a comparison of the token
// with the stored one, instead of a signature check.
//
// Caching verified claims is safe because they are a pure function of the token bytes
// and the keys: the same token verifies to the same claims until it expires. What can
// change meanwhile (the user disabled, the token version raised, the tenant
// reassigned) is checked by the caller against the current user on every request
// (domain.User.AcceptsClaims), cached or not. Only successes are cached. Keys are never
// withdrawn before the tokens they signed expire; for an emergency key withdrawal call
// Purge.
//
// Entries are keyed by hash/maphash under a seed drawn per process, so nobody outside
// can aim tokens at a map slot, and a hit counts only if the presented token equals the
// stored one (compared in time that depends on the length alone): a collision of the
// 64-bit keys therefore costs at most a signature check, never a wrong answer.
//
// The trade-off: the cache holds each verified token itself in process memory, until
// the token expires or is evicted (at most maxEntries tokens). Anyone who can read this
// process's memory can lift live tokens from it; but such a reader can equally read
// the signing keys and the requests in flight. Keying by a SHA-256 digest instead would
// keep no token, at about 0.5 µs per request for the digest of a 500-byte token.
type CachedVerifier struct {
	next   ports.TokenVerifier
	clock  func() time.Time
	keyOf  func(token string) uint64
	perMax int
	shards [cacheShards]cacheShard
}

type cacheShard struct {
	mu      sync.RWMutex
	entries map[uint64]cacheEntry
	_       [64 - (unsafe.Sizeof(sync.RWMutex{})+8)%64]byte // one shard per cache line
}

type cacheEntry struct {
	token   string // the verified token, compared on every hit
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
	seed := maphash.MakeSeed()
	c := &CachedVerifier{next: next, clock: clock, perMax: max(1, maxEntries/cacheShards),
		keyOf: func(token string) uint64 { return maphash.String(seed, token) }}
	for i := range c.shards {
		c.shards[i].entries = make(map[uint64]cacheEntry)
	}
	return c
}

// Verify returns the cached claims of token while it has not expired, and otherwise
// asks the wrapped verifier and remembers a success.
func (c *CachedVerifier) Verify(ctx context.Context, token string) (domain.Claims, error) {
	key := c.keyOf(token)
	sh := &c.shards[key>>(64-cacheShardBits)]
	now := c.clock().UnixNano()

	sh.mu.RLock()
	e, ok := sh.entries[key]
	sh.mu.RUnlock()
	if ok && now < e.expires && sameToken(e.token, token) {
		return e.claims, nil
	}

	claims, err := c.next.Verify(ctx, token)
	if err != nil {
		return domain.Claims{}, err
	}
	if exp := claims.ExpiresAt.UnixNano(); now < exp {
		// A copy, so the entry does not pin whatever larger buffer token came from.
		sh.put(key, cacheEntry{token: strings.Clone(token), claims: claims, expires: exp}, now, c.perMax)
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
func (sh *cacheShard) put(key uint64, e cacheEntry, now int64, limit int) {
	const sample = 8
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if _, exists := sh.entries[key]; !exists && len(sh.entries) >= limit {
		var victim uint64
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

// sameToken reports whether a and b are equal, in a time that depends only on their
// lengths (as crypto/subtle.ConstantTimeCompare, but about four times faster on a
// 500-byte token: it compares eight bytes at a time). It reads the strings' bytes in
// place; nothing is copied or kept.
func sameToken(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	p := unsafe.Slice(unsafe.StringData(a), len(a))
	q := unsafe.Slice(unsafe.StringData(b), len(b))
	var x0, x1, x2, x3 uint64
	for len(p) >= 32 {
		x0 |= binary.LittleEndian.Uint64(p) ^ binary.LittleEndian.Uint64(q)
		x1 |= binary.LittleEndian.Uint64(p[8:]) ^ binary.LittleEndian.Uint64(q[8:])
		x2 |= binary.LittleEndian.Uint64(p[16:]) ^ binary.LittleEndian.Uint64(q[16:])
		x3 |= binary.LittleEndian.Uint64(p[24:]) ^ binary.LittleEndian.Uint64(q[24:])
		p, q = p[32:], q[32:]
	}
	for len(p) >= 8 {
		x0 |= binary.LittleEndian.Uint64(p) ^ binary.LittleEndian.Uint64(q)
		p, q = p[8:], q[8:]
	}
	for i := range p {
		x1 |= uint64(p[i] ^ q[i])
	}
	return x0|x1|x2|x3 == 0
}
