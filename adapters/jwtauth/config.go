// Package jwtauth issues and verifies tenantry's access tokens: asymmetric JWTs (ES256 by
// default, RS256 or EdDSA) whose signing keys live in a ports.SigningKeyStore with their
// private halves sealed by a ports.SecretSealer. It is the only package that imports jwx
// (github.com/lestrrat-go/jwx/v2); it imports no other adapter.
//
// Tokens carry the header typ "at+jwt" (RFC 9068 explicit typing), and the claims iss,
// aud, sub, tenant_id (absent when the user has none), role, iat, nbf, exp, jti and ver
// (the user's token version).
package jwtauth

import (
	"net/url"
	"strings"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"

	"github.com/tenantry/tenantry/domain"
)

// TokenType is the JOSE "typ" header of every access token (RFC 9068 §2.1). The verifier
// requires it, so a JWT minted for another purpose cannot pass as an access token.
const TokenType = "at+jwt"

// Config describes how tokens are signed and checked. Zero values take the defaults
// noted on each field; Issuer is required.
type Config struct {
	// Issuer is the "iss" claim, the public base URL (TENANTRY_PUBLIC_URL).
	Issuer string
	// Audience is the "aud" claim (TENANTRY_JWT_AUDIENCE). Default "tenantry".
	Audience string
	// Algorithm signs new keys and is the only one accepted: "ES256" (default),
	// "RS256" or "EdDSA" (TENANTRY_JWT_ALG).
	Algorithm string
	// AccessTTL is the longest access-token lifetime. Default 15 minutes.
	AccessTTL time.Duration
	// Skew is the clock tolerance applied to exp, nbf and iat. Default 30 seconds.
	Skew time.Duration
	// RefreshInterval is how often Run reloads the key set from the store, so that a
	// rotation on another node is picked up. Default 1 minute.
	RefreshInterval time.Duration
	// UnknownKIDRefresh is the shortest gap between reloads caused by a token whose
	// kid is unknown; it bounds what garbage kids can cost. Default 10 seconds.
	UnknownKIDRefresh time.Duration
	// Clock returns the current time. Default time.Now.
	Clock func() time.Time
}

func (c Config) withDefaults() (Config, error) {
	if c.Audience == "" {
		c.Audience = "tenantry"
	}
	if c.Algorithm == "" {
		c.Algorithm = jwa.ES256.String()
	}
	if c.AccessTTL <= 0 {
		c.AccessTTL = 15 * time.Minute
	}
	if c.Skew <= 0 {
		c.Skew = 30 * time.Second
	}
	if c.RefreshInterval <= 0 {
		c.RefreshInterval = time.Minute
	}
	if c.UnknownKIDRefresh <= 0 {
		c.UnknownKIDRefresh = 10 * time.Second
	}
	if c.Clock == nil {
		c.Clock = time.Now
	}
	alg, ok := parseAlgorithm(c.Algorithm)
	if !ok {
		return c, domain.Invalid(domain.FieldError{Field: "TENANTRY_JWT_ALG", Message: "must be ES256, RS256 or EdDSA"})
	}
	c.Algorithm = alg.String()
	if u, err := url.Parse(c.Issuer); c.Issuer == "" || err != nil || u.Scheme == "" || u.Host == "" {
		return c, domain.Invalid(domain.FieldError{Field: "issuer", Message: "must be an absolute URL (TENANTRY_PUBLIC_URL)"})
	}
	return c, nil
}

// retention is how long a retired key keeps verifying after RetiredAt: the longest token
// lifetime, plus the skew the verifier allows, plus one refresh interval during which a
// node that has not yet seen the rotation may still sign with the old key.
func (c Config) retention() time.Duration {
	return c.AccessTTL + c.Skew + c.RefreshInterval
}

func parseAlgorithm(s string) (jwa.SignatureAlgorithm, bool) {
	for _, a := range []jwa.SignatureAlgorithm{jwa.ES256, jwa.RS256, jwa.EdDSA} {
		if strings.EqualFold(s, a.String()) {
			return a, true
		}
	}
	return "", false
}
