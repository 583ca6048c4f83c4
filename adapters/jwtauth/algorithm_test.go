package jwtauth_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"strings"
	"testing"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/domain"
)

func TestVerifierOfOtherAlgorithmRejects(t *testing.T) {
	t.Parallel()
	es := newEnv(t, "ES256")
	token := es.issue(t, es.claims())
	// An EdDSA node on the same store: its Load rotates away from the ES256 key.
	ed := newEnvOn(t, "EdDSA", es.store, es.clock)
	_, err := ed.verifier.Verify(context.Background(), token)
	assert.ErrorIs(t, err, domain.ErrInvalidToken)
	assert.NotContains(t, string(ed.keys.JWKS()), es.keys.ActiveKID())
}

// TestAlgorithmConfusionEveryAlg checks, for each configured algorithm, that the token's
// header cannot pick another way to use (or skip) the key.
func TestAlgorithmConfusionEveryAlg(t *testing.T) {
	t.Parallel()
	foreignEC, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	for _, alg := range algs {
		t.Run(alg, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, alg)
			kid := e.keys.ActiveKID()
			pubJWK := jwkOf(t, e.keys.JWKS(), kid)
			pubDER, err := x509.MarshalPKIXPublicKey(publicOf(t, pubJWK))
			require.NoError(t, err)
			pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})
			payload := e.validPayload()
			valid := e.issue(t, e.claims())
			sig := strings.Split(valid, ".")[2]

			tokens := map[string]string{
				"HS256 with JWK": hmacToken(t, map[string]any{"alg": "HS256", "typ": "at+jwt", "kid": kid}, payload, pubJWK),
				"HS256 with PEM": hmacToken(t, map[string]any{"alg": "HS256", "typ": "at+jwt", "kid": kid}, payload, pubPEM),
				"none":           encodeJSON(t, map[string]any{"alg": "none", "typ": "at+jwt", "kid": kid}) + "." + encodeJSON(t, payload) + "." + sig,
			}
			if alg != "ES256" {
				tokens["ES256 with our kid"] = mintWith(t, jwa.ES256, foreignEC, payload, map[string]any{"kid": kid})
			}
			for name, token := range tokens {
				_, err := e.verifier.Verify(context.Background(), token)
				require.Error(t, err, name)
				assert.ErrorIs(t, err, domain.ErrInvalidToken, name)
				assert.Contains(t, err.Error(), "algorithm not accepted", name)
			}
		})
	}
}
