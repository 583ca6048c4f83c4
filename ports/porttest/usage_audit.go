package porttest

import (
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/domain"
)

// UsageStore tests a ports.UsageStore.
func UsageStore(t *testing.T, newStores NewStores) {
	t.Run("a tenant without usage totals zero", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, newStores)
		f.tenant("acme")
		got, err := f.s.Usage.Totals(f.ctx, "acme", at(0))
		require.NoError(t, err)
		assert.Equal(t, domain.TenantID("acme"), got.TenantID)
		assert.Zero(t, got.Requests)
		assert.Zero(t, got.PromptTokens)
		assert.Zero(t, got.CompletionTokens)
		assert.Zero(t, got.ReadUnits)
	})

	t.Run("totals sum the tenant's records since the instant, inclusive", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, newStores)
		f.tenant("acme")
		f.tenant("globex")
		pat := f.user("acme", "pat@example.com")
		sam := f.user("acme", "sam@example.com")
		gus := f.user("globex", "gus@example.com")
		since := at(0)
		records := []domain.UsageRecord{
			{TenantID: "acme", UserID: pat.ID, Model: "gpt", PromptTokens: 1000, CompletionTokens: 1000, ReadUnits: 1000, At: since.Add(-time.Second)},
			{TenantID: "acme", UserID: pat.ID, Model: "gpt", PromptTokens: 100, CompletionTokens: 20, ReadUnits: 3, At: since},
			{TenantID: "acme", UserID: sam.ID, Model: "extractive", PromptTokens: 50, CompletionTokens: 5, ReadUnits: 1, At: since.Add(time.Hour)},
			{TenantID: "acme", UserID: pat.ID, Model: "embed", PromptTokens: 7, Estimated: true, At: since.Add(48 * time.Hour)},
			{TenantID: "globex", UserID: gus.ID, Model: "gpt", PromptTokens: 9000, CompletionTokens: 9000, ReadUnits: 90, At: since.Add(time.Hour)},
		}
		for _, r := range records {
			require.NoError(t, f.s.Usage.Record(f.ctx, r))
		}
		got, err := f.s.Usage.Totals(f.ctx, "acme", since)
		require.NoError(t, err)
		assert.Equal(t, domain.TenantID("acme"), got.TenantID)
		assert.Equal(t, int64(157), got.PromptTokens)
		assert.Equal(t, int64(25), got.CompletionTokens)
		assert.Equal(t, int64(4), got.ReadUnits)
		assert.Equal(t, int64(3), got.Requests)
		assert.Equal(t, int64(182), got.Tokens())
		assert.Equal(t, int64(7), got.EstimatedTokens, "the tokens of records marked estimated")
	})

	t.Run("concurrent records are all counted", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, newStores)
		f.tenant("acme")
		u := f.user("acme", "pat@example.com")
		const n = 8
		var wg sync.WaitGroup
		for range n {
			wg.Go(func() {
				r := domain.UsageRecord{TenantID: "acme", UserID: u.ID, Model: "gpt", PromptTokens: 3, CompletionTokens: 1, At: at(time.Minute)}
				assert.NoError(t, f.s.Usage.Record(f.ctx, r))
			})
		}
		wg.Wait()
		got, err := f.s.Usage.Totals(f.ctx, "acme", at(0))
		require.NoError(t, err)
		assert.Equal(t, int64(n), got.Requests)
		assert.Equal(t, int64(4*n), got.Tokens())
	})

	t.Run("all totals sums every tenant, ordered by tenant", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, newStores)
		users := map[domain.TenantID]domain.UserID{}
		for _, id := range []string{"zulu", "acme", "mike", "idle"} {
			f.tenant(id)
			users[domain.TenantID(id)] = f.user(domain.TenantID(id), "user@"+id+".example.com").ID
		}
		since := at(0)
		records := []domain.UsageRecord{
			{TenantID: "zulu", Model: "gpt", PromptTokens: 1, CompletionTokens: 2, ReadUnits: 3, At: since.Add(time.Minute)},
			{TenantID: "acme", Model: "gpt", PromptTokens: 10, CompletionTokens: 20, At: since.Add(time.Minute)},
			{TenantID: "acme", Model: "gpt", PromptTokens: 10, CompletionTokens: 20, At: since.Add(2 * time.Minute)},
			{TenantID: "mike", Model: "gpt", PromptTokens: 5, At: since.Add(time.Minute)},
			{TenantID: "mike", Model: "gpt", PromptTokens: 500, At: since.Add(-time.Minute)},
		}
		for i := range records {
			records[i].UserID = users[records[i].TenantID]
		}
		for _, r := range records {
			require.NoError(t, f.s.Usage.Record(f.ctx, r))
		}
		all, err := f.s.Usage.AllTotals(f.ctx, since)
		require.NoError(t, err)
		require.True(t, sort.SliceIsSorted(all, func(i, j int) bool { return all[i].TenantID < all[j].TenantID }), "not ordered by tenant: %v", all)

		type sums struct{ prompt, completion, read, requests int64 }
		got := map[domain.TenantID]sums{}
		for _, tot := range all {
			_, dup := got[tot.TenantID]
			require.False(t, dup, "tenant %s listed twice", tot.TenantID)
			if tot.Requests > 0 {
				got[tot.TenantID] = sums{tot.PromptTokens, tot.CompletionTokens, tot.ReadUnits, tot.Requests}
			}
		}
		assert.Equal(t, map[domain.TenantID]sums{
			"acme": {20, 40, 0, 2},
			"mike": {5, 0, 0, 1},
			"zulu": {1, 2, 3, 1},
		}, got)
	})
}

func normAudit(e domain.AuditEntry) domain.AuditEntry {
	e.At = utc(e.At)
	if len(e.Changed) == 0 {
		e.Changed = nil
	}
	return e
}

func auditIDs(es []domain.AuditEntry) []string {
	out := make([]string, 0, len(es))
	for _, e := range es {
		out = append(out, e.ID)
	}
	return out
}

func (f *fixture) audit(tenant domain.TenantID, action string, when time.Time) domain.AuditEntry {
	f.t.Helper()
	e := domain.AuditEntry{ID: newID(), Actor: newID(), TenantID: tenant, Action: action, Target: "tenant/" + string(tenant), Changed: []string{"name"}, RequestID: "req-" + action, At: when}
	require.NoError(f.t, f.s.Audit.Append(f.ctx, e))
	return e
}

// AuditLog tests a ports.AuditLog.
func AuditLog(t *testing.T, newStores NewStores) {
	t.Run("append then list round-trips every field", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, newStores)
		f.tenant("acme")
		want := domain.AuditEntry{
			ID: newID(), Actor: newID(), TenantID: "acme", Action: "tenant.update", Target: "tenant/acme",
			Changed: []string{"llm.api_key", "system_prompt"}, RequestID: "req-123", At: at(time.Minute),
		}
		require.NoError(t, f.s.Audit.Append(f.ctx, want))
		got, err := f.s.Audit.List(f.ctx, "acme", domain.Page{Limit: 10})
		require.NoError(t, err)
		require.Len(t, got, 1)
		assert.Equal(t, normAudit(want), normAudit(got[0]))
	})

	t.Run("an entry without tenant or changed fields round-trips", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, newStores)
		want := domain.AuditEntry{ID: newID(), Actor: newID(), Action: "signing_key.rotate", Target: "key/k1", At: at(0)}
		require.NoError(t, f.s.Audit.Append(f.ctx, want))
		got, err := f.s.Audit.List(f.ctx, "", domain.Page{Limit: 10})
		require.NoError(t, err)
		require.Len(t, got, 1)
		assert.Equal(t, normAudit(want), normAudit(got[0]))
	})

	t.Run("list orders newest first, pages, and narrows to a tenant", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, newStores)
		f.tenant("acme")
		f.tenant("globex")
		a1 := f.audit("acme", "a1", at(0))
		g1 := f.audit("globex", "g1", at(time.Minute))
		a3 := f.audit("acme", "a3", at(3*time.Minute))
		p := f.audit("", "platform", at(4*time.Minute))
		a2 := f.audit("acme", "a2", at(2*time.Minute))

		cases := []struct {
			name   string
			tenant domain.TenantID
			page   domain.Page
			want   []string
		}{
			{name: "everything", page: domain.Page{Limit: 10}, want: []string{p.ID, a3.ID, a2.ID, g1.ID, a1.ID}},
			{name: "everything second page", page: domain.Page{Limit: 2, Offset: 2}, want: []string{a2.ID, g1.ID}},
			{name: "one tenant", tenant: "acme", page: domain.Page{Limit: 10}, want: []string{a3.ID, a2.ID, a1.ID}},
			{name: "one tenant paged", tenant: "acme", page: domain.Page{Limit: 2, Offset: 2}, want: []string{a1.ID}},
			{name: "the other tenant", tenant: "globex", page: domain.Page{Limit: 10}, want: []string{g1.ID}},
			{name: "past the end", tenant: "acme", page: domain.Page{Limit: 10, Offset: 3}, want: []string{}},
		}
		for _, tc := range cases {
			got, err := f.s.Audit.List(f.ctx, tc.tenant, tc.page)
			require.NoError(t, err, tc.name)
			assert.Equal(t, tc.want, auditIDs(got), tc.name)
		}
	})
}
