package application_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/application"
	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/ports"
)

const refundPolicy = `Refund policy.

Customers may return any unopened item within thirty days of delivery for a full refund. Refunds go back to the original payment method within five business days.

Opened items can be exchanged for store credit. Gift cards are never refundable.

Shipping costs are refunded only when the item arrived damaged or the wrong item was sent.`

// search asks the tenant's index the way StreamChat does.
// search asks the tenant's stored configuration's retrieval mode, as chat does; for a
// tenant that does not exist (deleted), both indexes, in hybrid mode.
func (e *env) search(t domain.TenantID, question string) []domain.Passage {
	e.t.Helper()
	tenant, err := e.db.Tenants().Get(context.Background(), t)
	if domain.KindOf(err) == domain.KindNotFound {
		tenant, err = domain.NewTenant(t, "gone", e.clock.Now())
		tenant.Retrieval.Mode = domain.RetrievalHybrid
	}
	require.NoError(e.t, err)
	got, err := passagesOf(application.NewRetrieve(e.lexical, e.vendors, e.db.Documents()).Execute(context.Background(), &tenant, question, 10))
	require.NoError(e.t, err)
	return got
}

// withMode sets the retrieval mode of tc's tenant, in the store and in tc.
func (e *env) withMode(tc domain.TenantContext, mode string) domain.TenantContext {
	e.t.Helper()
	tc.Tenant = e.updateTenant(tc.Tenant.ID, func(t *domain.Tenant) { t.Retrieval.Mode = mode })
	return tc
}

func (e *env) storedChunks(t domain.TenantID) []domain.Chunk {
	e.t.Helper()
	got, err := e.db.Chunks().LoadChunks(context.Background(), t)
	require.NoError(e.t, err)
	return got
}

func docIDs(ps []domain.Passage) []domain.DocumentID {
	var ids []domain.DocumentID
	for _, p := range ps {
		ids = append(ids, p.DocumentID)
	}
	return ids
}

// admin stores tenant id with a tenant admin and returns the admin's tenant context.
func (e *env) admin(id string) domain.TenantContext {
	e.t.Helper()
	t := e.tenant(id)
	return tenantCtx(e.user("admin@"+id+".test", domain.RoleTenantAdmin, t.ID), t)
}

func TestIngestDocumentIsIndexedAndSearchable(t *testing.T) {
	t.Parallel()
	for _, mode := range []string{domain.RetrievalLexical, domain.RetrievalDense, domain.RetrievalHybrid} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			ctx := context.Background()
			acme := e.withMode(e.admin("acme"), mode)

			doc, err := e.ingest().Execute(ctx, application.IngestInput{Tenant: acme, Title: " Refunds ", Text: refundPolicy,
				ExternalID: "kb/refunds", Metadata: map[string]string{"lang": "en"}})

			require.NoError(t, err)
			assert.NotEmpty(t, doc.ID)
			assert.Equal(t, "Refunds", doc.Title)
			assert.Equal(t, len(refundPolicy), doc.Bytes)
			assert.Greater(t, doc.Chunks, 1, "the small test chunker splits the policy")
			stored, err := e.documents().Get(ctx, acme, doc.ID)
			require.NoError(t, err)
			assert.Equal(t, doc.Chunks, stored.Chunks)
			assert.Equal(t, map[string]string{"lang": "en"}, stored.Metadata)

			chunks := e.storedChunks("acme")
			require.Len(t, chunks, doc.Chunks)
			for i, c := range chunks {
				assert.Equal(t, doc.ID, c.DocumentID)
				assert.Equal(t, i, c.Index)
				assert.Equal(t, "Refunds", c.Title)
				if mode == domain.RetrievalLexical {
					assert.Empty(t, c.Vector, "lexical mode embeds nothing")
				} else {
					assert.Len(t, c.Vector, domain.DefaultDimensions)
				}
			}

			hits := e.search("acme", "Are gift cards refundable?")
			require.NotEmpty(t, hits)
			assert.Equal(t, doc.ID, hits[0].DocumentID)
			assert.Contains(t, hits[0].Text, "Gift cards are never refundable")
		})
	}
}

func TestIngestDocumentRefusesMembers(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	acme := e.tenant("acme")
	member := tenantCtx(e.user("m@acme.test", domain.RoleMember, acme.ID), acme)

	_, err := e.ingest().Execute(context.Background(), application.IngestInput{Tenant: member, Title: "Refunds", Text: refundPolicy})

	requireKind(t, domain.KindForbidden, err)
	assert.Empty(t, e.storedChunks("acme"))
	list, err := e.documents().List(context.Background(), member, domain.Page{})
	require.NoError(t, err)
	assert.Empty(t, list)
}

func TestIngestDocumentRejectsInvalidInput(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		in        application.IngestInput
		wantField string
	}{
		{name: "empty title", in: application.IngestInput{Title: "  ", Text: refundPolicy}, wantField: "title"},
		{name: "empty text", in: application.IngestInput{Title: "Refunds", Text: " \n\t "}, wantField: "text"},
		{name: "invalid utf-8", in: application.IngestInput{Title: "Refunds", Text: "ok \xff"}, wantField: "text"},
		{name: "long external id", in: application.IngestInput{Title: "Refunds", Text: refundPolicy, ExternalID: strings.Repeat("x", 201)}, wantField: "external_id"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			tc.in.Tenant = e.admin("acme")

			_, err := e.ingest().Execute(context.Background(), tc.in)

			requireKind(t, domain.KindInvalid, err)
			require.NotNil(t, domain.AsError(err))
			var fields []string
			for _, f := range domain.AsError(err).Fields {
				fields = append(fields, f.Field)
			}
			assert.Contains(t, fields, tc.wantField)
			assert.Empty(t, e.storedChunks("acme"))
		})
	}
}

func TestIngestDocumentReplacesBySameExternalID(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	acme := e.admin("acme")
	ingest := e.ingest()
	old, err := ingest.Execute(ctx, application.IngestInput{Tenant: acme, Title: "Shipping", ExternalID: "kb/shipping",
		Text: "Parcels travel by zeppelin and arrive within a fortnight."})
	require.NoError(t, err)
	other, err := ingest.Execute(ctx, application.IngestInput{Tenant: acme, Title: "Refunds", ExternalID: "kb/refunds", Text: refundPolicy})
	require.NoError(t, err)
	require.Contains(t, docIDs(e.search("acme", "zeppelin parcels")), old.ID)

	replacement, err := ingest.Execute(ctx, application.IngestInput{Tenant: acme, Title: "Shipping", ExternalID: "kb/shipping",
		Text: "Parcels travel by lorry and arrive within three days."})
	require.NoError(t, err)

	list, err := e.documents().List(ctx, acme, domain.Page{})
	require.NoError(t, err)
	var ids []domain.DocumentID
	for _, d := range list {
		ids = append(ids, d.ID)
	}
	assert.ElementsMatch(t, []domain.DocumentID{replacement.ID, other.ID}, ids, "the document count is unchanged")
	_, err = e.documents().Get(ctx, acme, old.ID)
	requireKind(t, domain.KindNotFound, err)
	assert.NotContains(t, docIDs(e.search("acme", "zeppelin parcels")), old.ID, "the old chunks are gone from search")
	assert.Contains(t, docIDs(e.search("acme", "lorry parcels")), replacement.ID)
	for _, c := range e.storedChunks("acme") {
		assert.NotEqual(t, old.ID, c.DocumentID)
	}
}

func TestIngestDocumentEmbedderFailureLeavesNothing(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	acme := e.withMode(e.admin("acme"), domain.RetrievalHybrid)
	broken := &vendors{embedder: &failingEmbedder{inner: e.embedder, okCalls: 1}, index: e.index, model: e.model}

	// One chunk per embed call: the first batch succeeds, the second fails.
	_, err := e.ingestWith(e.db.Documents(), broken, 1).Execute(ctx, application.IngestInput{Tenant: acme, Title: "Refunds", Text: refundPolicy})

	requireKind(t, domain.KindUnavailable, err)
	list, err := e.documents().List(ctx, acme, domain.Page{})
	require.NoError(t, err)
	assert.Empty(t, list)
	assert.Empty(t, e.storedChunks("acme"))
	assert.Empty(t, e.search("acme", "gift cards refundable"))
}

// failingSaves is a DocumentStore whose Save fails as a dropped connection would.
type failingSaves struct{ ports.DocumentStore }

func (failingSaves) Save(context.Context, domain.Document, []domain.Chunk) (domain.DocumentID, error) {
	return "", domain.ErrUnavailable.With(errors.New("connection reset"))
}

func TestIngestDocumentSaveFailureRemovesVectors(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	acme := e.admin("acme")

	_, err := e.ingestWith(failingSaves{e.db.Documents()}, e.vendors, 0).Execute(ctx, application.IngestInput{Tenant: acme, Title: "Refunds", Text: refundPolicy})

	requireKind(t, domain.KindUnavailable, err)
	assert.Empty(t, e.storedChunks("acme"), "vectors of a document that never became visible are removed")
	assert.Empty(t, e.search("acme", "gift cards refundable"))
}

func TestIngestDocumentRespectsRequestsPerMinute(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	acme := e.admin("acme")
	acme.Tenant = e.updateTenant("acme", func(t *domain.Tenant) { t.Limits.RequestsPerMinute = 1 })
	_, err := e.ingest().Execute(ctx, application.IngestInput{Tenant: acme, Title: "One", Text: "First document."})
	require.NoError(t, err)

	_, err = e.ingest().Execute(ctx, application.IngestInput{Tenant: acme, Title: "Two", Text: "Second document."})

	requireKind(t, domain.KindRateLimited, err)
	assert.Positive(t, domain.AsError(err).RetryAfterSeconds)
}

func TestDocumentsDeleteRemovesVectors(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	acme := e.admin("acme")
	doc, err := e.ingest().Execute(ctx, application.IngestInput{Tenant: acme, Title: "Refunds", Text: refundPolicy})
	require.NoError(t, err)
	keep, err := e.ingest().Execute(ctx, application.IngestInput{Tenant: acme, Title: "Shipping", Text: "Parcels travel by zeppelin."})
	require.NoError(t, err)

	require.NoError(t, e.documents().Delete(ctx, acme, doc.ID))

	_, err = e.documents().Get(ctx, acme, doc.ID)
	requireKind(t, domain.KindNotFound, err)
	assert.NotContains(t, docIDs(e.search("acme", "gift cards refundable")), doc.ID)
	for _, c := range e.storedChunks("acme") {
		assert.Equal(t, keep.ID, c.DocumentID)
	}
	assert.Contains(t, docIDs(e.search("acme", "zeppelin")), keep.ID)
}

// cancellingDocuments cancels the request's context as soon as the document record is
// deleted: the client went away right after the commit.
type cancellingDocuments struct {
	ports.DocumentStore
	cancel context.CancelFunc
}

func (c cancellingDocuments) Delete(ctx context.Context, t domain.TenantID, id domain.DocumentID) error {
	err := c.DocumentStore.Delete(ctx, t, id)
	c.cancel()
	return err
}

func TestDocumentsDeleteCompletesWhenTheClientGoesAway(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	acme := e.admin("acme")
	doc, err := e.ingest().Execute(context.Background(), application.IngestInput{Tenant: acme, Title: "Refunds", Text: refundPolicy})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	docs := application.NewDocuments(cancellingDocuments{DocumentStore: e.db.Documents(), cancel: cancel}, e.vendors, e.lexical)

	require.NoError(t, docs.Delete(ctx, acme, doc.ID))
	assert.Empty(t, e.storedChunks("acme"), "the vectors went too, though the request was cancelled")
}

func TestDocumentsDeleteIsIdempotent(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	acme := e.admin("acme")
	doc, err := e.ingest().Execute(ctx, application.IngestInput{Tenant: acme, Title: "Refunds", Text: refundPolicy})
	require.NoError(t, err)
	require.Contains(t, docIDs(e.search("acme", "gift cards refundable")), doc.ID)
	// A delete that committed (record and chunk rows) and then stopped before the
	// indexes were told.
	require.NoError(t, e.db.Documents().Delete(ctx, "acme", doc.ID))
	assert.Empty(t, e.storedChunks("acme"), "the chunk rows go with the record")
	require.Contains(t, docIDs(e.search("acme", "gift cards refundable")), doc.ID, "the index copy has not heard yet")

	err = e.documents().Delete(ctx, acme, doc.ID)
	requireKind(t, domain.KindNotFound, err)
	assert.NotContains(t, docIDs(e.search("acme", "gift cards refundable")), doc.ID, "the retry removed the passages left behind")
}

func TestDocumentsAreTenantScoped(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	acme, globex := e.admin("acme"), e.admin("globex")
	doc, err := e.ingest().Execute(ctx, application.IngestInput{Tenant: acme, Title: "Refunds", Text: refundPolicy})
	require.NoError(t, err)

	_, err = e.documents().Get(ctx, globex, doc.ID)
	requireKind(t, domain.KindNotFound, err)
	err = e.documents().Delete(ctx, globex, doc.ID)
	requireKind(t, domain.KindNotFound, err)
	list, err := e.documents().List(ctx, globex, domain.Page{})
	require.NoError(t, err)
	assert.Empty(t, list)

	_, err = e.documents().Get(ctx, acme, doc.ID)
	assert.NoError(t, err, "the owner's document survives another tenant's delete")
	assert.Len(t, e.storedChunks("acme"), doc.Chunks)
	assert.Empty(t, e.search("globex", "gift cards refundable"))
}

func TestDocumentsDeleteRefusesMembers(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	acme := e.admin("acme")
	doc, err := e.ingest().Execute(ctx, application.IngestInput{Tenant: acme, Title: "Refunds", Text: refundPolicy})
	require.NoError(t, err)
	member := tenantCtx(e.user("m@acme.test", domain.RoleMember, "acme"), acme.Tenant)

	err = e.documents().Delete(ctx, member, doc.ID)

	requireKind(t, domain.KindForbidden, err)
	got, err := e.documents().Get(ctx, member, doc.ID)
	require.NoError(t, err, "members may read")
	assert.Equal(t, doc.ID, got.ID)
}

// passagesOf keeps the passages of a search result, for tests about them alone.
func passagesOf(r domain.SearchResult, err error) ([]domain.Passage, error) {
	return r.Passages, err
}
