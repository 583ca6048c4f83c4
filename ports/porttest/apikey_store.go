package porttest

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/domain"
)

func (f *fixture) apiKey(u domain.User, name string) domain.APIKey {
	f.t.Helper()
	k, err := domain.NewAPIKey(domain.APIKeyID(newID()), u.TenantID, u.ID, name, domain.APIKeyPrefix+newID(), tokenHash(), "user:"+string(u.ID), nil, base)
	require.NoError(f.t, err)
	require.NoError(f.t, f.s.APIKeys.Create(f.ctx, k))
	return k
}

func normAPIKey(k domain.APIKey) domain.APIKey {
	k.CreatedAt = utc(k.CreatedAt)
	k.ExpiresAt = utcPtr(k.ExpiresAt)
	k.LastUsedAt = utcPtr(k.LastUsedAt)
	k.RevokedAt = utcPtr(k.RevokedAt)
	return k
}

// APIKeyStore tests a ports.APIKeyStore.
func APIKeyStore(t *testing.T, newStores NewStores) {
	t.Run("create, then find by hash exactly as stored", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, newStores)
		f.tenant("acme")
		u := f.user("acme", "ann@acme.test")
		exp := at(48 * time.Hour)
		k, err := domain.NewAPIKey(domain.APIKeyID(newID()), "acme", u.ID, "ci", domain.APIKeyPrefix+"abcdefgh", tokenHash(), "user:x", &exp, base)
		require.NoError(t, err)
		require.NoError(t, f.s.APIKeys.Create(f.ctx, k))
		got, err := f.s.APIKeys.GetByHash(f.ctx, k.Hash)
		require.NoError(t, err)
		assert.Equal(t, normAPIKey(k), normAPIKey(got))
		assert.Equal(t, "tnt_abcd", got.Hint)
		_, err = f.s.APIKeys.GetByHash(f.ctx, tokenHash())
		requireKind(t, domain.KindNotFound, err)
	})

	t.Run("a taken id or hash is a conflict; an unknown tenant or user is invalid", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, newStores)
		f.tenant("acme")
		u := f.user("acme", "ann@acme.test")
		k := f.apiKey(u, "one")
		dupID := k
		dupID.Hash = tokenHash()
		requireKind(t, domain.KindConflict, f.s.APIKeys.Create(f.ctx, dupID))
		dupHash := k
		dupHash.ID = domain.APIKeyID(newID())
		requireKind(t, domain.KindConflict, f.s.APIKeys.Create(f.ctx, dupHash))
		noTenant := k
		noTenant.ID, noTenant.Hash, noTenant.TenantID = domain.APIKeyID(newID()), tokenHash(), "nope"
		requireKind(t, domain.KindInvalid, f.s.APIKeys.Create(f.ctx, noTenant))
		noUser := k
		noUser.ID, noUser.Hash, noUser.UserID = domain.APIKeyID(newID()), tokenHash(), domain.UserID(newID())
		requireKind(t, domain.KindInvalid, f.s.APIKeys.Create(f.ctx, noUser))
	})

	t.Run("list is per tenant, newest first, paged; empty tenant lists all", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, newStores)
		f.tenant("acme")
		f.tenant("globex")
		a := f.user("acme", "ann@acme.test")
		g := f.user("globex", "gus@globex.test")
		var want []domain.APIKeyID
		for i, name := range []string{"k0", "k1", "k2"} {
			k, err := domain.NewAPIKey(domain.APIKeyID(newID()), "acme", a.ID, name, "tnt_x", tokenHash(), "x", nil, at(time.Duration(i)*time.Hour))
			require.NoError(t, err)
			require.NoError(t, f.s.APIKeys.Create(f.ctx, k))
			want = append([]domain.APIKeyID{k.ID}, want...)
		}
		other := f.apiKey(g, "theirs")
		got, err := f.s.APIKeys.List(f.ctx, "acme", domain.Page{Limit: 10})
		require.NoError(t, err)
		assert.Equal(t, want, apiKeyIDs(got))
		got, err = f.s.APIKeys.List(f.ctx, "acme", domain.Page{Limit: 2, Offset: 1})
		require.NoError(t, err)
		assert.Equal(t, want[1:], apiKeyIDs(got))
		got, err = f.s.APIKeys.List(f.ctx, "globex", domain.Page{Limit: 10})
		require.NoError(t, err)
		assert.Equal(t, []domain.APIKeyID{other.ID}, apiKeyIDs(got))
		got, err = f.s.APIKeys.List(f.ctx, "", domain.Page{Limit: 10})
		require.NoError(t, err)
		assert.Len(t, got, 4)
	})

	t.Run("revoke once, only within the tenant; touch records use", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, newStores)
		f.tenant("acme")
		f.tenant("globex")
		k := f.apiKey(f.user("acme", "ann@acme.test"), "one")
		_, err := f.s.APIKeys.Revoke(f.ctx, "globex", k.ID, at(time.Minute))
		requireKind(t, domain.KindNotFound, err)
		_, err = f.s.APIKeys.Revoke(f.ctx, "acme", domain.APIKeyID(newID()), at(time.Minute))
		requireKind(t, domain.KindNotFound, err)
		got, err := f.s.APIKeys.GetByHash(f.ctx, k.Hash)
		require.NoError(t, err)
		assert.Nil(t, got.RevokedAt, "a refused revoke changes nothing")

		require.NoError(t, f.s.APIKeys.Touch(f.ctx, k.ID, at(30*time.Second)))
		require.NoError(t, f.s.APIKeys.Touch(f.ctx, domain.APIKeyID(newID()), at(30*time.Second)), "unknown id is no error")
		r, err := f.s.APIKeys.Revoke(f.ctx, "acme", k.ID, at(time.Minute))
		require.NoError(t, err)
		assert.Equal(t, at(time.Minute), utc(*r.RevokedAt))
		r, err = f.s.APIKeys.Revoke(f.ctx, "", k.ID, at(2*time.Minute))
		require.NoError(t, err, "an empty tenant revokes any key")
		assert.Equal(t, at(time.Minute), utc(*r.RevokedAt), "the first revocation stays")
		got, err = f.s.APIKeys.GetByHash(f.ctx, k.Hash)
		require.NoError(t, err)
		assert.Equal(t, at(30*time.Second), utc(*got.LastUsedAt))
		assert.Error(t, got.Usable(at(61*time.Second)))
	})

	t.Run("a tenant's deletion removes its keys", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, newStores)
		f.tenant("acme")
		k := f.apiKey(f.user("acme", "ann@acme.test"), "one")
		require.NoError(t, f.s.Tenants.Delete(f.ctx, "acme"))
		_, err := f.s.APIKeys.GetByHash(f.ctx, k.Hash)
		requireKind(t, domain.KindNotFound, err)
	})
}

func apiKeyIDs(ks []domain.APIKey) []domain.APIKeyID {
	out := make([]domain.APIKeyID, 0, len(ks))
	for _, k := range ks {
		out = append(out, k.ID)
	}
	return out
}
