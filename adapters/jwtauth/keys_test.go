package jwtauth_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	josejwt "github.com/go-jose/go-jose/v4/jwt"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/adapters/jwtauth"
	"github.com/tenantry/tenantry/domain"
)

func jwksKIDs(t testing.TB, doc []byte) []string {
	t.Helper()
	var set struct {
		Keys []map[string]any `json:"keys"`
	}
	require.NoError(t, json.Unmarshal(doc, &set))
	var kids []string
	for _, k := range set.Keys {
		kids = append(kids, k["kid"].(string))
	}
	return kids
}

func TestLoadGeneratesOneSealedKey(t *testing.T) {
	t.Parallel()
	for _, alg := range algs {
		t.Run(alg, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, alg)
			stored := e.store.snapshot()
			require.Len(t, stored, 1)
			k := stored[0]
			assert.Equal(t, e.keys.ActiveKID(), k.KID)
			assert.Equal(t, alg, k.Algorithm)
			assert.Len(t, k.KID, 43, "kid is a base64url SHA-256 thumbprint")
			assert.True(t, strings.HasPrefix(string(k.Private), "sealed:signing-key/"+k.KID+":"), "the private key goes through the sealer, bound to its kid")

			var pub map[string]any
			require.NoError(t, json.Unmarshal(k.Public, &pub))
			assert.Equal(t, k.KID, pub["kid"])
			assert.Equal(t, alg, pub["alg"])
			assert.Equal(t, "sig", pub["use"])
			for _, private := range []string{"d", "p", "q", "dp", "dq", "qi"} {
				assert.NotContains(t, pub, private, "public JWK holds no private parameter")
				assert.NotContains(t, string(e.keys.JWKS()), `"`+private+`":`)
			}
			assert.Equal(t, []string{k.KID}, jwksKIDs(t, e.keys.JWKS()))
			assert.Equal(t, alg, e.keys.Algorithm())

			// A second start on the same store reuses the key.
			again := newEnvOn(t, alg, e.store, e.clock)
			assert.Equal(t, k.KID, again.keys.ActiveKID())
			assert.Len(t, e.store.snapshot(), 1)
		})
	}
}

func TestLoadFailsWhenPrivateKeyCannotBeOpened(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "ES256")
	keys, err := jwtauth.NewKeys(e.store, sealer{broken: true}, jwtauth.Config{Issuer: testIssuer}, nil)
	require.NoError(t, err)
	err = keys.Load(context.Background())
	require.Error(t, err, "a wrong master key must stop startup, not silently mint a new key")
	assert.Equal(t, domain.KindInternal, domain.KindOf(err))
	assert.Len(t, e.store.snapshot(), 1)
}

func TestLoadFailsWhenStoreIsDown(t *testing.T) {
	t.Parallel()
	store := &keyStore{}
	store.setListErr(domain.ErrUnavailable)
	keys, err := jwtauth.NewKeys(store, sealer{}, jwtauth.Config{Issuer: testIssuer}, nil)
	require.NoError(t, err)
	err = keys.Load(context.Background())
	assert.Equal(t, domain.KindUnavailable, domain.KindOf(err))
	assert.Equal(t, `{"keys":[]}`, string(keys.JWKS()))
}

func TestNewKeysValidatesConfig(t *testing.T) {
	t.Parallel()
	for name, cfg := range map[string]jwtauth.Config{
		"no issuer":        {},
		"relative issuer":  {Issuer: "/auth"},
		"HS256":            {Issuer: testIssuer, Algorithm: "HS256"},
		"none":             {Issuer: testIssuer, Algorithm: "none"},
		"unknown algoritm": {Issuer: testIssuer, Algorithm: "PS999"},
	} {
		_, err := jwtauth.NewKeys(&keyStore{}, sealer{}, cfg, nil)
		assert.Equal(t, domain.KindInvalid, domain.KindOf(err), name)
	}
	keys, err := jwtauth.NewKeys(&keyStore{}, sealer{}, jwtauth.Config{Issuer: testIssuer, Algorithm: "eddsa"}, nil)
	require.NoError(t, err)
	got := keys.Config()
	assert.Equal(t, "EdDSA", got.Algorithm)
	assert.Equal(t, "tenantry", got.Audience)
	assert.Equal(t, 15*time.Minute, got.AccessTTL)
	assert.Equal(t, 30*time.Second, got.Skew)
}

func TestRotation(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t, "ES256")
	t0 := e.clock.Now()
	oldKID := e.keys.ActiveKID()
	oldToken := e.issue(t, e.claims())

	e.clock.Advance(time.Minute)
	newKID, err := e.keys.Rotate(ctx)
	require.NoError(t, err)
	assert.NotEqual(t, oldKID, newKID)
	assert.Equal(t, newKID, e.keys.ActiveKID())

	newToken := e.issue(t, e.claims())
	assert.Equal(t, newKID, segment(t, newToken, 0)["kid"], "new tokens are signed by the new key")
	assert.Equal(t, []string{newKID, oldKID}, jwksKIDs(t, e.keys.JWKS()), "JWKS lists the active key first, then the retired one")

	e.clock.Advance(13 * time.Minute) // t0+14m: the old token has a minute left
	_, err = e.verifier.Verify(ctx, oldToken)
	assert.NoError(t, err, "tokens signed by the retired key verify until they expire")
	_, err = e.verifier.Verify(ctx, newToken)
	assert.NoError(t, err)

	// Retired at t0+1m, the old key verifies for AccessTTL+skew+refresh = 16m30s more.
	e.clock.Advance(t0.Add(time.Minute + 16*time.Minute + 29*time.Second).Sub(e.clock.Now()))
	n, err := e.keys.Prune(ctx)
	require.NoError(t, err)
	assert.Zero(t, n, "nothing is pruned inside the window")
	assert.Contains(t, jwksKIDs(t, e.keys.JWKS()), oldKID)

	e.clock.Advance(2 * time.Second)
	assert.Equal(t, []string{newKID}, jwksKIDs(t, e.keys.JWKS()), "past its window the old key leaves the JWKS")
	n, err = e.keys.Prune(ctx)
	require.NoError(t, err)
	assert.Equal(t, 1, n)
	stored := e.store.snapshot()
	require.Len(t, stored, 1)
	assert.Equal(t, newKID, stored[0].KID)

	_, err = e.verifier.Verify(ctx, oldToken)
	assert.ErrorIs(t, err, domain.ErrInvalidToken)
}

func TestRotationOnAnotherNodeIsPickedUp(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	a := newEnv(t, "ES256")
	b := newEnvOn(t, "ES256", a.store, a.clock)
	require.Equal(t, a.keys.ActiveKID(), b.keys.ActiveKID())

	_, err := a.keys.Rotate(ctx)
	require.NoError(t, err)
	fromA := a.issue(t, a.claims())

	_, err = b.verifier.Verify(ctx, fromA)
	require.NoError(t, err, "an unknown kid makes b reload from the store")
	assert.Equal(t, a.keys.ActiveKID(), b.keys.ActiveKID())

	// Reloads for unknown kids are rate-limited: a second rotation within
	// UnknownKIDRefresh is not seen until the gap has passed.
	_, err = a.keys.Rotate(ctx)
	require.NoError(t, err)
	again := a.issue(t, a.claims())
	_, err = b.verifier.Verify(ctx, again)
	assert.ErrorIs(t, err, domain.ErrInvalidToken)

	a.clock.Advance(11 * time.Second)
	_, err = b.verifier.Verify(ctx, again)
	assert.NoError(t, err)
}

func TestRunReloadsPeriodically(t *testing.T) {
	t.Parallel()
	store, clk := &keyStore{}, newClock()
	a := newEnvOn(t, "EdDSA", store, clk)
	b, err := jwtauth.NewKeys(store, sealer{}, jwtauth.Config{Issuer: testIssuer, Algorithm: "EdDSA", Clock: clk.Now, RefreshInterval: 10 * time.Millisecond}, nil)
	require.NoError(t, err)
	require.NoError(t, b.Load(context.Background()))

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { b.Run(ctx); close(done) }()

	kid, err := a.keys.Rotate(context.Background())
	require.NoError(t, err)
	assert.Eventually(t, func() bool { return b.ActiveKID() == kid }, 5*time.Second, 5*time.Millisecond)
	cancel()
	<-done
}

func TestReloadFailureKeepsPreviousSet(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "ES256")
	token := e.issue(t, e.claims())
	e.store.setListErr(errors.New("connection refused"))
	require.Error(t, e.keys.Reload(context.Background()))
	_, err := e.verifier.Verify(context.Background(), token)
	assert.NoError(t, err)
	assert.NotEmpty(t, e.keys.ActiveKID())
}

// TestJWKSWithIndependentVerifier fetches the JWKS over HTTP and verifies tokens by kid
// with go-jose, which shares no code with the signer.
func TestJWKSWithIndependentVerifier(t *testing.T) {
	t.Parallel()
	joseAlg := map[string]jose.SignatureAlgorithm{"ES256": jose.ES256, "RS256": jose.RS256, "EdDSA": jose.EdDSA}
	for _, alg := range algs {
		t.Run(alg, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, alg)
			oldToken := e.issue(t, e.claims())
			_, err := e.keys.Rotate(context.Background())
			require.NoError(t, err)
			newToken := e.issue(t, e.claims())

			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				_, _ = w.Write(e.keys.JWKS())
			}))
			t.Cleanup(srv.Close)
			resp, err := http.Get(srv.URL + "/.well-known/jwks.json")
			require.NoError(t, err)
			defer resp.Body.Close()
			var set jose.JSONWebKeySet
			require.NoError(t, json.NewDecoder(resp.Body).Decode(&set))
			require.Len(t, set.Keys, 2)

			for _, token := range []string{oldToken, newToken} {
				parsed, err := josejwt.ParseSigned(token, []jose.SignatureAlgorithm{joseAlg[alg]})
				require.NoError(t, err)
				require.Len(t, parsed.Headers, 1)
				assert.Equal(t, "at+jwt", parsed.Headers[0].ExtraHeaders[jose.HeaderType])
				keys := set.Key(parsed.Headers[0].KeyID)
				require.Len(t, keys, 1, "the token's kid is in the JWKS")
				assert.Equal(t, alg, keys[0].Algorithm)
				assert.True(t, keys[0].IsPublic())

				var std josejwt.Claims
				var extra struct {
					TenantID string `json:"tenant_id"`
					Role     string `json:"role"`
					Ver      int    `json:"ver"`
				}
				require.NoError(t, parsed.Claims(keys[0].Key, &std, &extra))
				require.NoError(t, std.ValidateWithLeeway(josejwt.Expected{
					Issuer: testIssuer, AnyAudience: josejwt.Audience{"tenantry"}, Time: e.clock.Now(),
				}, 0))
				assert.Equal(t, "0b5e9c3a-7a51-4d7e-9a53-1f1f3c0c2d11", std.Subject)
				assert.Equal(t, "acme", extra.TenantID)
				assert.Equal(t, "tenant_admin", extra.Role)
				assert.Equal(t, 3, extra.Ver)
			}

			// A key outside the JWKS must not verify: go-jose with the other kid's key fails.
			other := set.Keys[0]
			if other.KeyID == segment(t, oldToken, 0)["kid"] {
				other = set.Keys[1]
			}
			parsed, err := josejwt.ParseSigned(oldToken, []jose.SignatureAlgorithm{joseAlg[alg]})
			require.NoError(t, err)
			var std josejwt.Claims
			assert.Error(t, parsed.Claims(other.Key, &std))
		})
	}
}
