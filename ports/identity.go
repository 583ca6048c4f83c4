package ports

import (
	"context"
	"time"

	"github.com/tenantry/tenantry/domain"
)

// TenantStore keeps tenants and their configuration. Vendor API keys are stored
// encrypted; values returned carry them decrypted in domain.Secret fields.
type TenantStore interface {
	// Create stores a new tenant. An existing id is KindConflict.
	Create(ctx context.Context, t domain.Tenant) error
	// Get returns the tenant. An unknown id is KindNotFound.
	Get(ctx context.Context, id domain.TenantID) (domain.Tenant, error)
	// List returns tenants ordered by id.
	List(ctx context.Context, page domain.Page) ([]domain.Tenant, error)
	// Update loads the tenant, applies fn and stores the result atomically; an error
	// from fn aborts and is returned unchanged. Unknown id is KindNotFound.
	Update(ctx context.Context, id domain.TenantID, fn func(*domain.Tenant) error) (domain.Tenant, error)
	// Delete removes the tenant and everything stored under it (documents, chunks,
	// conversations, usage); its users lose the tenant (tenant admins become members,
	// as domain.User.LoseTenant decides) and their token version is raised. Unknown id is
	// KindNotFound.
	Delete(ctx context.Context, id domain.TenantID) error
}

// UserFilter narrows a user listing. An empty TenantID lists all users.
type UserFilter struct {
	TenantID domain.TenantID
}

// UserStore keeps users. Emails are unique (they are normalised lower-case).
type UserStore interface {
	// Create stores a new user. A taken email or id is KindConflict; a tenant that
	// does not exist is KindInvalid.
	Create(ctx context.Context, u domain.User) error
	// Get returns the user by id. Unknown id is KindNotFound.
	Get(ctx context.Context, id domain.UserID) (domain.User, error)
	// GetByEmail returns the user by email. Unknown email is KindNotFound.
	GetByEmail(ctx context.Context, email domain.Email) (domain.User, error)
	// List returns users ordered by email; with a TenantID only that tenant's users.
	List(ctx context.Context, f UserFilter, page domain.Page) ([]domain.User, error)
	// Update loads the user, applies fn and stores the result atomically. Unknown id
	// is KindNotFound; assigning a tenant that does not exist is KindInvalid.
	Update(ctx context.Context, id domain.UserID, fn func(*domain.User) error) (domain.User, error)
}

// PasswordHasher hashes and checks passwords.
type PasswordHasher interface {
	// Hash returns an encoded hash (PHC string) of password. When too many hashes are
	// running it waits briefly, then fails with KindUnavailable (domain.ErrBusy).
	Hash(ctx context.Context, password string) (string, error)
	// Verify reports whether password matches encoded, and whether encoded should be
	// replaced by a fresh Hash (weaker algorithm or parameters). An empty or unknown
	// encoded value costs about as much as a real check and reports no match, so that
	// unknown emails cannot be told apart by timing. Busy is KindUnavailable.
	Verify(ctx context.Context, encoded, password string) (match, rehash bool, err error)
}

// TokenIssuer signs access tokens.
type TokenIssuer interface {
	// Issue signs claims with the active signing key and returns the compact token.
	// Claims carry their own IssuedAt and ExpiresAt.
	Issue(ctx context.Context, c domain.Claims) (string, error)
}

// TokenVerifier checks access tokens.
type TokenVerifier interface {
	// Verify checks signature, algorithm, key id, issuer, audience and time claims, and
	// returns the claims. Any failure is KindUnauthenticated (domain.ErrInvalidToken).
	Verify(ctx context.Context, token string) (domain.Claims, error)
}

// SigningKeyStore keeps token signing keys (private parts sealed by the caller).
type SigningKeyStore interface {
	// List returns every key, newest first.
	List(ctx context.Context) ([]domain.SigningKey, error)
	// Add stores a new key and retires every other active key at k.CreatedAt, in one
	// transaction. An existing KID is KindConflict.
	Add(ctx context.Context, k domain.SigningKey) error
	// Delete removes a key. Unknown KID is KindNotFound.
	Delete(ctx context.Context, kid string) error
}

// RefreshTokenStore keeps refresh tokens by hash.
type RefreshTokenStore interface {
	// Create stores a new token. An existing hash is KindConflict.
	Create(ctx context.Context, r domain.RefreshToken) error
	// Rotate, in one atomic step, marks the token used at now, stores next as its
	// successor (next's FamilyID, UserID and TenantID are taken from the used token)
	// and returns the used token as it was. A token that is unknown, expired or
	// revoked, or whose family has a revoked token, is KindUnauthenticated
	// (domain.ErrInvalidRefreshToken); a token already used revokes its whole family
	// and fails the same way. Two concurrent calls for one token: at most one
	// succeeds, and the loser's revocation also covers the winner's successor.
	Rotate(ctx context.Context, hash string, next domain.RefreshToken, now time.Time) (domain.RefreshToken, error)
	// RevokeFamily revokes every token of the family that holds hash, including a
	// successor being stored concurrently by Rotate: once it returns, no token of the
	// family can be rotated. Unknown hash is not an error (RFC 7009).
	RevokeFamily(ctx context.Context, hash string, now time.Time) error
	// RevokeUser revokes every token of the user.
	RevokeUser(ctx context.Context, id domain.UserID, now time.Time) error
}

// SecretSealer encrypts small secrets at rest. aad binds a ciphertext to its place
// (for example the tenant id and field), so it cannot be moved elsewhere.
type SecretSealer interface {
	// Seal encrypts plaintext under the active master key.
	Seal(plaintext []byte, aad string) ([]byte, error)
	// Open decrypts sealed with whichever known key sealed it. Wrong aad, tampering or
	// an unknown key version is KindInternal with no secret in the message.
	Open(sealed []byte, aad string) ([]byte, error)
}
