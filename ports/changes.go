package ports

import (
	"context"

	"github.com/tenantry/tenantry/domain"
)

// ChangeFeed follows the change log of the database that several processes share (the
// server, other nodes, CLI commands). The storage adapters record a change in the same
// transaction as every write another process may hold a copy of: UserStore.Update
// (ChangeUser), TenantStore.Create and Update (ChangeTenant), TenantStore.Delete
// (ChangeTenantDeleted), every write of chunk rows (DocumentStore.Save and Delete,
// ChunkScanner.PutVectors: ChangeChunks, the tenant's id) and every SigningKeyStore
// write (ChangeSigningKeys). A write that fails records nothing.
type ChangeFeed interface {
	// Listen calls fn with each change recorded after Listen began, by any process
	// (this one included), in the order the writes committed, one call at a time,
	// until ctx ends; then it returns nil. It first calls fn with a Change of kind
	// ChangeAll, and again after any gap in which changes may have been missed (log
	// entries pruned before they were read). A lost connection is retried by itself;
	// once back, it goes on from the last change it delivered. A feed may set Local on
	// a change recorded by this process's own stores, which their in-process copies
	// have already applied (the SQL feed does for its own connection pool); a change
	// without it is applied by every listener.
	Listen(ctx context.Context, fn func(domain.Change)) error
}
