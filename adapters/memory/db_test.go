package memory_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/adapters/memory"
	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/ports"
)

var now = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

func newTenant(t *testing.T, db *memory.DB, id domain.TenantID) domain.Tenant {
	t.Helper()
	tn, err := domain.NewTenant(id, "Tenant", now)
	require.NoError(t, err)
	require.NoError(t, db.Tenants().Create(t.Context(), tn))
	return tn
}

func TestSetDownFailsEveryStoreUntilUp(t *testing.T) {
	db := memory.NewDB()
	newTenant(t, db, "acme")
	db.SetDown(true)
	ctx := t.Context()
	calls := map[string]error{}
	_, calls["tenants.get"] = db.Tenants().Get(ctx, "acme")
	_, calls["users.list"] = db.Users().List(ctx, ports.UserFilter{}, domain.Page{})
	_, calls["keys.list"] = db.SigningKeys().List(ctx)
	_, calls["refresh.rotate"] = db.RefreshTokens().Rotate(ctx, "h", domain.RefreshToken{Hash: "n"}, now)
	_, calls["chunks.load"] = db.Chunks().LoadChunks(ctx, "acme")
	_, calls["documents.list"] = db.Documents().List(ctx, "acme", domain.Page{})
	_, calls["conversations.list"] = db.Conversations().List(ctx, "acme", "u", domain.Page{})
	_, calls["usage.totals"] = db.Usage().Totals(ctx, "acme", now)
	calls["audit.append"] = db.Audit().Append(ctx, domain.AuditEntry{ID: "a"})
	for name, err := range calls {
		assert.ErrorIs(t, err, domain.ErrUnavailable, name)
		assert.Equal(t, domain.KindUnavailable, domain.KindOf(err), name)
	}
	entries, err := func() ([]domain.AuditEntry, error) {
		db.SetDown(false)
		return db.Audit().List(ctx, "", domain.Page{})
	}()
	require.NoError(t, err)
	assert.Empty(t, entries, "a write went through while down")
	_, err = db.Tenants().Get(ctx, "acme")
	assert.NoError(t, err)
}

func TestFailNextFailsOneCallEach(t *testing.T) {
	db := memory.NewDB()
	newTenant(t, db, "acme")
	boom := errors.New("boom")
	db.FailNext(domain.ErrUnavailable.With(boom))
	db.FailNext(domain.ErrConflict)

	_, err := db.Tenants().Get(t.Context(), "acme")
	assert.ErrorIs(t, err, boom)
	assert.Equal(t, domain.KindUnavailable, domain.KindOf(err))
	_, err = db.Users().Get(t.Context(), "u")
	assert.ErrorIs(t, err, domain.ErrConflict)
	_, err = db.Tenants().Get(t.Context(), "acme")
	assert.NoError(t, err)
}

func TestCancelledContextIsUnavailable(t *testing.T) {
	db := memory.NewDB()
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := db.Tenants().List(ctx, domain.Page{})
	assert.ErrorIs(t, err, context.Canceled)
	assert.Equal(t, domain.KindUnavailable, domain.KindOf(err))
}

func TestValuesAreCopiedInAndOut(t *testing.T) {
	db := memory.NewDB()
	ctx := t.Context()
	newTenant(t, db, "acme")

	vec := []float32{1, 2, 3}
	_, err := db.Documents().Save(ctx, domain.Document{ID: "d", TenantID: "acme", Title: "D", CreatedAt: now},
		[]domain.Chunk{{DocumentID: "d", Text: "x", Vector: vec}})
	require.NoError(t, err)
	vec[0] = 99
	got, err := db.Chunks().LoadChunks(ctx, "acme")
	require.NoError(t, err)
	got[0].Vector[1] = 99
	again, err := db.Chunks().LoadChunks(ctx, "acme")
	require.NoError(t, err)
	assert.Equal(t, []float32{1, 2, 3}, again[0].Vector)

	md := map[string]string{"k": "v"}
	d := domain.Document{ID: "doc", TenantID: "acme", Title: "T", Metadata: md, CreatedAt: now}
	_, err = db.Documents().Save(ctx, d, nil)
	require.NoError(t, err)
	md["k"] = "changed"
	gotDoc, err := db.Documents().Get(ctx, "acme", "doc")
	require.NoError(t, err)
	gotDoc.Metadata["k"] = "changed too"
	gotDoc, err = db.Documents().Get(ctx, "acme", "doc")
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"k": "v"}, gotDoc.Metadata)

	priv := []byte("secret")
	require.NoError(t, db.SigningKeys().Add(ctx, domain.SigningKey{KID: "k", Private: priv, CreatedAt: now}))
	priv[0] = 'X'
	keys, err := db.SigningKeys().List(ctx)
	require.NoError(t, err)
	keys[0].Private[1] = 'Y'
	keys, err = db.SigningKeys().List(ctx)
	require.NoError(t, err)
	assert.Equal(t, []byte("secret"), keys[0].Private)

	changed := []string{"name"}
	require.NoError(t, db.Audit().Append(ctx, domain.AuditEntry{ID: "a", TenantID: "acme", Changed: changed, At: now}))
	changed[0] = "api_key"
	entries, err := db.Audit().List(ctx, "acme", domain.Page{})
	require.NoError(t, err)
	entries[0].Changed[0] = "other"
	entries, err = db.Audit().List(ctx, "acme", domain.Page{})
	require.NoError(t, err)
	assert.Equal(t, []string{"name"}, entries[0].Changed)
}

func TestTenantDeleteKeepsAuditEntries(t *testing.T) {
	db := memory.NewDB()
	ctx := t.Context()
	newTenant(t, db, "acme")
	require.NoError(t, db.Audit().Append(ctx, domain.AuditEntry{ID: "a", TenantID: "acme", Action: "tenant.delete", At: now}))
	require.NoError(t, db.Tenants().Delete(ctx, "acme"))
	entries, err := db.Audit().List(ctx, "acme", domain.Page{})
	require.NoError(t, err)
	assert.Len(t, entries, 1)
}
