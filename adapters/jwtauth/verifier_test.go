package jwtauth_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/adapters/jwtauth"
	"github.com/tenantry/tenantry/domain"
)

var b64 = base64.RawURLEncoding

func segment(t testing.TB, token string, i int) map[string]any {
	t.Helper()
	parts := strings.Split(token, ".")
	require.Len(t, parts, 3)
	raw, err := b64.DecodeString(parts[i])
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, json.Unmarshal(raw, &m))
	return m
}

func encodeJSON(t testing.TB, v any) string {
	t.Helper()
	raw, err := json.Marshal(v)
	require.NoError(t, err)
	return b64.EncodeToString(raw)
}

// validPayload is what Issue would write for e.claims().
func (e *env) validPayload() map[string]any {
	now := e.clock.Now().Unix()
	return map[string]any{
		"iss": testIssuer, "aud": []string{"tenantry"}, "sub": "0b5e9c3a-7a51-4d7e-9a53-1f1f3c0c2d11",
		"tenant_id": "acme", "role": "member", "ver": 1, "jti": "j1",
		"iat": now, "nbf": now, "exp": now + 900,
	}
}

// mint signs payload with the env's real active key, with header overrides applied
// (a nil value removes the header).
func (e *env) mint(t testing.TB, payload map[string]any, header map[string]any) string {
	t.Helper()
	// A raw key, so that jwx does not put the key's own kid over the test's header.
	var raw any
	require.NoError(t, jwtauth.ActiveSigner(e.keys).Raw(&raw))
	h := map[string]any{"kid": e.keys.ActiveKID()}
	for k, v := range header {
		h[k] = v
	}
	return mintWith(t, jwa.SignatureAlgorithm(e.keys.Algorithm()), raw, payload, h)
}

func mintWith(t testing.TB, alg jwa.SignatureAlgorithm, key any, payload map[string]any, header map[string]any) string {
	t.Helper()
	h := jws.NewHeaders()
	require.NoError(t, h.Set(jws.TypeKey, jwtauth.TokenType))
	for k, v := range header {
		if v == nil {
			_ = h.Remove(k)
			continue
		}
		require.NoError(t, h.Set(k, v))
	}
	raw, err := json.Marshal(payload)
	require.NoError(t, err)
	signed, err := jws.Sign(raw, jws.WithKey(alg, key, jws.WithProtectedHeaders(h)))
	require.NoError(t, err)
	return string(signed)
}

// hmacToken builds an HS256 token by hand, keyed with secret.
func hmacToken(t testing.TB, header, payload map[string]any, secret []byte) string {
	t.Helper()
	input := encodeJSON(t, header) + "." + encodeJSON(t, payload)
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(input))
	return input + "." + b64.EncodeToString(mac.Sum(nil))
}

func TestIssueVerifyRoundTrip(t *testing.T) {
	t.Parallel()
	for _, alg := range algs {
		t.Run(alg, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, alg)
			want := e.claims()
			token := e.issue(t, want)

			hdr := segment(t, token, 0)
			assert.Equal(t, alg, hdr["alg"])
			assert.Equal(t, e.keys.ActiveKID(), hdr["kid"])
			assert.Equal(t, "at+jwt", hdr["typ"])

			body := segment(t, token, 1)
			assert.Equal(t, testIssuer, body["iss"])
			assert.Contains(t, body["aud"], "tenantry")
			assert.Equal(t, "acme", body["tenant_id"])
			assert.Equal(t, "tenant_admin", body["role"])
			assert.EqualValues(t, 3, body["ver"])
			assert.Equal(t, body["iat"], body["nbf"])
			assert.Equal(t, "jti-1", body["jti"])

			got, err := e.verifier.Verify(context.Background(), token)
			require.NoError(t, err)
			assert.Equal(t, want.Subject, got.Subject)
			assert.Equal(t, want.TenantID, got.TenantID)
			assert.Equal(t, want.Role, got.Role)
			assert.Equal(t, want.TokenVersion, got.TokenVersion)
			assert.Equal(t, want.TokenID, got.TokenID)
			assert.True(t, want.IssuedAt.Equal(got.IssuedAt))
			assert.True(t, want.ExpiresAt.Equal(got.ExpiresAt))
		})
	}
}

func TestIssueWithoutTenantOmitsClaim(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "ES256")
	c := e.claims()
	c.TenantID, c.Role, c.TokenID = "", domain.RoleMember, ""
	token := e.issue(t, c)

	body := segment(t, token, 1)
	assert.NotContains(t, body, "tenant_id")
	assert.NotEmpty(t, body["jti"], "a random jti is filled in")

	got, err := e.verifier.Verify(context.Background(), token)
	require.NoError(t, err)
	assert.Empty(t, got.TenantID)
	assert.NotEmpty(t, got.TokenID)
}

func TestIssueDefaultsAndLimits(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "ES256")
	got, err := e.verifier.Verify(context.Background(), e.issue(t, domain.Claims{Subject: "u1", Role: domain.RoleMember}))
	require.NoError(t, err)
	assert.True(t, got.IssuedAt.Equal(e.clock.Now()))
	assert.Equal(t, 15*time.Minute, got.ExpiresAt.Sub(got.IssuedAt))

	for name, c := range map[string]domain.Claims{
		"no subject":     {Role: domain.RoleMember},
		"no role":        {Subject: "u1"},
		"beyond the TTL": {Subject: "u1", Role: domain.RoleMember, IssuedAt: e.clock.Now(), ExpiresAt: e.clock.Now().Add(time.Hour)},
		"exp before iat": {Subject: "u1", Role: domain.RoleMember, IssuedAt: e.clock.Now(), ExpiresAt: e.clock.Now().Add(-time.Minute)},
	} {
		_, err := e.issuer.Issue(context.Background(), c)
		assert.Error(t, err, name)
		assert.Equal(t, domain.KindInternal, domain.KindOf(err), name)
	}
}

func TestVerifyRejects(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "ES256")
	kid := e.keys.ActiveKID()
	valid := e.issue(t, e.claims())
	parts := strings.Split(valid, ".")
	now := e.clock.Now().Unix()

	with := func(changes map[string]any) map[string]any {
		p := e.validPayload()
		for k, v := range changes {
			if v == nil {
				delete(p, k)
				continue
			}
			p[k] = v
		}
		return p
	}

	foreignEC, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	foreignRSA, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)

	pubJWK := jwkOf(t, e.keys.JWKS(), kid)
	pubDER, err := x509.MarshalPKIXPublicKey(publicOf(t, pubJWK))
	require.NoError(t, err)
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})
	hsHeader := map[string]any{"alg": "HS256", "typ": "at+jwt", "kid": kid}

	tampered := with(map[string]any{"tenant_id": "globex"})
	tests := []struct {
		name   string
		reason string // what the error's cause must say, so each case fails for its own reason
		token  string
	}{
		{name: "empty", reason: `not a compact JWS`, token: ""},
		{name: "garbage", reason: `not a compact JWS`, token: "not a token"},
		{name: "two segments", reason: `not a compact JWS`, token: parts[0] + "." + parts[1]},
		{name: "four segments", reason: `not a compact JWS`, token: valid + ".AAAA"},
		{name: "oversized", reason: `not a compact JWS`, token: parts[0] + "." + strings.Repeat("A", 9000) + "." + parts[2]},
		{name: "JSON serialisation", reason: `not a compact JWS`, token: `{"payload":"` + parts[1] + `","protected":"` + parts[0] + `","signature":"` + parts[2] + `"}`},
		{name: "tampered payload", reason: `could not verify`, token: parts[0] + "." + encodeJSON(t, tampered) + "." + parts[2]},
		{name: "tampered signature", reason: `could not verify`, token: parts[0] + "." + parts[1] + "." + flipChar(parts[2])},
		{name: "foreign key with our kid", reason: `could not verify`, token: mintWith(t, jwa.ES256, foreignEC, e.validPayload(), map[string]any{"kid": kid})},
		{name: "RS256 with our kid (alg confusion)", reason: `algorithm not accepted`, token: mintWith(t, jwa.RS256, foreignRSA, e.validPayload(), map[string]any{"kid": kid})},
		{name: "alg none, empty signature", reason: `not a compact JWS`, token: encodeJSON(t, map[string]any{"alg": "none", "typ": "at+jwt", "kid": kid}) + "." + parts[1] + "."},
		{name: "alg none, some signature", reason: `algorithm not accepted`, token: encodeJSON(t, map[string]any{"alg": "none", "typ": "at+jwt", "kid": kid}) + "." + parts[1] + "." + parts[2]},
		{name: "HS256 keyed with the public JWK", reason: `algorithm not accepted`, token: hmacToken(t, hsHeader, e.validPayload(), pubJWK)},
		{name: "HS256 keyed with the public PEM", reason: `algorithm not accepted`, token: hmacToken(t, hsHeader, e.validPayload(), pubPEM)},
		{name: "HS256 keyed with the public DER", reason: `algorithm not accepted`, token: hmacToken(t, hsHeader, e.validPayload(), pubDER)},
		{name: "expired", reason: `"exp" not satisfied`, token: e.mint(t, with(map[string]any{"iat": now - 1000, "nbf": now - 1000, "exp": now - 60}), nil)},
		{name: "not yet valid", reason: `"nbf" not satisfied`, token: e.mint(t, with(map[string]any{"nbf": now + 300}), nil)},
		{name: "issued in the future", reason: `"iat" not satisfied`, token: e.mint(t, with(map[string]any{"iat": now + 300, "nbf": now + 300, "exp": now + 1200}), nil)},
		{name: "wrong audience", reason: `"aud" not satisfied`, token: e.mint(t, with(map[string]any{"aud": []string{"other"}}), nil)},
		{name: "no audience", reason: `"aud"`, token: e.mint(t, with(map[string]any{"aud": nil}), nil)},
		{name: "wrong issuer", reason: `"iss" not satisfied`, token: e.mint(t, with(map[string]any{"iss": "https://evil.example"}), nil)},
		{name: "no issuer", reason: `"iss" not satisfied`, token: e.mint(t, with(map[string]any{"iss": nil}), nil)},
		{name: "unknown kid", reason: `unknown or expired kid`, token: e.mint(t, e.validPayload(), map[string]any{"kid": "no-such-kid"})},
		{name: "no kid", reason: `unknown or expired kid`, token: e.mint(t, e.validPayload(), map[string]any{"kid": nil})},
		{name: "typ JWT", reason: `typ is not`, token: e.mint(t, e.validPayload(), map[string]any{"typ": "JWT"})},
		{name: "no typ", reason: `typ is not`, token: e.mint(t, e.validPayload(), map[string]any{"typ": nil})},
		{name: "critical header", reason: `unsupported critical header`, token: e.mint(t, e.validPayload(), map[string]any{"crit": []string{"exp"}})},
		{name: "no exp", reason: `"exp" not satisfied`, token: e.mint(t, with(map[string]any{"exp": nil}), nil)},
		{name: "no sub", reason: `"sub"`, token: e.mint(t, with(map[string]any{"sub": nil}), nil)},
		{name: "no jti", reason: `"jti"`, token: e.mint(t, with(map[string]any{"jti": nil}), nil)},
		{name: "no role", reason: `"role"`, token: e.mint(t, with(map[string]any{"role": nil}), nil)},
		{name: "unknown role", reason: `invalid role claim`, token: e.mint(t, with(map[string]any{"role": "root"}), nil)},
		{name: "no ver", reason: `"ver"`, token: e.mint(t, with(map[string]any{"ver": nil}), nil)},
		{name: "ver as string", reason: `invalid ver claim`, token: e.mint(t, with(map[string]any{"ver": "1"}), nil)},
		{name: "fractional ver", reason: `invalid ver claim`, token: e.mint(t, with(map[string]any{"ver": 1.5}), nil)},
		{name: "invalid tenant_id", reason: `invalid tenant_id claim`, token: e.mint(t, with(map[string]any{"tenant_id": "Not A Slug!"}), nil)},
		{name: "tenant_id as number", reason: `invalid tenant_id claim`, token: e.mint(t, with(map[string]any{"tenant_id": 7}), nil)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := e.verifier.Verify(context.Background(), tc.token)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.reason)
			assert.ErrorIs(t, err, domain.ErrInvalidToken)
			assert.Equal(t, domain.KindUnauthenticated, domain.KindOf(err))
			assert.Equal(t, domain.Claims{}, got)
			if len(tc.token) > 0 {
				assert.NotContains(t, err.Error(), tc.token)
			}
			if p := strings.Split(tc.token, "."); len(p) == 3 && len(p[2]) > 8 {
				assert.NotContains(t, err.Error(), p[2], "the signature never appears in errors")
			}
		})
	}
}

func TestVerifyAcceptsWithinSkew(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "ES256")
	now := e.clock.Now().Unix()
	p := e.validPayload()
	p["exp"], p["iat"] = now-10, now-900 // expired 10 s ago; the default skew is 30 s
	_, err := e.verifier.Verify(context.Background(), e.mint(t, p, nil))
	assert.NoError(t, err)

	p = e.validPayload()
	p["nbf"], p["iat"] = now+10, now+10 // clocks 10 s apart
	_, err = e.verifier.Verify(context.Background(), e.mint(t, p, nil))
	assert.NoError(t, err)

	p = e.validPayload()
	p["aud"] = "tenantry" // a single string is as good as a one-element array
	_, err = e.verifier.Verify(context.Background(), e.mint(t, p, map[string]any{"typ": "application/at+jwt"}))
	assert.NoError(t, err)
}

func jwkOf(t testing.TB, jwks []byte, kid string) []byte {
	t.Helper()
	var doc struct {
		Keys []json.RawMessage `json:"keys"`
	}
	require.NoError(t, json.Unmarshal(jwks, &doc))
	for _, k := range doc.Keys {
		var m map[string]any
		require.NoError(t, json.Unmarshal(k, &m))
		if m["kid"] == kid {
			return k
		}
	}
	t.Fatalf("kid %s not in JWKS", kid)
	return nil
}

func publicOf(t testing.TB, jwkJSON []byte) any {
	t.Helper()
	k, err := jwk.ParseKey(jwkJSON)
	require.NoError(t, err)
	var raw any
	require.NoError(t, k.Raw(&raw))
	return raw
}

func flipChar(s string) string {
	b := []byte(s)
	if b[5] == 'A' {
		b[5] = 'B'
	} else {
		b[5] = 'A'
	}
	return string(b)
}
