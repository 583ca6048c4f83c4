package bootstrap

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/adapters/openai/openaitest"
)

// heldEmbeddings is an OpenAI-compatible /embeddings endpoint that records every
// input and, while hold is set, keeps the holdAt-th request open until its client
// goes away (a vendor stuck mid-job).
type heldEmbeddings struct {
	mu       sync.Mutex
	requests [][]string
	hold     bool
	holdAt   int
	held     chan struct{}
}

func (h *heldEmbeddings) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Model      string   `json:"model"`
		Input      []string `json:"input"`
		Dimensions int      `json:"dimensions"`
	}
	if r.URL.Path != "/embeddings" || json.NewDecoder(r.Body).Decode(&body) != nil || body.Dimensions == 0 {
		http.Error(w, `{"error":{"message":"bad request"}}`, http.StatusBadRequest)
		return
	}
	h.mu.Lock()
	h.requests = append(h.requests, body.Input)
	hold := h.hold && len(h.requests) == h.holdAt
	h.mu.Unlock()
	if hold {
		close(h.held)
		<-r.Context().Done()
		return
	}
	data := make([]map[string]any, len(body.Input))
	for i, text := range body.Input {
		data[i] = map[string]any{"object": "embedding", "index": i, "embedding": openaitest.Vector(text, body.Dimensions)}
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"object": "list", "data": data, "model": body.Model,
		"usage": map[string]int{"prompt_tokens": 1, "total_tokens": 1}})
}

func (h *heldEmbeddings) since(n int) [][]string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.requests[n:])
}

func (h *heldEmbeddings) count() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.requests)
}

type reindexProgress struct {
	State        string `json:"state"`
	Done         int    `json:"done"`
	Total        int    `json:"total"`
	VectorsReady bool   `json:"vectors_ready"`
	ServingMode  string `json:"serving_mode"`
}

func getReindex(t *testing.T, s *server, token string) reindexProgress {
	t.Helper()
	r := s.get(t, nil, "/tenant/reindex", token)
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	var p reindexProgress
	require.NoError(t, json.Unmarshal(r.body, &p))
	return p
}

// reindexBatch is the chunks one re-index step embeds (application.NewReindex's default).
const reindexBatch = 64

// TestReindexGoesOnFromItsCursorAfterTheServerIsKilled runs a re-index on the real
// binary, kills the server (SIGKILL) while the embedder holds the job's second batch,
// and starts it again: the new process takes the job over once the dead one's lease
// ran out and embeds only the chunks after the stored cursor. Chat keeps answering,
// lexically, until the vectors are complete, and uses them afterwards.
func TestReindexGoesOnFromItsCursorAfterTheServerIsKilled(t *testing.T) {
	t.Parallel()
	reindexAcrossAKill(t, newEnv(t))
}

// TestPostgresReindexGoesOnFromItsCursorAfterTheServerIsKilled is the same on
// PostgreSQL.
func TestPostgresReindexGoesOnFromItsCursorAfterTheServerIsKilled(t *testing.T) {
	t.Parallel()
	pg := newPostgresDatabase(t)
	e := newEnv(t).with("DATABASE_URL", pg.url, "TENANTRY_SECRET_KEY", secretKey(t))
	mustRun(t, e, "", "migrate")
	reindexAcrossAKill(t, e)
}

func reindexAcrossAKill(t *testing.T, e env) {
	emb := &heldEmbeddings{hold: true, holdAt: 2, held: make(chan struct{})}
	vendor := httptest.NewServer(emb)
	t.Cleanup(vendor.Close)
	e = e.with("TENANTRY_ALLOW_HTTP_VENDORS", "true", "TENANTRY_REINDEX_LEASE", "1s",
		"TENANTRY_CHUNK_SIZE", "100", "TENANTRY_CHUNK_OVERLAP", "10")
	seed(t, e, "acme", "admin@acme.test", "tenant_admin")
	seed(t, e, "", "root@platform.test", "platform_admin")

	first, err := launchServer(t, e)
	t.Cleanup(func() { _ = first.cmd.Process.Kill() })
	require.NoError(t, err, "stderr:\n%s", first.stderr.String())
	admin := first.login(t, nil, "admin@acme.test", e2ePassword).AccessToken
	root := first.login(t, nil, "root@platform.test", e2ePassword).AccessToken
	for d := range 2 {
		var text strings.Builder
		for i := range 120 {
			fmt.Fprintf(&text, "Document %d line %d says the parcel number %d ships on day %d. ", d, i, d*1000+i, i%7)
		}
		body, _ := json.Marshal(map[string]string{"title": fmt.Sprintf("Doc %d", d), "text": text.String()})
		r := first.do(t, nil, http.MethodPost, "/documents", admin, "application/json", string(body))
		require.Equal(t, http.StatusCreated, r.status, "%s", r.body)
	}
	assert.Equal(t, reindexProgress{State: "idle", VectorsReady: true, ServingMode: "lexical"}, getReindex(t, first, admin))

	// A neural embedder makes the automatic mode hybrid: the change starts a re-index.
	patch := fmt.Sprintf(`{"llm":{"base_url":%q},"embedder":{"provider":"openai","model":"test-embed","dimensions":8,"api_key":"sk-test-0123456789"}}`, vendor.URL)
	r := first.do(t, nil, http.MethodPatch, "/admin/tenants/acme", root, "application/merge-patch+json", patch)
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	<-emb.held
	mid := getReindex(t, first, admin)
	assert.Equal(t, "running", mid.State)
	assert.Equal(t, reindexBatch, mid.Done, "the first batch is recorded before the second is embedded")
	require.Greater(t, mid.Total, 2*reindexBatch, "the job needs more than two batches")
	assert.False(t, mid.VectorsReady)
	assert.Equal(t, "lexical", mid.ServingMode)

	chat := first.do(t, nil, http.MethodPost, "/chat/stream", admin, "application/json", `{"message":"Which parcel ships on day 3?"}`)
	require.Equal(t, http.StatusOK, chat.status, "%s", chat.body)
	assert.Contains(t, string(chat.body), "event: sources")
	assert.Contains(t, string(chat.body), "event: done", "chat answers while the embedder holds the job")

	require.NoError(t, first.cmd.Process.Kill())
	<-first.done
	emb.mu.Lock()
	emb.hold = false
	firstBatch := slices.Clone(emb.requests[0])
	emb.mu.Unlock()
	before := emb.count()

	second := startServer(t, e)
	var final reindexProgress
	for final = getReindex(t, second, admin); final.State == "running"; final = getReindex(t, second, admin) {
		time.Sleep(50 * time.Millisecond) // the job runs in the server; this only paces the polling
	}
	assert.Equal(t, reindexProgress{State: "done", Done: mid.Total, Total: mid.Total, VectorsReady: true, ServingMode: "hybrid"}, final)

	var again []string
	for _, req := range emb.since(before) {
		again = append(again, req...)
	}
	assert.Len(t, again, mid.Total-reindexBatch, "after the restart only the chunks after the cursor were embedded")
	for _, text := range firstBatch {
		assert.NotContains(t, again, text, "a chunk of the recorded batch was embedded again")
	}

	before = emb.count()
	chat = second.do(t, nil, http.MethodPost, "/chat/stream", admin, "application/json", `{"message":"Which parcel ships on day 3?"}`)
	require.Equal(t, http.StatusOK, chat.status, "%s", chat.body)
	assert.Contains(t, string(chat.body), "event: done")
	assert.Equal(t, [][]string{{"Which parcel ships on day 3?"}}, emb.since(before), "hybrid now: the question is embedded")
}
