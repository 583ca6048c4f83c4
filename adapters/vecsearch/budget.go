package vecsearch

import "github.com/tenantry/tenantry/adapters/internal/membudget"

// resized records the size of ti's copy after a change; ti.mu is held for writing.
func (ti *tenantIndex) resized() {
	var n int64
	for _, m := range ti.mats {
		n += m.size()
	}
	ti.budget.Resized(&ti.Copy, n)
}

// trim drops the copies of other tenants than keep, least recently searched first,
// until the total is within the budget (Config.MaxBytes). A copy whose tenant is being
// written or loaded right now is in use and stays.
func (x *Index) trim(keep *tenantIndex) {
	if !x.budget.Over() {
		return
	}
	x.mu.RLock()
	all := make([]*tenantIndex, 0, len(x.tenants))
	for _, ti := range x.tenants {
		all = append(all, ti)
	}
	x.mu.RUnlock()
	membudget.Trim(&x.budget, all, keep, func(ti *tenantIndex) {
		if ti.wmu.TryLock() {
			ti.invalidate()
			ti.wmu.Unlock()
		}
	})
}

// Bytes reports the estimated bytes of the tenants' in-memory copies.
func (x *Index) Bytes() int64 { return x.budget.Total() }
