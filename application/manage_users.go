package application

import (
	"context"
	"fmt"
	"time"

	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/ports"
)

// ManageUsersDeps are the ports user administration calls.
type ManageUsersDeps struct {
	Users   ports.UserStore
	Hasher  ports.PasswordHasher
	Refresh ports.RefreshTokenStore
	Audit   ports.AuditLog
	Now     func() time.Time
}

// ManageUsers creates, lists and changes users. Platform admins manage everyone;
// tenant admins only their own tenant's users.
type ManageUsers struct {
	d ManageUsersDeps
}

// NewManageUsers builds the use case.
func NewManageUsers(d ManageUsersDeps) *ManageUsers { return &ManageUsers{d: d} }

// NewUserInput describes a user to create.
type NewUserInput struct {
	Email    string
	Password string
	Role     domain.Role
	TenantID domain.TenantID
}

// Create makes a user with a hashed password.
func (m *ManageUsers) Create(ctx context.Context, who Actor, in NewUserInput) (domain.User, error) {
	if in.Role == "" {
		in.Role = domain.RoleMember
	}
	if err := who.Principal.CanCreateUser(in.Role, in.TenantID); err != nil {
		return domain.User{}, err
	}
	email, err := domain.ParseEmail(in.Email)
	if err != nil {
		return domain.User{}, err
	}
	if err := domain.ValidatePassword(in.Password); err != nil {
		return domain.User{}, err
	}
	u, err := domain.NewUser(domain.UserID(newID()), email, in.Role, in.TenantID, "", m.d.Now())
	if err != nil {
		return domain.User{}, err
	}
	if u.PasswordHash, err = m.d.Hasher.Hash(ctx, in.Password); err != nil {
		return domain.User{}, err
	}
	if err := m.d.Users.Create(ctx, u); err != nil {
		return domain.User{}, err
	}
	return u, appendAudit(ctx, m.d.Audit, m.d.Now(), who, u.TenantID, "user.create", string(u.ID), []string{"email", "role", "tenant_id", "password"})
}

// List returns users. Tenant admins see only their own tenant's users, whatever
// tenant they ask for.
func (m *ManageUsers) List(ctx context.Context, who domain.Principal, tenant domain.TenantID, page domain.Page) ([]domain.User, error) {
	if !who.IsPlatformAdmin() {
		if !who.CanAdminTenant(who.TenantID) {
			return nil, domain.ErrForbidden
		}
		tenant = who.TenantID
	}
	return m.d.Users.List(ctx, ports.UserFilter{TenantID: tenant}, page.Normalize())
}

// FindByEmail returns a user the caller may see; others are KindNotFound.
func (m *ManageUsers) FindByEmail(ctx context.Context, who domain.Principal, email string) (domain.User, error) {
	e, err := domain.ParseEmail(email)
	if err != nil {
		return domain.User{}, err
	}
	u, err := m.d.Users.GetByEmail(ctx, e)
	if err != nil {
		return domain.User{}, err
	}
	if !who.IsPlatformAdmin() && !(who.CanAdminTenant(u.TenantID) && u.MemberOf(who.TenantID)) {
		return domain.User{}, domain.ErrNotFound
	}
	return u, nil
}

// Update applies a patch. Disabling, moving or re-roling a user raises their token
// version and revokes their refresh tokens, so outstanding tokens stop working.
func (m *ManageUsers) Update(ctx context.Context, who Actor, id domain.UserID, p domain.UserPatch) (domain.User, error) {
	if err := who.Principal.CanManageUsers(); err != nil {
		return domain.User{}, err
	}
	var before domain.User
	u, err := m.d.Users.Update(ctx, id, func(u *domain.User) error {
		before = *u
		if !who.reaches(u.TenantID) {
			return domain.ErrNotFound
		}
		if err := p.AllowedFor(who.Principal, *u); err != nil {
			return err
		}
		if who.Scope != "" && p.TenantID != nil && *p.TenantID != u.TenantID {
			// A scoped action stays inside its tenant even for a platform admin.
			return domain.ErrForbidden.WithDetail("users move between tenants only through platform administration")
		}
		return p.Apply(u, m.d.Now())
	})
	if err != nil {
		return domain.User{}, err
	}
	if err := m.revokeIfNeeded(ctx, before, u); err != nil {
		return domain.User{}, err
	}
	return u, appendAudit(ctx, m.d.Audit, m.d.Now(), who, auditTenant(before, u), "user.update", string(id), p.Fields())
}

// SetPassword replaces a user's password and logs them out everywhere.
func (m *ManageUsers) SetPassword(ctx context.Context, who Actor, id domain.UserID, password string) (domain.User, error) {
	if err := who.Principal.CanManageUsers(); err != nil {
		return domain.User{}, err
	}
	if err := domain.ValidatePassword(password); err != nil {
		return domain.User{}, err
	}
	hash, err := m.d.Hasher.Hash(ctx, password)
	if err != nil {
		return domain.User{}, err
	}
	u, err := m.d.Users.Update(ctx, id, func(u *domain.User) error {
		if !who.reaches(u.TenantID) {
			return domain.ErrNotFound
		}
		if err := (domain.UserPatch{}).AllowedFor(who.Principal, *u); err != nil {
			return err
		}
		u.SetPassword(hash, m.d.Now())
		return nil
	})
	if err != nil {
		return domain.User{}, err
	}
	if err := m.d.Refresh.RevokeUser(ctx, id, m.d.Now()); err != nil {
		return domain.User{}, fmt.Errorf("revoke refresh tokens: %w", err)
	}
	return u, appendAudit(ctx, m.d.Audit, m.d.Now(), who, u.TenantID, "user.password", string(id), []string{"password"})
}

func (m *ManageUsers) revokeIfNeeded(ctx context.Context, before, after domain.User) error {
	if before.TokenVersion == after.TokenVersion {
		return nil
	}
	if err := m.d.Refresh.RevokeUser(ctx, after.ID, m.d.Now()); err != nil {
		return fmt.Errorf("revoke refresh tokens: %w", err)
	}
	return nil
}

func auditTenant(before, after domain.User) domain.TenantID {
	if after.TenantID != "" {
		return after.TenantID
	}
	return before.TenantID
}

// Profile answers "who am I": the caller and their tenant, if any.
type Profile struct {
	users   ports.UserStore
	tenants ports.TenantStore
}

// NewProfile builds the use case.
func NewProfile(users ports.UserStore, tenants ports.TenantStore) *Profile {
	return &Profile{users: users, tenants: tenants}
}

// Execute returns the user and, when assigned, their tenant (the zero Tenant when
// u.HasTenant() is false). The tenant is returned by value: "who am I" runs on every
// client start, and a pointer would put a copy of the tenant on the heap each time.
func (p *Profile) Execute(ctx context.Context, who domain.Principal) (u domain.User, t domain.Tenant, err error) {
	if u, err = p.users.Get(ctx, who.UserID); err != nil {
		return domain.User{}, domain.Tenant{}, err
	}
	if !u.HasTenant() {
		return u, domain.Tenant{}, nil
	}
	if t, err = p.tenants.Get(ctx, u.TenantID); err != nil {
		return domain.User{}, domain.Tenant{}, fmt.Errorf("load tenant %s: %w", u.TenantID, err)
	}
	return u, t, nil
}

// Reports shows usage and audit trails.
type Reports struct {
	usage ports.UsageStore
	audit ports.AuditLog
	now   func() time.Time
}

// NewReports builds the use case.
func NewReports(usage ports.UsageStore, audit ports.AuditLog, now func() time.Time) *Reports {
	return &Reports{usage: usage, audit: audit, now: now}
}

// TenantUsage is a tenant's usage this period with its quota.
type TenantUsage struct {
	Totals domain.UsageTotals
	Quota  int64 // 0 is unlimited
	Left   int64 // -1 is unlimited
}

// Usage returns the caller's tenant's usage in the current month.
func (r *Reports) Usage(ctx context.Context, tc domain.TenantContext) (TenantUsage, error) {
	start := domain.MonthStart(r.now())
	tot, err := r.usage.Totals(ctx, tc.Tenant.ID, start)
	if err != nil {
		return TenantUsage{}, err
	}
	tot.TenantID, tot.PeriodStart = tc.Tenant.ID, start
	return TenantUsage{Totals: tot, Quota: tc.Tenant.Limits.MonthlyTokenQuota, Left: tc.Tenant.QuotaLeft(tot)}, nil
}

// AllUsage returns every tenant's usage this month. Platform admins only.
func (r *Reports) AllUsage(ctx context.Context, who domain.Principal) ([]domain.UsageTotals, error) {
	if !who.IsPlatformAdmin() {
		return nil, domain.ErrForbidden
	}
	return r.usage.AllTotals(ctx, domain.MonthStart(r.now()))
}

// TenantAudit returns the audit trail of the caller's own tenant, newest first. Entries
// older than the tenant belong to an earlier, deleted tenant of the same id and are left
// out; since the list is newest first, that only ever shortens its last page.
func (r *Reports) TenantAudit(ctx context.Context, tc domain.TenantContext, page domain.Page) ([]domain.AuditEntry, error) {
	es, err := r.Audit(ctx, tc.Principal, tc.Tenant.ID, page)
	if err != nil {
		return nil, err
	}
	out := es[:0]
	for _, e := range es {
		if !e.At.Before(tc.Tenant.CreatedAt) {
			out = append(out, e)
		}
	}
	return out, nil
}

// Audit returns audit entries: all for platform admins (optionally one tenant's), the
// own tenant's for tenant admins.
func (r *Reports) Audit(ctx context.Context, who domain.Principal, tenant domain.TenantID, page domain.Page) ([]domain.AuditEntry, error) {
	if !who.IsPlatformAdmin() {
		if !who.CanAdminTenant(who.TenantID) {
			return nil, domain.ErrForbidden
		}
		tenant = who.TenantID
	}
	return r.audit.List(ctx, tenant, page.Normalize())
}
