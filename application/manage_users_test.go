package application_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/application"
	"github.com/tenantry/tenantry/domain"
)

func TestManageUsersCreate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		who      func(a admins) application.Actor
		in       application.NewUserInput
		wantKind *domain.Kind
	}{
		{name: "platform admin creates a platform admin", who: func(a admins) application.Actor { return a.root },
			in: application.NewUserInput{Email: "ops@tenantry.test", Password: "long enough pw", Role: domain.RolePlatformAdmin}},
		{name: "platform admin creates in any tenant", who: func(a admins) application.Actor { return a.root },
			in: application.NewUserInput{Email: "g@globex.test", Password: "long enough pw", Role: domain.RoleTenantAdmin, TenantID: "globex"}},
		{name: "tenant admin creates a member of own tenant", who: func(a admins) application.Actor { return a.acmeAdmin },
			in: application.NewUserInput{Email: "New@Acme.test", Password: "long enough pw", TenantID: "acme"}},
		{name: "tenant admin creates in another tenant", who: func(a admins) application.Actor { return a.acmeAdmin },
			in: application.NewUserInput{Email: "x@globex.test", Password: "long enough pw", TenantID: "globex"}, wantKind: ptr(domain.KindForbidden)},
		{name: "tenant admin creates an unassigned user", who: func(a admins) application.Actor { return a.acmeAdmin },
			in: application.NewUserInput{Email: "x@acme.test", Password: "long enough pw"}, wantKind: ptr(domain.KindForbidden)},
		{name: "tenant admin grants platform_admin", who: func(a admins) application.Actor { return a.acmeAdmin },
			in: application.NewUserInput{Email: "x@acme.test", Password: "long enough pw", Role: domain.RolePlatformAdmin, TenantID: "acme"}, wantKind: ptr(domain.KindForbidden)},
		{name: "member creates", who: func(a admins) application.Actor { return a.acmeMember },
			in: application.NewUserInput{Email: "x@acme.test", Password: "long enough pw", TenantID: "acme"}, wantKind: ptr(domain.KindForbidden)},
		{name: "invalid email", who: func(a admins) application.Actor { return a.root },
			in: application.NewUserInput{Email: "nope", Password: "long enough pw"}, wantKind: ptr(domain.KindInvalid)},
		{name: "short password", who: func(a admins) application.Actor { return a.root },
			in: application.NewUserInput{Email: "x@acme.test", Password: "short", TenantID: "acme"}, wantKind: ptr(domain.KindInvalid)},
		{name: "tenant admin without tenant", who: func(a admins) application.Actor { return a.root },
			in: application.NewUserInput{Email: "x@acme.test", Password: "long enough pw", Role: domain.RoleTenantAdmin}, wantKind: ptr(domain.KindInvalid)},
		{name: "unknown tenant", who: func(a admins) application.Actor { return a.root },
			in: application.NewUserInput{Email: "x@acme.test", Password: "long enough pw", TenantID: "nope"}, wantKind: ptr(domain.KindInvalid)},
		{name: "taken email", who: func(a admins) application.Actor { return a.root },
			in: application.NewUserInput{Email: "MEMBER@acme.test", Password: "long enough pw", TenantID: "acme"}, wantKind: ptr(domain.KindConflict)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			a := newAdmins(e)
			ctx := context.Background()
			auditBefore := len(e.auditLog())

			got, err := e.manageUsers().Create(ctx, tc.who(a), tc.in)

			if tc.wantKind != nil {
				requireKind(t, *tc.wantKind, err)
				assert.Len(t, e.auditLog(), auditBefore, "a refused create is not audited")
				return
			}
			require.NoError(t, err)
			stored := e.storedUser(got.ID)
			assert.Equal(t, got, stored)
			wantRole := tc.in.Role
			if wantRole == "" {
				wantRole = domain.RoleMember
			}
			assert.Equal(t, wantRole, stored.Role)
			assert.Equal(t, tc.in.TenantID, stored.TenantID)
			assert.Equal(t, 1, stored.TokenVersion)
			assert.NotEqual(t, tc.in.Password, stored.PasswordHash)
			entry := e.auditLog()[0]
			assert.Equal(t, "user.create", entry.Action)
			assert.Equal(t, string(got.ID), entry.Target)
			assert.Equal(t, tc.in.TenantID, entry.TenantID)
			for _, f := range entry.Changed {
				assert.NotContains(t, f, tc.in.Password)
			}

			_, err = e.login().Execute(ctx, application.LoginInput{Email: tc.in.Email, Password: tc.in.Password, ClientIP: "10.0.0.1"})
			assert.NoError(t, err, "the new user can log in")
		})
	}
}

func TestManageUsersUpdatePermissions(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		who      func(a admins) application.Actor
		target   func(e *env, a admins) domain.UserID
		patch    domain.UserPatch
		wantKind *domain.Kind
	}{
		{name: "tenant admin disables a member of own tenant", who: func(a admins) application.Actor { return a.acmeAdmin },
			target: func(_ *env, a admins) domain.UserID { return a.acmeMember.Principal.UserID }, patch: domain.UserPatch{Disabled: ptr(true)}},
		{name: "tenant admin promotes a member to tenant admin", who: func(a admins) application.Actor { return a.acmeAdmin },
			target: func(_ *env, a admins) domain.UserID { return a.acmeMember.Principal.UserID }, patch: domain.UserPatch{Role: ptr(domain.RoleTenantAdmin)}},
		{name: "tenant admin touches another tenant's user", who: func(a admins) application.Actor { return a.acmeAdmin },
			target: func(e *env, _ admins) domain.UserID {
				return e.user("g@globex.test", domain.RoleMember, "globex").ID
			}, patch: domain.UserPatch{Disabled: ptr(true)}, wantKind: ptr(domain.KindNotFound)},
		{name: "tenant admin touches a platform admin", who: func(a admins) application.Actor { return a.acmeAdmin },
			target: func(_ *env, a admins) domain.UserID { return a.root.Principal.UserID }, patch: domain.UserPatch{Disabled: ptr(true)}, wantKind: ptr(domain.KindNotFound)},
		{name: "tenant admin grants platform_admin", who: func(a admins) application.Actor { return a.acmeAdmin },
			target: func(_ *env, a admins) domain.UserID { return a.acmeMember.Principal.UserID }, patch: domain.UserPatch{Role: ptr(domain.RolePlatformAdmin)}, wantKind: ptr(domain.KindForbidden)},
		{name: "tenant admin moves a user to another tenant", who: func(a admins) application.Actor { return a.acmeAdmin },
			target: func(_ *env, a admins) domain.UserID { return a.acmeMember.Principal.UserID }, patch: domain.UserPatch{TenantID: ptr(domain.TenantID("globex"))}, wantKind: ptr(domain.KindForbidden)},
		{name: "tenant admin unassigns a user", who: func(a admins) application.Actor { return a.acmeAdmin },
			target: func(_ *env, a admins) domain.UserID { return a.acmeMember.Principal.UserID }, patch: domain.UserPatch{TenantID: ptr(domain.TenantID(""))}, wantKind: ptr(domain.KindForbidden)},
		{name: "member disables a colleague", who: func(a admins) application.Actor { return a.acmeMember },
			target: func(_ *env, a admins) domain.UserID { return a.acmeAdmin.Principal.UserID }, patch: domain.UserPatch{Disabled: ptr(true)}, wantKind: ptr(domain.KindForbidden)},
		{name: "platform admin grants platform_admin", who: func(a admins) application.Actor { return a.root },
			target: func(_ *env, a admins) domain.UserID { return a.acmeMember.Principal.UserID }, patch: domain.UserPatch{Role: ptr(domain.RolePlatformAdmin), TenantID: ptr(domain.TenantID(""))}},
		{name: "platform admin moves a user", who: func(a admins) application.Actor { return a.root },
			target: func(_ *env, a admins) domain.UserID { return a.acmeMember.Principal.UserID }, patch: domain.UserPatch{TenantID: ptr(domain.TenantID("globex"))}},
		{name: "platform admin assigns an unknown tenant", who: func(a admins) application.Actor { return a.root },
			target: func(_ *env, a admins) domain.UserID { return a.acmeMember.Principal.UserID }, patch: domain.UserPatch{TenantID: ptr(domain.TenantID("nope"))}, wantKind: ptr(domain.KindInvalid)},
		{name: "platform admin unassigns a tenant admin", who: func(a admins) application.Actor { return a.root },
			target: func(_ *env, a admins) domain.UserID { return a.acmeAdmin.Principal.UserID }, patch: domain.UserPatch{TenantID: ptr(domain.TenantID(""))}, wantKind: ptr(domain.KindInvalid)},
		{name: "unknown user", who: func(a admins) application.Actor { return a.root },
			target: func(*env, admins) domain.UserID { return "no-such-user" }, patch: domain.UserPatch{Disabled: ptr(true)}, wantKind: ptr(domain.KindNotFound)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			a := newAdmins(e)
			ctx := context.Background()
			id := tc.target(e, a)
			before, _ := e.db.Users().Get(ctx, id)
			auditBefore := len(e.auditLog())

			got, err := e.manageUsers().Update(ctx, tc.who(a), id, tc.patch)

			if tc.wantKind != nil {
				requireKind(t, *tc.wantKind, err)
				after, _ := e.db.Users().Get(ctx, id)
				assert.Equal(t, before, after, "a refused patch changes nothing")
				assert.Len(t, e.auditLog(), auditBefore)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, got, e.storedUser(id))
			assert.Greater(t, got.TokenVersion, before.TokenVersion, "outstanding tokens are invalidated")
			entry := e.auditLog()[0]
			assert.Equal(t, "user.update", entry.Action)
			assert.Equal(t, string(id), entry.Target)
			assert.ElementsMatch(t, tc.patch.Fields(), entry.Changed)
		})
	}
}

func TestManageUsersUpdateRevokesRefreshTokens(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	a := newAdmins(e)
	ctx := context.Background()
	tok, err := e.login().Execute(ctx, application.LoginInput{Email: "member@acme.test", Password: password, ClientIP: "10.0.0.1"})
	require.NoError(t, err)

	_, err = e.manageUsers().Update(ctx, a.acmeAdmin, a.acmeMember.Principal.UserID, domain.UserPatch{Role: ptr(domain.RoleTenantAdmin)})
	require.NoError(t, err)

	_, err = e.refresh().Execute(ctx, tok.RefreshToken)
	assert.ErrorIs(t, err, domain.ErrInvalidRefreshToken)
	_, err = e.authenticate().Execute(ctx, tok.AccessToken)
	assert.ErrorIs(t, err, domain.ErrInvalidToken)
	fresh, err := e.login().Execute(ctx, application.LoginInput{Email: "member@acme.test", Password: password, ClientIP: "10.0.0.1"})
	require.NoError(t, err)
	p, err := e.authenticate().Execute(ctx, fresh.AccessToken)
	require.NoError(t, err)
	assert.Equal(t, domain.RoleTenantAdmin, p.Role)
}

func TestManageUsersNoOpUpdateKeepsTokens(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	a := newAdmins(e)
	ctx := context.Background()
	tok, err := e.login().Execute(ctx, application.LoginInput{Email: "member@acme.test", Password: password, ClientIP: "10.0.0.1"})
	require.NoError(t, err)

	_, err = e.manageUsers().Update(ctx, a.acmeAdmin, a.acmeMember.Principal.UserID,
		domain.UserPatch{Role: ptr(domain.RoleMember), Disabled: ptr(false), TenantID: ptr(domain.TenantID("acme"))})
	require.NoError(t, err)

	_, err = e.authenticate().Execute(ctx, tok.AccessToken)
	assert.NoError(t, err, "setting fields to their current values logs nobody out")
	_, err = e.refresh().Execute(ctx, tok.RefreshToken)
	assert.NoError(t, err)
}

func TestManageUsersSetPassword(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	a := newAdmins(e)
	ctx := context.Background()
	const newPassword = "a much better passphrase"
	tok, err := e.login().Execute(ctx, application.LoginInput{Email: "member@acme.test", Password: password, ClientIP: "10.0.0.1"})
	require.NoError(t, err)

	_, err = e.manageUsers().SetPassword(ctx, a.acmeAdmin, a.acmeMember.Principal.UserID, newPassword)
	require.NoError(t, err)

	_, err = e.refresh().Execute(ctx, tok.RefreshToken)
	assert.ErrorIs(t, err, domain.ErrInvalidRefreshToken)
	_, err = e.login().Execute(ctx, application.LoginInput{Email: "member@acme.test", Password: password, ClientIP: "10.0.0.2"})
	assert.ErrorIs(t, err, domain.ErrInvalidCredentials)
	_, err = e.login().Execute(ctx, application.LoginInput{Email: "member@acme.test", Password: newPassword, ClientIP: "10.0.0.3"})
	assert.NoError(t, err)
	entry := e.auditLog()[0]
	assert.Equal(t, "user.password", entry.Action)
	assert.Equal(t, []string{"password"}, entry.Changed)
	assert.Equal(t, domain.TenantID("acme"), entry.TenantID)
	for _, v := range append([]string{entry.Actor, entry.Target, entry.Action, entry.RequestID}, entry.Changed...) {
		assert.NotContains(t, v, newPassword)
	}

	tests := []struct {
		name     string
		who      application.Actor
		id       domain.UserID
		password string
		wantKind domain.Kind
	}{
		{name: "too short", who: a.root, id: a.acmeMember.Principal.UserID, password: "short", wantKind: domain.KindInvalid},
		{name: "platform admin's password by a tenant admin", who: a.acmeAdmin, id: a.root.Principal.UserID, password: newPassword, wantKind: domain.KindNotFound},
		{name: "by a member", who: a.acmeMember, id: a.acmeAdmin.Principal.UserID, password: newPassword, wantKind: domain.KindForbidden},
		{name: "unknown user", who: a.root, id: "nobody", password: newPassword, wantKind: domain.KindNotFound},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := e.manageUsers().SetPassword(ctx, tc.who, tc.id, tc.password)
			requireKind(t, tc.wantKind, err)
		})
	}
}

func TestManageUsersListAndFind(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	a := newAdmins(e)
	ctx := context.Background()
	e.user("g@globex.test", domain.RoleMember, "globex")
	m := e.manageUsers()
	emails := func(us []domain.User) []domain.Email {
		var out []domain.Email
		for _, u := range us {
			out = append(out, u.Email)
		}
		return out
	}

	all, err := m.List(ctx, a.root.Principal, "", domain.Page{})
	require.NoError(t, err)
	assert.Len(t, all, 4)
	own, err := m.List(ctx, a.acmeAdmin.Principal, "globex", domain.Page{})
	require.NoError(t, err)
	assert.ElementsMatch(t, []domain.Email{"admin@acme.test", "member@acme.test"}, emails(own), "a tenant admin sees only their own tenant")
	_, err = m.List(ctx, a.acmeMember.Principal, "acme", domain.Page{})
	requireKind(t, domain.KindForbidden, err)

	got, err := m.FindByEmail(ctx, a.acmeAdmin.Principal, "MEMBER@acme.test")
	require.NoError(t, err)
	assert.Equal(t, a.acmeMember.Principal.UserID, got.ID)
	_, err = m.FindByEmail(ctx, a.acmeAdmin.Principal, "g@globex.test")
	requireKind(t, domain.KindNotFound, err)
	_, err = m.FindByEmail(ctx, a.acmeAdmin.Principal, "root@tenantry.test")
	requireKind(t, domain.KindNotFound, err)
	_, err = m.FindByEmail(ctx, a.root.Principal, "g@globex.test")
	assert.NoError(t, err)
	_, err = m.FindByEmail(ctx, a.root.Principal, "not-an-email")
	requireKind(t, domain.KindInvalid, err)
}

func TestProfile(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	a := newAdmins(e)
	ctx := context.Background()
	profile := application.NewProfile(e.db.Users(), e.db.Tenants())

	u, tenant, err := profile.Execute(ctx, a.acmeMember.Principal)
	require.NoError(t, err)
	assert.Equal(t, a.acmeMember.Principal.UserID, u.ID)
	assert.True(t, u.HasTenant())
	assert.Equal(t, domain.TenantID("acme"), tenant.ID)
	assert.NotEmpty(t, tenant.Name)

	u, tenant, err = profile.Execute(ctx, a.root.Principal)
	require.NoError(t, err)
	assert.Equal(t, domain.RolePlatformAdmin, u.Role)
	assert.False(t, u.HasTenant())
	assert.Equal(t, domain.Tenant{}, tenant, "no tenant is the zero Tenant")

	e.db.SetDown(true)
	_, _, err = profile.Execute(ctx, a.acmeMember.Principal)
	requireKind(t, domain.KindUnavailable, err)
}

func TestReports(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	a := newAdmins(e)
	ctx := context.Background()
	now := e.clock.Now()
	acme := e.updateTenant("acme", func(t *domain.Tenant) { t.Limits.MonthlyTokenQuota = 1000 })
	globex, err := e.db.Tenants().Get(ctx, "globex")
	require.NoError(t, err)
	for _, r := range []domain.UsageRecord{
		{TenantID: "acme", PromptTokens: 100, CompletionTokens: 50, At: now},
		{TenantID: "acme", PromptTokens: 10, CompletionTokens: 5, At: now},
		{TenantID: "acme", PromptTokens: 900, At: domain.MonthStart(now).Add(-time.Second)},
		{TenantID: "globex", PromptTokens: 7, At: now},
	} {
		require.NoError(t, e.db.Usage().Record(ctx, r))
	}
	_, err = e.manageTenants(false).Update(ctx, a.acmeAdmin, "acme", domain.TenantPatch{SystemPrompt: ptr("Hi.")})
	require.NoError(t, err)
	_, err = e.manageTenants(false).Update(ctx, a.root, "globex", domain.TenantPatch{Name: ptr("Globex Corp")})
	require.NoError(t, err)
	reports := application.NewReports(e.db.Usage(), e.db.Audit(), e.clock.Now)

	usage, err := reports.Usage(ctx, domain.TenantContext{Principal: a.acmeAdmin.Principal, Tenant: acme})
	require.NoError(t, err)
	assert.Equal(t, int64(165), usage.Totals.Tokens())
	assert.Equal(t, int64(1000), usage.Quota)
	assert.Equal(t, int64(835), usage.Left)
	usage, err = reports.Usage(ctx, domain.TenantContext{Principal: a.root.Principal, Tenant: globex})
	require.NoError(t, err)
	assert.Equal(t, int64(-1), usage.Left, "no quota is unlimited")

	all, err := reports.AllUsage(ctx, a.root.Principal)
	require.NoError(t, err)
	require.Len(t, all, 2)
	_, err = reports.AllUsage(ctx, a.acmeAdmin.Principal)
	requireKind(t, domain.KindForbidden, err)

	entries, err := reports.Audit(ctx, a.acmeAdmin.Principal, "globex", domain.Page{})
	require.NoError(t, err)
	require.Len(t, entries, 1, "a tenant admin sees only their own tenant's trail")
	assert.Equal(t, domain.TenantID("acme"), entries[0].TenantID)
	entries, err = reports.Audit(ctx, a.root.Principal, "", domain.Page{})
	require.NoError(t, err)
	assert.Len(t, entries, 2)
	_, err = reports.Audit(ctx, a.acmeMember.Principal, "acme", domain.Page{})
	requireKind(t, domain.KindForbidden, err)
}

func TestConversationsAreTheCallersOwn(t *testing.T) {
	t.Parallel()
	f := newChatFixture(t)
	ctx := context.Background()
	got, err := collect(t, f.streamChat().Execute(ctx, application.ChatInput{Tenant: f.member, Message: "Gift cards?"}))
	require.NoError(t, err)
	id := got[len(got)-1].ConversationID
	convs := application.NewConversations(f.db.Conversations(), f.db.Conversations())

	list, err := convs.List(ctx, f.member, domain.Page{})
	require.NoError(t, err)
	require.Len(t, list, 1)
	conv, msgs, err := convs.Get(ctx, f.member, id)
	require.NoError(t, err)
	assert.Equal(t, id, conv.ID)
	assert.Len(t, msgs, 2)

	list, err = convs.List(ctx, f.admin, domain.Page{})
	require.NoError(t, err)
	assert.Empty(t, list, "even a tenant admin sees only their own conversations")
	_, _, err = convs.Get(ctx, f.admin, id)
	requireKind(t, domain.KindNotFound, err)
}
