package application

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/ports"
)

// TokenPolicy sets token lifetimes.
type TokenPolicy struct {
	AccessTTL  time.Duration
	RefreshTTL time.Duration
}

// Tokens is what a successful grant returns.
type Tokens struct {
	AccessToken  string
	ExpiresIn    time.Duration
	RefreshToken string
}

// tokenMinter issues an access token and a refresh token for a user; it is shared by the
// password and refresh grants.
type tokenMinter struct {
	issuer  ports.TokenIssuer
	refresh ports.RefreshTokenStore
	policy  TokenPolicy
}

// mint issues an access token and the first refresh token of a new family.
func (m tokenMinter) mint(ctx context.Context, u domain.User, now time.Time) (Tokens, error) {
	raw, rt, err := m.nextRefresh(now)
	if err != nil {
		return Tokens{}, err
	}
	if rt.FamilyID, err = randomToken(16); err != nil {
		return Tokens{}, err
	}
	rt.UserID, rt.TenantID = u.ID, u.TenantID
	if err := m.refresh.Create(ctx, rt); err != nil {
		return Tokens{}, fmt.Errorf("store refresh token: %w", err)
	}
	return m.withAccess(ctx, u, raw, now)
}

// nextRefresh makes a new opaque refresh token and its row, without family or owner.
func (m tokenMinter) nextRefresh(now time.Time) (string, domain.RefreshToken, error) {
	raw, err := randomToken(32)
	if err != nil {
		return "", domain.RefreshToken{}, err
	}
	return raw, domain.RefreshToken{Hash: HashRefreshToken(raw), ExpiresAt: now.Add(m.policy.RefreshTTL), CreatedAt: now}, nil
}

// withAccess issues u's access token beside the refresh token raw.
func (m tokenMinter) withAccess(ctx context.Context, u domain.User, raw string, now time.Time) (Tokens, error) {
	jti, err := randomToken(16)
	if err != nil {
		return Tokens{}, err
	}
	access, err := m.issuer.Issue(ctx, domain.Claims{
		Subject: u.ID, TenantID: u.TenantID, Role: u.Role, TokenVersion: u.TokenVersion,
		TokenID: jti, IssuedAt: now, ExpiresAt: now.Add(m.policy.AccessTTL),
	})
	if err != nil {
		return Tokens{}, fmt.Errorf("issue access token: %w", err)
	}
	return Tokens{AccessToken: access, ExpiresIn: m.policy.AccessTTL, RefreshToken: raw}, nil
}

// HashRefreshToken is how refresh tokens are stored: only their SHA-256.
func HashRefreshToken(raw string) string {
	sum := sha256.Sum256([]byte(raw))
	return hex.EncodeToString(sum[:])
}

func randomToken(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", domain.E(domain.KindInternal, "internal", "", fmt.Errorf("read random: %w", err))
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms (Go 1.24+).
	b[6] = (b[6] & 0x0f) | 0x40
	b[8] = (b[8] & 0x3f) | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
