package porttest

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/domain"
)

func normDocument(d domain.Document) domain.Document {
	d.CreatedAt = utc(d.CreatedAt)
	d.UpdatedAt = utc(d.UpdatedAt)
	if d.Metadata == nil {
		d.Metadata = map[string]string{}
	}
	return d
}

func documentIDs(ds []domain.Document) []domain.DocumentID {
	out := make([]domain.DocumentID, 0, len(ds))
	for _, d := range ds {
		out = append(out, d.ID)
	}
	return out
}

// DocumentStore tests a ports.DocumentStore.
func DocumentStore(t *testing.T, newStores NewStores) {
	t.Run("save then get round-trips every field", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, newStores)
		f.tenant("acme")
		want := domain.Document{
			ID: domain.DocumentID(newID()), TenantID: "acme", ExternalID: "wiki/42", Title: "Travel policy",
			Metadata: map[string]string{"lang": "en", "owner": "hr", "ünïcode": "✓"},
			Chunks:   12, Bytes: 4096, CreatedAt: at(-time.Hour), UpdatedAt: at(time.Hour),
		}
		replaced, err := f.s.Documents.Save(f.ctx, want, nil)
		require.NoError(t, err)
		assert.Empty(t, replaced)
		got, err := f.s.Documents.Get(f.ctx, "acme", want.ID)
		require.NoError(t, err)
		assert.Equal(t, normDocument(want), normDocument(got))
	})

	t.Run("a document without external id or metadata round-trips", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, newStores)
		f.tenant("acme")
		want := domain.Document{ID: domain.DocumentID(newID()), TenantID: "acme", Title: "Bare", Chunks: 1, Bytes: 3, CreatedAt: at(0), UpdatedAt: at(0)}
		_, err := f.s.Documents.Save(f.ctx, want, nil)
		require.NoError(t, err)
		got, err := f.s.Documents.Get(f.ctx, "acme", want.ID)
		require.NoError(t, err)
		assert.Equal(t, normDocument(want), normDocument(got))
	})

	t.Run("save with a known external id replaces that document", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, newStores)
		f.tenant("acme")
		old := f.document("acme", "wiki/42", "Old version", at(0))
		keep := f.document("acme", "wiki/43", "Another page", at(time.Minute))
		nw, err := domain.NewDocument(domain.DocumentID(newID()), "acme", "wiki/42", "New version", "text", nil, at(time.Hour))
		require.NoError(t, err)

		replaced, err := f.s.Documents.Save(f.ctx, nw, nil)
		require.NoError(t, err)
		assert.Equal(t, old.ID, replaced)

		_, err = f.s.Documents.Get(f.ctx, "acme", old.ID)
		requireKind(t, domain.KindNotFound, err)
		got, err := f.s.Documents.Get(f.ctx, "acme", nw.ID)
		require.NoError(t, err)
		assert.Equal(t, normDocument(nw), normDocument(got))
		list, err := f.s.Documents.List(f.ctx, "acme", domain.Page{Limit: 10})
		require.NoError(t, err)
		assert.Equal(t, []domain.DocumentID{nw.ID, keep.ID}, documentIDs(list))
	})

	t.Run("documents without external id never replace each other", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, newStores)
		f.tenant("acme")
		a := f.document("acme", "", "One", at(0))
		b, err := domain.NewDocument(domain.DocumentID(newID()), "acme", "", "Two", "text", nil, at(time.Minute))
		require.NoError(t, err)
		replaced, err := f.s.Documents.Save(f.ctx, b, nil)
		require.NoError(t, err)
		assert.Empty(t, replaced)
		list, err := f.s.Documents.List(f.ctx, "acme", domain.Page{Limit: 10})
		require.NoError(t, err)
		assert.Equal(t, []domain.DocumentID{b.ID, a.ID}, documentIDs(list))
	})

	t.Run("the same external id in another tenant is not replaced", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, newStores)
		f.tenant("acme")
		f.tenant("globex")
		theirs := f.document("globex", "wiki/42", "Globex page", at(0))
		mine, err := domain.NewDocument(domain.DocumentID(newID()), "acme", "wiki/42", "Acme page", "text", nil, at(time.Hour))
		require.NoError(t, err)
		replaced, err := f.s.Documents.Save(f.ctx, mine, nil)
		require.NoError(t, err)
		assert.Empty(t, replaced)
		got, err := f.s.Documents.Get(f.ctx, "globex", theirs.ID)
		require.NoError(t, err)
		assert.Equal(t, normDocument(theirs), normDocument(got))
	})

	t.Run("saving under another tenant's document id never changes that document", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, newStores)
		f.tenant("acme")
		f.tenant("globex")
		theirs := f.document("globex", "", "Theirs", at(0))
		hijack := theirs
		hijack.TenantID = "acme"
		hijack.Title = "Hijacked"
		_, _ = f.s.Documents.Save(f.ctx, hijack, nil)

		got, err := f.s.Documents.Get(f.ctx, "globex", theirs.ID)
		require.NoError(t, err)
		assert.Equal(t, normDocument(theirs), normDocument(got))
	})

	t.Run("get unknown id is NotFound", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, newStores)
		f.tenant("acme")
		f.document("acme", "", "One", at(0))
		_, err := f.s.Documents.Get(f.ctx, "acme", domain.DocumentID(newID()))
		requireKind(t, domain.KindNotFound, err)
	})

	t.Run("another tenant's document is NotFound and never listed", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, newStores)
		f.tenant("acme")
		f.tenant("globex")
		mine := f.document("acme", "", "Mine", at(0))
		theirs := f.document("globex", "", "Theirs", at(time.Minute))

		_, err := f.s.Documents.Get(f.ctx, "acme", theirs.ID)
		requireKind(t, domain.KindNotFound, err)
		list, err := f.s.Documents.List(f.ctx, "acme", domain.Page{Limit: 100})
		require.NoError(t, err)
		assert.Equal(t, []domain.DocumentID{mine.ID}, documentIDs(list))
	})

	t.Run("list orders newest first and pages", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, newStores)
		f.tenant("acme")
		d1 := f.document("acme", "", "First", at(0))
		d3 := f.document("acme", "", "Third", at(2*time.Hour))
		d2 := f.document("acme", "", "Second", at(time.Hour))
		cases := []struct {
			name string
			page domain.Page
			want []domain.DocumentID
		}{
			{name: "all", page: domain.Page{Limit: 10}, want: []domain.DocumentID{d3.ID, d2.ID, d1.ID}},
			{name: "first page", page: domain.Page{Limit: 2}, want: []domain.DocumentID{d3.ID, d2.ID}},
			{name: "second page", page: domain.Page{Limit: 2, Offset: 2}, want: []domain.DocumentID{d1.ID}},
			{name: "past the end", page: domain.Page{Limit: 2, Offset: 3}, want: []domain.DocumentID{}},
		}
		for _, tc := range cases {
			got, err := f.s.Documents.List(f.ctx, "acme", tc.page)
			require.NoError(t, err, tc.name)
			assert.Equal(t, tc.want, documentIDs(got), tc.name)
		}
	})

	t.Run("delete removes the document", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, newStores)
		f.tenant("acme")
		d := f.document("acme", "", "Doomed", at(0))
		keep := f.document("acme", "", "Kept", at(time.Minute))
		require.NoError(t, f.s.Documents.Delete(f.ctx, "acme", d.ID))
		_, err := f.s.Documents.Get(f.ctx, "acme", d.ID)
		requireKind(t, domain.KindNotFound, err)
		list, err := f.s.Documents.List(f.ctx, "acme", domain.Page{Limit: 10})
		require.NoError(t, err)
		assert.Equal(t, []domain.DocumentID{keep.ID}, documentIDs(list))
		requireKind(t, domain.KindNotFound, f.s.Documents.Delete(f.ctx, "acme", d.ID))
	})

	t.Run("delete unknown or another tenant's id is NotFound and changes nothing", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, newStores)
		f.tenant("acme")
		f.tenant("globex")
		theirs := f.document("globex", "", "Theirs", at(0))
		requireKind(t, domain.KindNotFound, f.s.Documents.Delete(f.ctx, "acme", domain.DocumentID(newID())))
		requireKind(t, domain.KindNotFound, f.s.Documents.Delete(f.ctx, "acme", theirs.ID))
		got, err := f.s.Documents.Get(f.ctx, "globex", theirs.ID)
		require.NoError(t, err)
		assert.Equal(t, normDocument(theirs), normDocument(got))
	})

	t.Run("existing names the tenant's own documents that are still there", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, newStores)
		f.tenant("acme")
		f.tenant("globex")
		kept := f.document("acme", "", "Kept", at(0))
		gone := f.document("acme", "", "Gone", at(time.Minute))
		theirs := f.document("globex", "", "Theirs", at(0))
		require.NoError(t, f.s.Documents.Delete(f.ctx, "acme", gone.ID))

		got, err := f.s.Documents.Existing(f.ctx, "acme", []domain.DocumentID{kept.ID, gone.ID, theirs.ID, domain.DocumentID(newID()), kept.ID})
		require.NoError(t, err)
		assert.Equal(t, map[domain.DocumentID]bool{kept.ID: true}, got)
		got, err = f.s.Documents.Existing(f.ctx, "globex", []domain.DocumentID{kept.ID, theirs.ID})
		require.NoError(t, err)
		assert.Equal(t, map[domain.DocumentID]bool{theirs.ID: true}, got, "another tenant's document counted as existing")
		got, err = f.s.Documents.Existing(f.ctx, "acme", nil)
		require.NoError(t, err)
		assert.Empty(t, got)

		// More ids than one SQL statement may bind (SQLite: 32,766 parameters).
		many := make([]domain.DocumentID, 40_000)
		for i := range many {
			many[i] = domain.DocumentID(newID())
		}
		many[len(many)-1] = kept.ID
		got, err = f.s.Documents.Existing(f.ctx, "acme", many)
		require.NoError(t, err)
		assert.Equal(t, map[domain.DocumentID]bool{kept.ID: true}, got)
	})
}

// ChunkStore tests a ports.ChunkStore. Chunks belong to documents saved through the same
// backend's DocumentStore.
func ChunkStore(t *testing.T, newStores NewStores) {
	t.Run("a document is saved with its chunks, and deleted with them", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, newStores)
		f.tenant("acme")
		d := document("acme", "", "Doc", at(0))
		want := []domain.Chunk{chunk(d.ID, 0, "first"), chunk(d.ID, 1, "second", 0, 1, 0, 0)}
		_, err := f.s.Documents.Save(f.ctx, d, want)
		require.NoError(t, err)
		got, err := f.s.Chunks.LoadChunks(f.ctx, "acme")
		require.NoError(t, err)
		assert.Equal(t, want, got)

		require.NoError(t, f.s.Documents.Delete(f.ctx, "acme", d.ID))
		got, err = f.s.Chunks.LoadChunks(f.ctx, "acme")
		require.NoError(t, err)
		assert.Empty(t, got, "no chunk outlives its document")
	})

	t.Run("replacing a document by external id replaces its chunks", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, newStores)
		f.tenant("acme")
		old := document("acme", "ext", "Old", at(0))
		_, err := f.s.Documents.Save(f.ctx, old, []domain.Chunk{chunk(old.ID, 0, "old 0"), chunk(old.ID, 1, "old 1")})
		require.NoError(t, err)
		nw := document("acme", "ext", "New", at(time.Minute))
		replaced, err := f.s.Documents.Save(f.ctx, nw, []domain.Chunk{chunk(nw.ID, 0, "new 0")})
		require.NoError(t, err)
		assert.Equal(t, old.ID, replaced)
		got, err := f.s.Chunks.LoadChunks(f.ctx, "acme")
		require.NoError(t, err)
		assert.Equal(t, []domain.Chunk{chunk(nw.ID, 0, "new 0")}, got)
	})

	t.Run("an empty tenant loads no chunks", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, newStores)
		f.tenant("acme")
		got, err := f.s.Chunks.LoadChunks(f.ctx, "acme")
		require.NoError(t, err)
		assert.Empty(t, got)
	})

	t.Run("save then load round-trips text and vectors", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, newStores)
		f.tenant("acme")
		d := document("acme", "", "Doc", at(0))
		want := []domain.Chunk{
			{DocumentID: d.ID, Index: 0, Title: "Doc", Text: "Ünïcode text ✓", Vector: []float32{0.1, -0.25, 3.5e-7, -1}},
			{DocumentID: d.ID, Index: 1, Title: "Doc", Text: "second", Vector: []float32{1, 2, 3, 4}},
			{DocumentID: d.ID, Index: 2, Title: "Doc", Text: "text only"},
		}
		f.save(d, want...)
		got, err := f.s.Chunks.LoadChunks(f.ctx, "acme")
		require.NoError(t, err)
		require.Len(t, got, 3)
		assert.Equal(t, want[:2], got[:2])
		assert.Equal(t, want[2].Text, got[2].Text)
		assert.Empty(t, got[2].Vector, "a chunk stored without a vector has none")
	})

	t.Run("load orders by document id then index", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, newStores)
		f.tenant("acme")
		d1, d2 := document("acme", "", "One", at(0)), document("acme", "", "Two", at(0))
		if d2.ID < d1.ID {
			d1, d2 = d2, d1
		}
		f.save(d2, chunk(d2.ID, 1, "h1"), chunk(d2.ID, 0, "h0"))
		f.save(d1, chunk(d1.ID, 2, "l2"), chunk(d1.ID, 0, "l0"), chunk(d1.ID, 10, "l10"))
		got, err := f.s.Chunks.LoadChunks(f.ctx, "acme")
		require.NoError(t, err)
		var texts []string
		for _, c := range got {
			texts = append(texts, c.Text)
		}
		assert.Equal(t, []string{"l0", "l2", "l10", "h0", "h1"}, texts)
	})

	t.Run("deleting a document removes its chunks only", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, newStores)
		f.tenant("acme")
		d1, d2 := document("acme", "", "One", at(0)), document("acme", "", "Two", at(0))
		f.save(d1, chunk(d1.ID, 0, "a"), chunk(d1.ID, 1, "b"))
		f.save(d2, chunk(d2.ID, 0, "c"))
		require.NoError(t, f.s.Documents.Delete(f.ctx, "acme", d1.ID))
		got, err := f.s.Chunks.LoadChunks(f.ctx, "acme")
		require.NoError(t, err)
		assert.Equal(t, []domain.Chunk{chunk(d2.ID, 0, "c")}, got)
	})

	t.Run("tenants never see or change each other's chunks", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, newStores)
		f.tenant("acme")
		f.tenant("globex")
		mine, theirs := document("acme", "", "Mine", at(0)), document("globex", "", "Theirs", at(0))
		theirChunks := []domain.Chunk{chunk(theirs.ID, 0, "globex secret"), chunk(theirs.ID, 1, "globex more")}
		f.save(theirs, theirChunks...)
		f.save(mine, chunk(mine.ID, 0, "acme text"))

		got, err := f.s.Chunks.LoadChunks(f.ctx, "acme")
		require.NoError(t, err)
		assert.Equal(t, []domain.Chunk{chunk(mine.ID, 0, "acme text")}, got)

		requireKind(t, domain.KindNotFound, f.s.Documents.Delete(f.ctx, "acme", theirs.ID))
		got, err = f.s.Chunks.LoadChunks(f.ctx, "globex")
		require.NoError(t, err)
		assert.Equal(t, theirChunks, got, "another tenant's chunks changed")
	})
}
