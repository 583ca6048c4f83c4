package domain

import (
	"strings"
	"time"
	"unicode/utf8"
)

// APIKeyPrefix starts every API key, so that people and secret scanners recognise a
// leaked one.
const APIKeyPrefix = "tnt_"

// APIKeyID identifies an API key (a UUID string); it is not secret.
type APIKeyID string

// APIKey lets a program call the tenant API and /v1 without logging in: it stands for
// one user of one tenant (a named member, or a service user made for the key) and acts
// with the member role. Only a keyed hash of the secret is kept; Hint is the secret's
// start, shown so that people can tell keys apart.
type APIKey struct {
	ID         APIKeyID
	TenantID   TenantID
	UserID     UserID
	Name       string
	Hint       string
	Hash       string
	CreatedBy  string
	CreatedAt  time.Time
	ExpiresAt  *time.Time
	LastUsedAt *time.Time
	RevokedAt  *time.Time
}

// apiKeyHintLength is how much of the secret Hint keeps: the prefix and 4 of its random
// characters, which reveal 24 of its 256 random bits.
const apiKeyHintLength = len(APIKeyPrefix) + 4

// NewAPIKey builds a key for user u of tenant t from its secret and that secret's hash.
func NewAPIKey(id APIKeyID, t TenantID, u UserID, name, secret, hash, createdBy string, expires *time.Time, now time.Time) (APIKey, error) {
	name = strings.TrimSpace(name)
	var fs []FieldError
	if name == "" || utf8.RuneCountInString(name) > 100 {
		fs = append(fs, FieldError{Field: "name", Message: "is required, at most 100 characters"})
	}
	if expires != nil && !expires.After(now) {
		fs = append(fs, FieldError{Field: "expires_at", Message: "must be in the future"})
	}
	if len(fs) > 0 {
		return APIKey{}, Invalid(fs...)
	}
	k := APIKey{ID: id, TenantID: t, UserID: u, Name: name, Hint: secret[:min(len(secret), apiKeyHintLength)], Hash: hash,
		CreatedBy: createdBy, CreatedAt: now.UTC()}
	if expires != nil {
		e := expires.UTC()
		k.ExpiresAt = &e
	}
	return k, nil
}

// LooksLikeAPIKey reports whether a bearer credential is an API key rather than an
// access token (a JWT never starts with the prefix).
func LooksLikeAPIKey(s string) bool { return strings.HasPrefix(s, APIKeyPrefix) }

// Usable fails with ErrInvalidToken when the key is revoked or expired at now.
func (k APIKey) Usable(now time.Time) error {
	if k.RevokedAt != nil || k.ExpiresAt != nil && !now.Before(*k.ExpiresAt) {
		return ErrInvalidToken
	}
	return nil
}

// Revoked reports whether the key was revoked.
func (k APIKey) Revoked() bool { return k.RevokedAt != nil }

// apiKeyTouchInterval is how stale LastUsedAt may get: a key used continuously is
// written at most once per interval.
const apiKeyTouchInterval = time.Minute

// NeedsTouch reports whether LastUsedAt should be moved to now.
func (k APIKey) NeedsTouch(now time.Time) bool {
	return k.LastUsedAt == nil || now.Sub(*k.LastUsedAt) >= apiKeyTouchInterval
}

// PrincipalFor returns who a request made with the key acts as: its user, in the
// key's tenant, with the member role whatever the user's own role. A disabled user,
// or one no longer in the key's tenant, makes the key unusable (ErrInvalidToken).
func (k APIKey) PrincipalFor(u User) (Principal, error) {
	if u.ID != k.UserID || u.Disabled || !u.MemberOf(k.TenantID) {
		return Principal{}, ErrInvalidToken
	}
	p := u.Principal()
	p.Role = RoleMember
	return p, nil
}

// CanManageAPIKeys checks the caller may create, list and revoke tenant t's keys.
func (who Principal) CanManageAPIKeys(t TenantID) error {
	if !who.CanAdminTenant(t) {
		return ErrForbidden.WithDetail("only the tenant's admins manage its API keys")
	}
	return nil
}

// ServiceUserEmail is the email of the service user made for a key that does not act
// as a named member. The .invalid domain (RFC 2606) can receive no mail, and the user
// has no password, so nobody can log in as it.
func ServiceUserEmail(id APIKeyID, t TenantID) Email {
	return Email("apikey-" + strings.ToLower(string(id)) + "@" + string(t) + ".apikeys.invalid")
}
