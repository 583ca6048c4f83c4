package porttest

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/domain"
)

func normTenant(tn domain.Tenant) domain.Tenant {
	tn.CreatedAt = utc(tn.CreatedAt)
	tn.UpdatedAt = utc(tn.UpdatedAt)
	return tn
}

func normTenants(ts []domain.Tenant) []domain.Tenant {
	out := make([]domain.Tenant, 0, len(ts))
	for _, tn := range ts {
		out = append(out, normTenant(tn))
	}
	return out
}

func tenantIDs(ts []domain.Tenant) []domain.TenantID {
	ids := make([]domain.TenantID, 0, len(ts))
	for _, tn := range ts {
		ids = append(ids, tn.ID)
	}
	return ids
}

// fullTenant returns a tenant with every field set to a non-default value, secrets
// included.
func fullTenant(id string) domain.Tenant {
	return domain.Tenant{
		ID:           domain.TenantID(id),
		Name:         "Acme Corp " + id,
		Status:       domain.TenantSuspended,
		SystemPrompt: "You answer questions about Acme's products.",
		Retrieval:    domain.RetrievalSettings{TopK: 7, MinScore: 0.25},
		VectorStore: domain.VectorStoreSettings{
			Provider:  domain.VectorPinecone,
			IndexHost: "https://acme-index.svc.pinecone.io",
			Namespace: "acme-ns",
			APIKey:    "pc-secret-key-0123456789",
		},
		Embedder: domain.EmbedderSettings{
			Provider:   domain.EmbedderOpenAI,
			Model:      "text-embedding-3-small",
			Dimensions: 1536,
			APIKey:     "sk-embed-secret-abcdef",
		},
		LLM: domain.LLMSettings{
			Provider:       domain.LLMOpenAI,
			BaseURL:        "https://llm.example.com/v1",
			Model:          "gpt-4o-mini",
			Temperature:    ptr(0.7),
			MaxTokens:      1024,
			MaxTokensParam: domain.MaxTokensParamMaxCompletionTokens,
			APIKey:         "sk-llm-secret-ghijkl",
		},
		Limits:    domain.Limits{RequestsPerMinute: 120, MonthlyTokenQuota: 5_000_000, MaxConcurrentStreams: 4},
		CreatedAt: at(-48 * time.Hour),
		UpdatedAt: at(-time.Hour),
	}
}

// TenantStore tests a ports.TenantStore, including the cascade of Delete into the other
// stores of the same backend.
func TenantStore(t *testing.T, newStores NewStores) {
	t.Run("create then get round-trips every field including secrets", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, newStores)
		want := fullTenant("acme")
		require.NoError(t, f.s.Tenants.Create(f.ctx, want))

		got, err := f.s.Tenants.Get(f.ctx, want.ID)
		require.NoError(t, err)
		assert.Equal(t, normTenant(want), normTenant(got))
		assert.Equal(t, "pc-secret-key-0123456789", got.VectorStore.APIKey.Reveal())
		assert.Equal(t, "sk-embed-secret-abcdef", got.Embedder.APIKey.Reveal())
		assert.Equal(t, "sk-llm-secret-ghijkl", got.LLM.APIKey.Reveal())
	})

	t.Run("unset secrets come back unset", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, newStores)
		want := f.tenant("plain")
		got, err := f.s.Tenants.Get(f.ctx, want.ID)
		require.NoError(t, err)
		assert.Equal(t, normTenant(want), normTenant(got))
		assert.False(t, got.LLM.APIKey.IsSet())
		assert.False(t, got.Embedder.APIKey.IsSet())
		assert.False(t, got.VectorStore.APIKey.IsSet())
	})

	t.Run("create with an existing id is Conflict and keeps the first", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, newStores)
		first := f.tenant("acme")
		second := fullTenant("acme")
		requireKind(t, domain.KindConflict, f.s.Tenants.Create(f.ctx, second))

		got, err := f.s.Tenants.Get(f.ctx, first.ID)
		require.NoError(t, err)
		assert.Equal(t, normTenant(first), normTenant(got))
	})

	t.Run("get unknown id is NotFound", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, newStores)
		f.tenant("acme")
		_, err := f.s.Tenants.Get(f.ctx, "nobody")
		requireKind(t, domain.KindNotFound, err)
	})

	t.Run("list orders by id and pages", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, newStores)
		for _, id := range []string{"delta", "alpha", "charlie", "bravo", "echo"} {
			f.tenant(id)
		}
		cases := []struct {
			name string
			page domain.Page
			want []domain.TenantID
		}{
			{name: "all", page: domain.Page{Limit: 10}, want: []domain.TenantID{"alpha", "bravo", "charlie", "delta", "echo"}},
			{name: "first page", page: domain.Page{Limit: 2}, want: []domain.TenantID{"alpha", "bravo"}},
			{name: "second page", page: domain.Page{Limit: 2, Offset: 2}, want: []domain.TenantID{"charlie", "delta"}},
			{name: "last partial page", page: domain.Page{Limit: 2, Offset: 4}, want: []domain.TenantID{"echo"}},
			{name: "past the end", page: domain.Page{Limit: 2, Offset: 9}, want: []domain.TenantID{}},
		}
		for _, tc := range cases {
			got, err := f.s.Tenants.List(f.ctx, tc.page)
			require.NoError(t, err, tc.name)
			assert.Equal(t, tc.want, tenantIDs(got), tc.name)
		}
	})

	t.Run("list returns secrets decrypted", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, newStores)
		want := fullTenant("acme")
		require.NoError(t, f.s.Tenants.Create(f.ctx, want))
		got, err := f.s.Tenants.List(f.ctx, domain.Page{Limit: 10})
		require.NoError(t, err)
		assert.Equal(t, []domain.Tenant{normTenant(want)}, normTenants(got))
	})

	t.Run("list of an empty store is empty", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, newStores)
		got, err := f.s.Tenants.List(f.ctx, domain.Page{})
		require.NoError(t, err)
		assert.Empty(t, got)
	})

	tenantUpdate(t, newStores)
	tenantDelete(t, newStores)
}

func tenantUpdate(t *testing.T, newStores NewStores) {
	t.Run("update applies fn, stores and returns the result", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, newStores)
		f.tenant("acme")
		other := f.tenant("globex")

		got, err := f.s.Tenants.Update(f.ctx, "acme", func(tn *domain.Tenant) error {
			tn.Name = "Acme Renamed"
			tn.Status = domain.TenantSuspended
			tn.LLM.APIKey = "sk-new-secret-value"
			tn.Limits.RequestsPerMinute = 60
			tn.Touch(at(time.Hour))
			return nil
		})
		require.NoError(t, err)
		assert.Equal(t, "Acme Renamed", got.Name)

		stored, err := f.s.Tenants.Get(f.ctx, "acme")
		require.NoError(t, err)
		assert.Equal(t, normTenant(got), normTenant(stored))
		assert.Equal(t, domain.TenantSuspended, stored.Status)
		assert.Equal(t, "sk-new-secret-value", stored.LLM.APIKey.Reveal())
		assert.Equal(t, 60, stored.Limits.RequestsPerMinute)
		assert.Equal(t, utc(at(time.Hour)), utc(stored.UpdatedAt))

		untouched, err := f.s.Tenants.Get(f.ctx, other.ID)
		require.NoError(t, err)
		assert.Equal(t, normTenant(other), normTenant(untouched), "another tenant changed")
	})

	t.Run("update passes the stored tenant to fn", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, newStores)
		want := fullTenant("acme")
		require.NoError(t, f.s.Tenants.Create(f.ctx, want))
		var seen domain.Tenant
		_, err := f.s.Tenants.Update(f.ctx, "acme", func(tn *domain.Tenant) error {
			seen = *tn
			return nil
		})
		require.NoError(t, err)
		assert.Equal(t, normTenant(want), normTenant(seen))
	})

	t.Run("update error from fn aborts and is returned unchanged", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, newStores)
		want := f.tenant("acme")
		boom := errors.New("boom")
		_, err := f.s.Tenants.Update(f.ctx, "acme", func(tn *domain.Tenant) error {
			tn.Name = "Should Not Stick"
			return boom
		})
		require.ErrorIs(t, err, boom)

		got, err := f.s.Tenants.Get(f.ctx, "acme")
		require.NoError(t, err)
		assert.Equal(t, normTenant(want), normTenant(got))
	})

	t.Run("update unknown id is NotFound", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, newStores)
		called := false
		_, err := f.s.Tenants.Update(f.ctx, "nobody", func(*domain.Tenant) error {
			called = true
			return nil
		})
		requireKind(t, domain.KindNotFound, err)
		assert.False(t, called, "fn ran for an unknown tenant")
	})

	t.Run("concurrent updates are atomic", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, newStores)
		f.tenant("acme")
		const n = 8
		var wg sync.WaitGroup
		errs := make(chan error, n)
		for range n {
			wg.Go(func() {
				_, err := f.s.Tenants.Update(f.ctx, "acme", func(tn *domain.Tenant) error {
					tn.Limits.RequestsPerMinute++
					return nil
				})
				errs <- err
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			require.NoError(t, err)
		}
		got, err := f.s.Tenants.Get(f.ctx, "acme")
		require.NoError(t, err)
		assert.Equal(t, n, got.Limits.RequestsPerMinute, "an update was lost")
	})
}

func tenantDelete(t *testing.T, newStores NewStores) {
	t.Run("delete unknown id is NotFound", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, newStores)
		f.tenant("acme")
		requireKind(t, domain.KindNotFound, f.s.Tenants.Delete(f.ctx, "nobody"))
		_, err := f.s.Tenants.Get(f.ctx, "acme")
		require.NoError(t, err)
	})

	t.Run("delete removes the tenant and everything under it, and only that", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, newStores)
		a := newTenantWorld(f, "acme")
		b := newTenantWorld(f, "globex")
		loner := f.user("", "loner@example.com")

		require.NoError(t, f.s.Tenants.Delete(f.ctx, a.tenant.ID))

		_, err := f.s.Tenants.Get(f.ctx, a.tenant.ID)
		requireKind(t, domain.KindNotFound, err)
		list, err := f.s.Tenants.List(f.ctx, domain.Page{Limit: 100})
		require.NoError(t, err)
		assert.Equal(t, []domain.TenantID{b.tenant.ID}, tenantIDs(list))

		a.assertGone(t, f)
		b.assertIntact(t, f)

		got, err := f.s.Users.Get(f.ctx, loner.ID)
		require.NoError(t, err)
		assert.Equal(t, normUser(loner), normUser(got), "a user without tenant changed")
	})

	t.Run("a deleted tenant's id can be created again, empty", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, newStores)
		a := newTenantWorld(f, "acme")
		require.NoError(t, f.s.Tenants.Delete(f.ctx, a.tenant.ID))
		f.tenant("acme")
		docs, err := f.s.Documents.List(f.ctx, "acme", domain.Page{Limit: 100})
		require.NoError(t, err)
		assert.Empty(t, docs)
		chunks, err := f.s.Chunks.LoadChunks(f.ctx, "acme")
		require.NoError(t, err)
		assert.Empty(t, chunks)
		totals, err := f.s.Usage.Totals(f.ctx, "acme", at(-24*time.Hour))
		require.NoError(t, err)
		assert.Zero(t, totals.Requests)
	})
}

// tenantWorld is a tenant with a row in every tenant-scoped store.
type tenantWorld struct {
	tenant domain.Tenant
	admin  domain.User
	member domain.User
	doc    domain.Document
	chunks []domain.Chunk
	conv   domain.Conversation
	msgs   []domain.Message
	usage  domain.UsageRecord
}

func newTenantWorld(f *fixture, id string) tenantWorld {
	f.t.Helper()
	w := tenantWorld{tenant: f.tenant(id)}
	w.admin = f.userWithRole(w.tenant.ID, "admin@"+id+".example.com", domain.RoleTenantAdmin)
	w.member = f.user(w.tenant.ID, "member@"+id+".example.com")
	w.doc = document(w.tenant.ID, "ext-1", "Handbook of "+id, at(time.Minute))
	w.chunks = []domain.Chunk{chunk(w.doc.ID, 0, "first part"), chunk(w.doc.ID, 1, "second part", 0, 1, 0, 0)}
	f.save(w.doc, w.chunks...)
	w.conv = f.conversation(w.tenant.ID, w.member.ID, "Question of "+id, at(2*time.Minute))
	w.msgs = []domain.Message{
		message(w.conv.ID, domain.MessageUser, "hello", at(3*time.Minute)),
		message(w.conv.ID, domain.MessageAssistant, "hi there", at(4*time.Minute)),
	}
	require.NoError(f.t, f.s.Conversations.Append(f.ctx, w.tenant.ID, w.conv.ID, w.msgs...))
	w.usage = domain.UsageRecord{TenantID: w.tenant.ID, UserID: w.member.ID, Model: "extractive", PromptTokens: 10, CompletionTokens: 5, At: at(5 * time.Minute)}
	require.NoError(f.t, f.s.Usage.Record(f.ctx, w.usage))
	return w
}

func (w tenantWorld) assertGone(t *testing.T, f *fixture) {
	t.Helper()
	for _, u := range []domain.User{w.admin, w.member} {
		got, err := f.s.Users.Get(f.ctx, u.ID)
		require.NoError(t, err, "a user of a deleted tenant must stay, unassigned")
		assert.Empty(t, got.TenantID, "user %s still has the deleted tenant", u.Email)
		assert.Greater(t, got.TokenVersion, u.TokenVersion, "user %s kept its token version", u.Email)
		assert.NotEqual(t, domain.RoleTenantAdmin, got.Role, "a tenant admin without a tenant is invalid (user %s)", u.Email)
		assert.NoError(t, got.Validate(), "user %s left invalid by the cascade", u.Email)
	}
	listed, err := f.s.Users.List(f.ctx, userFilter(w.tenant.ID), domain.Page{Limit: 100})
	require.NoError(t, err)
	assert.Empty(t, listed, "users still listed under the deleted tenant")

	_, err = f.s.Documents.Get(f.ctx, w.tenant.ID, w.doc.ID)
	requireKind(t, domain.KindNotFound, err)
	docs, err := f.s.Documents.List(f.ctx, w.tenant.ID, domain.Page{Limit: 100})
	require.NoError(t, err)
	assert.Empty(t, docs)

	chunks, err := f.s.Chunks.LoadChunks(f.ctx, w.tenant.ID)
	require.NoError(t, err)
	assert.Empty(t, chunks)

	_, err = f.s.Conversations.Get(f.ctx, w.tenant.ID, w.member.ID, w.conv.ID)
	requireKind(t, domain.KindNotFound, err)
	_, err = f.s.Conversations.Messages(f.ctx, w.tenant.ID, w.conv.ID, 10)
	requireKind(t, domain.KindNotFound, err)
	convs, err := f.s.Conversations.List(f.ctx, w.tenant.ID, w.member.ID, domain.Page{Limit: 100})
	require.NoError(t, err)
	assert.Empty(t, convs)

	totals, err := f.s.Usage.Totals(f.ctx, w.tenant.ID, at(-24*time.Hour))
	require.NoError(t, err)
	assert.Zero(t, totals.Requests)
	assert.Zero(t, totals.Tokens())
	all, err := f.s.Usage.AllTotals(f.ctx, at(-24*time.Hour))
	require.NoError(t, err)
	for _, tot := range all {
		if tot.TenantID == w.tenant.ID {
			assert.Zero(t, tot.Requests, "usage of the deleted tenant still summed")
		}
	}
}

func (w tenantWorld) assertIntact(t *testing.T, f *fixture) {
	t.Helper()
	tn, err := f.s.Tenants.Get(f.ctx, w.tenant.ID)
	require.NoError(t, err)
	assert.Equal(t, normTenant(w.tenant), normTenant(tn))
	for _, u := range []domain.User{w.admin, w.member} {
		got, err := f.s.Users.Get(f.ctx, u.ID)
		require.NoError(t, err)
		assert.Equal(t, normUser(u), normUser(got))
	}
	doc, err := f.s.Documents.Get(f.ctx, w.tenant.ID, w.doc.ID)
	require.NoError(t, err)
	assert.Equal(t, normDocument(w.doc), normDocument(doc))
	chunks, err := f.s.Chunks.LoadChunks(f.ctx, w.tenant.ID)
	require.NoError(t, err)
	assert.Equal(t, w.chunks, chunks)
	conv, err := f.s.Conversations.Get(f.ctx, w.tenant.ID, w.member.ID, w.conv.ID)
	require.NoError(t, err)
	assert.Equal(t, w.conv.ID, conv.ID)
	msgs, err := f.s.Conversations.Messages(f.ctx, w.tenant.ID, w.conv.ID, 10)
	require.NoError(t, err)
	assert.Equal(t, normMessages(w.msgs), normMessages(msgs))
	totals, err := f.s.Usage.Totals(f.ctx, w.tenant.ID, at(-24*time.Hour))
	require.NoError(t, err)
	assert.Equal(t, int64(1), totals.Requests)
	assert.Equal(t, int64(15), totals.Tokens())
}
