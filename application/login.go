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
	Users   ports.UserStore
	Hasher  ports.PasswordHasher
	Issuer  ports.TokenIssuer
	Refresh ports.RefreshTokenStore
	// Attempts counts failures per (account, client IP) pair and blocks the pair.
	Attempts ports.AttemptLimiter
	// IPAttempts counts failures per client IP, whatever account they named, which it
	// blocks, and per account, which only slows failures down (nil: Attempts). Its
	// limit is the per-IP one, so it is also how high an account's count can climb.
	IPAttempts ports.AttemptLimiter
	// MaxDelay bounds how long a failed login's answer is held (0: never held).
	MaxDelay time.Duration
	// Wait holds a failed login's answer for d, or less if ctx ends (nil: no hold).
	Wait   func(ctx context.Context, d time.Duration)
	Policy TokenPolicy
	Now    func() time.Time
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
// fail as domain.ErrInvalidCredentials after the same amount of hashing work; an
// outage is KindUnavailable. Brute force is bounded without letting a stranger lock an
// account: failures are counted per (account, client IP) and per client IP, and either
// one blocked answers KindRateLimited before any hashing, so a blocked pair never stops
// the same account from another IP; per account, failures from any IP only make the
// answer to further failures wait longer (domain.LoginDelay), never refuse the owner.
func (l *Login) Execute(ctx context.Context, in LoginInput) (Tokens, error) {
	now := l.d.Now()
	email := normalizeForKey(in.Email)
	pair, ip, account := "login:pair:"+email+"|"+in.ClientIP, "login:ip:"+in.ClientIP, "login:account:"+email
	for _, b := range []struct {
		limiter ports.AttemptLimiter
		key     string
	}{{l.d.Attempts, pair}, {l.ipAttempts(), ip}} {
		wait, err := b.limiter.Blocked(ctx, b.key, now)
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
			if ferr := l.failed(ctx, pair, ip, account, now); ferr != nil {
				return Tokens{}, ferr
			}
		}
		return Tokens{}, err
	}
	if err := l.d.Attempts.Reset(ctx, pair); err != nil {
		return Tokens{}, fmt.Errorf("reset login attempts: %w", err)
	}
	if err := l.ipAttempts().Reset(ctx, account); err != nil {
		return Tokens{}, fmt.Errorf("reset login attempts: %w", err)
	}
	return l.minter.mint(ctx, u, now)
}

func (l *Login) ipAttempts() ports.AttemptLimiter {
	if l.d.IPAttempts != nil {
		return l.d.IPAttempts
	}
	return l.d.Attempts
}

// failed counts a failed login and holds its answer as domain.LoginDelay says.
func (l *Login) failed(ctx context.Context, pair, ip, account string, now time.Time) error {
	if _, err := l.d.Attempts.Fail(ctx, pair, now); err != nil {
		return fmt.Errorf("record failed login: %w", err)
	}
	if _, err := l.ipAttempts().Fail(ctx, ip, now); err != nil {
		return fmt.Errorf("record failed login: %w", err)
	}
	n, err := l.ipAttempts().Fail(ctx, account, now)
	if err != nil {
		return fmt.Errorf("record failed login: %w", err)
	}
	if d := domain.LoginDelay(n, l.d.MaxDelay); d > 0 && l.d.Wait != nil {
		l.d.Wait(ctx, d)
	}
	return nil
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
