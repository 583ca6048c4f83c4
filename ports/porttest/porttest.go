// Package porttest holds the contract suites that every implementation of a port in
// ports must pass: memory, SQLite and PostgreSQL for the stores, and every vendor or
// offline adapter for the compute ports. Each suite tests exactly what the port's doc
// comments state: the error kinds, ordering, pagination, concurrency and tenant
// isolation.
//
// Storage suites take a NewStores factory (all storage ports of one fresh backend, so
// that related rows and TenantStore.Delete's cascade can be exercised) and run their
// subtests in parallel, one backend each; Storage runs them all. The limiter and
// VectorIndex suites take factories too and also run in parallel. Embedder,
// PasswordHasher and Vendors take one value; ChatModel, Tokens and SecretSealer take
// factories and run serially.
//
// It imports testing, testify, domain and ports; never an adapter.
package porttest

import (
	"context"
	"crypto/rand"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/ports"
)

// Stores is the backend the suites run against (ports.Stores).
type Stores = ports.Stores

// NewStores returns a fresh, empty backend for one test. It is called once per subtest,
// and subtests run in parallel, so each call must be independent of every other; the
// factory registers its own cleanup with t.Cleanup.
type NewStores func(t *testing.T) Stores

// Storage runs every storage suite against the backend that newStores builds.
func Storage(t *testing.T, newStores NewStores) {
	t.Run("TenantStore", func(t *testing.T) { TenantStore(t, newStores) })
	t.Run("UserStore", func(t *testing.T) { UserStore(t, newStores) })
	t.Run("SigningKeyStore", func(t *testing.T) { SigningKeyStore(t, newStores) })
	t.Run("RefreshTokenStore", func(t *testing.T) { RefreshTokenStore(t, newStores) })
	t.Run("ChunkStore", func(t *testing.T) { ChunkStore(t, newStores) })
	t.Run("DocumentStore", func(t *testing.T) { DocumentStore(t, newStores) })
	t.Run("ConversationStore", func(t *testing.T) { ConversationStore(t, newStores) })
	t.Run("ConversationEditor", func(t *testing.T) { ConversationEditor(t, newStores) })
	t.Run("UsageStore", func(t *testing.T) { UsageStore(t, newStores) })
	t.Run("AuditLog", func(t *testing.T) { AuditLog(t, newStores) })
	t.Run("ChunksAfter", func(t *testing.T) { ChunksAfter(t, newStores) })
	t.Run("ReindexStore", func(t *testing.T) { ReindexStore(t, newStores) })
	t.Run("APIKeyStore", func(t *testing.T) { APIKeyStore(t, newStores) })
}

// base is the suites' clock: whole seconds in UTC, so that every backend (PostgreSQL
// keeps microseconds) stores it exactly, and in the past, so that a store stamping
// time.Now() still moves forward.
var base = time.Date(2025, time.March, 14, 9, 26, 53, 0, time.UTC)

// at returns base plus d.
func at(d time.Duration) time.Time { return base.Add(d) }

// newID returns a random UUID (version 4), the form every domain id takes.
func newID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// requireKind fails unless err is a *domain.Error of kind want.
func requireKind(t *testing.T, want domain.Kind, err error) {
	t.Helper()
	require.Error(t, err, "want a %s error", want)
	require.Equal(t, want, domain.KindOf(err), "want a %s error, got %s: %v", want, domain.KindOf(err), err)
}

// fixture creates related rows through the stores under test.
type fixture struct {
	t   *testing.T
	ctx context.Context
	s   Stores
}

func newFixture(t *testing.T, newStores NewStores) *fixture {
	t.Helper()
	return &fixture{t: t, ctx: t.Context(), s: newStores(t)}
}

// tenant creates an active tenant with the offline defaults.
func (f *fixture) tenant(id string) domain.Tenant {
	f.t.Helper()
	tn, err := domain.NewTenant(domain.TenantID(id), "Tenant "+id, base)
	require.NoError(f.t, err)
	require.NoError(f.t, f.s.Tenants.Create(f.ctx, tn))
	return tn
}

// user creates a member of tenant (empty for none) with the given email.
func (f *fixture) user(tenant domain.TenantID, email string) domain.User {
	f.t.Helper()
	return f.userWithRole(tenant, email, domain.RoleMember)
}

func (f *fixture) userWithRole(tenant domain.TenantID, email string, role domain.Role) domain.User {
	f.t.Helper()
	e, err := domain.ParseEmail(email)
	require.NoError(f.t, err)
	u, err := domain.NewUser(domain.UserID(newID()), e, role, tenant, "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA", base)
	require.NoError(f.t, err)
	require.NoError(f.t, f.s.Users.Create(f.ctx, u))
	return u
}

// document saves a document of tenant created at the given instant.
func (f *fixture) document(tenant domain.TenantID, externalID, title string, created time.Time) domain.Document {
	f.t.Helper()
	d := document(tenant, externalID, title, created)
	_, err := f.s.Documents.Save(f.ctx, d, nil)
	require.NoError(f.t, err)
	return d
}

// save stores d with chunks through the DocumentStore, the only writer of chunk rows.
func (f *fixture) save(d domain.Document, chunks ...domain.Chunk) {
	f.t.Helper()
	_, err := f.s.Documents.Save(f.ctx, d, chunks)
	require.NoError(f.t, err)
}

// conversation creates a conversation of user u in tenant updated at the given instant.
func (f *fixture) conversation(tenant domain.TenantID, u domain.UserID, title string, updated time.Time) domain.Conversation {
	f.t.Helper()
	c := domain.Conversation{ID: domain.ConversationID(newID()), TenantID: tenant, UserID: u, Title: title, CreatedAt: updated, UpdatedAt: updated}
	require.NoError(f.t, f.s.Conversations.Create(f.ctx, c))
	return c
}

// message builds a stored message of conversation c.
func message(c domain.ConversationID, role, content string, created time.Time) domain.Message {
	return domain.Message{ID: domain.MessageID(newID()), ConversationID: c, Role: role, Content: content, CreatedAt: created}
}

// chunk builds a chunk of document d with a small vector.
func chunk(d domain.DocumentID, index int, text string, vec ...float32) domain.Chunk {
	if len(vec) == 0 {
		vec = []float32{1, 0, 0, 0}
	}
	return domain.Chunk{DocumentID: d, Index: index, Title: "title of " + string(d), Text: text, Vector: vec}
}

// utc returns t in UTC without a monotonic reading, so that instants read back from any
// backend compare equal with assert.Equal.
func utc(t time.Time) time.Time { return t.UTC() }

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

func ptr[T any](v T) *T { return &v }

// document returns an unsaved document of tenant created at the given instant.
func document(tenant domain.TenantID, externalID, title string, created time.Time) domain.Document {
	d, err := domain.NewDocument(domain.DocumentID(newID()), tenant, externalID, title, "some text", map[string]string{"source": title}, created)
	if err != nil {
		panic(err)
	}
	d.Chunks = 2
	return d
}
