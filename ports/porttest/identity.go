package porttest

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/ports"
)

// PasswordHasher tests a ports.PasswordHasher. Hashing is slow by design, so the suite
// runs serially and hashes only a few times.
func PasswordHasher(t *testing.T, h ports.PasswordHasher) {
	const password = "correct horse battery staple ✓"
	encoded, err := h.Hash(t.Context(), password)
	require.NoError(t, err)

	t.Run("hash is a PHC string that does not contain the password", func(t *testing.T) {
		assert.True(t, strings.HasPrefix(encoded, "$"), "not a PHC string: %q", encoded)
		assert.NotContains(t, encoded, password)
	})

	t.Run("the right password matches without rehash", func(t *testing.T) {
		match, rehash, err := h.Verify(t.Context(), encoded, password)
		require.NoError(t, err)
		assert.True(t, match)
		assert.False(t, rehash, "a fresh hash asks to be replaced")
	})

	t.Run("a wrong password does not match", func(t *testing.T) {
		for _, wrong := range []string{"correct horse battery staple", "", password + " ", strings.ToUpper(password)} {
			match, _, err := h.Verify(t.Context(), encoded, wrong)
			require.NoError(t, err)
			assert.False(t, match, "%q matched", wrong)
		}
	})

	t.Run("an empty or unknown encoded value reports no match without error", func(t *testing.T) {
		for _, enc := range []string{"", "garbage", "$unknown$v=1$abc", "plain-text-password"} {
			match, _, err := h.Verify(t.Context(), enc, password)
			require.NoError(t, err, "encoded %q", enc)
			assert.False(t, match, "encoded %q matched", enc)
		}
	})

	t.Run("an empty encoded value costs about as much as a real check", func(t *testing.T) {
		real := medianDuration(func() { _, _, _ = h.Verify(t.Context(), encoded, "wrong password") })
		empty := medianDuration(func() { _, _, _ = h.Verify(t.Context(), "", "wrong password") })
		assert.GreaterOrEqual(t, empty, real/5, "an unknown email would be told apart by timing: real %s, empty %s", real, empty)
	})
}

func medianDuration(fn func()) time.Duration {
	ds := make([]time.Duration, 3)
	for i := range ds {
		start := time.Now()
		fn()
		ds[i] = time.Since(start)
	}
	slices.Sort(ds)
	return ds[1]
}

// NewTokens builds an issuer and a verifier that trust the same signing keys. Two calls
// must give independent keys.
type NewTokens func(t *testing.T) (ports.TokenIssuer, ports.TokenVerifier)

func requireInvalidToken(t *testing.T, err error) {
	t.Helper()
	require.ErrorIs(t, err, domain.ErrInvalidToken)
	requireKind(t, domain.KindUnauthenticated, err)
}

// jwtParts splits a compact JWS into its three segments.
func jwtParts(t *testing.T, token string) []string {
	t.Helper()
	parts := strings.Split(token, ".")
	require.Len(t, parts, 3, "not a compact JWS")
	return parts
}

func b64(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// Tokens tests a ports.TokenIssuer with its ports.TokenVerifier: claims round-trip, and
// every tampered, expired, foreign or malformed token is domain.ErrInvalidToken. Claims
// live five minutes, so an issuer may cap lifetimes at that or more.
func Tokens(t *testing.T, newTokens NewTokens) {
	claims := func(tenant domain.TenantID, role domain.Role) domain.Claims {
		now := time.Now().UTC().Truncate(time.Second)
		return domain.Claims{
			Subject: domain.UserID(newID()), TenantID: tenant, Role: role, TokenVersion: 3,
			TokenID: newID(), IssuedAt: now, ExpiresAt: now.Add(5 * time.Minute),
		}
	}
	normClaims := func(c domain.Claims) domain.Claims {
		c.IssuedAt = utc(c.IssuedAt)
		c.ExpiresAt = utc(c.ExpiresAt)
		return c
	}

	t.Run("issued claims verify and round-trip", func(t *testing.T) {
		issuer, verifier := newTokens(t)
		for _, want := range []domain.Claims{claims("acme", domain.RoleTenantAdmin), claims("", domain.RolePlatformAdmin), claims("", domain.RoleMember)} {
			token, err := issuer.Issue(t.Context(), want)
			require.NoError(t, err)
			got, err := verifier.Verify(t.Context(), token)
			require.NoError(t, err)
			assert.Equal(t, normClaims(want), normClaims(got))
		}
	})

	t.Run("an expired token is invalid", func(t *testing.T) {
		issuer, verifier := newTokens(t)
		c := claims("acme", domain.RoleMember)
		c.IssuedAt = c.IssuedAt.Add(-time.Hour)
		c.ExpiresAt = c.IssuedAt.Add(5 * time.Minute)
		token, err := issuer.Issue(t.Context(), c)
		require.NoError(t, err)
		_, err = verifier.Verify(t.Context(), token)
		requireInvalidToken(t, err)
	})

	t.Run("a token with changed claims is invalid", func(t *testing.T) {
		issuer, verifier := newTokens(t)
		token, err := issuer.Issue(t.Context(), claims("acme", domain.RoleMember))
		require.NoError(t, err)
		parts := jwtParts(t, token)
		raw, err := base64.RawURLEncoding.DecodeString(parts[1])
		require.NoError(t, err)
		var payload map[string]any
		require.NoError(t, json.Unmarshal(raw, &payload))
		payload["sub"] = newID()
		_, err = verifier.Verify(t.Context(), parts[0]+"."+b64(payload)+"."+parts[2])
		requireInvalidToken(t, err)
	})

	t.Run("a token with a changed signature is invalid", func(t *testing.T) {
		issuer, verifier := newTokens(t)
		token, err := issuer.Issue(t.Context(), claims("acme", domain.RoleMember))
		require.NoError(t, err)
		parts := jwtParts(t, token)
		sig := []byte(parts[2])
		i := len(sig) / 2
		if sig[i] == 'A' {
			sig[i] = 'B'
		} else {
			sig[i] = 'A'
		}
		_, err = verifier.Verify(t.Context(), parts[0]+"."+parts[1]+"."+string(sig))
		requireInvalidToken(t, err)
	})

	t.Run("an unsigned token (alg none) is invalid", func(t *testing.T) {
		issuer, verifier := newTokens(t)
		token, err := issuer.Issue(t.Context(), claims("acme", domain.RoleMember))
		require.NoError(t, err)
		parts := jwtParts(t, token)
		raw, err := base64.RawURLEncoding.DecodeString(parts[0])
		require.NoError(t, err)
		var header map[string]any
		require.NoError(t, json.Unmarshal(raw, &header))
		header["alg"] = "none"
		_, err = verifier.Verify(t.Context(), b64(header)+"."+parts[1]+".")
		requireInvalidToken(t, err)
	})

	t.Run("a token signed by another key is invalid", func(t *testing.T) {
		_, verifier := newTokens(t)
		foreign, _ := newTokens(t)
		token, err := foreign.Issue(t.Context(), claims("acme", domain.RoleMember))
		require.NoError(t, err)
		_, err = verifier.Verify(t.Context(), token)
		requireInvalidToken(t, err)
	})

	t.Run("malformed tokens are invalid", func(t *testing.T) {
		_, verifier := newTokens(t)
		for _, token := range []string{"", "garbage", "a.b.c", "..", "eyJhbGciOiJFUzI1NiJ9.e30.", strings.Repeat("x", 10000)} {
			_, err := verifier.Verify(t.Context(), token)
			requireInvalidToken(t, err)
		}
	})
}

// NewSealer builds a sealer with its own fresh master key; two calls must give
// different keys.
type NewSealer func(t *testing.T) ports.SecretSealer

// SecretSealer tests a ports.SecretSealer: round trips, and wrong aad, tampering and
// foreign keys failing as KindInternal without the secret in the message.
func SecretSealer(t *testing.T, newSealer NewSealer) {
	const aad = "tenant/acme/llm_api_key"
	secret := []byte("sk-live-0123456789abcdef")
	requireSealFailure := func(t *testing.T, err error) {
		t.Helper()
		requireKind(t, domain.KindInternal, err)
		assert.NotContains(t, err.Error(), string(secret), "the secret leaked into the error")
	}

	t.Run("open returns what seal sealed", func(t *testing.T) {
		s := newSealer(t)
		for _, plain := range [][]byte{secret, []byte("x"), bytes.Repeat([]byte{0, 0xff, 'a'}, 500), []byte("ünïcode ✓")} {
			sealed, err := s.Seal(plain, aad)
			require.NoError(t, err)
			assert.False(t, bytes.Contains(sealed, plain), "the plaintext is visible in the sealed value")
			got, err := s.Open(sealed, aad)
			require.NoError(t, err)
			assert.Equal(t, plain, got)
		}
	})

	t.Run("a wrong aad fails", func(t *testing.T) {
		s := newSealer(t)
		sealed, err := s.Seal(secret, aad)
		require.NoError(t, err)
		_, err = s.Open(sealed, "tenant/globex/llm_api_key")
		requireSealFailure(t, err)
		_, err = s.Open(sealed, "")
		requireSealFailure(t, err)
	})

	t.Run("any tampered byte fails", func(t *testing.T) {
		s := newSealer(t)
		sealed, err := s.Seal(secret, aad)
		require.NoError(t, err)
		for i := range sealed {
			tampered := bytes.Clone(sealed)
			tampered[i] ^= 0x01
			_, err := s.Open(tampered, aad)
			requireSealFailure(t, err)
		}
		_, err = s.Open(sealed[:len(sealed)-1], aad)
		requireSealFailure(t, err)
		_, err = s.Open(nil, aad)
		requireSealFailure(t, err)
	})

	t.Run("a value sealed under an unknown key fails", func(t *testing.T) {
		mine, theirs := newSealer(t), newSealer(t)
		sealed, err := theirs.Seal(secret, aad)
		require.NoError(t, err)
		_, err = mine.Open(sealed, aad)
		requireSealFailure(t, err)
	})
}

// Vendors tests a ports.Vendors with a tenant on the offline defaults: each builder
// returns a usable port, Check accepts them without a vendor, and an unknown embedder
// provider is KindInvalid.
func Vendors(t *testing.T, v ports.Vendors) {
	tn, err := domain.NewTenant("acme", "Acme", base)
	require.NoError(t, err)

	t.Run("the offline defaults build", func(t *testing.T) {
		e, err := v.Embedder(tn)
		require.NoError(t, err)
		require.NotNil(t, e)
		vecs, err := e.Embed(t.Context(), []string{"hello"})
		require.NoError(t, err)
		require.Len(t, vecs, 1)
		assert.Len(t, vecs[0], e.Dimensions())

		x, err := v.VectorIndex(tn)
		require.NoError(t, err)
		require.NotNil(t, x)
		m, err := v.ChatModel(tn)
		require.NoError(t, err)
		require.NotNil(t, m)
	})

	t.Run("the offline defaults need no vendor to check", func(t *testing.T) {
		require.NoError(t, v.Check(t.Context(), tn))
	})

	t.Run("an embedder provider it cannot build is Invalid", func(t *testing.T) {
		bad := tn
		bad.Embedder.Provider = "no-such-provider"
		_, err := v.Embedder(bad)
		requireKind(t, domain.KindInvalid, err)
	})
}
