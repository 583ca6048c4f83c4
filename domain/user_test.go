package domain_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/domain"
)

func TestParseEmail(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		in      string
		want    domain.Email
		wantErr bool
	}{
		{name: "plain", in: "alice@acme.test", want: "alice@acme.test"},
		{name: "lower-cased and trimmed", in: "  Alice@ACME.Test \n", want: "alice@acme.test"},
		{name: "plus and dots", in: "a.b+tag@mail.acme.co.uk", want: "a.b+tag@mail.acme.co.uk"},
		{name: "localhost", in: "root@localhost", want: "root@localhost"},
		{name: "longest", in: strings.Repeat("a", 64) + "@" + strings.Repeat("b", 63) + "." + strings.Repeat("c", 63) + "." + strings.Repeat("d", 61), want: domain.Email(strings.Repeat("a", 64) + "@" + strings.Repeat("b", 63) + "." + strings.Repeat("c", 63) + "." + strings.Repeat("d", 61))},
		{name: "too long", in: strings.Repeat("a", 64) + "@" + strings.Repeat("b", 63) + "." + strings.Repeat("c", 63) + "." + strings.Repeat("d", 62), wantErr: true},
		{name: "empty", in: "", wantErr: true},
		{name: "no at", in: "alice.acme.test", wantErr: true},
		{name: "no domain dot", in: "alice@acme", wantErr: true},
		{name: "no local part", in: "@acme.test", wantErr: true},
		{name: "display name", in: "Alice <alice@acme.test>", wantErr: true},
		{name: "two addresses", in: "a@acme.test, b@acme.test", wantErr: true},
		{name: "inner space", in: "ali ce@acme.test", wantErr: true},
		{name: "header injection", in: "alice@acme.test\r\nBcc: x@evil.test", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := domain.ParseEmail(tc.in)
			if tc.wantErr {
				assert.Equal(t, []string{"email"}, invalidFields(t, err))
				assert.Empty(t, got)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestParseRole(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		in      string
		want    domain.Role
		wantErr bool
	}{
		{name: "member", in: "member", want: domain.RoleMember},
		{name: "tenant admin", in: "tenant_admin", want: domain.RoleTenantAdmin},
		{name: "platform admin", in: "platform_admin", want: domain.RolePlatformAdmin},
		{name: "empty", in: "", wantErr: true},
		{name: "upper case", in: "MEMBER", wantErr: true},
		{name: "unknown", in: "owner", wantErr: true},
		{name: "padded", in: " member", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := domain.ParseRole(tc.in)
			if tc.wantErr {
				assert.Equal(t, []string{"role"}, invalidFields(t, err))
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestNewUser(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		id         domain.UserID
		email      domain.Email
		role       domain.Role
		tenant     domain.TenantID
		wantFields []string
	}{
		{name: "member with tenant", id: "u1", email: "a@acme.test", role: domain.RoleMember, tenant: "acme"},
		{name: "member waiting for a tenant", id: "u1", email: "a@acme.test", role: domain.RoleMember},
		{name: "platform admin without tenant", id: "u1", email: "root@localhost", role: domain.RolePlatformAdmin},
		{name: "tenant admin without tenant", id: "u1", email: "a@acme.test", role: domain.RoleTenantAdmin, wantFields: []string{"tenant_id"}},
		{name: "missing id", email: "a@acme.test", role: domain.RoleMember, wantFields: []string{"id"}},
		{name: "bad email", id: "u1", email: "not-an-email", role: domain.RoleMember, wantFields: []string{"email"}},
		{name: "bad role", id: "u1", email: "a@acme.test", role: "owner", wantFields: []string{"role"}},
		{name: "bad tenant", id: "u1", email: "a@acme.test", role: domain.RoleMember, tenant: "Acme!", wantFields: []string{"tenant_id"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := domain.NewUser(tc.id, tc.email, tc.role, tc.tenant, "$argon2id$x", now)
			if tc.wantFields != nil {
				assert.ElementsMatch(t, tc.wantFields, invalidFields(t, err))
				return
			}
			require.NoError(t, err)
			assert.Equal(t, 1, got.TokenVersion)
			assert.False(t, got.Disabled)
			assert.Equal(t, tc.tenant != "", got.HasTenant())
		})
	}
}

func newMember(t *testing.T, tenant domain.TenantID) domain.User {
	t.Helper()
	u, err := domain.NewUser("u1", "ivy@acme.test", domain.RoleMember, tenant, "$argon2id$old", now)
	require.NoError(t, err)
	return u
}

func TestUserChangesAndTokenVersion(t *testing.T) {
	t.Parallel()
	later := now.Add(time.Hour)
	tests := []struct {
		name        string
		change      func(u *domain.User)
		wantVersion int
		check       func(t *testing.T, u domain.User)
	}{
		{name: "assign to another tenant", change: func(u *domain.User) { u.AssignTo("globex", later) }, wantVersion: 2,
			check: func(t *testing.T, u domain.User) { assert.Equal(t, domain.TenantID("globex"), u.TenantID) }},
		{name: "unassign", change: func(u *domain.User) { u.AssignTo("", later) }, wantVersion: 2,
			check: func(t *testing.T, u domain.User) { assert.False(t, u.HasTenant()) }},
		{name: "assign to the same tenant", change: func(u *domain.User) { u.AssignTo("acme", later) }, wantVersion: 1},
		{name: "set password", change: func(u *domain.User) { u.SetPassword("$argon2id$new", later) }, wantVersion: 2,
			check: func(t *testing.T, u domain.User) { assert.Equal(t, "$argon2id$new", u.PasswordHash) }},
		{name: "rehash password", change: func(u *domain.User) { u.RehashPassword("$argon2id$new", later) }, wantVersion: 1,
			check: func(t *testing.T, u domain.User) {
				assert.Equal(t, "$argon2id$new", u.PasswordHash)
				assert.Equal(t, later, u.UpdatedAt)
			}},
		{name: "disable", change: func(u *domain.User) { u.SetDisabled(true, later) }, wantVersion: 2,
			check: func(t *testing.T, u domain.User) { assert.ErrorIs(t, u.CanLogin(), domain.ErrUserDisabled) }},
		{name: "disable twice", change: func(u *domain.User) { u.SetDisabled(true, later); u.SetDisabled(true, later) }, wantVersion: 2},
		{name: "enable an enabled user", change: func(u *domain.User) { u.SetDisabled(false, later) }, wantVersion: 1,
			check: func(t *testing.T, u domain.User) { assert.NoError(t, u.CanLogin()) }},
		{name: "change role", change: func(u *domain.User) { u.SetRole(domain.RoleTenantAdmin, later) }, wantVersion: 2},
		{name: "same role", change: func(u *domain.User) { u.SetRole(domain.RoleMember, later) }, wantVersion: 1},
		{name: "log out everywhere", change: func(u *domain.User) { u.RevokeTokens(later) }, wantVersion: 2,
			check: func(t *testing.T, u domain.User) { assert.Equal(t, later, u.UpdatedAt) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			u := newMember(t, "acme")
			tc.change(&u)
			assert.Equal(t, tc.wantVersion, u.TokenVersion)
			if tc.check != nil {
				tc.check(t, u)
			}
		})
	}
}

func TestUserMemberOf(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		user   domain.TenantID
		tenant domain.TenantID
		want   bool
	}{
		{name: "same tenant", user: "acme", tenant: "acme", want: true},
		{name: "other tenant", user: "acme", tenant: "globex"},
		{name: "unassigned user, empty tenant", user: "", tenant: ""},
		{name: "unassigned user", user: "", tenant: "acme"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			assert.Equal(t, tc.want, newMember(t, tc.user).MemberOf(tc.tenant))
		})
	}
}

func TestValidatePassword(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		pw      string
		wantErr bool
	}{
		{name: "eight bytes", pw: "12345678"},
		{name: "seven bytes", pw: "1234567", wantErr: true},
		{name: "empty", pw: "", wantErr: true},
		{name: "longest", pw: strings.Repeat("p", domain.MaxPasswordLength)},
		{name: "too long", pw: strings.Repeat("p", domain.MaxPasswordLength+1), wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := domain.ValidatePassword(tc.pw)
			if tc.wantErr {
				assert.Equal(t, []string{"password"}, invalidFields(t, err))
				return
			}
			assert.NoError(t, err)
		})
	}
}

func TestUserPatchFields(t *testing.T) {
	t.Parallel()
	role, tenant, disabled := domain.RoleMember, domain.TenantID(""), false
	tests := []struct {
		name  string
		patch domain.UserPatch
		want  []string
	}{
		{name: "empty", patch: domain.UserPatch{}},
		{name: "all", patch: domain.UserPatch{Role: &role, TenantID: &tenant, Disabled: &disabled}, want: []string{"role", "tenant_id", "disabled"}},
		{name: "zero values still count", patch: domain.UserPatch{TenantID: &tenant}, want: []string{"tenant_id"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			assert.Equal(t, tc.want, tc.patch.Fields())
		})
	}
}

func principal(role domain.Role, tenant domain.TenantID) domain.Principal {
	return domain.Principal{UserID: "caller", Email: "caller@acme.test", Role: role, TenantID: tenant, TokenVersion: 1}
}

func TestUserPatchAllowedFor(t *testing.T) {
	t.Parallel()
	platform := domain.RolePlatformAdmin
	admin := domain.RoleTenantAdmin
	globex, acme := domain.TenantID("globex"), domain.TenantID("acme")
	yes := true
	tests := []struct {
		name     string
		who      domain.Principal
		target   domain.TenantID
		patch    domain.UserPatch
		wantKind domain.Kind // KindInternal: allowed
	}{
		{name: "platform admin, anything", who: principal(domain.RolePlatformAdmin, ""), target: "globex", patch: domain.UserPatch{Role: &platform, TenantID: &acme}},
		{name: "tenant admin, own member", who: principal(domain.RoleTenantAdmin, "acme"), target: "acme", patch: domain.UserPatch{Role: &admin, Disabled: &yes}},
		{name: "tenant admin, same tenant id", who: principal(domain.RoleTenantAdmin, "acme"), target: "acme", patch: domain.UserPatch{TenantID: &acme}},
		{name: "tenant admin, other tenant's user", who: principal(domain.RoleTenantAdmin, "acme"), target: "globex", patch: domain.UserPatch{Disabled: &yes}, wantKind: domain.KindNotFound},
		{name: "tenant admin, unassigned user", who: principal(domain.RoleTenantAdmin, "acme"), target: "", patch: domain.UserPatch{Disabled: &yes}, wantKind: domain.KindNotFound},
		{name: "tenant admin, move user away", who: principal(domain.RoleTenantAdmin, "acme"), target: "acme", patch: domain.UserPatch{TenantID: &globex}, wantKind: domain.KindForbidden},
		{name: "tenant admin, grant platform admin", who: principal(domain.RoleTenantAdmin, "acme"), target: "acme", patch: domain.UserPatch{Role: &platform}, wantKind: domain.KindForbidden},
		{name: "member", who: principal(domain.RoleMember, "acme"), target: "acme", patch: domain.UserPatch{Disabled: &yes}, wantKind: domain.KindForbidden},
		{name: "tenant admin without tenant", who: principal(domain.RoleTenantAdmin, ""), target: "", patch: domain.UserPatch{Disabled: &yes}, wantKind: domain.KindForbidden},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := tc.patch.AllowedFor(tc.who, newMember(t, tc.target))
			if tc.wantKind == domain.KindInternal {
				assert.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Equal(t, tc.wantKind, domain.KindOf(err))
		})
	}
}

// TestRoleHierarchy covers every actor × target × action: who may change whom is the
// role hierarchy (platform admin > tenant admin > member) within the actor's tenant.
// Each want string has one letter per action: A allowed, F KindForbidden, N KindNotFound.
func TestRoleHierarchy(t *testing.T) {
	t.Parallel()
	member, admin, platform := domain.RoleMember, domain.RoleTenantAdmin, domain.RolePlatformAdmin
	globex := domain.TenantID("globex")
	off := false
	actions := []struct {
		name  string
		patch domain.UserPatch
	}{
		{"any change (password)", domain.UserPatch{}},
		{"enable (no-op)", domain.UserPatch{Disabled: &off}},
		{"role member", domain.UserPatch{Role: &member}},
		{"role tenant_admin", domain.UserPatch{Role: &admin}},
		{"role platform_admin", domain.UserPatch{Role: &platform}},
		{"move to globex", domain.UserPatch{TenantID: &globex}},
	}
	type who struct {
		name string
		p    domain.Principal
	}
	actors := []who{
		{"platform admin", principal(platform, "")},
		{"platform admin in acme", principal(platform, "acme")},
		{"acme tenant admin", principal(admin, "acme")},
		{"globex tenant admin", principal(admin, "globex")},
		{"acme member", principal(member, "acme")},
	}
	targets := []struct {
		name   string
		role   domain.Role
		tenant domain.TenantID
	}{
		{"acme member", member, "acme"},
		{"acme tenant admin", admin, "acme"},
		{"platform admin in acme", platform, "acme"},
		{"platform admin", platform, ""},
		{"unassigned member", member, ""},
	}
	want := map[string][]string{ // actor -> one string per target, in order
		"platform admin":         {"AAAAAA", "AAAAAA", "AAAAAA", "AAAAAA", "AAAAAA"},
		"platform admin in acme": {"AAAAAA", "AAAAAA", "AAAAAA", "AAAAAA", "AAAAAA"},
		"acme tenant admin":      {"AAAAFF", "AAAAFF", "FFFFFF", "NNNNNN", "NNNNNN"},
		"globex tenant admin":    {"NNNNNN", "NNNNNN", "NNNNNN", "NNNNNN", "NNNNNN"},
		"acme member":            {"FFFFFF", "FFFFFF", "FFFFFF", "FFFFFF", "FFFFFF"},
	}
	kinds := map[byte]domain.Kind{'A': domain.KindInternal, 'F': domain.KindForbidden, 'N': domain.KindNotFound}
	for _, a := range actors {
		for ti, tg := range targets {
			for ai, act := range actions {
				wantKind := kinds[want[a.name][ti][ai]]
				t.Run(a.name+"/"+tg.name+"/"+act.name, func(t *testing.T) {
					t.Parallel()
					u, err := domain.NewUser("target", "target@acme.test", tg.role, tg.tenant, "hash", now)
					require.NoError(t, err)
					got := act.patch.AllowedFor(a.p, u)
					if wantKind == domain.KindInternal {
						assert.NoError(t, got)
						return
					}
					require.Error(t, got)
					assert.Equal(t, wantKind, domain.KindOf(got))
				})
			}
		}
	}
}

func TestUserPatchApply(t *testing.T) {
	t.Parallel()
	later := now.Add(time.Minute)
	admin, platform := domain.RoleTenantAdmin, domain.RolePlatformAdmin
	none, globex := domain.TenantID(""), domain.TenantID("globex")
	yes := true
	tests := []struct {
		name        string
		patch       domain.UserPatch
		wantErr     []string
		wantVersion int
		check       func(t *testing.T, u domain.User)
	}{
		{name: "nothing", patch: domain.UserPatch{}, wantVersion: 1},
		{name: "promote", patch: domain.UserPatch{Role: &admin}, wantVersion: 2,
			check: func(t *testing.T, u domain.User) { assert.Equal(t, domain.RoleTenantAdmin, u.Role) }},
		{name: "move and disable", patch: domain.UserPatch{TenantID: &globex, Disabled: &yes}, wantVersion: 3,
			check: func(t *testing.T, u domain.User) {
				assert.Equal(t, globex, u.TenantID)
				assert.True(t, u.Disabled)
			}},
		{name: "platform admin without tenant", patch: domain.UserPatch{Role: &platform, TenantID: &none}, wantVersion: 3},
		{name: "tenant admin without tenant", patch: domain.UserPatch{Role: &admin, TenantID: &none}, wantErr: []string{"tenant_id"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			u := newMember(t, "acme")
			err := tc.patch.Apply(&u, later)
			if tc.wantErr != nil {
				assert.Equal(t, tc.wantErr, invalidFields(t, err))
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.wantVersion, u.TokenVersion)
			if tc.check != nil {
				tc.check(t, u)
			}
		})
	}
}

func TestCanCreateUser(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		who     domain.Principal
		role    domain.Role
		tenant  domain.TenantID
		wantErr bool
	}{
		{name: "platform admin creates a platform admin", who: principal(domain.RolePlatformAdmin, ""), role: domain.RolePlatformAdmin},
		{name: "platform admin creates in any tenant", who: principal(domain.RolePlatformAdmin, ""), role: domain.RoleTenantAdmin, tenant: "globex"},
		{name: "tenant admin, own tenant", who: principal(domain.RoleTenantAdmin, "acme"), role: domain.RoleTenantAdmin, tenant: "acme"},
		{name: "tenant admin, other tenant", who: principal(domain.RoleTenantAdmin, "acme"), role: domain.RoleMember, tenant: "globex", wantErr: true},
		{name: "tenant admin, no tenant", who: principal(domain.RoleTenantAdmin, "acme"), role: domain.RoleMember, wantErr: true},
		{name: "tenant admin, platform admin", who: principal(domain.RoleTenantAdmin, "acme"), role: domain.RolePlatformAdmin, tenant: "acme", wantErr: true},
		{name: "member", who: principal(domain.RoleMember, "acme"), role: domain.RoleMember, tenant: "acme", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := tc.who.CanCreateUser(tc.role, tc.tenant)
			if tc.wantErr {
				assert.Equal(t, domain.KindForbidden, domain.KindOf(err))
				return
			}
			assert.NoError(t, err)
		})
	}
}

func TestLoseTenantDemotesTenantAdmins(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, role := range []domain.Role{domain.RoleMember, domain.RoleTenantAdmin, domain.RolePlatformAdmin} {
		u, err := domain.NewUser("u1", "a@b.test", role, "acme", "", now)
		require.NoError(t, err)
		u.LoseTenant(now.Add(time.Hour))
		assert.Empty(t, u.TenantID)
		assert.Equal(t, 2, u.TokenVersion, "tokens must be invalidated")
		assert.NoError(t, u.Validate(), "role %s must stay valid without a tenant", role)
		if role == domain.RoleTenantAdmin {
			assert.Equal(t, domain.RoleMember, u.Role)
		} else {
			assert.Equal(t, role, u.Role)
		}
	}
}
