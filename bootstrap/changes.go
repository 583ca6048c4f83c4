package bootstrap

import (
	"context"
	"time"

	"go.uber.org/zap"
	"gorm.io/gorm"

	"github.com/tenantry/tenantry/adapters/cache"
	"github.com/tenantry/tenantry/adapters/sqlstore"
	"github.com/tenantry/tenantry/adapters/vecsearch"
	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/ports"
)

// changeFeed is how this node hears of the others' writes: PostgreSQL LISTEN/NOTIFY,
// or nothing on the embedded database, which no other process shares.
func changeFeed(db *gorm.DB, cfg Config, log *zap.Logger) (ports.ChangeFeed, error) {
	if cfg.Embedded() {
		return nil, nil
	}
	named := log.Named("changes")
	feed, err := sqlstore.NewChangeFeed(db, dbConfig(cfg), func(err error) {
		named.Warn("listening for other nodes' changes failed; retrying (caches fall back to TENANTRY_CACHE_TTL meanwhile)", zap.Error(err))
	})
	if err != nil {
		return nil, err
	}
	return feed, nil
}

// publishTimeout bounds the announcement of one write to the other nodes.
const publishTimeout = 2 * time.Second

// publisher returns what the caches and the index call after a write: it tells the
// other nodes through feed (nil: there are none to tell). A failure is logged and
// otherwise ignored: the others then see the change when their TTL runs out.
func publisher(feed ports.ChangeFeed, log *zap.Logger) func(domain.Change) {
	if feed == nil {
		return func(domain.Change) {}
	}
	return func(c domain.Change) {
		ctx, cancel := context.WithTimeout(context.Background(), publishTimeout)
		defer cancel()
		if err := feed.Publish(ctx, c); err != nil {
			log.Warn("could not tell the other nodes of a change; they see it within TENANTRY_CACHE_TTL",
				zap.String("kind", string(c.Kind)), zap.String("id", c.ID), zap.Error(err))
		}
	}
}

// nodeCaches are what a change made by another node may have outdated here.
type nodeCaches struct {
	users   *cache.Users
	tenants *cache.Tenants
	usage   *cache.Usage
	apiKeys *cache.APIKeys
	index   *vecsearch.Index // nil when the vendors were injected
}

// apply drops what c outdated.
func (n nodeCaches) apply(c domain.Change) {
	switch c.Kind {
	case domain.ChangeUser:
		n.users.Forget(domain.UserID(c.ID))
	case domain.ChangeTenant:
		n.tenants.Forget(domain.TenantID(c.ID), false)
	case domain.ChangeTenantDeleted:
		n.tenants.Forget(domain.TenantID(c.ID), true)
	case domain.ChangeAPIKey:
		n.apiKeys.Forget(domain.APIKeyID(c.ID))
	case domain.ChangeChunks:
		if n.index != nil {
			n.index.Invalidate(domain.TenantID(c.ID))
		}
	default: // ChangeAll, or a kind this version does not know
		n.users.Invalidate()
		n.tenants.Invalidate()
		n.usage.Purge()
		n.apiKeys.Invalidate()
		if n.index != nil {
			n.index.InvalidateAll()
		}
	}
}

// listen applies the other nodes' changes until ctx ends, then closes done.
func (n nodeCaches) listen(ctx context.Context, feed ports.ChangeFeed, done chan<- struct{}) {
	defer close(done)
	_ = feed.Listen(ctx, n.apply) // returns nil once ctx ends; it retries by itself
}
