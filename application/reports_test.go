package application_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/adapters/memory"
	"github.com/tenantry/tenantry/application"
	"github.com/tenantry/tenantry/domain"
)

func TestTenantAuditLeavesOutAnEarlierTenantOfTheSameID(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := memory.NewDB()
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	r := application.NewReports(db.Usage(), db.Audit(), func() time.Time { return t0 })
	for i, action := range []string{"tenant.update", "tenant.delete", "tenant.create", "tenant.update"} {
		require.NoError(t, db.Audit().Append(ctx, domain.AuditEntry{ID: action + string(rune('a'+i)), Actor: "root", TenantID: "acme",
			Action: action, Target: "acme", At: t0.Add(time.Duration(i) * time.Minute)}))
	}
	reborn := domain.Tenant{ID: "acme", CreatedAt: t0.Add(2 * time.Minute)}
	admin := domain.Principal{UserID: "u1", Role: domain.RoleTenantAdmin, TenantID: "acme"}

	got, err := r.TenantAudit(ctx, domain.TenantContext{Principal: admin, Tenant: reborn}, domain.Page{Limit: 10})
	require.NoError(t, err)
	var actions []string
	for _, e := range got {
		actions = append(actions, e.Action)
	}
	assert.Equal(t, []string{"tenant.update", "tenant.create"}, actions, "only the new tenant's entries, newest first")

	all, err := r.Audit(ctx, domain.Principal{UserID: "root", Role: domain.RolePlatformAdmin}, "acme", domain.Page{Limit: 10})
	require.NoError(t, err)
	assert.Len(t, all, 4, "platform admins still see the whole history")
}
