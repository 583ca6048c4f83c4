package cache

import (
	"hash/maphash"
	"math/bits"
	"sync"
	"time"
)

const maxShards = 16 // a power of two

// table is a bounded map whose entries expire a fixed TTL after they were stored. It is
// the read path of every authenticated request, so a lookup takes only a shard's read
// lock: no list to reorder, no exclusive lock. It is split into shards so that lookups
// of different keys do not share a lock.
//
// When a shard is full, storing evicts: of a few entries sampled at random (Go's map
// iteration starts at a random place) the expired ones go, or else the first sampled.
// That costs O(1) and, for entries that are all refreshed every TTL, keeps about as
// many useful entries as an LRU would.
//
// A load that raced with an invalidation must not put the old value back: every
// removal raises its shard's generation, and storeIfUnchanged drops a value loaded
// before the last removal.
//
// Stored entries are never changed, only replaced, so get can hand out a pointer to
// the value: a caller copies it once, and no frame on the request's stack holds
// another copy (a tenant is a few hundred bytes; copies in every frame of a deep
// handler made goroutine stacks grow on each request after a GC shrank them).
type table[K ~string, V any] struct {
	seed   maphash.Seed
	ttl    time.Duration
	start  time.Time            // the epoch of the monotonic stamps below
	clock  func() time.Duration // monotonic time since start
	perMax int
	mask   uint64
	shards []shard[K, V]
}

type shard[K ~string, V any] struct {
	mu      sync.RWMutex
	gen     uint64 // raised by every removal, under mu
	entries map[K]*stamped[V]
	stats   counters
	_       [64]byte // keeps neighbouring shards' locks off this cache line
}

type stamped[V any] struct {
	v       V
	expires time.Duration // on the table's clock
}

// newTable builds a table of at most size entries (size >= 1) that expire after ttl.
func newTable[K ~string, V any](size int, ttl time.Duration) *table[K, V] {
	n := min(maxShards, 1<<(bits.Len(uint(size))-1)) // a power of two <= size
	t := &table[K, V]{seed: maphash.MakeSeed(), ttl: ttl, start: time.Now(), perMax: size / n,
		mask: uint64(n - 1), shards: make([]shard[K, V], n)}
	// time.Since reads only the monotonic clock when start has a monotonic reading,
	// which costs about half of time.Now.
	t.clock = func() time.Duration { return time.Since(t.start) }
	for i := range t.shards {
		t.shards[i].entries = make(map[K]*stamped[V])
	}
	return t
}

func (t *table[K, V]) shardOf(k K) *shard[K, V] {
	return &t.shards[maphash.String(t.seed, string(k))&t.mask]
}

// peek returns the value stored for k if it has not expired (nil otherwise), without
// counting the lookup. The value must not be changed.
func (t *table[K, V]) peek(k K) *V { return t.lookup(t.shardOf(k), k) }

// get returns the value stored for k if it has not expired (nil otherwise), and counts
// the lookup. The value must not be changed.
func (t *table[K, V]) get(k K) *V {
	sh := t.shardOf(k)
	v := t.lookup(sh, k)
	if v != nil {
		sh.stats.hit()
	} else {
		sh.stats.miss()
	}
	return v
}

// lookup returns the value stored for k in sh if it has not expired, or nil.
func (t *table[K, V]) lookup(sh *shard[K, V], k K) *V {
	now := t.clock()
	sh.mu.RLock()
	e := sh.entries[k]
	sh.mu.RUnlock()
	if e != nil && now < e.expires {
		return &e.v
	}
	return nil
}

// generation returns a token for storeIfUnchanged; take it before loading k's value.
func (t *table[K, V]) generation(k K) uint64 {
	sh := t.shardOf(k)
	sh.mu.RLock()
	defer sh.mu.RUnlock()
	return sh.gen
}

// storeIfUnchanged stores v for k unless something was removed from k's shard since
// gen was taken (the removal may have been k's, and v may predate it).
func (t *table[K, V]) storeIfUnchanged(k K, v V, gen uint64) {
	sh := t.shardOf(k)
	now := t.clock()
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if sh.gen != gen {
		return
	}
	if _, exists := sh.entries[k]; !exists && len(sh.entries) >= t.perMax {
		sh.evictLocked(now)
	}
	sh.entries[k] = &stamped[V]{v: v, expires: now + t.ttl}
}

// evictLocked frees one place: expired entries among a few sampled ones, or else the
// first sampled entry.
func (sh *shard[K, V]) evictLocked(now time.Duration) {
	const sample = 8
	var victim K
	seen, freed := 0, false
	for k, e := range sh.entries {
		if seen == 0 {
			victim = k
		}
		if e.expires <= now {
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

// remove drops k, and any value for k still being loaded.
func (t *table[K, V]) remove(k K) {
	sh := t.shardOf(k)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	sh.gen++
	delete(sh.entries, k)
}

// purge drops every entry, and any value still being loaded.
func (t *table[K, V]) purge() {
	for i := range t.shards {
		sh := &t.shards[i]
		sh.mu.Lock()
		sh.gen++
		clear(sh.entries)
		sh.mu.Unlock()
	}
}

// stats sums the shards' lookup counts.
func (t *table[K, V]) stats() Stats {
	var s Stats
	for i := range t.shards {
		st := t.shards[i].stats.get()
		s.Hits += st.Hits
		s.Misses += st.Misses
	}
	return s
}
