package ports

import (
	"context"

	"github.com/tenantry/tenantry/domain"
)

// ChangeFeed carries word of changed records between the processes that share one
// database, so that each drops its cached copies (users, tenants, the embedded index)
// at once rather than when their time to live runs out.
type ChangeFeed interface {
	// Publish tells the other processes that c changed; the publishing process itself
	// is not told. Delivery is best effort: a receiver that may have missed changes is
	// told ChangeAll. An unreachable backend is KindUnavailable.
	Publish(ctx context.Context, c domain.Change) error
	// Listen calls fn with each change the other processes publish, one call at a time,
	// until ctx ends; then it returns nil. Before the first change, and after any gap
	// in which changes may have been lost (a reconnect), it calls fn with a Change of
	// kind ChangeAll. It retries a lost connection by itself.
	Listen(ctx context.Context, fn func(domain.Change)) error
}
