package application_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"

	"github.com/tenantry/tenantry/application"
	"github.com/tenantry/tenantry/domain"
)

// payload decodes a compact JWT's claims without verifying them.
func payload(t *testing.T, token string) map[string]any {
	t.Helper()
	parts := strings.Split(token, ".")
	require.Len(t, parts, 3)
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, json.Unmarshal(raw, &m))
	return m
}

func TestLoginIssuesVerifiableTokens(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	acme := e.tenant("acme")
	u := e.user("Alice@Acme.test", domain.RoleTenantAdmin, acme.ID)

	got, err := e.login().Execute(ctx, application.LoginInput{Email: "  ALICE@acme.test ", Password: password, ClientIP: "198.51.100.7"})
	require.NoError(t, err)

	assert.Equal(t, e.policy.AccessTTL, got.ExpiresIn)
	assert.NotEmpty(t, got.RefreshToken)
	claims, err := e.verifier.Verify(ctx, got.AccessToken)
	require.NoError(t, err)
	assert.Equal(t, u.ID, claims.Subject)
	assert.Equal(t, acme.ID, claims.TenantID)
	assert.Equal(t, domain.RoleTenantAdmin, claims.Role)
	assert.Equal(t, u.TokenVersion, claims.TokenVersion)
	assert.Equal(t, e.clock.Now().Add(e.policy.AccessTTL).Unix(), claims.ExpiresAt.Unix())

	wire := payload(t, got.AccessToken)
	assert.Equal(t, "acme", wire["tenant_id"])
	assert.Equal(t, "tenant_admin", wire["role"])
	assert.EqualValues(t, 1, wire["ver"])

	p, err := e.authenticate().Execute(ctx, got.AccessToken)
	require.NoError(t, err)
	assert.Equal(t, u.Principal(), p)
}

func TestLoginFailuresLookAlike(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		email    string
		password string
	}{
		{name: "wrong password", email: "bob@acme.test", password: "not the password"},
		{name: "unknown email", email: "nobody@acme.test", password: password},
		{name: "malformed email", email: "not an email", password: password},
		{name: "disabled user with the right password", email: "carol@acme.test", password: password},
		{name: "disabled user with a wrong password", email: "carol@acme.test", password: "not the password"},
		{name: "empty password", email: "bob@acme.test", password: ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			acme := e.tenant("acme")
			e.user("bob@acme.test", domain.RoleMember, acme.ID)
			carol := e.user("carol@acme.test", domain.RoleMember, acme.ID)
			_, err := e.db.Users().Update(context.Background(), carol.ID, func(u *domain.User) error {
				u.SetDisabled(true, e.clock.Now())
				return nil
			})
			require.NoError(t, err)
			before := e.hasher.verifies()

			_, err = e.login().Execute(context.Background(), application.LoginInput{Email: tc.email, Password: tc.password, ClientIP: "198.51.100.7"})

			requireKind(t, domain.KindUnauthenticated, err)
			assert.ErrorIs(t, err, domain.ErrInvalidCredentials)
			de := domain.AsError(err)
			require.NotNil(t, de)
			assert.Equal(t, domain.ErrInvalidCredentials.Code, de.Code, "the client-visible code must not tell the cases apart")
			assert.Equal(t, domain.ErrInvalidCredentials.Detail, de.Detail)
			assert.Zero(t, de.RetryAfterSeconds)
			assert.Equal(t, before+1, e.hasher.verifies(), "every failure spends one password check")
		})
	}
}

func TestLoginDisabledUserKeepsItsCause(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	acme := e.tenant("acme")
	u := e.user("carol@acme.test", domain.RoleMember, acme.ID)
	_, err := e.db.Users().Update(context.Background(), u.ID, func(u *domain.User) error {
		u.SetDisabled(true, e.clock.Now())
		return nil
	})
	require.NoError(t, err)

	_, err = e.login().Execute(context.Background(), application.LoginInput{Email: "carol@acme.test", Password: password})

	assert.ErrorIs(t, err, domain.ErrInvalidCredentials)
	assert.ErrorIs(t, err, domain.ErrUserDisabled, "the cause stays available to the logs")
}

// TestLoginStrangersCannotLockTheOwnerOut: an attacker guessing one account from one IP
// gets that (account, IP) pair blocked, and nothing else: the owner, from their own
// address, logs in with the right password at once.
func TestLoginStrangersCannotLockTheOwnerOut(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	acme := e.tenant("acme")
	e.user("dave@acme.test", domain.RoleMember, acme.ID)
	login := e.login()
	const attacker = "203.0.113.66"

	for range maxLoginFailures {
		_, err := login.Execute(ctx, application.LoginInput{Email: "dave@acme.test", Password: "guess", ClientIP: attacker})
		require.ErrorIs(t, err, domain.ErrInvalidCredentials)
	}
	before := e.hasher.verifies()
	_, err := login.Execute(ctx, application.LoginInput{Email: "DAVE@acme.test", Password: "guess", ClientIP: attacker})
	requireKind(t, domain.KindRateLimited, err)
	de := domain.AsError(err)
	require.NotNil(t, de)
	assert.Positive(t, de.RetryAfterSeconds)
	assert.LessOrEqual(t, de.RetryAfterSeconds, int(loginWindow/time.Second))
	assert.Equal(t, before, e.hasher.verifies(), "a blocked attempt must not reach the hasher")

	_, err = login.Execute(ctx, application.LoginInput{Email: "dave@acme.test", Password: password, ClientIP: "192.0.2.50"})
	require.NoError(t, err, "the owner's address is not blocked by the attacker's failures")

	e.clock.Advance(loginWindow + time.Second)
	_, err = login.Execute(ctx, application.LoginInput{Email: "dave@acme.test", Password: password, ClientIP: attacker})
	require.NoError(t, err, "the pair's block ends with the window")
}

// TestLoginSlowsRepeatedFailuresPerAccount: failures for one account from many IPs
// (none blocked) are answered ever later, up to the bound, while the right password is
// never held.
func TestLoginSlowsRepeatedFailuresPerAccount(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	acme := e.tenant("acme")
	e.user("gil@acme.test", domain.RoleMember, acme.ID)
	login := e.login()
	for i := range maxIPFailures {
		_, err := login.Execute(ctx, application.LoginInput{Email: "gil@acme.test", Password: "guess", ClientIP: fmt.Sprintf("203.0.113.%d", i+1)})
		require.ErrorIs(t, err, domain.ErrInvalidCredentials, "failures from distinct IPs are never blocked")
	}
	assert.Equal(t, []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, maxLoginDelay, maxLoginDelay}, e.waits.all(),
		"the first %d failures are answered at once, then the hold doubles up to the bound", domain.LoginFreeFailures)

	_, err := login.Execute(ctx, application.LoginInput{Email: "gil@acme.test", Password: password, ClientIP: "192.0.2.9"})
	require.NoError(t, err)
	assert.Len(t, e.waits.all(), maxIPFailures-domain.LoginFreeFailures, "a success is not held")
}

func TestLoginBlocksRepeatedFailuresPerIP(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	acme := e.tenant("acme")
	e.user("erin@acme.test", domain.RoleMember, acme.ID)
	login := e.login()
	const ip = "203.0.113.9"

	for i := range maxIPFailures {
		_, err := login.Execute(ctx, application.LoginInput{Email: fmt.Sprintf("x%d@acme.test", i), Password: "guess", ClientIP: ip})
		require.ErrorIs(t, err, domain.ErrInvalidCredentials)
	}
	before := e.hasher.verifies()

	_, err := login.Execute(ctx, application.LoginInput{Email: "erin@acme.test", Password: password, ClientIP: ip})
	requireKind(t, domain.KindRateLimited, err)
	assert.Positive(t, domain.AsError(err).RetryAfterSeconds)
	assert.Equal(t, before, e.hasher.verifies(), "a blocked attempt must not reach the hasher")

	_, err = login.Execute(ctx, application.LoginInput{Email: "erin@acme.test", Password: password, ClientIP: "192.0.2.1"})
	require.NoError(t, err, "another client IP is not blocked")
}

func TestLoginSuccessResetsEmailFailures(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	acme := e.tenant("acme")
	e.user("fay@acme.test", domain.RoleMember, acme.ID)
	login := e.login()
	fail := func(ip string) {
		_, err := login.Execute(ctx, application.LoginInput{Email: "fay@acme.test", Password: "guess", ClientIP: ip})
		require.ErrorIs(t, err, domain.ErrInvalidCredentials)
	}

	for i := 0; i < maxLoginFailures-1; i++ {
		fail("10.0.0.1")
	}
	_, err := login.Execute(ctx, application.LoginInput{Email: "fay@acme.test", Password: password, ClientIP: "10.0.0.2"})
	require.NoError(t, err)
	for i := 0; i < maxLoginFailures-1; i++ {
		fail("10.0.0.3")
	}

	_, err = login.Execute(ctx, application.LoginInput{Email: "fay@acme.test", Password: password, ClientIP: "10.0.0.4"})
	assert.NoError(t, err, "failures before a success no longer count")
}

func TestLoginOutageIsUnavailableNotInvalidCredentials(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		outage func(e *env)
	}{
		{name: "store down", outage: func(e *env) { e.db.SetDown(true) }},
		{name: "one dropped connection", outage: func(e *env) { e.db.FailNext(domain.ErrUnavailable.With(errors.New("connection reset"))) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			ctx := context.Background()
			acme := e.tenant("acme")
			e.user("gus@acme.test", domain.RoleMember, acme.ID)
			login := e.login()

			tc.outage(e)
			for range maxLoginFailures + 1 {
				_, err := login.Execute(ctx, application.LoginInput{Email: "gus@acme.test", Password: password, ClientIP: "10.1.1.1"})
				if err == nil {
					continue // the injected failure was used up
				}
				requireKind(t, domain.KindUnavailable, err)
				assert.NotErrorIs(t, err, domain.ErrInvalidCredentials)
			}
			e.db.SetDown(false)

			_, err := login.Execute(ctx, application.LoginInput{Email: "gus@acme.test", Password: password, ClientIP: "10.1.1.1"})
			assert.NoError(t, err, "outages are not counted as failed logins")
		})
	}
}

func TestLoginRehashesBcryptWithoutLoggingOut(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	acme := e.tenant("acme")
	legacy, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
	require.NoError(t, err)
	u := e.userWithHash("legacy@acme.test", domain.RoleMember, acme.ID, string(legacy))

	first, err := e.login().Execute(ctx, application.LoginInput{Email: "legacy@acme.test", Password: password, ClientIP: "10.0.0.1"})
	require.NoError(t, err)

	stored := e.storedUser(u.ID)
	assert.True(t, strings.HasPrefix(stored.PasswordHash, "$argon2id$"), "stored hash: %.10s…", stored.PasswordHash)
	assert.Equal(t, u.TokenVersion, stored.TokenVersion, "a rehash must not log anyone out")
	claims, err := e.verifier.Verify(ctx, first.AccessToken)
	require.NoError(t, err)
	assert.Equal(t, u.TokenVersion, claims.TokenVersion)

	second, err := e.login().Execute(ctx, application.LoginInput{Email: "legacy@acme.test", Password: password, ClientIP: "10.0.0.1"})
	require.NoError(t, err, "the new hash verifies the same password")
	assert.Equal(t, stored.PasswordHash, e.storedUser(u.ID).PasswordHash, "an argon2id hash is not rehashed again")
	for _, tok := range []string{first.AccessToken, second.AccessToken} {
		_, err := e.authenticate().Execute(ctx, tok)
		assert.NoError(t, err)
	}
	_, err = e.refresh().Execute(ctx, first.RefreshToken)
	assert.NoError(t, err, "refresh tokens from before the rehash still work")
}
