package jwtauth

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"

	"github.com/lestrrat-go/jwx/v2/jws"
	"github.com/lestrrat-go/jwx/v2/jwt"

	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/ports"
)

// Private claim names.
const (
	claimTenantID = "tenant_id"
	claimRole     = "role"
	claimVersion  = "ver"
)

// Issuer signs access tokens with the active key of a Keys set.
type Issuer struct {
	keys *Keys
}

var _ ports.TokenIssuer = (*Issuer)(nil)

// NewIssuer returns an Issuer signing with keys' active key.
func NewIssuer(keys *Keys) *Issuer { return &Issuer{keys: keys} }

// Issue signs c as a compact JWT. A zero IssuedAt means now, a zero ExpiresAt means
// IssuedAt plus AccessTTL, and an empty TokenID gets a random jti. Claims without a
// subject or role, or that would outlive AccessTTL, are KindInternal: they are
// programming errors, and a longer lifetime would outlast the key retention window.
func (i *Issuer) Issue(_ context.Context, c domain.Claims) (string, error) {
	cfg := i.keys.cfg
	signer := i.keys.set.Load().signer
	if signer == nil {
		return "", keyErr("no active signing key for "+cfg.Algorithm, errors.New("keys not loaded or the active key uses another algorithm"))
	}
	if c.IssuedAt.IsZero() {
		c.IssuedAt = cfg.Clock()
	}
	if c.ExpiresAt.IsZero() {
		c.ExpiresAt = c.IssuedAt.Add(cfg.AccessTTL)
	}
	if c.Subject == "" || c.Role == "" || !c.ExpiresAt.After(c.IssuedAt) || c.ExpiresAt.Sub(c.IssuedAt) > cfg.AccessTTL {
		return "", domain.E(domain.KindInternal, "bad_claims", "access token claims need a subject, a role and a lifetime within the access TTL", nil)
	}
	if c.TokenID == "" {
		id, err := randomID()
		if err != nil {
			return "", err
		}
		c.TokenID = id
	}
	b := jwt.NewBuilder().
		Issuer(cfg.Issuer).
		Audience([]string{cfg.Audience}).
		Subject(string(c.Subject)).
		IssuedAt(c.IssuedAt).
		NotBefore(c.IssuedAt).
		Expiration(c.ExpiresAt).
		JwtID(c.TokenID).
		Claim(claimRole, string(c.Role)).
		Claim(claimVersion, c.TokenVersion)
	if c.TenantID != "" {
		b = b.Claim(claimTenantID, string(c.TenantID))
	}
	tok, err := b.Build()
	if err != nil {
		return "", domain.E(domain.KindInternal, "sign_token", "", err)
	}
	// jwx adds alg, and kid from the key, to these headers: they must be fresh per call.
	hdrs := jws.NewHeaders()
	if err := hdrs.Set(jws.TypeKey, TokenType); err != nil {
		return "", domain.E(domain.KindInternal, "sign_token", "", err)
	}
	signed, err := jwt.Sign(tok, jwt.WithKey(i.keys.alg, signer, jws.WithProtectedHeaders(hdrs)))
	if err != nil {
		return "", domain.E(domain.KindInternal, "sign_token", "", err)
	}
	return string(signed), nil
}

func randomID() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", domain.E(domain.KindInternal, "random_failed", "", err)
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}
