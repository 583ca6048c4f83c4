package httpapi

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/domain"
)

// meJSON is the Me schema as a struct for encoding/json: the reference appendMe must
// match byte for byte.
type meJSON struct {
	ID        string         `json:"id"`
	Email     string         `json:"email"`
	Role      string         `json:"role"`
	TenantID  *string        `json:"tenant_id"`
	Tenant    *tenantRefJSON `json:"tenant"`
	CreatedAt time.Time      `json:"created_at"`
}

type tenantRefJSON struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

func TestAppendMeMatchesEncodingJSON(t *testing.T) {
	created := time.Date(2026, 11, 29, 23, 2, 7, 123456789, time.UTC)
	acme := domain.Tenant{ID: "acme", Name: "Acme <R&D> \"Labs\" \\ ✓ \u2028\n"}
	tests := []struct {
		name   string
		user   domain.User
		tenant domain.Tenant
	}{
		{name: "with a tenant", user: domain.User{ID: "4a1c-uuid", Email: "ivy@acme.test", Role: domain.RoleTenantAdmin, TenantID: "acme", CreatedAt: created}, tenant: acme},
		{name: "without a tenant", user: domain.User{ID: "root", Email: "root@localhost", Role: domain.RolePlatformAdmin, CreatedAt: created.Truncate(time.Second)}},
		{name: "a stray tenant value is ignored without a tenant id", user: domain.User{ID: "u", Email: "u@x.test", Role: domain.RoleMember, CreatedAt: created}, tenant: acme},
		{name: "zero time", user: domain.User{ID: "u", Email: "u@x.test", Role: domain.RoleMember, TenantID: "acme"}, tenant: acme},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			u := tc.user
			want := meJSON{ID: string(u.ID), Email: string(u.Email), Role: string(u.Role), TenantID: tenantIDOrNull(u.TenantID), CreatedAt: u.CreatedAt}
			if u.HasTenant() {
				want.Tenant = &tenantRefJSON{ID: string(tc.tenant.ID), Name: tc.tenant.Name}
			}
			wantBody, err := marshalJSON(want)
			require.NoError(t, err)
			got, err := appendMe(nil, &u, &tc.tenant)
			require.NoError(t, err)
			assert.Equal(t, string(wantBody), string(got))
		})
	}

	_, err := appendMe(nil, &domain.User{ID: "u", CreatedAt: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}, &domain.Tenant{})
	assert.Error(t, err)
}
