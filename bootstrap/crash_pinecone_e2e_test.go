package bootstrap

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/adapters/hashing"
	"github.com/tenantry/tenantry/adapters/pinecone/pineconetest"
)

// TestE2EKilledWithAPineconeTenantLeavesNoVectorBehind is the SIGKILL test for a
// tenant whose vectors live in Pinecone (the fake, served from this process), which
// cannot join the transaction that saves or deletes a document. The real binary
// ingests and deletes documents and is killed at random moments; a never-committed
// document's vectors are planted as well, as an ingestion killed right after its upsert
// leaves them. After the restart, before any sweep, no answer cites the planted
// document; once the sweeper has run, no vector of a missing document is left in the
// namespace, and every document that exists has the vector of every chunk (ingestion
// writes them before the record and deletion removes them after it, so the product
// promises no document without its vectors), besides the invariants of the embedded
// case.
func TestE2EKilledWithAPineconeTenantLeavesNoVectorBehind(t *testing.T) {
	t.Parallel()
	const dims = 64
	key := vtKey("pcsk", "crash")
	pc := pineconetest.New(t, dims, key)
	// No sweep while the rounds run: an ingestion in flight is never swept there.
	e := crashEnv(newEnv(t)).with("TENANTRY_ALLOW_HTTP_VENDORS", "true", "TENANTRY_VECTOR_SWEEP_INTERVAL", "1h")
	seed(t, e, "acme", "admin@acme.test", "tenant_admin")
	mustRun(t, e, key+"\n", "tenant", "update", "acme", "--vector-provider", "pinecone", "--pinecone-index-host", pc.URL,
		"--pinecone-api-key-stdin", "--embedder", "hashing", "--embedder-model", "hashing-v1",
		"--embedder-dimensions", fmt.Sprint(dims), "--retrieval-mode", "hybrid")
	db, err := sql.Open("sqlite", filepath.Join(e["TENANTRY_DATA_DIR"], "tenantry.db")+"?_pragma=busy_timeout(5000)")
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })

	next := crashRounds(t, e)
	for _, v := range pc.TakeViolations() {
		assert.Contains(t, v, "body unreadable", "only requests cut by a kill may be malformed")
	}
	const planted = "zyqxplantedvok"
	vec, err := hashing.New(dims).EmbedQuery(context.Background(), planted)
	require.NoError(t, err)
	pc.Put(key, "acme", "planted#0", vec, map[string]any{"document_id": "planted", "chunk": 0, "title": "Notice " + planted,
		"text": "The notice " + planted + " was never saved."})

	s := startServer(t, e.with("TENANTRY_VECTOR_SWEEP_INTERVAL", "1s"))
	token := s.login(t, nil, "admin@acme.test", e2ePassword).AccessToken
	assert.NotContains(t, crashCited(t, s, token, planted), "planted", "an answer cites a document that was never saved")

	// The sweeper deletes an orphan on the second pass that sees it, one interval apart.
	orphans := func() []string {
		var out []string
		for _, id := range pc.IDs(key, "acme") {
			doc, _, _ := strings.Cut(id, "#")
			var n int
			if err := db.QueryRow(`SELECT COUNT(*) FROM documents WHERE id = ?`, doc).Scan(&n); err != nil {
				out = append(out, id+" (unread: "+err.Error()+")")
			} else if n == 0 {
				out = append(out, id)
			}
		}
		return out
	}
	if !assert.Eventually(t, func() bool { return len(orphans()) == 0 }, time.Minute, 100*time.Millisecond) {
		t.Fatalf("vectors of missing documents are still in Pinecone: %v", orphans())
	}

	listed := crashInvariants(t, s, db, "?", next)
	ids := pc.IDs(key, "acme")
	for doc, chunks := range listed {
		for i := range chunks {
			assert.Contains(t, ids, fmt.Sprintf("%s#%d", doc, i), "document %s lacks the vector of chunk %d", doc, i)
		}
	}
	assert.Len(t, ids, sum(listed), "Pinecone holds vectors no listed document accounts for")
	metrics := s.get(t, nil, "/metrics", "")
	assert.Regexp(t, `(?m)^tenantry_vector_sweeper_removed_total [1-9]`, string(metrics.body), "the sweeper's deletions are not counted")
	assert.Empty(t, pc.Violations())
}

// sum adds the values of m.
func sum(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}
