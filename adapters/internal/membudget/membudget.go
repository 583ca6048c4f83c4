// Package membudget bounds the memory of an in-process index's per-tenant copies: it
// sums their estimated sizes and, past a maximum, offers the copies searched least
// recently for eviction. The lexical and the embedded vector index share it. It imports
// the standard library only; adapters may import adapters/internal packages.
package membudget

import (
	"cmp"
	"slices"
	"sync/atomic"
)

// Budget counts the estimated bytes of every copy and orders their uses with a logical
// clock. The zero value has no bound; it is safe for concurrent use.
type Budget struct {
	// Max is the bound in bytes; zero or less means none.
	Max   int64
	total atomic.Int64
	clock atomic.Uint64
}

// Copy is one copy's share of a Budget. Embed it in the copy's struct.
type Copy struct {
	bytes atomic.Int64
	used  atomic.Uint64
}

// Share returns c, so that a struct embedding Copy offers it to Trim.
func (c *Copy) Share() *Copy { return c }

// Bytes is the size last recorded for c.
func (c *Copy) Bytes() int64 { return c.bytes.Load() }

// Used records that c was just searched or loaded.
func (b *Budget) Used(c *Copy) { c.used.Store(b.clock.Add(1)) }

// Resized records n as c's size.
func (b *Budget) Resized(c *Copy, n int64) { b.total.Add(n - c.bytes.Swap(n)) }

// Total is the recorded bytes of all copies.
func (b *Budget) Total() int64 { return b.total.Load() }

// Over reports whether the copies take more than Max.
func (b *Budget) Over() bool { return b.Max > 0 && b.total.Load() > b.Max }

// Trim offers copies other than keep to evict, least recently used first, until the
// total is within Max. evict drops the copy (recording size 0) unless the copy is in
// use right now, when it leaves it; copies of size 0 are not offered.
func Trim[T interface {
	comparable
	Share() *Copy
}](b *Budget, copies []T, keep T, evict func(T)) {
	type candidate struct {
		c    T
		used uint64
	}
	cands := make([]candidate, 0, len(copies))
	for _, c := range copies {
		if c != keep && c.Share().bytes.Load() > 0 {
			cands = append(cands, candidate{c, c.Share().used.Load()})
		}
	}
	slices.SortFunc(cands, func(a, c candidate) int { return cmp.Compare(a.used, c.used) })
	for _, c := range cands {
		if !b.Over() {
			return
		}
		evict(c.c)
	}
}
