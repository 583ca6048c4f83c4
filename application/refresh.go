package application

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/ports"
)

// RefreshDeps are the ports the refresh grant calls.
type RefreshDeps struct {
	Users   ports.UserStore
	Issuer  ports.TokenIssuer
	Refresh ports.RefreshTokenStore
	Policy  TokenPolicy
	Now     func() time.Time
}

// RefreshTokens is the OAuth2 refresh_token grant with rotation: every use returns a new
// refresh token of the same family, and reusing a rotated one revokes the family.
type RefreshTokens struct {
	d      RefreshDeps
	minter tokenMinter
}

// NewRefreshTokens builds the use case.
func NewRefreshTokens(d RefreshDeps) *RefreshTokens {
	return &RefreshTokens{d: d, minter: tokenMinter{issuer: d.Issuer, refresh: d.Refresh, policy: d.Policy}}
}

// Execute exchanges a refresh token. Unknown, expired, reused or revoked tokens, a
// disabled user and a user moved to another tenant all fail with
// domain.ErrInvalidRefreshToken. The old token is consumed and its successor stored in
// one step (ports.RefreshTokenStore.Rotate), so a reuse or a revocation racing this
// exchange also kills the successor.
func (r *RefreshTokens) Execute(ctx context.Context, raw string) (Tokens, error) {
	now := r.d.Now()
	if raw == "" || len(raw) > 512 {
		return Tokens{}, domain.ErrInvalidRefreshToken
	}
	hash := HashRefreshToken(raw)
	nextRaw, next, err := r.minter.nextRefresh(now)
	if err != nil {
		return Tokens{}, err
	}
	rt, err := r.d.Refresh.Rotate(ctx, hash, next, now)
	if err != nil {
		return Tokens{}, err
	}
	u, err := r.d.Users.Get(ctx, rt.UserID)
	if errors.Is(err, domain.ErrNotFound) {
		return Tokens{}, domain.ErrInvalidRefreshToken
	}
	if err != nil {
		return Tokens{}, fmt.Errorf("load user: %w", err)
	}
	if u.CanLogin() != nil || u.TenantID != rt.TenantID {
		if err := r.d.Refresh.RevokeFamily(ctx, hash, now); err != nil {
			return Tokens{}, fmt.Errorf("revoke refresh family: %w", err)
		}
		return Tokens{}, domain.ErrInvalidRefreshToken
	}
	return r.minter.withAccess(ctx, u, nextRaw, now)
}

// RevokeToken implements RFC 7009 for refresh tokens: the token's whole family is
// revoked; an unknown token is not an error.
type RevokeToken struct {
	refresh ports.RefreshTokenStore
	now     func() time.Time
}

// NewRevokeToken builds the use case.
func NewRevokeToken(refresh ports.RefreshTokenStore, now func() time.Time) *RevokeToken {
	return &RevokeToken{refresh: refresh, now: now}
}

// Execute revokes raw's family.
func (r *RevokeToken) Execute(ctx context.Context, raw string) error {
	if raw == "" || len(raw) > 512 {
		return nil
	}
	return r.refresh.RevokeFamily(ctx, HashRefreshToken(raw), r.now())
}
