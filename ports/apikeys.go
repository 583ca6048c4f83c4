package ports

import (
	"context"
	"time"

	"github.com/tenantry/tenantry/domain"
)

// APIKeyStore keeps API keys by the keyed hash of their secret; the secret itself is
// never stored.
type APIKeyStore interface {
	// Create stores a new key. An existing id or hash is KindConflict; a tenant or
	// user that does not exist is KindInvalid.
	Create(ctx context.Context, k domain.APIKey) error
	// GetByHash returns the key whose secret hashes to hash, revoked or not. Unknown
	// hash is KindNotFound.
	GetByHash(ctx context.Context, hash string) (domain.APIKey, error)
	// List returns keys newest first; with a TenantID only that tenant's keys, with an
	// empty one every tenant's.
	List(ctx context.Context, t domain.TenantID, page domain.Page) ([]domain.APIKey, error)
	// Revoke marks the key revoked at now (once: a revoked key keeps its first
	// RevokedAt) and returns it. A key of another tenant than t (when t is not empty)
	// is KindNotFound, as is an unknown id.
	Revoke(ctx context.Context, t domain.TenantID, id domain.APIKeyID, now time.Time) (domain.APIKey, error)
	// Touch records that the key was used at now. Unknown id is not an error (the key
	// went with its tenant).
	Touch(ctx context.Context, id domain.APIKeyID, now time.Time) error
}

// SecretHasher computes the keyed hash under which high-entropy secrets (API keys)
// are stored: fast, since the secret is random, and keyed, so that a copy of the
// database alone cannot test guesses.
type SecretHasher interface {
	// Hashes returns the hash of secret under the active key first, then under each
	// older key still accepted, so that keys created before a rotation keep working.
	Hashes(secret string) []string
}
