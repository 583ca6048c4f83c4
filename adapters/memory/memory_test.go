package memory_test

import (
	"testing"

	"github.com/tenantry/tenantry/adapters/memory"
	"github.com/tenantry/tenantry/ports/porttest"
)

func newStores(*testing.T) porttest.Stores {
	db := memory.NewDB()
	return porttest.Stores{
		Tenants:       db.Tenants(),
		Users:         db.Users(),
		SigningKeys:   db.SigningKeys(),
		RefreshTokens: db.RefreshTokens(),
		Chunks:        db.Chunks(),
		Documents:     db.Documents(),
		Conversations: db.Conversations(),
		Usage:         db.Usage(),
		Audit:         db.Audit(),
	}
}

func TestStorage(t *testing.T) { porttest.Storage(t, newStores) }
