package bootstrap

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCLITenantReindexStartsAndRunsTheJob(t *testing.T) {
	t.Parallel()
	e := newEnv(t).with("TENANTRY_CHUNK_SIZE", "100", "TENANTRY_CHUNK_OVERLAP", "10")
	seed(t, e, "acme", "admin@acme.test", "tenant_admin")
	s := startServer(t, e)
	admin := s.login(t, nil, "admin@acme.test", e2ePassword).AccessToken
	var text strings.Builder
	for i := range 30 {
		fmt.Fprintf(&text, "Line %d of the handbook says office %d opens at %d o'clock. ", i, i, 7+i%3)
	}
	body, _ := json.Marshal(map[string]string{"title": "Handbook", "text": text.String()})
	r := s.do(t, nil, http.MethodPost, "/documents", admin, "application/json", string(body))
	require.Equal(t, http.StatusCreated, r.status, "%s", r.body)
	var doc struct {
		Chunks int `json:"chunks"`
	}
	require.NoError(t, json.Unmarshal(r.body, &doc))
	require.Equal(t, 0, s.stop(t))

	// Switching to hybrid needs vectors for the chunks stored lexically: the change
	// starts a job, which nobody runs while no server is up.
	mustRun(t, e, "", "tenant", "update", "acme", "--retrieval-mode", "hybrid")
	out := mustRun(t, e, "", "tenant", "reindex", "acme", "--no-wait").out
	assert.Contains(t, out, "a re-index of acme is already running")
	assert.Contains(t, out, "not waiting")

	out = mustRun(t, e, "", "tenant", "reindex", "acme").out
	assert.Contains(t, out, fmt.Sprintf("acme: done %d/%d chunks", doc.Chunks, doc.Chunks))
	assert.Contains(t, out, "re-index of acme done; serving hybrid")

	out = mustRun(t, e, "", "tenant", "reindex", "--id", "acme", "--no-wait").out
	assert.Contains(t, out, fmt.Sprintf("of acme: %d chunks", doc.Chunks), "a finished job is followed by a new one")

	r2 := run(t, e, "", "tenant", "reindex", "nobody")
	assert.NotEqual(t, 0, r2.code)
	assert.Contains(t, r2.err, "tenantry: not_found", "an unknown tenant is refused")
}
