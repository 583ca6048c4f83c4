package application

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/ports"
)

// ResolveTenant loads the tenant of an authenticated principal; the tenant comes only
// from the verified token, never from the request.
type ResolveTenant struct {
	tenants ports.TenantStore
	now     func() time.Time
}

// NewResolveTenant builds the use case. tenants is expected to be the cached store.
func NewResolveTenant(tenants ports.TenantStore, now func() time.Time) *ResolveTenant {
	return &ResolveTenant{tenants: tenants, now: now}
}

// Execute returns the tenant context, which the caller may keep for the request. A
// user without a tenant is domain.ErrTenantRequired; a deleted tenant is
// domain.ErrInvalidToken; a suspended one domain.ErrTenantSuspended.
func (r *ResolveTenant) Execute(ctx context.Context, p domain.Principal) (*domain.TenantContext, error) {
	if p.TenantID == "" {
		return nil, domain.ErrTenantRequired
	}
	// Read straight into the context the caller keeps, so that no copy of the tenant
	// lies on the request's stack.
	tc := &domain.TenantContext{Principal: p}
	var err error
	tc.Tenant, err = r.tenants.Get(ctx, p.TenantID)
	if errors.Is(err, domain.ErrNotFound) {
		return nil, domain.ErrInvalidToken.With(errors.New("the token's tenant no longer exists"))
	}
	if err != nil {
		return nil, fmt.Errorf("load tenant %s: %w", p.TenantID, err)
	}
	if err := tc.Tenant.CanChat(r.now()); err != nil {
		return nil, err
	}
	return tc, nil
}
