package porttest

import (
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/ports"
)

// NewLexicalIndex builds a fresh, empty index whose store already holds the tenants of
// IndexTenants. It is called once per subtest, and subtests run in parallel.
type NewLexicalIndex func(t *testing.T) ports.LexicalIndex

// LexicalIndex tests a ports.LexicalIndex: word matching with English analysis,
// ranking, k, replacement, deletion, Unicode text and strict tenant isolation.
func LexicalIndex(t *testing.T, newIndex NewLexicalIndex) {
	acme, globex := IndexTenants()[0], IndexTenants()[1]
	search := func(t *testing.T, x ports.LexicalIndex, tenant domain.TenantID, q string, k int) []domain.Passage {
		t.Helper()
		got, err := x.Search(t.Context(), tenant, q, k)
		require.NoError(t, err)
		require.NotNil(t, got.Passages, "no match is an empty slice, not nil")
		return got.Passages
	}
	upsert := func(t *testing.T, x ports.LexicalIndex, tenant domain.TenantID, chunks ...domain.Chunk) {
		t.Helper()
		require.NoError(t, x.Upsert(t.Context(), tenant, chunks))
	}
	text := func(d domain.DocumentID, index int, title, body string) domain.Chunk {
		return domain.Chunk{DocumentID: d, Index: index, Title: title, Text: body}
	}

	t.Run("an empty index finds nothing without error", func(t *testing.T) {
		t.Parallel()
		assert.Empty(t, search(t, newIndex(t), acme, "refund", 5))
	})

	t.Run("passages sharing words with the query come best first with every field", func(t *testing.T) {
		t.Parallel()
		x := newIndex(t)
		d1, d2 := twoDocIDs()
		upsert(t, x, acme,
			domain.Chunk{DocumentID: d1, Index: 0, Title: "Refund policy", Text: "You can ask for a refund within 30 days of your first payment.",
				Page: 2, Heading: "Refunds"},
			text(d1, 1, "Refund policy", "Invoices are sent by email every month."),
			text(d2, 0, "Shipping", "Parcels travel by lorry and arrive within three days."),
		)
		got := search(t, x, acme, "How long do I have to ask for a refund?", 10)
		require.NotEmpty(t, got)
		assert.Equal(t, hit{d1, 0}, hits(got)[0])
		assert.Equal(t, "Refund policy", got[0].Title)
		assert.Equal(t, "You can ask for a refund within 30 days of your first payment.", got[0].Text)
		assert.Equal(t, 2, got[0].Page)
		assert.Equal(t, "Refunds", got[0].Heading)
		assert.Positive(t, got[0].Score)
		for i := 1; i < len(got); i++ {
			assert.GreaterOrEqual(t, got[i-1].Score, got[i].Score, "best first")
		}
		assert.NotContains(t, hits(got), hit{d2, 0}, "a passage sharing no word is not found")
	})

	t.Run("words match across inflections and case", func(t *testing.T) {
		t.Parallel()
		x := newIndex(t)
		d1, _ := twoDocIDs()
		upsert(t, x, acme, text(d1, 0, "Billing", "REFUNDS are issued to the original payment method."))
		assert.Equal(t, []hit{{d1, 0}}, hits(search(t, x, acme, "refunded payments", 10)))
	})

	t.Run("the title is searched with every chunk of its document", func(t *testing.T) {
		t.Parallel()
		x := newIndex(t)
		d1, d2 := twoDocIDs()
		upsert(t, x, acme, text(d1, 3, "Zeppelin handbook", "Chapter three covers mooring."), text(d2, 0, "Other", "Nothing here."))
		assert.Equal(t, []hit{{d1, 3}}, hits(search(t, x, acme, "zeppelin", 10)))
	})

	t.Run("a rare word outweighs a common one", func(t *testing.T) {
		t.Parallel()
		x := newIndex(t)
		d1, d2 := twoDocIDs()
		upsert(t, x, acme,
			text(d1, 0, "A", "notes notes notes about the team"),
			text(d1, 1, "A", "notes for the team"),
			text(d1, 2, "A", "team notes"),
			text(d2, 0, "B", "encryption of notes"),
		)
		got := search(t, x, acme, "notes encryption", 10)
		require.NotEmpty(t, got)
		assert.Equal(t, hit{d2, 0}, hits(got)[0])
	})

	t.Run("a query of stop words or unknown words finds nothing", func(t *testing.T) {
		t.Parallel()
		x := newIndex(t)
		d1, _ := twoDocIDs()
		upsert(t, x, acme, text(d1, 0, "Policy", "This is the policy of the company."))
		assert.Empty(t, search(t, x, acme, "the of is this", 10))
		assert.Empty(t, search(t, x, acme, "xylophone", 10))
		assert.Empty(t, search(t, x, acme, "", 10))
	})

	t.Run("search returns at most k passages, ties by document id then chunk", func(t *testing.T) {
		t.Parallel()
		x := newIndex(t)
		d1, d2 := twoDocIDs()
		upsert(t, x, acme, text(d2, 1, "T", "lorry"), text(d1, 2, "T", "lorry"), text(d2, 0, "T", "lorry"), text(d1, 0, "T", "lorry"))
		assert.Equal(t, []hit{{d1, 0}, {d1, 2}, {d2, 0}, {d2, 1}}, hits(search(t, x, acme, "lorry", 10)))
		assert.Equal(t, []hit{{d1, 0}, {d1, 2}}, hits(search(t, x, acme, "lorry", 2)))
		assert.Empty(t, search(t, x, acme, "lorry", 0))
	})

	t.Run("Unicode text: accents, and CJK written without spaces", func(t *testing.T) {
		t.Parallel()
		x := newIndex(t)
		d1, d2 := twoDocIDs()
		upsert(t, x, acme, text(d1, 0, "Crème", "La crème brûlée est servie froide."), text(d2, 0, "返金", "返金は三十日以内に申請してください。"))
		assert.Equal(t, []hit{{d1, 0}}, hits(search(t, x, acme, "brûlée", 10)))
		assert.Equal(t, []hit{{d2, 0}}, hits(search(t, x, acme, "三十日以内", 10)))
	})

	t.Run("upsert replaces the chunk with the same document and index", func(t *testing.T) {
		t.Parallel()
		x := newIndex(t)
		d1, _ := twoDocIDs()
		upsert(t, x, acme, text(d1, 0, "Old", "zeppelin"), text(d1, 1, "Old", "zeppelin too"))
		upsert(t, x, acme, text(d1, 0, "New title", "lorry"))
		assert.Equal(t, []hit{{d1, 1}}, hits(search(t, x, acme, "zeppelin", 10)))
		got := search(t, x, acme, "lorry", 10)
		require.Equal(t, []hit{{d1, 0}}, hits(got))
		assert.Equal(t, "New title", got[0].Title)
	})

	t.Run("delete document removes all its chunks only; unknown is not an error", func(t *testing.T) {
		t.Parallel()
		x := newIndex(t)
		d1, d2 := twoDocIDs()
		upsert(t, x, acme, text(d1, 0, "A", "lorry"), text(d1, 1, "A", "lorry"), text(d2, 0, "B", "lorry"))
		require.NoError(t, x.DeleteDocument(t.Context(), acme, d1))
		require.NoError(t, x.DeleteDocument(t.Context(), acme, d1))
		require.NoError(t, x.DeleteDocument(t.Context(), globex, d2))
		assert.Equal(t, []hit{{d2, 0}}, hits(search(t, x, acme, "lorry", 10)))
	})

	t.Run("many deletions leave exactly the rest", func(t *testing.T) {
		t.Parallel()
		x := newIndex(t)
		ids := make([]domain.DocumentID, 200)
		for i := range ids {
			ids[i] = domain.DocumentID(newID())
			upsert(t, x, acme, text(ids[i], 0, "T", "lorry parcel"))
		}
		for _, id := range ids[:150] {
			require.NoError(t, x.DeleteDocument(t.Context(), acme, id))
		}
		got := search(t, x, acme, "lorry", 500)
		assert.Len(t, got, 50)
		assert.NotContains(t, docsOf(got), ids[0])
		assert.Contains(t, docsOf(got), ids[199])
	})

	t.Run("drop tenant removes all of its chunks and nothing else", func(t *testing.T) {
		t.Parallel()
		x := newIndex(t)
		d1, d2 := twoDocIDs()
		g := domain.DocumentID(newID()) // document ids are unique across tenants (DocumentStore)
		upsert(t, x, acme, text(d1, 0, "A", "lorry"), text(d2, 0, "B", "lorry"))
		upsert(t, x, globex, text(g, 0, "G", "lorry"))
		require.NoError(t, x.DropTenant(t.Context(), acme))
		assert.Empty(t, search(t, x, acme, "lorry", 10))
		got := search(t, x, globex, "lorry", 10)
		require.Equal(t, []hit{{g, 0}}, hits(got))
		assert.Equal(t, "G", got[0].Title)
	})

	t.Run("tenants never see or change each other's chunks", func(t *testing.T) {
		t.Parallel()
		x := newIndex(t)
		mine, theirs := twoDocIDs()
		other := domain.DocumentID(newID()) // document ids are unique across tenants (DocumentStore)
		upsert(t, x, globex, text(theirs, 0, "Secret", "globex merger plans lorry"), text(other, 0, "Other", "globex lorry lorry"))
		upsert(t, x, acme, text(mine, 0, "Mine", "acme lorry"))
		got := search(t, x, acme, "globex merger lorry", 10)
		require.Equal(t, []hit{{mine, 0}}, hits(got))
		assert.Equal(t, "acme lorry", got[0].Text)
		require.NoError(t, x.DeleteDocument(t.Context(), acme, mine))
		require.Len(t, search(t, x, globex, "lorry", 10), 2, "acme's delete touched globex's chunks")
	})

	t.Run("concurrent writes and searches are safe", func(t *testing.T) {
		t.Parallel()
		x := newIndex(t)
		var wg sync.WaitGroup
		for w := range 4 {
			wg.Go(func() {
				for i := range 10 {
					d := domain.DocumentID(newID())
					assert.NoError(t, x.Upsert(t.Context(), IndexTenants()[w%2], []domain.Chunk{text(d, 0, "T", "lorry parcel")}))
					_, err := x.Search(t.Context(), IndexTenants()[(w+i)%2], "lorry", 5)
					assert.NoError(t, err)
				}
			})
		}
		wg.Wait()
		assert.Len(t, search(t, x, acme, "parcel", 100), 20)
		assert.Len(t, search(t, x, globex, "parcel", 100), 20)
	})
}

func docsOf(ps []domain.Passage) []domain.DocumentID {
	out := make([]domain.DocumentID, 0, len(ps))
	for _, p := range ps {
		out = append(out, p.DocumentID)
	}
	return out
}
