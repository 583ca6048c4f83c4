package application_test

import (
	"context"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/domain"
)

// checkRecorder answers Vendors.Check with err and records each tenant it was asked
// about.
type checkRecorder struct {
	mu   sync.Mutex
	seen []domain.Tenant
	err  error
}

func (c *checkRecorder) check(t domain.Tenant) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seen = append(c.seen, t)
	return c.err
}

func (c *checkRecorder) asked() []domain.Tenant {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]domain.Tenant{}, c.seen...)
}

func TestManageTenantsUpdateChecksVectorChangesBeforeStoring(t *testing.T) {
	t.Parallel()
	pinecone := domain.TenantPatch{VectorProvider: ptr(domain.VectorPinecone), IndexHost: ptr("https://idx-acme.svc.pinecone.io"),
		VectorAPIKey: ptr(domain.Secret("pcsk-acme-0123456789")), EmbedderDims: ptr(1536)}
	refused := domain.Invalid(domain.FieldError{Field: "embedder.dimensions", Message: "is 1536 but the Pinecone index has dimension 384"})
	tests := []struct {
		name      string
		patch     domain.TenantPatch
		checkErr  error
		wantAsked bool
		wantKind  domain.Kind // KindInternal (the zero value) with wantErr false: accepted
		wantErr   bool
		wantField string
	}{
		{name: "accepted vector change", patch: pinecone, wantAsked: true},
		{name: "refused vector change", patch: pinecone, checkErr: refused, wantAsked: true,
			wantErr: true, wantKind: domain.KindInvalid, wantField: "embedder.dimensions"},
		{name: "vendor unreachable", patch: pinecone, checkErr: domain.ErrUnavailable, wantAsked: true,
			wantErr: true, wantKind: domain.KindUnavailable},
		{name: "embedder key only", patch: domain.TenantPatch{EmbedderAPIKey: ptr(domain.Secret("sk-emb-0123456789"))},
			checkErr: refused, wantAsked: true, wantErr: true, wantKind: domain.KindInvalid, wantField: "embedder.dimensions"},
		{name: "prompt and model changes are not checked", checkErr: refused,
			patch: domain.TenantPatch{SystemPrompt: ptr("Be brief."), LLMAPIKey: ptr(domain.Secret("sk-llm-0123456789")), TopK: ptr(3)}},
		{name: "an invalid patch never reaches the vendor", wantErr: true, wantKind: domain.KindInvalid, wantField: "embedder.dimensions",
			patch: domain.TenantPatch{EmbedderDims: ptr(3)}},
		{name: "an http host never reaches the vendor", wantErr: true, wantKind: domain.KindInvalid, wantField: "vector_store.index_host",
			patch: domain.TenantPatch{VectorProvider: ptr(domain.VectorPinecone), IndexHost: ptr("http://169.254.169.254")}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			a := newAdmins(e)
			ctx := context.Background()
			rec := &checkRecorder{err: tc.checkErr}
			e.vendors.check = rec.check
			before, err := e.db.Tenants().Get(ctx, "acme")
			require.NoError(t, err)
			audits := len(e.auditLog())

			got, err := e.manageTenants(false).Update(ctx, a.root, "acme", tc.patch)

			if tc.wantAsked {
				require.Len(t, rec.asked(), 1)
				want := before
				require.NoError(t, tc.patch.Apply(&want))
				asked := rec.asked()[0]
				assert.Equal(t, want.VectorStore, asked.VectorStore, "Check sees the patched configuration")
				assert.Equal(t, want.Embedder, asked.Embedder)
			} else {
				assert.Empty(t, rec.asked(), "the vendors were asked about a change that does not touch them")
			}
			stored, gerr := e.db.Tenants().Get(ctx, "acme")
			require.NoError(t, gerr)
			if tc.wantErr {
				requireKind(t, tc.wantKind, err)
				if tc.wantField != "" {
					assert.Contains(t, fieldNames(err), tc.wantField)
				}
				assert.Equal(t, before, stored, "a refused configuration was stored")
				assert.Len(t, e.auditLog(), audits, "a refused change was audited")
				return
			}
			require.NoError(t, err)
			assert.Equal(t, got, stored)
			assert.Len(t, e.auditLog(), audits+1)
		})
	}
}

func TestManageTenantsUpdateTenantAdminKeyChangeIsChecked(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	a := newAdmins(e)
	ctx := context.Background()
	rec := &checkRecorder{}
	e.vendors.check = rec.check
	m := e.manageTenants(false)
	_, err := m.Update(ctx, a.root, "acme", domain.TenantPatch{VectorProvider: ptr(domain.VectorPinecone),
		IndexHost: ptr("https://idx-acme.svc.pinecone.io"), VectorAPIKey: ptr(domain.Secret("pcsk-old-0123456789"))})
	require.NoError(t, err)

	rec.err = domain.Invalid(domain.FieldError{Field: "vector_store.api_key", Message: "was rejected by Pinecone for this index"})
	_, err = m.Update(ctx, a.acmeAdmin, "acme", domain.TenantPatch{VectorAPIKey: ptr(domain.Secret("pcsk-new-0123456789"))})

	requireKind(t, domain.KindInvalid, err)
	assert.Equal(t, []string{"vector_store.api_key"}, fieldNames(err))
	asked := rec.asked()
	require.Len(t, asked, 2)
	assert.Equal(t, "pcsk-new-0123456789", asked[1].VectorStore.APIKey.Reveal(), "the new key was checked")
	stored, err := e.db.Tenants().Get(ctx, "acme")
	require.NoError(t, err)
	assert.Equal(t, "pcsk-old-0123456789", stored.VectorStore.APIKey.Reveal(), "the rejected key replaced the old one")
}

func TestManageTenantsUpdateRefusesWhenTheCheckedConfigurationChangedMeanwhile(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	a := newAdmins(e)
	ctx := context.Background()
	// Another admin moves the namespace while the vendor is being asked.
	e.vendors.check = func(domain.Tenant) error {
		_, err := e.db.Tenants().Update(ctx, "acme", func(t *domain.Tenant) error {
			t.VectorStore.Namespace = "acme-moved"
			return nil
		})
		return err
	}

	_, err := e.manageTenants(false).Update(ctx, a.root, "acme", domain.TenantPatch{EmbedderDims: ptr(768)})

	requireKind(t, domain.KindConflict, err)
	stored, gerr := e.db.Tenants().Get(ctx, "acme")
	require.NoError(t, gerr)
	assert.Equal(t, "acme-moved", stored.VectorStore.Namespace, "the concurrent change was lost")
	assert.Equal(t, domain.DefaultDimensions, stored.Embedder.Dimensions, "an unchecked configuration was stored")
}
