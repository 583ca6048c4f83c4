package cache

import (
	"context"
	"sync"
	"time"

	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/ports"
)

// Usage caches UsageStore.Totals, which every chat reads for its quota check and which
// a SQL store answers by summing the period's records: without the cache its cost grows
// with the tenant's traffic. Records made through this cache are added to the cached
// totals at once; records made by other nodes are seen after at most the TTL, so the
// quota is enforced to within one TTL's worth of other nodes' traffic.
type Usage struct {
	next ports.UsageStore
	ttl  time.Duration
	now  func() time.Time

	mu      sync.Mutex
	entries map[usageKey]usageEntry
}

type usageKey struct {
	tenant domain.TenantID
	since  time.Time
}

type usageEntry struct {
	totals  domain.UsageTotals
	expires time.Time
}

var _ ports.UsageStore = (*Usage)(nil)

// NewUsage wraps next; now is the clock (nil: time.Now).
func NewUsage(next ports.UsageStore, o Options, now func() time.Time) *Usage {
	o = o.withDefaults()
	if now == nil {
		now = time.Now
	}
	return &Usage{next: next, ttl: o.TTL, now: now, entries: map[usageKey]usageEntry{}}
}

// Record stores r and adds it to every cached total whose period it falls in.
func (u *Usage) Record(ctx context.Context, r domain.UsageRecord) error {
	if err := u.next.Record(ctx, r); err != nil {
		return err
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	for k, e := range u.entries {
		if k.tenant == r.TenantID && !r.At.Before(k.since) {
			e.totals.Add(r)
			u.entries[k] = e
		}
	}
	return nil
}

// Totals returns the cached sums while fresh, else reads the store.
func (u *Usage) Totals(ctx context.Context, t domain.TenantID, since time.Time) (domain.UsageTotals, error) {
	k := usageKey{tenant: t, since: since.UTC()}
	now := u.now()
	u.mu.Lock()
	e, ok := u.entries[k]
	u.mu.Unlock()
	if ok && now.Before(e.expires) {
		return e.totals, nil
	}
	tot, err := u.next.Totals(ctx, t, since)
	if err != nil {
		return domain.UsageTotals{}, err
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	u.pruneLocked(now)
	u.entries[k] = usageEntry{totals: tot, expires: now.Add(u.ttl)}
	return tot, nil
}

// AllTotals reads the store: it serves an occasional admin report.
func (u *Usage) AllTotals(ctx context.Context, since time.Time) ([]domain.UsageTotals, error) {
	return u.next.AllTotals(ctx, since)
}

// Purge drops every cached total (after a tenant and its usage were deleted).
func (u *Usage) Purge() {
	u.mu.Lock()
	defer u.mu.Unlock()
	clear(u.entries)
}

// pruneLocked drops expired entries so the map stays bounded by the tenants active
// within one TTL.
func (u *Usage) pruneLocked(now time.Time) {
	for k, e := range u.entries {
		if !now.Before(e.expires) {
			delete(u.entries, k)
		}
	}
}
