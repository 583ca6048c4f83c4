package porttest

import (
	"crypto/sha256"
	"encoding/hex"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/domain"
)

func normKey(k domain.SigningKey) domain.SigningKey {
	k.CreatedAt = utc(k.CreatedAt)
	k.RetiredAt = utcPtr(k.RetiredAt)
	return k
}

func keyIDs(ks []domain.SigningKey) []string {
	out := make([]string, 0, len(ks))
	for _, k := range ks {
		out = append(out, k.KID)
	}
	return out
}

func signingKey(kid string, created time.Time) domain.SigningKey {
	return domain.SigningKey{
		KID:       kid,
		Algorithm: "EdDSA",
		Private:   []byte("sealed-private-" + kid + "\x00\xff"),
		Public:    []byte(`{"kty":"OKP","crv":"Ed25519","kid":"` + kid + `","x":"abc"}`),
		CreatedAt: created,
	}
}

func keysByKID(t *testing.T, f *fixture) map[string]domain.SigningKey {
	t.Helper()
	ks, err := f.s.SigningKeys.List(f.ctx)
	require.NoError(t, err)
	out := make(map[string]domain.SigningKey, len(ks))
	for _, k := range ks {
		out[k.KID] = normKey(k)
	}
	return out
}

// SigningKeyStore tests a ports.SigningKeyStore.
func SigningKeyStore(t *testing.T, newStores NewStores) {
	t.Run("an empty store lists nothing", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, newStores)
		got, err := f.s.SigningKeys.List(f.ctx)
		require.NoError(t, err)
		assert.Empty(t, got)
	})

	t.Run("add then list round-trips every field", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, newStores)
		want := signingKey("key-1", at(0))
		require.NoError(t, f.s.SigningKeys.Add(f.ctx, want))
		got, err := f.s.SigningKeys.List(f.ctx)
		require.NoError(t, err)
		require.Len(t, got, 1)
		assert.Equal(t, normKey(want), normKey(got[0]))
		assert.True(t, got[0].Active())
	})

	t.Run("add retires every other active key at the new key's creation", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, newStores)
		require.NoError(t, f.s.SigningKeys.Add(f.ctx, signingKey("key-1", at(0))))
		require.NoError(t, f.s.SigningKeys.Add(f.ctx, signingKey("key-2", at(time.Hour))))
		ks := keysByKID(t, f)
		assert.Equal(t, ptr(at(time.Hour)), ks["key-1"].RetiredAt)
		assert.Nil(t, ks["key-2"].RetiredAt)

		require.NoError(t, f.s.SigningKeys.Add(f.ctx, signingKey("key-3", at(2*time.Hour))))
		ks = keysByKID(t, f)
		assert.Equal(t, ptr(at(time.Hour)), ks["key-1"].RetiredAt, "an already retired key was retired again")
		assert.Equal(t, ptr(at(2*time.Hour)), ks["key-2"].RetiredAt)
		assert.Nil(t, ks["key-3"].RetiredAt)
	})

	t.Run("list orders newest first", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, newStores)
		require.NoError(t, f.s.SigningKeys.Add(f.ctx, signingKey("b-oldest", at(0))))
		require.NoError(t, f.s.SigningKeys.Add(f.ctx, signingKey("a-middle", at(time.Hour))))
		require.NoError(t, f.s.SigningKeys.Add(f.ctx, signingKey("c-newest", at(2*time.Hour))))
		got, err := f.s.SigningKeys.List(f.ctx)
		require.NoError(t, err)
		assert.Equal(t, []string{"c-newest", "a-middle", "b-oldest"}, keyIDs(got))
	})

	t.Run("add with an existing kid is Conflict and retires nothing", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, newStores)
		require.NoError(t, f.s.SigningKeys.Add(f.ctx, signingKey("key-1", at(0))))
		require.NoError(t, f.s.SigningKeys.Add(f.ctx, signingKey("key-2", at(time.Hour))))
		before := keysByKID(t, f)
		requireKind(t, domain.KindConflict, f.s.SigningKeys.Add(f.ctx, signingKey("key-1", at(2*time.Hour))))
		assert.Equal(t, before, keysByKID(t, f))
	})

	t.Run("delete removes only that key", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, newStores)
		require.NoError(t, f.s.SigningKeys.Add(f.ctx, signingKey("key-1", at(0))))
		require.NoError(t, f.s.SigningKeys.Add(f.ctx, signingKey("key-2", at(time.Hour))))
		require.NoError(t, f.s.SigningKeys.Delete(f.ctx, "key-1"))
		got, err := f.s.SigningKeys.List(f.ctx)
		require.NoError(t, err)
		assert.Equal(t, []string{"key-2"}, keyIDs(got))
	})

	t.Run("delete unknown kid is NotFound", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, newStores)
		require.NoError(t, f.s.SigningKeys.Add(f.ctx, signingKey("key-1", at(0))))
		requireKind(t, domain.KindNotFound, f.s.SigningKeys.Delete(f.ctx, "nope"))
		got, err := f.s.SigningKeys.List(f.ctx)
		require.NoError(t, err)
		assert.Equal(t, []string{"key-1"}, keyIDs(got))
	})
}

func normRefresh(r domain.RefreshToken) domain.RefreshToken {
	r.ExpiresAt = utc(r.ExpiresAt)
	r.CreatedAt = utc(r.CreatedAt)
	r.UsedAt = utcPtr(r.UsedAt)
	r.RevokedAt = utcPtr(r.RevokedAt)
	return r
}

func tokenHash() string {
	sum := sha256.Sum256([]byte(newID()))
	return hex.EncodeToString(sum[:])
}

// refreshToken creates a token of user u in family (a new family when empty).
func (f *fixture) refreshToken(u domain.User, family string) domain.RefreshToken {
	f.t.Helper()
	if family == "" {
		family = newID()
	}
	r := domain.RefreshToken{Hash: tokenHash(), FamilyID: family, UserID: u.ID, TenantID: u.TenantID, CreatedAt: at(0), ExpiresAt: at(24 * time.Hour)}
	require.NoError(f.t, f.s.RefreshTokens.Create(f.ctx, r))
	return r
}

// rotate rotates the token hash at now to a fresh successor and returns the used token.
func (f *fixture) rotate(hash string, now time.Time) (domain.RefreshToken, error) {
	next := domain.RefreshToken{Hash: tokenHash(), CreatedAt: now, ExpiresAt: now.Add(24 * time.Hour)}
	return f.s.RefreshTokens.Rotate(f.ctx, hash, next, now)
}

// rotateTo rotates hash at now and returns the hash of the successor it asked for.
func (f *fixture) rotateTo(hash string, now time.Time) (string, error) {
	next := domain.RefreshToken{Hash: tokenHash(), CreatedAt: now, ExpiresAt: now.Add(24 * time.Hour)}
	_, err := f.s.RefreshTokens.Rotate(f.ctx, hash, next, now)
	return next.Hash, err
}

func requireInvalidRefresh(t *testing.T, err error) {
	t.Helper()
	require.ErrorIs(t, err, domain.ErrInvalidRefreshToken)
	requireKind(t, domain.KindUnauthenticated, err)
}

// RefreshTokenStore tests a ports.RefreshTokenStore.
func RefreshTokenStore(t *testing.T, newStores NewStores) {
	refreshConsume(t, newStores)
	refreshRotate(t, newStores)
	refreshRevoke(t, newStores)
}

func refreshConsume(t *testing.T, newStores NewStores) {
	t.Run("consume returns the token as it was and marks it used", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, newStores)
		f.tenant("acme")
		u := f.user("acme", "pat@example.com")
		want := f.refreshToken(u, "")

		got, err := f.rotate(want.Hash, at(time.Hour))
		require.NoError(t, err)
		assert.Equal(t, normRefresh(want), normRefresh(got))

		_, err = f.rotate(want.Hash, at(2*time.Hour))
		requireInvalidRefresh(t, err)
	})

	t.Run("create with an existing hash is Conflict", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, newStores)
		u := f.user("", "pat@example.com")
		r := f.refreshToken(u, "")
		dup := r
		dup.FamilyID = newID()
		requireKind(t, domain.KindConflict, f.s.RefreshTokens.Create(f.ctx, dup))
		got, err := f.rotate(r.Hash, at(time.Hour))
		require.NoError(t, err)
		assert.Equal(t, r.FamilyID, got.FamilyID)
	})

	t.Run("consume unknown hash is invalid", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, newStores)
		u := f.user("", "pat@example.com")
		f.refreshToken(u, "")
		_, err := f.rotate(tokenHash(), at(time.Hour))
		requireInvalidRefresh(t, err)
	})

	t.Run("consume an expired token is invalid", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, newStores)
		u := f.user("", "pat@example.com")
		r := f.refreshToken(u, "")
		_, err := f.rotate(r.Hash, r.ExpiresAt)
		requireInvalidRefresh(t, err)
		_, err = f.rotate(r.Hash, r.ExpiresAt.Add(time.Hour))
		requireInvalidRefresh(t, err)
	})

	t.Run("reusing a used token revokes its whole family and nothing else", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, newStores)
		u := f.user("", "pat@example.com")
		first := f.refreshToken(u, "")
		rotated := f.refreshToken(u, first.FamilyID)
		otherFamily := f.refreshToken(u, "")

		_, err := f.rotate(first.Hash, at(time.Hour))
		require.NoError(t, err)
		_, err = f.rotate(first.Hash, at(2*time.Hour))
		requireInvalidRefresh(t, err)

		_, err = f.rotate(rotated.Hash, at(3*time.Hour))
		requireInvalidRefresh(t, err)
		got, err := f.rotate(otherFamily.Hash, at(3*time.Hour))
		require.NoError(t, err, "a token of another family was revoked")
		assert.Equal(t, otherFamily.Hash, got.Hash)
	})

	t.Run("concurrent consumes of one token: at most one wins", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, newStores)
		u := f.user("", "pat@example.com")
		r := f.refreshToken(u, "")
		const n = 8
		var (
			wg   sync.WaitGroup
			mu   sync.Mutex
			wins int
			errs []error
		)
		for range n {
			wg.Go(func() {
				_, err := f.rotate(r.Hash, at(time.Hour))
				mu.Lock()
				defer mu.Unlock()
				if err == nil {
					wins++
				} else {
					errs = append(errs, err)
				}
			})
		}
		wg.Wait()
		assert.LessOrEqual(t, wins, 1, "more than one concurrent consume succeeded")
		for _, err := range errs {
			requireInvalidRefresh(t, err)
		}
		_, err := f.rotate(r.Hash, at(2*time.Hour))
		requireInvalidRefresh(t, err)
	})
}

func refreshRotate(t *testing.T, newStores NewStores) {
	t.Run("rotate stores a successor in the same family", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, newStores)
		f.tenant("acme")
		u := f.user("acme", "pat@example.com")
		first := f.refreshToken(u, "")
		second, err := f.rotateTo(first.Hash, at(time.Hour))
		require.NoError(t, err)
		got, err := f.rotate(second, at(2*time.Hour))
		require.NoError(t, err, "the successor is usable")
		assert.Equal(t, first.FamilyID, got.FamilyID)
		assert.Equal(t, u.ID, got.UserID)
		assert.Equal(t, domain.TenantID("acme"), got.TenantID)
	})

	t.Run("reusing a rotated token revokes the successors issued after it", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, newStores)
		u := f.user("", "pat@example.com")
		first := f.refreshToken(u, "")
		second, err := f.rotateTo(first.Hash, at(time.Hour))
		require.NoError(t, err)
		third, err := f.rotateTo(second, at(2*time.Hour))
		require.NoError(t, err)
		_, err = f.rotate(first.Hash, at(3*time.Hour))
		requireInvalidRefresh(t, err)
		_, err = f.rotate(third, at(4*time.Hour))
		requireInvalidRefresh(t, err)
	})

	// Each trial races two exchanges of one token; whichever wins, its successor must
	// be dead once the loser's reuse is seen.
	t.Run("concurrent reuse: no successor survives in 200 trials", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, newStores)
		u := f.user("", "pat@example.com")
		survivors := raceTrials(f, u, func(hash string) (string, error) { return f.rotateTo(hash, at(time.Hour)) })
		assert.Zero(t, survivors, "successors still usable after a concurrent reuse")
	})

	t.Run("revoke racing rotate: no successor survives in 200 trials", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, newStores)
		u := f.user("", "pat@example.com")
		survivors := raceTrials(f, u, func(hash string) (string, error) {
			return "", f.s.RefreshTokens.RevokeFamily(f.ctx, hash, at(time.Hour))
		})
		assert.Zero(t, survivors, "successors still usable after a concurrent revocation")
	})
}

// trials is how many races raceTrials runs.
const trials = 200

// raceTrials runs trials races, each of one rotation of a fresh token against other
// (a second rotation, or a revocation) on the same token, started together. It then
// tries to rotate every successor either side obtained and counts those that still
// work.
func raceTrials(f *fixture, u domain.User, other func(hash string) (string, error)) (survivors int) {
	f.t.Helper()
	for range trials {
		tok := f.refreshToken(u, "")
		start := make(chan struct{})
		var wg sync.WaitGroup
		var succ [2]string
		var errs [2]error
		wg.Go(func() { <-start; succ[0], errs[0] = f.rotateTo(tok.Hash, at(time.Hour)) })
		wg.Go(func() { <-start; succ[1], errs[1] = other(tok.Hash) })
		close(start)
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				require.ErrorIs(f.t, err, domain.ErrInvalidRefreshToken)
				continue
			}
			if succ[i] == "" {
				continue
			}
			if _, err := f.rotate(succ[i], at(2*time.Hour)); err == nil {
				survivors++
			} else {
				requireInvalidRefresh(f.t, err)
			}
		}
	}
	return survivors
}

func refreshRevoke(t *testing.T, newStores NewStores) {
	t.Run("revoke family revokes every token of the family only", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, newStores)
		u := f.user("", "pat@example.com")
		a1 := f.refreshToken(u, "")
		a2 := f.refreshToken(u, a1.FamilyID)
		b := f.refreshToken(u, "")

		require.NoError(t, f.s.RefreshTokens.RevokeFamily(f.ctx, a2.Hash, at(time.Hour)))
		for _, r := range []domain.RefreshToken{a1, a2} {
			_, err := f.rotate(r.Hash, at(2*time.Hour))
			requireInvalidRefresh(t, err)
		}
		_, err := f.rotate(b.Hash, at(2*time.Hour))
		require.NoError(t, err)
	})

	t.Run("revoke family with an unknown hash is not an error", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, newStores)
		u := f.user("", "pat@example.com")
		r := f.refreshToken(u, "")
		require.NoError(t, f.s.RefreshTokens.RevokeFamily(f.ctx, tokenHash(), at(time.Hour)))
		_, err := f.rotate(r.Hash, at(2*time.Hour))
		require.NoError(t, err)
	})

	t.Run("revoke user revokes every token of that user only", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, newStores)
		f.tenant("acme")
		u := f.user("acme", "pat@example.com")
		other := f.user("acme", "sam@example.com")
		u1 := f.refreshToken(u, "")
		u2 := f.refreshToken(u, "")
		o := f.refreshToken(other, "")

		require.NoError(t, f.s.RefreshTokens.RevokeUser(f.ctx, u.ID, at(time.Hour)))
		for _, r := range []domain.RefreshToken{u1, u2} {
			_, err := f.rotate(r.Hash, at(2*time.Hour))
			requireInvalidRefresh(t, err)
		}
		_, err := f.rotate(o.Hash, at(2*time.Hour))
		require.NoError(t, err, "another user's token was revoked")
	})

	t.Run("revoke user without tokens is not an error", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, newStores)
		u := f.user("", "pat@example.com")
		require.NoError(t, f.s.RefreshTokens.RevokeUser(f.ctx, u.ID, at(time.Hour)))
	})
}
