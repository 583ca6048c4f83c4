package sqlstore_test

import (
	"context"
	"database/sql"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/adapters/sqlstore"
	"github.com/tenantry/tenantry/domain"
)

// engines runs fn on a fresh SQLite and a fresh PostgreSQL backend.
func engines(t *testing.T, fn func(t *testing.T, b backend)) {
	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		fn(t, newSQLite(t))
	})
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		fn(t, newPostgres(t))
	})
}

var created = time.Date(2025, 3, 14, 9, 0, 0, 0, time.UTC)

func tenantWithKeys(t *testing.T, id string) domain.Tenant {
	t.Helper()
	tn, err := domain.NewTenant(domain.TenantID(id), "Tenant "+id, created)
	require.NoError(t, err)
	tn.LLM.APIKey = "sk-llm-PLAINTEXT-" + domain.Secret(id)
	tn.Embedder.APIKey = "sk-embed-PLAINTEXT-" + domain.Secret(id)
	return tn
}

type rawKeys struct{ vector, embedder, llm []byte }

func readRawKeys(t *testing.T, db *sql.DB, id string) rawKeys {
	t.Helper()
	var k rawKeys
	q := "SELECT vector_api_key, embedder_api_key, llm_api_key FROM tenants WHERE id = $1"
	require.NoError(t, db.QueryRow(q, id).Scan(&k.vector, &k.embedder, &k.llm))
	return k
}

func TestTenantSecretsAreSealedAtRestAndBoundToTheirPlace(t *testing.T) {
	t.Parallel()
	engines(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		tenants := sqlstore.NewTenantStore(b.gdb, b.sealer)
		require.NoError(t, tenants.Create(ctx, tenantWithKeys(t, "acme")))
		require.NoError(t, tenants.Create(ctx, tenantWithKeys(t, "globex")))

		raw := readRawKeys(t, b.sqlDB, "acme")
		assert.Nil(t, raw.vector, "an unset key must be stored as NULL")
		require.NotEmpty(t, raw.llm)
		require.NotEmpty(t, raw.embedder)
		for _, v := range [][]byte{raw.llm, raw.embedder} {
			assert.NotContains(t, string(v), "PLAINTEXT", "a key is stored in plaintext")
		}
		opened, err := b.sealer.Open(raw.llm, "tenant/acme/llm.api_key")
		require.NoError(t, err, "the aad binds tenant and field")
		assert.Equal(t, "sk-llm-PLAINTEXT-acme", string(opened))

		// Move acme's sealed LLM key into globex's row: it must not open there.
		_, err = b.sqlDB.Exec("UPDATE tenants SET llm_api_key = $1 WHERE id = 'globex'", raw.llm)
		require.NoError(t, err)
		_, err = tenants.Get(ctx, "globex")
		require.Error(t, err)
		assert.Equal(t, domain.KindInternal, domain.KindOf(err))
		assert.NotContains(t, err.Error(), "PLAINTEXT")
	})
}

func TestResealSecretsIsIdempotentAndLeavesEveryKeyReadable(t *testing.T) {
	t.Parallel()
	engines(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		old := newFakeSealer(1)
		require.NoError(t, sqlstore.NewTenantStore(b.gdb, old).Create(ctx, tenantWithKeys(t, "acme")))
		require.NoError(t, sqlstore.NewTenantStore(b.gdb, old).Create(ctx, tenantWithKeys(t, "globex")))
		plain, err := domain.NewTenant("plain", "No keys", created)
		require.NoError(t, err)
		require.NoError(t, sqlstore.NewTenantStore(b.gdb, old).Create(ctx, plain))

		rotated := newFakeSealer(2, 1) // new active key, old one still known
		store := sqlstore.NewTenantStore(b.gdb, rotated)
		n, err := store.ResealSecrets(ctx, rotated)
		require.NoError(t, err)
		assert.Equal(t, 4, n, "two keys of each of two tenants")
		for _, id := range []string{"acme", "globex"} {
			raw := readRawKeys(t, b.sqlDB, id)
			assert.Equal(t, byte(2), raw.llm[0], "tenant %s llm key not under the new key", id)
			assert.Equal(t, byte(2), raw.embedder[0], "tenant %s embedder key not under the new key", id)
		}

		n, err = store.ResealSecrets(ctx, rotated)
		require.NoError(t, err)
		assert.Zero(t, n, "a second run re-sealed again")

		onlyNew := sqlstore.NewTenantStore(b.gdb, newFakeSealer(2))
		got, err := onlyNew.Get(ctx, "acme")
		require.NoError(t, err, "a key still needs the old master key")
		assert.Equal(t, "sk-llm-PLAINTEXT-acme", got.LLM.APIKey.Reveal())
		assert.Equal(t, "sk-embed-PLAINTEXT-acme", got.Embedder.APIKey.Reveal())
		assert.False(t, got.VectorStore.APIKey.IsSet())
	})
}

func TestEmailUniquenessIsCaseInsensitiveInTheDatabase(t *testing.T) {
	t.Parallel()
	engines(t, func(t *testing.T, b backend) {
		insert := "INSERT INTO users (id, email, role, created_at, updated_at) VALUES ($1, $2, 'member', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
		_, err := b.sqlDB.Exec(insert, "u1", "ada@example.com")
		require.NoError(t, err)
		_, err = b.sqlDB.Exec(insert, "u2", "ADA@Example.COM")
		require.Error(t, err, "a row written by hand bypassed the case-insensitive unique index")
		assert.True(t, strings.Contains(strings.ToLower(err.Error()), "unique") || strings.Contains(err.Error(), "23505"), err.Error())
	})
}

func TestTenantDeleteRevokesItsRefreshTokens(t *testing.T) {
	t.Parallel()
	engines(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		s := b.stores()
		tn, err := domain.NewTenant("acme", "Acme", created)
		require.NoError(t, err)
		require.NoError(t, s.Tenants.Create(ctx, tn))
		u, err := domain.NewUser("u1", "pat@example.com", domain.RoleMember, "acme", "hash", created)
		require.NoError(t, err)
		require.NoError(t, s.Users.Create(ctx, u))
		tok := domain.RefreshToken{Hash: "h1", FamilyID: "f1", UserID: "u1", TenantID: "acme", CreatedAt: created, ExpiresAt: created.Add(time.Hour)}
		require.NoError(t, s.RefreshTokens.Create(ctx, tok))

		require.NoError(t, s.Tenants.Delete(ctx, "acme"))
		_, err = s.RefreshTokens.Rotate(ctx, "h1", domain.RefreshToken{Hash: "h2", CreatedAt: created, ExpiresAt: created.Add(time.Hour)}, created.Add(time.Minute))
		require.ErrorIs(t, err, domain.ErrInvalidRefreshToken)
	})
}

func TestRecordingUsageOfAnUnknownTenantIsInvalid(t *testing.T) {
	t.Parallel()
	engines(t, func(t *testing.T, b backend) {
		err := b.stores().Usage.Record(context.Background(), domain.UsageRecord{TenantID: "ghost", Model: "m", PromptTokens: 1, At: created})
		require.Error(t, err)
		assert.Equal(t, domain.KindInvalid, domain.KindOf(err))
	})
}

func TestAClosedDatabaseIsUnavailable(t *testing.T) {
	t.Parallel()
	engines(t, func(t *testing.T, b backend) {
		s := b.stores()
		require.NoError(t, b.sqlDB.Close())
		_, err := s.Tenants.Get(context.Background(), "acme")
		assert.Equal(t, domain.KindUnavailable, domain.KindOf(err), "%v", err)
		_, err = s.Users.GetByEmail(context.Background(), "pat@example.com")
		assert.Equal(t, domain.KindUnavailable, domain.KindOf(err), "a database outage must not look like an unknown user: %v", err)
	})
}

func TestACancelledQueryIsUnavailable(t *testing.T) {
	t.Parallel()
	engines(t, func(t *testing.T, b backend) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := b.stores().Users.Get(ctx, "u1")
		assert.Equal(t, domain.KindUnavailable, domain.KindOf(err), "%v", err)
		assert.ErrorIs(t, err, context.Canceled)
	})
}
