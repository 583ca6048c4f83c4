package bootstrap

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/adapters/pinecone/pineconetest"
)

// A Pinecone index host pasted as Pinecone's console shows it, without a scheme, is
// stored as an https:// URL, and the tenant then talks to that index over TLS. Plain
// http vendors stay refused in both tests, so only the https:// form can work.

// pcBareHost is the fake's host as Pinecone's console would show it.
func pcBareHost(t *testing.T, pc *pineconetest.Server) string {
	t.Helper()
	host, ok := strings.CutPrefix(pc.URL, "https://")
	require.True(t, ok, "the fake is not served over TLS: %s", pc.URL)
	return host
}

func TestVendorPineconeHostWithoutSchemeThroughTheAPI(t *testing.T) {
	t.Parallel()
	key := vtKey("pcsk", "acme")
	pc := pineconetest.NewTLS(t, vtDims, key)
	host := pcBareHost(t, pc)
	e := vtNewEnvTrusting(t, map[string]string{"TENANTRY_ALLOW_HTTP_VENDORS": "false"}, pc.CertificatePEM)

	acme := e.tenant(t, "acme", "")
	patched := e.want(t, http.StatusOK, e.send(t, http.MethodPatch, "/admin/tenants/acme", e.root, fmt.Sprintf(
		`{"vector_store":{"provider":"pinecone","index_host":%q,"api_key":%q},
		"embedder":{"provider":"hashing","model":"hashing-v1","dimensions":%d}}`, host, key, vtDims)))
	assert.Equal(t, "https://"+host, patched["vector_store"].(map[string]any)["index_host"])
	shown := e.want(t, http.StatusOK, e.send(t, http.MethodGet, "/admin/tenants/acme", e.root, ""))
	assert.Equal(t, "https://"+host, shown["vector_store"].(map[string]any)["index_host"], "the stored host")

	e.ingest(t, acme, "Refunds", vtAcmeDoc)
	assert.NotEmpty(t, pc.IDs(key, "acme"), "the document's vectors reached the index over TLS")
	got := e.chat(t, acme, vtQuestion)
	require.NotNil(t, got.Done, "%v", got.Error)
	assert.Contains(t, vtSourceTexts(got), "ACMEDOC")
	assert.NotEmpty(t, pc.CallsTo(http.MethodPost, "/query"), "the question was asked of the index")
}

func TestCLIPineconeHostWithoutScheme(t *testing.T) {
	t.Parallel()
	key := vtKey("pcsk", "acme")
	pc := pineconetest.NewTLS(t, vtDims, key)
	host := pcBareHost(t, pc)
	// The binary trusts the fake the way Go programs on Linux trust any extra CA.
	caFile := filepath.Join(t.TempDir(), "pinecone-fake.pem")
	require.NoError(t, os.WriteFile(caFile, pc.CertificatePEM, 0o600))
	e := newEnv(t).with("SSL_CERT_FILE", caFile, "PINECONE_KEY", key)
	seed(t, e, "acme", "admin@acme.test", "tenant_admin")

	r := mustRunBinary(t, e, "", "tenant", "update", "acme", "--vector-provider", "pinecone",
		"--pinecone-index-host", host, "--pinecone-api-key-env", "PINECONE_KEY", "--embedder-dimensions", fmt.Sprint(vtDims))
	assert.Equal(t, "https://"+host, tenantJSON(t, r.out)["vector_store"].(map[string]any)["index_host"])
	shown := tenantJSON(t, mustRunBinary(t, e, "", "tenant", "show", "acme").out)
	assert.Equal(t, "https://"+host, shown["vector_store"].(map[string]any)["index_host"], "the stored host")

	s := startServer(t, e)
	token := s.login(t, nil, "admin@acme.test", e2ePassword).AccessToken
	body, _ := json.Marshal(map[string]string{"title": "Refunds", "text": vtAcmeDoc})
	up := s.do(t, nil, http.MethodPost, "/documents", token, "application/json", string(body))
	require.Equal(t, http.StatusCreated, up.status, "%s", up.body)
	assert.NotEmpty(t, pc.IDs(key, "acme"), "the document's vectors reached the index over TLS")
	chat := s.do(t, nil, http.MethodPost, "/chat/stream", token, "application/json", fmt.Sprintf(`{"message":%q}`, vtQuestion))
	require.Equal(t, http.StatusOK, chat.status, "%s", chat.body)
	assert.Contains(t, string(chat.body), "event: done", "%s", chat.body)
	assert.Contains(t, string(chat.body), "ACMEDOC", "the passage came back from the index")
	assert.NotEmpty(t, pc.CallsTo(http.MethodPost, "/query"), "the question was asked of the index")
}
