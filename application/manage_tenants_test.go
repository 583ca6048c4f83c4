package application_test

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/application"
	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/ports"
)

func ptr[T any](v T) *T { return &v }

// auditLog returns every audit entry, newest first.
func (e *env) auditLog() []domain.AuditEntry {
	e.t.Helper()
	got, err := e.db.Audit().List(context.Background(), "", domain.Page{Limit: 100})
	require.NoError(e.t, err)
	return got
}

func fieldNames(err error) []string {
	var names []string
	if de := domain.AsError(err); de != nil {
		for _, f := range de.Fields {
			names = append(names, f.Field)
		}
	}
	return names
}

// admins is a platform admin and a tenant admin of acme; globex exists too.
type admins struct {
	root, acmeAdmin, acmeMember application.Actor
}

func newAdmins(e *env) admins {
	e.tenant("acme")
	e.tenant("globex")
	return admins{
		root:       actor(e.user("root@tenantry.test", domain.RolePlatformAdmin, "")),
		acmeAdmin:  actor(e.user("admin@acme.test", domain.RoleTenantAdmin, "acme")),
		acmeMember: actor(e.user("member@acme.test", domain.RoleMember, "acme")),
	}
}

func TestManageTenantsCreate(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	a := newAdmins(e)
	ctx := context.Background()
	m := e.manageTenants(false)

	got, err := m.Create(ctx, a.root, "initech", "Initech")
	require.NoError(t, err)
	assert.Equal(t, domain.TenantID("initech"), got.ID)
	assert.Equal(t, domain.TenantActive, got.Status)
	assert.Equal(t, domain.EmbedderHashing, got.Embedder.Provider, "a new tenant works offline")
	stored, err := e.db.Tenants().Get(ctx, "initech")
	require.NoError(t, err)
	assert.Equal(t, "Initech", stored.Name)
	entry := e.auditLog()[0]
	assert.Equal(t, "tenant.create", entry.Action)
	assert.Equal(t, domain.TenantID("initech"), entry.TenantID)
	assert.Equal(t, string(a.root.Principal.UserID), entry.Actor)
	assert.Equal(t, a.root.RequestID, entry.RequestID)

	_, err = m.Create(ctx, a.root, "initech", "Again")
	requireKind(t, domain.KindConflict, err)
	_, err = m.Create(ctx, a.root, "Not A Slug", "Bad")
	requireKind(t, domain.KindInvalid, err)
	_, err = m.Create(ctx, a.root, "nameless", "   ")
	requireKind(t, domain.KindInvalid, err)
	for _, who := range []application.Actor{a.acmeAdmin, a.acmeMember} {
		_, err = m.Create(ctx, who, "hooli", "Hooli")
		requireKind(t, domain.KindForbidden, err)
	}
	_, err = e.db.Tenants().Get(ctx, "hooli")
	requireKind(t, domain.KindNotFound, err)
}

func TestManageTenantsGetAndList(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	a := newAdmins(e)
	ctx := context.Background()
	m := e.manageTenants(false)
	loner := e.user("loner@tenantry.test", domain.RoleMember, "").Principal()

	tests := []struct {
		name     string
		who      domain.Principal
		id       domain.TenantID
		wantKind *domain.Kind
	}{
		{name: "platform admin, any tenant", who: a.root.Principal, id: "globex"},
		{name: "tenant admin, own tenant", who: a.acmeAdmin.Principal, id: "acme"},
		{name: "member, own tenant", who: a.acmeMember.Principal, id: "acme", wantKind: ptr(domain.KindForbidden)},
		{name: "tenant admin, another tenant", who: a.acmeAdmin.Principal, id: "globex", wantKind: ptr(domain.KindNotFound)},
		{name: "tenant admin, unknown tenant", who: a.acmeAdmin.Principal, id: "nope", wantKind: ptr(domain.KindNotFound)},
		{name: "unassigned user", who: loner, id: "acme", wantKind: ptr(domain.KindNotFound)},
		{name: "platform admin, unknown tenant", who: a.root.Principal, id: "nope", wantKind: ptr(domain.KindNotFound)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := m.Get(ctx, tc.who, tc.id)
			if tc.wantKind != nil {
				requireKind(t, *tc.wantKind, err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.id, got.ID)
		})
	}

	list, err := m.List(ctx, a.root.Principal, domain.Page{})
	require.NoError(t, err)
	require.Len(t, list, 2)
	assert.Equal(t, domain.TenantID("acme"), list[0].ID)
	_, err = m.List(ctx, a.acmeAdmin.Principal, domain.Page{})
	requireKind(t, domain.KindForbidden, err)
}

func TestManageTenantsUpdateByTenantAdmin(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		who        func(a admins) application.Actor
		id         domain.TenantID
		patch      domain.TenantPatch
		wantKind   *domain.Kind
		wantFields []string // the fields a Forbidden error lists
	}{
		{name: "own prompt, retrieval and keys", who: func(a admins) application.Actor { return a.acmeAdmin }, id: "acme",
			patch: domain.TenantPatch{SystemPrompt: ptr("Answer like a pirate."), TopK: ptr(6), MinScore: ptr(0.1), LLMAPIKey: ptr(domain.Secret("sk-tenant-key-123456"))}},
		{name: "another tenant", who: func(a admins) application.Actor { return a.acmeAdmin }, id: "globex",
			patch: domain.TenantPatch{SystemPrompt: ptr("pwned")}, wantKind: ptr(domain.KindNotFound)},
		{name: "unknown tenant", who: func(a admins) application.Actor { return a.acmeAdmin }, id: "nope",
			patch: domain.TenantPatch{SystemPrompt: ptr("x")}, wantKind: ptr(domain.KindNotFound)},
		{name: "vendor endpoints and limits", who: func(a admins) application.Actor { return a.acmeAdmin }, id: "acme",
			patch:    domain.TenantPatch{SystemPrompt: ptr("ok"), LLMBaseURL: ptr("https://llm.example/v1"), RequestsPerMin: ptr(1000), MonthlyQuota: ptr(int64(0))},
			wantKind: ptr(domain.KindForbidden), wantFields: []string{"llm.base_url", "limits.requests_per_minute", "limits.monthly_token_quota"}},
		{name: "own status", who: func(a admins) application.Actor { return a.acmeAdmin }, id: "acme",
			patch: domain.TenantPatch{Status: ptr(domain.TenantSuspended)}, wantKind: ptr(domain.KindForbidden), wantFields: []string{"status"}},
		{name: "member", who: func(a admins) application.Actor { return a.acmeMember }, id: "acme",
			patch: domain.TenantPatch{SystemPrompt: ptr("x")}, wantKind: ptr(domain.KindForbidden)},
		{name: "invalid top_k", who: func(a admins) application.Actor { return a.acmeAdmin }, id: "acme",
			patch: domain.TenantPatch{TopK: ptr(0)}, wantKind: ptr(domain.KindInvalid), wantFields: []string{"retrieval.top_k"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			a := newAdmins(e)
			ctx := context.Background()
			before, err := e.db.Tenants().Get(ctx, tc.id)
			if err != nil {
				requireKind(t, domain.KindNotFound, err)
			}

			got, err := e.manageTenants(false).Update(ctx, tc.who(a), tc.id, tc.patch)

			if tc.wantKind != nil {
				requireKind(t, *tc.wantKind, err)
				if tc.wantFields != nil {
					assert.ElementsMatch(t, tc.wantFields, fieldNames(err))
				}
				after, gerr := e.db.Tenants().Get(ctx, tc.id)
				if gerr == nil {
					assert.Equal(t, before, after, "a refused patch changes nothing")
				}
				assert.Empty(t, e.auditLog(), "a refused patch is not audited")
				return
			}
			require.NoError(t, err)
			assert.Equal(t, "Answer like a pirate.", got.SystemPrompt)
			assert.Equal(t, 6, got.Retrieval.TopK)
			assert.Equal(t, "sk-tenant-key-123456", got.LLM.APIKey.Reveal())
			assert.Equal(t, before.LLM.BaseURL, got.LLM.BaseURL)
			stored, err := e.db.Tenants().Get(ctx, tc.id)
			require.NoError(t, err)
			assert.Equal(t, got, stored)
		})
	}
}

func TestManageTenantsVendorURLsMustBeHTTPS(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		allowHTTP bool
		patch     domain.TenantPatch
		wantField string // empty: accepted
	}{
		{name: "https base url", patch: domain.TenantPatch{LLMProvider: ptr(domain.LLMOpenAI), LLMBaseURL: ptr("https://llm.example/v1"), LLMModel: ptr("gpt-x")}},
		{name: "http base url", patch: domain.TenantPatch{LLMProvider: ptr(domain.LLMOpenAI), LLMBaseURL: ptr("http://localhost:11434/v1"), LLMModel: ptr("llama")},
			wantField: "llm.base_url"},
		{name: "http base url when allowed", allowHTTP: true, patch: domain.TenantPatch{LLMProvider: ptr(domain.LLMOpenAI), LLMBaseURL: ptr("http://localhost:11434/v1"), LLMModel: ptr("llama")}},
		{name: "http index host", patch: domain.TenantPatch{VectorProvider: ptr(domain.VectorPinecone), IndexHost: ptr("http://index.example")},
			wantField: "vector_store.index_host"},
		{name: "https index host", patch: domain.TenantPatch{VectorProvider: ptr(domain.VectorPinecone), IndexHost: ptr("https://index.example")}},
		{name: "not a url even when http is allowed", allowHTTP: true, patch: domain.TenantPatch{LLMBaseURL: ptr("ftp://llm.example")},
			wantField: "llm.base_url"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			a := newAdmins(e)
			ctx := context.Background()

			got, err := e.manageTenants(tc.allowHTTP).Update(ctx, a.root, "acme", tc.patch)

			if tc.wantField != "" {
				requireKind(t, domain.KindInvalid, err)
				assert.Contains(t, fieldNames(err), tc.wantField)
				stored, gerr := e.db.Tenants().Get(ctx, "acme")
				require.NoError(t, gerr)
				assert.Equal(t, domain.LLMExtractive, stored.LLM.Provider, "nothing changed")
				assert.Equal(t, domain.VectorEmbedded, stored.VectorStore.Provider)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, e.clock.Now(), got.UpdatedAt)
		})
	}
}

func TestManageTenantsAuditNamesFieldsNeverSecrets(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	a := newAdmins(e)
	ctx := context.Background()
	m := e.manageTenants(false)
	secrets := []string{"sk-live-SUPERSECRET-0001", "pc-SUPERSECRET-0002", "emb-SUPERSECRET-0003", "sk-tenant-SUPERSECRET-0004"}

	_, err := m.Update(ctx, a.root, "acme", domain.TenantPatch{
		LLMProvider: ptr(domain.LLMOpenAI), LLMModel: ptr("gpt-x"), LLMAPIKey: ptr(domain.Secret(secrets[0])),
		VectorAPIKey: ptr(domain.Secret(secrets[1])), EmbedderAPIKey: ptr(domain.Secret(secrets[2])),
	})
	require.NoError(t, err)
	_, err = m.Update(ctx, a.acmeAdmin, "acme", domain.TenantPatch{LLMAPIKey: ptr(domain.Secret(secrets[3])), SystemPrompt: ptr("Be brief.")})
	require.NoError(t, err)
	stored, err := e.db.Tenants().Get(ctx, "acme")
	require.NoError(t, err)
	require.Equal(t, secrets[3], stored.LLM.APIKey.Reveal())

	log := e.auditLog()
	require.Len(t, log, 2)
	assert.Equal(t, "tenant.update", log[1].Action)
	assert.ElementsMatch(t, []string{"llm.provider", "llm.model", "llm.api_key", "vector_store.api_key", "embedder.api_key"}, log[1].Changed)
	assert.Equal(t, string(a.root.Principal.UserID), log[1].Actor)
	assert.ElementsMatch(t, []string{"llm.api_key", "system_prompt"}, log[0].Changed)
	assert.Equal(t, string(a.acmeAdmin.Principal.UserID), log[0].Actor)
	assert.Equal(t, a.acmeAdmin.RequestID, log[0].RequestID)
	for _, entry := range log {
		assert.Equal(t, domain.TenantID("acme"), entry.TenantID)
		assert.Equal(t, "acme", entry.Target)
		values := append([]string{entry.ID, entry.Actor, string(entry.TenantID), entry.Action, entry.Target, entry.RequestID}, entry.Changed...)
		for _, v := range values {
			for _, s := range secrets {
				assert.NotContains(t, v, s)
				assert.NotContains(t, v, "SUPERSECRET")
			}
		}
	}
}

func TestManageTenantsSetStatus(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	a := newAdmins(e)
	ctx := context.Background()
	m := e.manageTenants(false)

	_, err := m.SetStatus(ctx, a.acmeAdmin, "acme", domain.TenantSuspended)
	requireKind(t, domain.KindForbidden, err)

	got, err := m.SetStatus(ctx, a.root, "acme", domain.TenantSuspended)
	require.NoError(t, err)
	assert.Equal(t, domain.TenantSuspended, got.Status)
	_, err = e.resolveTenant().Execute(ctx, a.acmeMember.Principal)
	assert.ErrorIs(t, err, domain.ErrTenantSuspended)
	assert.Equal(t, []string{"status"}, e.auditLog()[0].Changed)

	_, err = m.SetStatus(ctx, a.root, "acme", domain.TenantActive)
	require.NoError(t, err)
	_, err = e.resolveTenant().Execute(ctx, a.acmeMember.Principal)
	assert.NoError(t, err)

	_, err = m.SetStatus(ctx, a.root, "acme", "paused")
	requireKind(t, domain.KindInvalid, err)
}

func TestManageTenantsDelete(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	a := newAdmins(e)
	m := e.manageTenants(false)
	acmeAdmin := tenantCtx(e.storedUser(a.acmeAdmin.Principal.UserID), e.updateTenant("acme", func(*domain.Tenant) {}))
	doc, err := e.ingest().Execute(ctx, application.IngestInput{Tenant: acmeAdmin, Title: "Refunds", Text: refundPolicy})
	require.NoError(t, err)
	globexAdmin := tenantCtx(e.user("admin@globex.test", domain.RoleTenantAdmin, "globex"), e.updateTenant("globex", func(*domain.Tenant) {}))
	globexDoc, err := e.ingest().Execute(ctx, application.IngestInput{Tenant: globexAdmin, Title: "Refunds", Text: refundPolicy})
	require.NoError(t, err)
	_, err = collect(t, e.streamChat().Execute(ctx, application.ChatInput{Tenant: acmeAdmin, Message: "Gift cards?"}))
	require.NoError(t, err)
	tok, err := e.login().Execute(ctx, application.LoginInput{Email: "member@acme.test", Password: password, ClientIP: "10.0.0.1"})
	require.NoError(t, err)

	err = m.Delete(ctx, a.root, "acme")
	requireKind(t, domain.KindConflict, err)
	_, err = e.db.Tenants().Get(ctx, "acme")
	require.NoError(t, err, "an active tenant is not deleted")
	_, err = m.SetStatus(ctx, a.root, "acme", domain.TenantSuspended)
	require.NoError(t, err)
	requireKind(t, domain.KindForbidden, m.Delete(ctx, a.acmeAdmin, "acme"))

	require.NoError(t, m.Delete(ctx, a.root, "acme"))

	_, err = e.db.Tenants().Get(ctx, "acme")
	requireKind(t, domain.KindNotFound, err)
	requireKind(t, domain.KindNotFound, m.Delete(ctx, a.root, "acme"))
	member := e.storedUser(a.acmeMember.Principal.UserID)
	assert.Empty(t, member.TenantID, "users are unassigned")
	assert.Greater(t, member.TokenVersion, a.acmeMember.Principal.TokenVersion)
	_, err = e.authenticate().Execute(ctx, tok.AccessToken)
	assert.ErrorIs(t, err, domain.ErrInvalidToken)
	_, err = e.refresh().Execute(ctx, tok.RefreshToken)
	assert.ErrorIs(t, err, domain.ErrInvalidRefreshToken)
	_, err = e.db.Documents().Get(ctx, "acme", doc.ID)
	requireKind(t, domain.KindNotFound, err)
	assert.Empty(t, e.storedChunks("acme"))
	assert.Empty(t, e.search("acme", "gift cards refundable"))
	used, err := e.db.Usage().Totals(ctx, "acme", domain.MonthStart(e.clock.Now()))
	require.NoError(t, err)
	assert.Zero(t, used.Tokens())
	assert.Equal(t, "tenant.delete", e.auditLog()[0].Action)

	_, err = e.db.Documents().Get(ctx, "globex", globexDoc.ID)
	assert.NoError(t, err, "other tenants keep their documents")
	assert.Len(t, e.storedChunks("globex"), globexDoc.Chunks)
}

// undroppableIndex is a vector index whose DropTenant fails as an unreachable vendor's.
type undroppableIndex struct{ ports.VectorIndex }

func (undroppableIndex) DropTenant(context.Context, domain.TenantID) error {
	return domain.ErrUnavailable.With(errors.New("index unreachable"))
}

func TestManageTenantsDeleteKeepsTheTenantWhenVectorsCannotBeDropped(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	a := newAdmins(e)
	_, err := e.manageTenants(false).SetStatus(ctx, a.root, "acme", domain.TenantSuspended)
	require.NoError(t, err)
	e.vendors.index = undroppableIndex{e.index}

	err = e.manageTenants(false).Delete(ctx, a.root, "acme")

	requireKind(t, domain.KindUnavailable, err)
	_, err = e.db.Tenants().Get(ctx, "acme")
	assert.NoError(t, err, "the tenant stays, so the delete can be retried")
	assert.NotEqual(t, "tenant.delete", e.auditLog()[0].Action)
}
