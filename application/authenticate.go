package application

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/ports"
)

// Authenticate turns a bearer token into the request's Principal. It runs once per
// request. The user is read through the UserStore (which bootstrap wraps in a bounded
// cache), so a raised token version, a disabled user or a tenant reassignment rejects
// outstanding tokens at once.
type Authenticate struct {
	verifier ports.TokenVerifier
	users    ports.UserStore
	apiKeys  *apiKeyAuth // nil: API keys are not accepted
}

// NewAuthenticate builds the use case.
func NewAuthenticate(verifier ports.TokenVerifier, users ports.UserStore) *Authenticate {
	return &Authenticate{verifier: verifier, users: users}
}

// WithAPIKeys makes Execute also accept API keys (tokens starting with
// domain.APIKeyPrefix), looked up by their hash in keys.
func (a *Authenticate) WithAPIKeys(keys ports.APIKeyStore, hasher ports.SecretHasher, now func() time.Time) *Authenticate {
	c := *a
	c.apiKeys = &apiKeyAuth{keys: keys, hasher: hasher, now: now}
	return &c
}

// Execute verifies token, an access token or (WithAPIKeys) an API key. Any token problem is domain.ErrInvalidToken; a store outage
// is KindUnavailable.
func (a *Authenticate) Execute(ctx context.Context, token string) (domain.Principal, error) {
	if a.apiKeys != nil && domain.LooksLikeAPIKey(token) {
		return a.apiKeys.principal(ctx, a.users, token)
	}
	c, err := a.verifier.Verify(ctx, token)
	if err != nil {
		return domain.Principal{}, err
	}
	u, err := a.users.Get(ctx, c.Subject)
	if errors.Is(err, domain.ErrNotFound) {
		return domain.Principal{}, domain.ErrInvalidToken.With(errors.New("token subject no longer exists"))
	}
	if err != nil {
		return domain.Principal{}, fmt.Errorf("load token subject: %w", err)
	}
	if err := u.AcceptsClaims(c); err != nil {
		return domain.Principal{}, err
	}
	return u.Principal(), nil
}
