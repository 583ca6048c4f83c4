package bootstrap

import (
	"context"
	"time"

	"go.uber.org/zap"
	"gorm.io/gorm"

	"github.com/tenantry/tenantry/adapters/sqlstore"
	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/ports"
)

// changeFeed follows the database's change log, on PostgreSQL (LISTEN/NOTIFY wakes it)
// and on the embedded SQLite (polled), so that this process drops what the others'
// writes (other nodes, CLI commands) outdated.
func changeFeed(db *gorm.DB, cfg Config, log *zap.Logger) (*sqlstore.ChangeFeed, error) {
	named := log.Named("changes")
	return sqlstore.NewChangeFeed(db, dbConfig(cfg), func(err error) {
		named.Warn("following the change log failed; retrying (caches fall back to TENANTRY_CACHE_TTL meanwhile)", zap.Error(err))
	})
}

// pruneChanges removes change log entries older than sqlstore.ChangeRetention every
// few minutes until ctx ends.
func pruneChanges(ctx context.Context, feed *sqlstore.ChangeFeed, log *zap.Logger) {
	every(ctx, 5*time.Minute, func(ctx context.Context) {
		pctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		n, err := feed.Prune(pctx, time.Now().Add(-sqlstore.ChangeRetention))
		if err != nil {
			log.Warn("pruning the change log failed; retrying later", zap.Error(err))
		} else if n > 0 {
			log.Debug("pruned the change log", zap.Int64("entries", n))
		}
	})
}

// Invalidations are what each kind of change outdates in this process: callbacks that
// drop the copies concerned. A change of a kind this version does not know counts as
// ChangeAll. Callbacks run one at a time, in log order.
type Invalidations map[domain.ChangeKind][]func(domain.Change)

// On adds fn to the callbacks of kind.
func (inv Invalidations) On(kind domain.ChangeKind, fn func(domain.Change)) {
	inv[kind] = append(inv[kind], fn)
}

// TenantCopies registers an in-memory per-tenant copy of stored data (an embedded
// search index): a change of a tenant's chunks by another process or the tenant's
// deletion drops that tenant's copy through invalidate, and missed changes drop every
// copy through all. This process's own chunk writes are left alone: the use cases that
// commit them bring its copies in step right after (ingestion, deletion, re-index), so
// reloading the tenant's whole copy would only repeat that work.
func (inv Invalidations) TenantCopies(invalidate func(domain.TenantID), all func()) {
	byTenant := func(c domain.Change) { invalidate(domain.TenantID(c.ID)) }
	inv.On(domain.ChangeChunks, func(c domain.Change) {
		if !c.Local {
			byTenant(c)
		}
	})
	inv.On(domain.ChangeTenantDeleted, byTenant)
	inv.On(domain.ChangeAll, func(domain.Change) { all() })
}

// apply runs c's callbacks.
func (inv Invalidations) apply(c domain.Change) {
	if !c.Kind.Known() {
		c = domain.Change{Kind: domain.ChangeAll}
	}
	for _, fn := range inv[c.Kind] {
		fn(c)
	}
}

// follow applies the change log to inv until ctx ends, then closes done.
func follow(ctx context.Context, feed ports.ChangeFeed, inv Invalidations, done chan<- struct{}) {
	defer close(done)
	_ = feed.Listen(ctx, inv.apply) // returns nil once ctx ends; it retries by itself
}
