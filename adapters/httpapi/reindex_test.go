package httpapi_test

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type reindexBody struct {
	ID           string  `json:"id"`
	TenantID     string  `json:"tenant_id"`
	State        string  `json:"state"`
	Done         int     `json:"done"`
	Total        int     `json:"total"`
	StartedAt    *string `json:"started_at"`
	Error        *string `json:"error"`
	VectorsReady bool    `json:"vectors_ready"`
	ServingMode  string  `json:"serving_mode"`
}

func reindexOf(t *testing.T, rec interface{ Result() *http.Response }, status int) reindexBody {
	t.Helper()
	res := rec.Result()
	require.Equal(t, status, res.StatusCode)
	require.Equal(t, "application/json", res.Header.Get("Content-Type"))
	var b reindexBody
	require.NoError(t, json.NewDecoder(res.Body).Decode(&b))
	return b
}

func TestReindexStartsOnceAndShowsProgress(t *testing.T) {
	ev := newEnv(t)
	ev.ingest("acme-admin", `{"title":"Refunds","text":"Refunds are accepted within 30 days of delivery."}`)

	idle := reindexOf(t, ev.as("acme-admin", http.MethodGet, "/tenant/reindex", ""), http.StatusOK)
	assert.Equal(t, reindexBody{TenantID: "acme", State: "idle", VectorsReady: true, ServingMode: "lexical"}, idle)

	started := reindexOf(t, ev.as("acme-admin", http.MethodPost, "/tenant/reindex", ""), http.StatusAccepted)
	assert.NotEmpty(t, started.ID)
	assert.Equal(t, "running", started.State)
	assert.Equal(t, 1, started.Total, "one chunk to rebuild")
	assert.NotNil(t, started.StartedAt)

	p := requireProblem(t, ev.as("acme-admin", http.MethodPost, "/tenant/reindex", ""), http.StatusConflict, "reindex_running")
	assert.Contains(t, p.Detail, "already running")
	again := reindexOf(t, ev.as("acme-admin", http.MethodGet, "/tenant/reindex", ""), http.StatusOK)
	assert.Equal(t, started.ID, again.ID, "the refused start changed nothing")

	audit := ev.as("acme-admin", http.MethodGet, "/tenant/audit", "")
	require.Equal(t, http.StatusOK, audit.Code)
	assert.Contains(t, audit.Body.String(), `"action":"tenant.reindex"`)
}

func TestReindexOfAnotherTenantIsOutOfReach(t *testing.T) {
	ev := newEnv(t)
	reindexOf(t, ev.as("globex-admin", http.MethodPost, "/tenant/reindex", ""), http.StatusAccepted)

	// The tenant routes only ever reach the caller's own tenant: acme sees its own
	// idle state, never globex's running job, and starting one starts acme's.
	mine := reindexOf(t, ev.as("acme-admin", http.MethodGet, "/tenant/reindex", ""), http.StatusOK)
	assert.Equal(t, "acme", mine.TenantID)
	assert.Equal(t, "idle", mine.State)
	started := reindexOf(t, ev.as("acme-admin", http.MethodPost, "/tenant/reindex", ""), http.StatusAccepted)
	assert.Equal(t, "acme", started.TenantID)

	for _, method := range []string{http.MethodGet, http.MethodPost} {
		requireProblem(t, ev.as("acme-admin", method, "/admin/tenants/globex/reindex", ""), http.StatusForbidden, "forbidden")
		requireProblem(t, ev.as("acme-member", method, "/tenant/reindex", ""), http.StatusForbidden, "forbidden")
		requireProblem(t, ev.as("loner", method, "/tenant/reindex", ""), http.StatusForbidden, "tenant_required")
	}
	theirs := reindexOf(t, ev.as("root", http.MethodGet, "/admin/tenants/globex/reindex", ""), http.StatusOK)
	assert.Equal(t, "running", theirs.State, "globex's job is untouched")
	requireProblem(t, ev.as("root", http.MethodGet, "/admin/tenants/no-such/reindex", ""), http.StatusNotFound, "not_found")
}
