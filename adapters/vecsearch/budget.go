package vecsearch

import (
	"cmp"
	"slices"
	"sync/atomic"
)

// budget bounds the memory of an Index's in-memory copies (Config.MaxBytes). It counts
// the estimated bytes of every loaded copy, and orders searches with a logical clock so
// that the copies searched least recently go first when the total is over.
type budget struct {
	max   int64 // <= 0: no bound
	total atomic.Int64
	clock atomic.Uint64
}

func (b *budget) tick() uint64 { return b.clock.Add(1) }

// resized records the size of ti's copy after a change; ti.mu is held for writing.
func (ti *tenantIndex) resized() {
	var n int64
	for _, m := range ti.mats {
		n += m.size()
	}
	ti.budget.total.Add(n - ti.bytes.Swap(n))
}

// trim drops the copies of other tenants than keep, least recently searched first,
// until the total is within the budget. A copy whose tenant is being written or loaded
// right now is in use and stays.
func (x *Index) trim(keep *tenantIndex) {
	b := &x.budget
	if b.max <= 0 || b.total.Load() <= b.max {
		return
	}
	type candidate struct {
		ti   *tenantIndex
		used uint64
	}
	x.mu.RLock()
	cands := make([]candidate, 0, len(x.tenants))
	for _, ti := range x.tenants {
		if ti != keep && ti.bytes.Load() > 0 {
			cands = append(cands, candidate{ti, ti.used.Load()})
		}
	}
	x.mu.RUnlock()
	slices.SortFunc(cands, func(a, c candidate) int { return cmp.Compare(a.used, c.used) })
	for _, c := range cands {
		if b.total.Load() <= b.max {
			return
		}
		if c.ti.wmu.TryLock() {
			c.ti.invalidate()
			c.ti.wmu.Unlock()
		}
	}
}

// Bytes reports the estimated bytes of the tenants' in-memory copies.
func (x *Index) Bytes() int64 { return x.budget.total.Load() }
