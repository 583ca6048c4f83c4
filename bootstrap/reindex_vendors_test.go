package bootstrap

import (
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/adapters/openai/openaitest"
	"github.com/tenantry/tenantry/adapters/pinecone/pineconetest"
)

// TestVendorReindexMovesATenantsDocumentsToPinecone switches a tenant that holds
// documents from the offline defaults to Pinecone and an OpenAI-compatible embedder:
// the re-index the change started puts every stored chunk into the tenant's
// namespace, after which chat is hybrid and queries Pinecone.
func TestVendorReindexMovesATenantsDocumentsToPinecone(t *testing.T) {
	t.Parallel()
	pcKey, aiKey := vtKey("pcsk", "acme"), vtKey("sk", "acme")
	pc := pineconetest.New(t, vtDims, pcKey)
	ai := openaitest.New(t, openaitest.Options{APIKey: aiKey, Reply: []string{"Thirty days."}})
	e := vtNewEnv(t, map[string]string{"TENANTRY_CHUNK_SIZE": "100", "TENANTRY_CHUNK_OVERLAP": "10"})
	acme := e.tenant(t, "acme", "")
	var ids []string
	for i := range 3 {
		ids = append(ids, e.ingest(t, acme, fmt.Sprintf("Policy %d", i), fmt.Sprintf("%s Policy %d covers orders placed online and by phone, in every region we ship to.", vtAcmeDoc, i)))
	}
	require.Empty(t, pc.CallsTo(http.MethodPost, "/vectors/upsert"))

	e.want(t, http.StatusOK, e.send(t, http.MethodPatch, "/admin/tenants/acme", e.root, vtVendorConfig(pc, pcKey, ai, aiKey, vtAcmePrompt)))
	var status map[string]any
	for status = e.want(t, http.StatusOK, e.send(t, http.MethodGet, "/tenant/reindex", acme, "")); status["state"] == "running"; status = e.want(t, http.StatusOK, e.send(t, http.MethodGet, "/tenant/reindex", acme, "")) {
		time.Sleep(20 * time.Millisecond) // the job runs in the background; this only paces the polling
	}
	require.Equal(t, "done", status["state"], "%v", status)
	assert.Equal(t, true, status["vectors_ready"])
	assert.Equal(t, "hybrid", status["serving_mode"])
	total := int(status["total"].(float64))
	require.Greater(t, total, len(ids))
	assert.Equal(t, float64(total), status["done"])

	stored := pc.IDs(pcKey, "acme")
	assert.Len(t, stored, total, "every chunk is in the tenant's namespace")
	for _, id := range ids {
		assert.True(t, slices.Contains(stored, id+"#0"), "document %s is in Pinecone", id)
	}
	queries := len(pc.CallsTo(http.MethodPost, "/query"))
	got := e.chat(t, acme, vtQuestion)
	require.Nil(t, got.Error, "%v", got.Error)
	assert.Contains(t, vtSourceTexts(got), "ACMEDOC")
	assert.Len(t, pc.CallsTo(http.MethodPost, "/query"), queries+1, "hybrid: Pinecone was queried")
}
