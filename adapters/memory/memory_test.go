package memory_test

import (
	"time"

	"testing"

	"github.com/tenantry/tenantry/adapters/memory"
	"github.com/tenantry/tenantry/ports"
	"github.com/tenantry/tenantry/ports/porttest"
)

func newStores(*testing.T) porttest.Stores { return newStoresOn(memory.NewDB()) }

func newStoresOn(db *memory.DB) porttest.Stores {
	return porttest.Stores{
		Tenants:           db.Tenants(),
		Users:             db.Users(),
		SigningKeys:       db.SigningKeys(),
		RefreshTokens:     db.RefreshTokens(),
		Chunks:            db.Chunks(),
		Documents:         db.Documents(),
		Conversations:     db.Conversations(),
		ConversationEdits: db.Conversations(),
		Usage:             db.Usage(),
		Audit:             db.Audit(),
		ChunkScanner:      db.Chunks(),
		Reindex:           db.Reindex(),
		APIKeys:           db.APIKeys(),
	}
}

func TestStorage(t *testing.T) { porttest.Storage(t, newStores) }

func TestAttemptLimiter(t *testing.T) {
	porttest.AttemptLimiter(t, func(_ *testing.T, max int, window time.Duration) ports.AttemptLimiter {
		return memory.NewAttemptLimiter(max, window)
	})
}

func TestRateLimiter(t *testing.T) {
	porttest.RateLimiter(t, func(*testing.T) ports.RateLimiter { return memory.NewRateLimiter() })
}

func TestStreamSlots(t *testing.T) {
	porttest.StreamSlots(t, func(*testing.T) ports.StreamSlots { return memory.NewStreamSlots() })
}

func TestChangeFeed(t *testing.T) {
	porttest.ChangeFeed(t, func(*testing.T) (porttest.Stores, func() ports.ChangeFeed) {
		db := memory.NewDB()
		return newStoresOn(db), db.Changes
	})
}
