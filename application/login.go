package application

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/ports"
)

// LoginDeps are the ports the password grant calls.
type LoginDeps struct {
	Users    ports.UserStore
	Hasher   ports.PasswordHasher
	Issuer   ports.TokenIssuer
	Refresh  ports.RefreshTokenStore
	Attempts ports.AttemptLimiter
	Policy   TokenPolicy
	Now      func() time.Time
}

// Login is the OAuth2 password grant: email and password in, tokens out.
type Login struct {
	d      LoginDeps
	minter tokenMinter
}

// NewLogin builds the use case.
func NewLogin(d LoginDeps) *Login {
	return &Login{d: d, minter: tokenMinter{issuer: d.Issuer, refresh: d.Refresh, policy: d.Policy}}
}

// LoginInput is one login attempt.
type LoginInput struct {
	Email    string
	Password string
	ClientIP string
}

// Execute checks the credentials. Wrong email, wrong password and a disabled user all
// fail as domain.ErrInvalidCredentials after the same amount of hashing work; repeated
// failures per email and per client IP are blocked with KindRateLimited before any
// hashing; an outage is KindUnavailable.
func (l *Login) Execute(ctx context.Context, in LoginInput) (Tokens, error) {
	now := l.d.Now()
	keys := []string{"login:email:" + normalizeForKey(in.Email), "login:ip:" + in.ClientIP}
	for _, k := range keys {
		wait, err := l.d.Attempts.Blocked(ctx, k, now)
		if err != nil {
			return Tokens{}, fmt.Errorf("check login attempts: %w", err)
		}
		if wait > 0 {
			return Tokens{}, domain.ErrRateLimited.WithDetail("too many failed logins; try again later").WithRetryAfter(ceilSeconds(wait))
		}
	}
	u, err := l.check(ctx, in)
	if err != nil {
		if domain.KindOf(err) == domain.KindUnauthenticated {
			for _, k := range keys {
				if ferr := l.d.Attempts.Fail(ctx, k, now); ferr != nil {
					return Tokens{}, fmt.Errorf("record failed login: %w", ferr)
				}
			}
		}
		return Tokens{}, err
	}
	if err := l.d.Attempts.Reset(ctx, keys[0]); err != nil {
		return Tokens{}, fmt.Errorf("reset login attempts: %w", err)
	}
	return l.minter.mint(ctx, u, now)
}

func (l *Login) check(ctx context.Context, in LoginInput) (domain.User, error) {
	email, perr := domain.ParseEmail(in.Email)
	var u domain.User
	var err error
	if perr == nil {
		u, err = l.d.Users.GetByEmail(ctx, email)
	}
	if perr != nil || errors.Is(err, domain.ErrNotFound) {
		// Spend the same hashing work as for a real user, then fail alike.
		if _, _, herr := l.d.Hasher.Verify(ctx, "", in.Password); herr != nil {
			return domain.User{}, herr
		}
		return domain.User{}, domain.ErrInvalidCredentials
	}
	if err != nil {
		return domain.User{}, fmt.Errorf("load user: %w", err)
	}
	match, rehash, err := l.d.Hasher.Verify(ctx, u.PasswordHash, in.Password)
	if err != nil {
		return domain.User{}, err
	}
	if !match {
		return domain.User{}, domain.ErrInvalidCredentials
	}
	if err := u.CanLogin(); err != nil {
		// Same code as a wrong password, so the answer does not confirm the password.
		return domain.User{}, domain.ErrInvalidCredentials.With(err)
	}
	if rehash {
		u, err = l.rehash(ctx, u, in.Password)
		if err != nil {
			return domain.User{}, err
		}
	}
	return u, nil
}

// rehash upgrades a legacy hash (bcrypt from the seed app) to the current algorithm.
func (l *Login) rehash(ctx context.Context, u domain.User, password string) (domain.User, error) {
	h, err := l.d.Hasher.Hash(ctx, password)
	if err != nil {
		return domain.User{}, err
	}
	updated, err := l.d.Users.Update(ctx, u.ID, func(x *domain.User) error {
		x.RehashPassword(h, l.d.Now())
		return nil
	})
	if err != nil {
		return domain.User{}, fmt.Errorf("store rehashed password: %w", err)
	}
	return updated, nil
}

func ceilSeconds(d time.Duration) int {
	s := int((d + time.Second - 1) / time.Second)
	if s < 1 {
		s = 1
	}
	return s
}

// normalizeForKey is the email as the attempt limiter counts it, bounded in length so a
// hostile value cannot grow the limiter's keys.
func normalizeForKey(email string) string {
	e := strings.ToLower(strings.TrimSpace(email))
	if len(e) > 256 {
		e = e[:256]
	}
	return e
}
