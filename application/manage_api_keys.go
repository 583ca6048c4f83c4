package application

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"time"

	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/ports"
)

// ManageAPIKeysDeps are the ports API-key administration calls.
type ManageAPIKeysDeps struct {
	Keys   ports.APIKeyStore
	Hasher ports.SecretHasher
	Users  ports.UserStore
	Audit  ports.AuditLog
	Now    func() time.Time
}

// ManageAPIKeys creates, lists and revokes API keys. Tenant admins manage their own
// tenant's keys; platform admins any tenant's.
type ManageAPIKeys struct {
	d ManageAPIKeysDeps
}

// NewManageAPIKeys builds the use case.
func NewManageAPIKeys(d ManageAPIKeysDeps) *ManageAPIKeys { return &ManageAPIKeys{d: d} }

// NewAPIKeyInput describes a key to create. An empty UserID makes a service user for
// the key (member role, no password); otherwise the key acts as that user of the
// tenant, with the member role.
type NewAPIKeyInput struct {
	TenantID  domain.TenantID
	Name      string
	UserID    domain.UserID
	ExpiresAt *time.Time
}

// CreatedAPIKey is a new key with its secret, which exists nowhere else afterwards.
type CreatedAPIKey struct {
	Key    domain.APIKey
	Secret string
}

// Create makes a key. A UserID not of the tenant is KindInvalid.
func (m *ManageAPIKeys) Create(ctx context.Context, who Actor, in NewAPIKeyInput) (CreatedAPIKey, error) {
	if err := who.Principal.CanManageAPIKeys(in.TenantID); err != nil {
		return CreatedAPIKey{}, err
	}
	if who.Scope != "" && who.Scope != in.TenantID {
		return CreatedAPIKey{}, domain.ErrNotFound
	}
	now := m.d.Now()
	id := domain.APIKeyID(newID())
	secret, err := newAPIKeySecret()
	if err != nil {
		return CreatedAPIKey{}, err
	}
	k, err := domain.NewAPIKey(id, in.TenantID, in.UserID, in.Name, secret, m.d.Hasher.Hashes(secret)[0], who.auditName(), in.ExpiresAt, now)
	if err != nil {
		return CreatedAPIKey{}, err
	}
	if in.UserID != "" {
		u, err := m.d.Users.Get(ctx, in.UserID)
		if domain.KindOf(err) == domain.KindNotFound || err == nil && !u.MemberOf(in.TenantID) {
			return CreatedAPIKey{}, domain.Invalid(domain.FieldError{Field: "user_id", Message: "is not a user of the tenant"})
		}
		if err != nil {
			return CreatedAPIKey{}, fmt.Errorf("load key user: %w", err)
		}
	} else {
		u, err := domain.NewUser(domain.UserID(newID()), domain.ServiceUserEmail(id, in.TenantID), domain.RoleMember, in.TenantID, "", now)
		if err != nil {
			return CreatedAPIKey{}, err
		}
		if err := m.d.Users.Create(ctx, u); err != nil {
			return CreatedAPIKey{}, fmt.Errorf("create service user: %w", err)
		}
		k.UserID = u.ID
	}
	if err := m.d.Keys.Create(ctx, k); err != nil {
		return CreatedAPIKey{}, err
	}
	if err := appendAudit(ctx, m.d.Audit, now, who, k.TenantID, "api_key.create", string(k.ID), []string{"name", "user_id", "expires_at"}); err != nil {
		return CreatedAPIKey{}, err
	}
	return CreatedAPIKey{Key: k, Secret: secret}, nil
}

// List returns tenant's keys; a platform admin may pass an empty tenant for all.
func (m *ManageAPIKeys) List(ctx context.Context, who domain.Principal, tenant domain.TenantID, page domain.Page) ([]domain.APIKey, error) {
	if tenant != "" || !who.IsPlatformAdmin() {
		if err := who.CanManageAPIKeys(tenant); err != nil {
			return nil, err
		}
	}
	return m.d.Keys.List(ctx, tenant, page.Normalize())
}

// Revoke revokes the key at once (on every node: the cache in front of the store
// announces it). A key of another tenant is KindNotFound; a platform admin may pass
// an empty tenant to revoke any key.
func (m *ManageAPIKeys) Revoke(ctx context.Context, who Actor, tenant domain.TenantID, id domain.APIKeyID) (domain.APIKey, error) {
	if tenant != "" || !who.Principal.IsPlatformAdmin() {
		if err := who.Principal.CanManageAPIKeys(tenant); err != nil {
			return domain.APIKey{}, err
		}
	}
	k, err := m.d.Keys.Revoke(ctx, tenant, id, m.d.Now())
	if err != nil {
		return domain.APIKey{}, err
	}
	return k, appendAudit(ctx, m.d.Audit, m.d.Now(), who, k.TenantID, "api_key.revoke", string(k.ID), []string{"revoked_at"})
}

// newAPIKeySecret returns the prefix and 256 random bits in base64url (no padding):
// a valid RFC 6750 bearer token.
func newAPIKeySecret() (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", domain.E(domain.KindInternal, "random_failed", "", err)
	}
	return domain.APIKeyPrefix + base64.RawURLEncoding.EncodeToString(b[:]), nil
}

// apiKeyAuth resolves API-key credentials for Authenticate.
type apiKeyAuth struct {
	keys   ports.APIKeyStore
	hasher ports.SecretHasher
	now    func() time.Time
}

// principal checks secret and returns the principal its key acts as. Unknown,
// revoked and expired keys, and keys whose user is disabled or left the tenant, are
// domain.ErrInvalidToken.
func (a *apiKeyAuth) principal(ctx context.Context, users ports.UserStore, secret string) (domain.Principal, error) {
	if len(secret) > 256 {
		return domain.Principal{}, domain.ErrInvalidToken
	}
	var k domain.APIKey
	var err error
	for _, h := range a.hasher.Hashes(secret) {
		if k, err = a.keys.GetByHash(ctx, h); domain.KindOf(err) != domain.KindNotFound {
			break
		}
	}
	if domain.KindOf(err) == domain.KindNotFound {
		return domain.Principal{}, domain.ErrInvalidToken
	}
	if err != nil {
		return domain.Principal{}, fmt.Errorf("load API key: %w", err)
	}
	now := a.now()
	if err := k.Usable(now); err != nil {
		return domain.Principal{}, err
	}
	u, err := users.Get(ctx, k.UserID)
	if domain.KindOf(err) == domain.KindNotFound {
		return domain.Principal{}, domain.ErrInvalidToken
	}
	if err != nil {
		return domain.Principal{}, fmt.Errorf("load API key user: %w", err)
	}
	p, err := k.PrincipalFor(u)
	if err != nil {
		return domain.Principal{}, err
	}
	if k.NeedsTouch(now) {
		if err := a.keys.Touch(ctx, k.ID, now); err != nil {
			return domain.Principal{}, fmt.Errorf("record API key use: %w", err)
		}
	}
	return p, nil
}
