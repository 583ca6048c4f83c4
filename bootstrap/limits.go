package bootstrap

import (
	"context"
	"time"

	"go.uber.org/zap"
	"gorm.io/gorm"

	"github.com/tenantry/tenantry/adapters/memory"
	"github.com/tenantry/tenantry/adapters/sqlstore"
	"github.com/tenantry/tenantry/ports"
)

// Limits are the limiters a router enforces: the request rate and the open streams of
// each tenant, and the failed logins of each email and client IP. A nil one is the
// in-memory one, which counts for this process alone.
type Limits struct {
	Rate     ports.RateLimiter
	Streams  ports.StreamSlots
	Attempts ports.AttemptLimiter // per (email, client IP)
	// IPAttempts counts the failed logins of each client IP, whichever accounts they
	// named.
	IPAttempts ports.AttemptLimiter
}

// orMemory fills the nil limiters with in-memory ones.
func (l Limits) orMemory(cfg Config) Limits {
	if l.Rate == nil {
		l.Rate = memory.NewRateLimiter()
	}
	if l.Streams == nil {
		l.Streams = memory.NewStreamSlots()
	}
	if l.Attempts == nil {
		l.Attempts = memory.NewAttemptLimiter(cfg.LoginMaxFailures, cfg.LoginWindow)
	}
	if l.IPAttempts == nil {
		l.IPAttempts = memory.NewAttemptLimiter(cfg.LoginMaxFailuresPerIP, cfg.LoginWindow)
	}
	return l
}

// limitsPruneInterval is how often a node removes the rate limit rows and login
// failures that no longer count.
const limitsPruneInterval = time.Minute

// sharedLimits are the limiters of a PostgreSQL deployment, kept in the database so that
// every node enforces one budget per tenant, email and client IP. Until ctx ends it
// renews this process's stream leases (a crashed node's lapse after
// cfg.StreamLeaseTTL) and prunes what no longer counts.
func sharedLimits(ctx context.Context, db *gorm.DB, cfg Config, log *zap.Logger) Limits {
	rate := sqlstore.NewRateLimiter(db)
	streams := sqlstore.NewStreamSlots(db, cfg.StreamLeaseTTL)
	attempts := sqlstore.NewAttemptLimiter(db, cfg.LoginMaxFailures, cfg.LoginWindow)
	ipAttempts := sqlstore.NewAttemptLimiter(db, cfg.LoginMaxFailuresPerIP, cfg.LoginWindow)
	go streams.Run(ctx)
	go every(ctx, limitsPruneInterval, func(ctx context.Context) {
		pctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		now := time.Now()
		if err := rate.Prune(pctx, now); err != nil {
			log.Warn("pruning the rate limits failed; retrying later", zap.Error(err))
		}
		if err := attempts.Prune(pctx, now); err != nil {
			log.Warn("pruning the login failures failed; retrying later", zap.Error(err))
		}
		if err := ipAttempts.Prune(pctx, now); err != nil {
			log.Warn("pruning the login failures failed; retrying later", zap.Error(err))
		}
	})
	return Limits{Rate: rate, Streams: streams, Attempts: attempts, IPAttempts: ipAttempts}
}

// every runs fn each interval until ctx ends, the first time one interval from now.
func every(ctx context.Context, interval time.Duration, fn func(context.Context)) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			fn(ctx)
		}
	}
}
