package jwtauth

// SetCacheKey replaces the cache's hash of tokens, so tests can force collisions.
func SetCacheKey(c *CachedVerifier, keyOf func(token string) uint64) { c.keyOf = keyOf }
