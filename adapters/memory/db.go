// Package memory implements every storage and limiter port in process: one DB holds all
// data under a mutex and keeps the references of schema.hcl (a row needs its tenant and
// user; a tenant's deletion cascades to its documents, chunks, conversations and usage
// and unassigns its users), so that tests on memory see what the SQL stores do.
// Values are deep-copied on the way in and out, every tenant-scoped query is filtered
// by tenant, and outages can be simulated with FailNext and SetDown.
//
// It imports only domain, ports and the standard library; never another adapter.
package memory

import (
	"context"
	"sync"
	"time"

	"github.com/tenantry/tenantry/domain"
)

// DB is an in-memory database shared by the stores built from it. The zero value is not
// usable; call NewDB.
type DB struct {
	mu       sync.Mutex
	down     bool
	failNext []error
	now      func() time.Time

	tenants       map[domain.TenantID]domain.Tenant
	users         map[domain.UserID]domain.User
	keys          map[string]domain.SigningKey
	refresh       map[string]domain.RefreshToken
	apiKeys       map[domain.APIKeyID]domain.APIKey
	documents     map[domain.DocumentID]domain.Document
	chunks        map[domain.TenantID]map[chunkKey]domain.Chunk
	conversations map[domain.ConversationID]domain.Conversation
	messages      map[domain.ConversationID][]domain.Message
	usage         []domain.UsageRecord
	audit         []auditRow
	auditSeq      int64
	reindex       map[domain.TenantID]domain.ReindexJob
	changes       changeLog
	nextPrune     time.Time
}

type chunkKey struct {
	doc   domain.DocumentID
	index int
}

// NewDB returns an empty database.
func NewDB() *DB {
	return &DB{
		now:           time.Now,
		tenants:       map[domain.TenantID]domain.Tenant{},
		users:         map[domain.UserID]domain.User{},
		keys:          map[string]domain.SigningKey{},
		refresh:       map[string]domain.RefreshToken{},
		apiKeys:       map[domain.APIKeyID]domain.APIKey{},
		documents:     map[domain.DocumentID]domain.Document{},
		chunks:        map[domain.TenantID]map[chunkKey]domain.Chunk{},
		conversations: map[domain.ConversationID]domain.Conversation{},
		messages:      map[domain.ConversationID][]domain.Message{},
		reindex:       map[domain.TenantID]domain.ReindexJob{},
	}
}

// FailNext makes the next store call (of any store built from db) fail with err; calls
// queue in order. Use domain.ErrUnavailable to simulate a dropped connection.
func (db *DB) FailNext(err error) {
	if err == nil {
		return
	}
	db.mu.Lock()
	defer db.mu.Unlock()
	db.failNext = append(db.failNext, err)
}

// SetDown makes every store call fail with domain.ErrUnavailable until SetDown(false).
func (db *DB) SetDown(down bool) {
	db.mu.Lock()
	defer db.mu.Unlock()
	db.down = down
}

// Tenants returns the TenantStore view of db.
func (db *DB) Tenants() *TenantStore { return &TenantStore{db: db} }

// Users returns the UserStore view of db.
func (db *DB) Users() *UserStore { return &UserStore{db: db} }

// SigningKeys returns the SigningKeyStore view of db.
func (db *DB) SigningKeys() *SigningKeyStore { return &SigningKeyStore{db: db} }

// RefreshTokens returns the RefreshTokenStore view of db.
func (db *DB) RefreshTokens() *RefreshTokenStore { return &RefreshTokenStore{db: db} }

// APIKeys returns the APIKeyStore view of db.
func (db *DB) APIKeys() *APIKeyStore { return &APIKeyStore{db: db} }

// Chunks returns the ChunkStore view of db.
func (db *DB) Chunks() *ChunkStore { return &ChunkStore{db: db} }

// Documents returns the DocumentStore view of db.
func (db *DB) Documents() *DocumentStore { return &DocumentStore{db: db} }

// Conversations returns the ConversationStore view of db.
func (db *DB) Conversations() *ConversationStore { return &ConversationStore{db: db} }

// Usage returns the UsageStore view of db.
func (db *DB) Usage() *UsageStore { return &UsageStore{db: db} }

// Audit returns the AuditLog view of db.
func (db *DB) Audit() *AuditLog { return &AuditLog{db: db} }

// lock takes the mutex unless ctx is done or a failure is injected, in which case it
// returns the error and leaves the mutex unlocked. On nil the caller must unlock.
func (db *DB) lock(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return domain.ErrUnavailable.With(err)
	}
	db.mu.Lock()
	if db.down {
		db.mu.Unlock()
		return domain.ErrUnavailable
	}
	if len(db.failNext) > 0 {
		err := db.failNext[0]
		db.failNext = db.failNext[1:]
		db.mu.Unlock()
		return err
	}
	return nil
}

// tenantExists reports whether tenant t is stored; callers hold the mutex.
func (db *DB) tenantExists(t domain.TenantID) bool {
	_, ok := db.tenants[t]
	return ok
}

func unknownTenant(t domain.TenantID) error {
	return domain.Invalid(domain.FieldError{Field: "tenant_id", Message: "tenant " + string(t) + " does not exist"})
}

func unknownUser() error {
	return domain.Invalid(domain.FieldError{Field: "user_id", Message: "the user does not exist"})
}

func notFound(what string) error {
	return domain.ErrNotFound.WithDetail("the %s does not exist", what)
}

func conflict(what string) error {
	return domain.ErrConflict.WithDetail("the %s already exists", what)
}

// page returns the window of n items that p selects, as slice bounds.
func page(p domain.Page, n int) (lo, hi int) {
	p = p.Normalize()
	lo = min(p.Offset, n)
	hi = min(lo+p.Limit, n)
	return lo, hi
}

func copyTime(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	c := *t
	return &c
}

func copyBytes(b []byte) []byte {
	if b == nil {
		return nil
	}
	return append([]byte{}, b...)
}
