package application

import (
	"context"
	"fmt"
	"time"

	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/ports"
)

// ChangePasswordDeps are the ports a user's own password change calls.
type ChangePasswordDeps struct {
	Users    ports.UserStore
	Hasher   ports.PasswordHasher
	Issuer   ports.TokenIssuer
	Refresh  ports.RefreshTokenStore
	Attempts ports.AttemptLimiter
	Audit    ports.AuditLog
	Policy   TokenPolicy
	Now      func() time.Time
}

// ChangePassword lets users change their own password, proving the current one. It
// logs them out everywhere (token version raised, refresh tokens revoked) and returns
// fresh tokens, so that only the session that changed the password goes on.
type ChangePassword struct {
	d      ChangePasswordDeps
	minter tokenMinter
}

// NewChangePassword builds the use case.
func NewChangePassword(d ChangePasswordDeps) *ChangePassword {
	return &ChangePassword{d: d, minter: tokenMinter{issuer: d.Issuer, refresh: d.Refresh, policy: d.Policy}}
}

// ChangePasswordInput is the request.
type ChangePasswordInput struct {
	Current string
	New     string
}

// Execute checks Current and sets New. A wrong current password is KindInvalid on
// current_password (and counts as a failed attempt: too many are KindRateLimited); a
// weak new one KindInvalid on new_password.
func (c *ChangePassword) Execute(ctx context.Context, who Actor, in ChangePasswordInput) (Tokens, error) {
	now := c.d.Now()
	key := "password:user:" + string(who.Principal.UserID)
	wait, err := c.d.Attempts.Blocked(ctx, key, now)
	if err != nil {
		return Tokens{}, fmt.Errorf("check password attempts: %w", err)
	}
	if wait > 0 {
		return Tokens{}, domain.ErrRateLimited.WithDetail("too many wrong current passwords; try again later").WithRetryAfter(ceilSeconds(wait))
	}
	if err := domain.ValidatePassword(in.New); err != nil {
		return Tokens{}, domain.Invalid(domain.FieldError{Field: "new_password", Message: fieldMessage(err)})
	}
	u, err := c.d.Users.Get(ctx, who.Principal.UserID)
	if err != nil {
		return Tokens{}, fmt.Errorf("load user: %w", err)
	}
	match, _, err := c.d.Hasher.Verify(ctx, u.PasswordHash, in.Current)
	if err != nil {
		return Tokens{}, err
	}
	if !match {
		if _, err := c.d.Attempts.Fail(ctx, key, now); err != nil {
			return Tokens{}, fmt.Errorf("record failed password check: %w", err)
		}
		return Tokens{}, domain.Invalid(domain.FieldError{Field: "current_password", Message: "is not your current password"})
	}
	hash, err := c.d.Hasher.Hash(ctx, in.New)
	if err != nil {
		return Tokens{}, err
	}
	u, err = c.d.Users.Update(ctx, u.ID, func(u *domain.User) error {
		u.SetPassword(hash, now)
		return nil
	})
	if err != nil {
		return Tokens{}, err
	}
	if err := c.d.Refresh.RevokeUser(ctx, u.ID, now); err != nil {
		return Tokens{}, fmt.Errorf("revoke refresh tokens: %w", err)
	}
	if err := c.d.Attempts.Reset(ctx, key); err != nil {
		return Tokens{}, fmt.Errorf("reset password attempts: %w", err)
	}
	if err := appendAudit(ctx, c.d.Audit, now, who, u.TenantID, "user.password", string(u.ID), []string{"password"}); err != nil {
		return Tokens{}, err
	}
	return c.minter.mint(ctx, u, now)
}

// fieldMessage is the message of a one-field KindInvalid error, or its detail.
func fieldMessage(err error) string {
	if e := domain.AsError(err); e != nil {
		if len(e.Fields) == 1 {
			return e.Fields[0].Message
		}
		return e.Detail
	}
	return err.Error()
}
