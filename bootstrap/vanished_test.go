package bootstrap

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/adapters/openai/openaitest"
	"github.com/tenantry/tenantry/adapters/pinecone/pineconetest"
	"github.com/tenantry/tenantry/domain"
)

// TestVendorPassagesOfAMissingDocumentAreNeverCited leaves in a tenant's Pinecone
// namespace the vectors of a document that was never committed (an ingestion killed
// between its upsert and its transaction) and of one whose record is gone while its
// vectors stayed (a delete whose cleanup did not finish), both matching the question
// better than anything else. Before the sweeper removes them, neither /chat/stream nor
// /v1/chat/completions cites them or hands them to the model, in dense and in hybrid
// mode, while the document that exists is still found.
func TestVendorPassagesOfAMissingDocumentAreNeverCited(t *testing.T) {
	t.Parallel()
	pcKey, skKey := vtKey("pcsk", "ghost"), vtKey("sk", "ghost")
	pc := pineconetest.New(t, vtDims, pcKey)
	ai := openaitest.New(t, openaitest.Options{APIKey: skKey, Reply: []string{"Thirty days."}, PromptTokens: 9, CompletionTokens: 3})
	e := vtNewEnv(t, nil)
	acme := e.tenant(t, "acme", vtVendorConfig(pc, pcKey, ai, skKey, vtAcmePrompt))
	e.ingest(t, acme, "Refunds", vtAcmeDoc)

	deleted := e.ingest(t, acme, "Old refunds", "Old refund policy STALEDOC: the refund window was a year.")
	require.NoError(t, e.st.Documents.Delete(context.Background(), "acme", domain.DocumentID(deleted)))
	pc.Put(pcKey, "acme", deleted+"#9", openaitest.Vector(vtQuestion, vtDims),
		map[string]any{"document_id": deleted, "chunk": 9, "title": "Old refunds", "text": "STALEDOC the refund window is a year"})
	pc.Put(pcKey, "acme", "never-committed#0", openaitest.Vector(vtQuestion, vtDims),
		map[string]any{"document_id": "never-committed", "chunk": 0, "title": "Ghost", "text": "GHOSTDOC the refund window is forever"})

	models := e.want(t, http.StatusOK, e.send(t, http.MethodGet, "/v1/models", acme, ""))
	assistant := models["data"].([]any)[0].(map[string]any)["id"].(string)
	for _, mode := range []string{"dense", "hybrid"} {
		t.Run(mode, func(t *testing.T) {
			e.want(t, http.StatusOK, e.send(t, http.MethodPatch, "/admin/tenants/acme", e.root, fmt.Sprintf(`{"retrieval":{"mode":%q}}`, mode)))
			asked := len(ai.ChatRequests())

			got := e.chat(t, acme, vtQuestion)
			require.NotNil(t, got.Done, "%v", got.Error)
			assert.Contains(t, vtSourceTexts(got), "ACMEDOC", "the document that exists is no longer found")

			r := e.want(t, http.StatusOK, e.send(t, http.MethodPost, "/v1/chat/completions", acme,
				fmt.Sprintf(`{"model":%q,"messages":[{"role":"user","content":%q}]}`, assistant, vtQuestion)))
			b, err := json.Marshal(r["tenantry"])
			require.NoError(t, err)
			assert.Contains(t, string(b), "ACMEDOC")

			for _, cited := range []string{vtSourceTexts(got), string(b)} {
				assert.NotContains(t, cited, "STALEDOC", "a deleted document was cited")
				assert.NotContains(t, cited, "GHOSTDOC", "a document that never existed was cited")
			}
			reqs := ai.ChatRequests()[asked:]
			require.Len(t, reqs, 2)
			for _, req := range reqs {
				assert.NotContains(t, vtRequestText(req), "STALEDOC", "the model was given a deleted document's passage")
				assert.NotContains(t, vtRequestText(req), "GHOSTDOC", "the model was given a missing document's passage")
			}
		})
	}
	assert.Subset(t, pc.IDs(pcKey, "acme"), []string{deleted + "#9", "never-committed#0"},
		"retrieval left the vectors for the sweeper and only kept them out of the answers")
	assert.Empty(t, pc.Violations())
}
