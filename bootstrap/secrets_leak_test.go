package bootstrap

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Issue 4, "Secrets": vendor API keys set over the API are shown only as api_key_set
// and api_key_last4, and never appear in a response, a log line, an audit entry or (on
// SQLite) the database in plaintext.

// isoCanary is part of every key these tests set: finding it anywhere is a leak.
const isoCanary = "LEAKCANARY"

// isoKey returns a recognisable key whose last four characters are last4.
func isoKey(name, last4 string) string {
	return "sk-" + isoCanary + "-" + name + "-7f3a9c2e5b81d6" + last4
}

// isoSection returns one vendor section of a tenant representation.
func isoSection(t *testing.T, tenant map[string]any, name string) map[string]any {
	t.Helper()
	s, ok := tenant[name].(map[string]any)
	require.True(t, ok, "tenant has no %s section: %v", name, tenant)
	return s
}

// isoAssertMasked checks each section shows its key only as set + last four, and has
// no member that could carry the key itself.
func isoAssertMasked(t *testing.T, tenant map[string]any, last4 map[string]string) {
	t.Helper()
	for _, name := range []string{"llm", "vector_store", "embedder"} {
		s := isoSection(t, tenant, name)
		for k := range s {
			assert.NotEqual(t, "api_key", k, "%s carries api_key", name)
		}
		want, set := last4[name]
		assert.Equal(t, set, s["api_key_set"], "%s.api_key_set", name)
		assert.Equal(t, want, s["api_key_last4"], "%s.api_key_last4", name)
	}
}

// isoAssertNoLeak checks text holds no key and, with tokens given, no bearer token
// and no password either.
func isoAssertNoLeak(t *testing.T, where, text string, tokens ...string) {
	t.Helper()
	assert.NotContains(t, text, isoCanary, "a vendor API key leaked into %s", where)
	for _, tok := range tokens {
		assert.NotContains(t, text, tok, "a bearer token leaked into %s", where)
	}
	if len(tokens) > 0 {
		assert.NotContains(t, text, hPassword, "a password leaked into %s", where)
	}
}

func TestSecretsNeverLeak(t *testing.T) {
	for _, kind := range []hStoreKind{hMemory, hSQLite} {
		t.Run(string(kind), func(t *testing.T) { isoSecretsNeverLeak(t, kind) })
	}
}

func isoSecretsNeverLeak(t *testing.T, kind hStoreKind) {
	w := isoSeed(t, hNewEnv(t, kind, nil))
	e, root, adminA := w.e, w.tok[isoPlatform], w.tok[isoAdminA]
	bLLM, bVec, bEmb := isoKey("b-llm", "B1b1"), isoKey("b-vec", "B2b2"), isoKey("b-emb", "B3b3")
	aLLM, aVec, aEmb := isoKey("a-llm", "A1a1"), isoKey("a-vec", "A2a2"), isoKey("a-emb", "A3a3")
	bMasked := map[string]string{"llm": "B1b1", "vector_store": "B2b2", "embedder": "B3b3"}
	aMasked := map[string]string{"llm": "A1a1", "vector_store": "A2a2", "embedder": "A3a3"}
	keysBody := func(llm, vec, emb string) string {
		return fmt.Sprintf(`{"llm":{"api_key":%q},"vector_store":{"api_key":%q},"embedder":{"api_key":%q}}`, llm, vec, emb)
	}

	// A platform admin sets B's keys; A's tenant admin sets A's, as a merge patch.
	isoAssertMasked(t, e.want(t, 200, e.send(t, http.MethodPatch, "/admin/tenants/bravo", root, keysBody(bLLM, bVec, bEmb))), bMasked)
	r := e.do(t, hReq{method: http.MethodPatch, path: "/tenant", token: adminA, body: keysBody(aLLM, aVec, aEmb), contentType: "application/merge-patch+json"})
	isoAssertMasked(t, e.want(t, 200, r), aMasked)

	// Every read shows the same mask.
	isoAssertMasked(t, e.want(t, 200, e.send(t, http.MethodGet, "/tenant", adminA, "")), aMasked)
	isoAssertMasked(t, e.want(t, 200, e.send(t, http.MethodGet, "/tenant", w.adminBTok, "")), bMasked)
	isoAssertMasked(t, e.want(t, 200, e.send(t, http.MethodGet, "/admin/tenants/acme", root, "")), aMasked)
	isoAssertMasked(t, e.want(t, 200, e.send(t, http.MethodGet, "/admin/tenants/bravo", root, "")), bMasked)
	for _, it := range hItems(t, e.send(t, http.MethodGet, "/admin/tenants", root, "")) {
		isoAssertMasked(t, it, map[any]map[string]string{string(isoA): aMasked, string(isoB): bMasked}[it["id"]])
	}

	// Rejected writes carrying a key neither store it nor echo it.
	rejected := []struct {
		name, token, path, body string
		status                  int
	}{
		{"tenant admin with a vendor endpoint", adminA, "/tenant", fmt.Sprintf(`{"llm":{"api_key":%q,"base_url":"https://evil.example/v1"}}`, isoKey("x1", "X1x1")), 403},
		{"key with spaces", adminA, "/tenant", `{"llm":{"api_key":"sk-` + isoCanary + ` with spaces 0000"}}`, 400},
		{"key that is not a string", adminA, "/tenant", `{"llm":{"api_key":{"value":"sk-` + isoCanary + `-object-X2x2"}}}`, 400},
		{"key beside an unknown field", adminA, "/tenant", fmt.Sprintf(`{"llm":{"api_key":%q},"bogus":1}`, isoKey("x3", "X3x3")), 400},
		{"key beside an invalid value", root, "/admin/tenants/acme", fmt.Sprintf(`{"llm":{"api_key":%q,"temperature":9}}`, isoKey("x4", "X4x4")), 400},
		{"key on an unknown tenant", root, "/admin/tenants/nobody", keysBody(isoKey("x5", "X5x5"), isoKey("x6", "X6x6"), isoKey("x7", "X7x7")), 404},
	}
	for _, tc := range rejected {
		r := e.send(t, http.MethodPatch, tc.path, tc.token, tc.body)
		assert.Equal(t, tc.status, r.Status, "%s: %s", tc.name, r.Body)
	}
	isoAssertMasked(t, e.want(t, 200, e.send(t, http.MethodGet, "/tenant", adminA, "")), aMasked)

	// Clearing a key shows it unset.
	cleared := e.want(t, 200, e.send(t, http.MethodPatch, "/tenant", adminA, `{"embedder":{"api_key":null}}`))
	isoAssertMasked(t, cleared, map[string]string{"llm": "A1a1", "vector_store": "A2a2"})
	assert.Equal(t, "", isoSection(t, cleared, "embedder")["api_key_last4"])

	// The keys were really stored (and, on SQLite, decrypt back).
	ctx := context.Background()
	tb, err := e.st.Tenants.Get(ctx, isoB)
	require.NoError(t, err)
	assert.Equal(t, []string{bLLM, bVec, bEmb}, []string{tb.LLM.APIKey.Reveal(), tb.VectorStore.APIKey.Reveal(), tb.Embedder.APIKey.Reveal()})
	ta, err := e.st.Tenants.Get(ctx, isoA)
	require.NoError(t, err)
	assert.Equal(t, []string{aLLM, aVec, ""}, []string{ta.LLM.APIKey.Reveal(), ta.VectorStore.APIKey.Reveal(), ta.Embedder.APIKey.Reveal()})

	// Requests on a tenant with keys set run with that configuration in hand.
	e.chat(t, w.tok[isoMemberA], `{"message":"How long do customers have to return goods?"}`)
	e.want(t, 200, e.send(t, http.MethodGet, "/documents", w.adminBTok, ""))

	// The audit trail names the key fields and never their values.
	adminAudit := e.send(t, http.MethodGet, "/admin/audit?limit=100", root, "")
	tenantAudit := e.send(t, http.MethodGet, "/tenant/audit?limit=100", adminA, "")
	for _, r := range []hResp{adminAudit, tenantAudit} {
		require.Equalf(t, http.StatusOK, r.Status, "%s: %s", r.Path, r.Body)
		var changed []string
		for _, it := range hItems(t, r) {
			if it["action"] == "tenant.update" {
				for _, f := range it["changed"].([]any) {
					changed = append(changed, f.(string))
				}
			}
		}
		assert.Subset(t, changed, []string{"llm.api_key", "vector_store.api_key", "embedder.api_key"}, "%s", r.Path)
		isoAssertNoLeak(t, "the audit log "+r.Path, string(r.Body))
	}

	logs := e.logs.String()
	require.Contains(t, logs, `"msg":"request rejected"`, "debug logging was not captured")
	isoAssertNoLeak(t, "the logs", logs, isoTokens(w)...)
	isoAssertNoLeak(t, "the responses", e.hTranscriptText())
	if kind == hSQLite {
		raw := e.hRawDatabase(t)
		require.Contains(t, raw, "You serve Bravo only.", "the raw dump does not see tenant rows")
		isoAssertNoLeak(t, "the database", raw)
	}
}

func isoTokens(w *isoWorld) []string {
	out := []string{w.adminBTok, w.memberBTok}
	for _, tok := range w.tok {
		out = append(out, tok)
	}
	return out
}

// TestSecretsVendorEndpointsAdminOnly: only platform admins point a tenant at a
// vendor, and only over https unless TENANTRY_ALLOW_HTTP_VENDORS is set.
func TestSecretsVendorEndpointsAdminOnly(t *testing.T) {
	for _, allowHTTP := range []bool{false, true} {
		t.Run(fmt.Sprintf("allow_http=%v", allowHTTP), func(t *testing.T) {
			w := isoSeed(t, hNewEnv(t, hMemory, map[string]string{"TENANTRY_ALLOW_HTTP_VENDORS": fmt.Sprint(allowHTTP)}))
			e, root, adminA := w.e, w.tok[isoPlatform], w.tok[isoAdminA]
			before := e.hSnapshot(t, isoA)
			for _, body := range []struct{ field, json string }{
				{"llm.base_url", `{"llm":{"base_url":"https://10.0.0.1/v1"}}`},
				{"llm.base_url", `{"llm":{"base_url":"http://169.254.169.254/latest"}}`},
				{"vector_store.index_host", `{"vector_store":{"index_host":"https://metadata.internal"}}`},
			} {
				r := e.send(t, http.MethodPatch, "/tenant", adminA, body.json)
				require.Equal(t, http.StatusForbidden, r.Status, "%s: %s", body.json, r.Body)
				assert.Equal(t, "forbidden", hProblemCode(t, r))
				assert.Contains(t, isoProblemFields(t, r), body.field)
			}
			require.Equal(t, before, e.hSnapshot(t, isoA), "a refused vendor change altered A")

			plain := []struct{ field, json string }{
				{"llm.base_url", `{"llm":{"base_url":"http://127.0.0.1:11434/v1"}}`},
				{"vector_store.index_host", `{"vector_store":{"index_host":"http://127.0.0.1:5081"}}`},
			}
			for _, body := range plain {
				r := e.send(t, http.MethodPatch, "/admin/tenants/acme", root, body.json)
				if allowHTTP {
					e.want(t, http.StatusOK, r)
					continue
				}
				require.Equal(t, http.StatusBadRequest, r.Status, "%s: %s", body.json, r.Body)
				assert.Contains(t, isoProblemFields(t, r), body.field)
			}
			if !allowHTTP {
				require.Equal(t, before, e.hSnapshot(t, isoA), "a refused http endpoint altered A")
			}
			m := e.want(t, http.StatusOK, e.send(t, http.MethodPatch, "/admin/tenants/acme", root, `{"llm":{"base_url":"https://llm.example.com/v1"}}`))
			assert.Equal(t, "https://llm.example.com/v1", isoSection(t, m, "llm")["base_url"])
		})
	}
}

func isoProblemFields(t *testing.T, r hResp) []string {
	t.Helper()
	var p struct {
		Errors []struct{ Field string } `json:"errors"`
	}
	require.NoError(t, json.Unmarshal(r.Body, &p), "%s", r.Body)
	var out []string
	for _, f := range p.Errors {
		out = append(out, f.Field)
	}
	return out
}

// isoEchoVendor is an OpenAI-compatible and Pinecone-like server that rejects every
// key and, like some real vendors, quotes the key it was given in the error message.
type isoEchoVendor struct {
	srv     *httptest.Server
	mu      sync.Mutex
	seen    []string // keys received, to prove the key really went out
	revoked bool     // false: the Pinecone index description succeeds, as for a key not yet revoked
}

func (v *isoEchoVendor) revoke(b bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.revoked = b
}

func newIsoEchoVendor(t *testing.T) *isoEchoVendor {
	v := &isoEchoVendor{}
	v.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
		if key == "" {
			key = r.Header.Get("Api-Key")
		}
		v.mu.Lock()
		v.seen = append(v.seen, key)
		revoked := v.revoked
		v.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Path == "/describe_index_stats" && !revoked {
			fmt.Fprint(w, `{"namespaces":{},"dimension":384,"indexFullness":0,"totalVectorCount":0}`)
			return
		}
		w.WriteHeader(http.StatusUnauthorized)
		if strings.HasPrefix(r.URL.Path, "/v1/") {
			fmt.Fprintf(w, `{"error":{"message":"Incorrect API key provided: %s.","type":"invalid_request_error","code":"invalid_api_key"}}`, key)
			return
		}
		fmt.Fprintf(w, `{"code":16,"message":"Invalid API Key: %s","details":[]}`, key)
	}))
	t.Cleanup(v.srv.Close)
	return v
}

func (v *isoEchoVendor) sawKey(k string) bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	for _, s := range v.seen {
		if s == k {
			return true
		}
	}
	return false
}

// TestSecretsVendorErrorsDoNotEchoKeys drives ingestion and chat into vendors that
// reject the tenant's key and quote it back: the key must reach neither the client
// nor the logs.
func TestSecretsVendorErrorsDoNotEchoKeys(t *testing.T) {
	vendor := newIsoEchoVendor(t)
	w := isoSeed(t, hNewEnv(t, hMemory, map[string]string{"TENANTRY_ALLOW_HTTP_VENDORS": "true"}))
	e, root, adminB := w.e, w.tok[isoPlatform], w.adminBTok
	llmKey, embKey, vecKey := isoKey("echo-llm", "E1e1"), isoKey("echo-emb", "E2e2"), isoKey("echo-vec", "E3e3")
	patch := func(body string) { e.want(t, 200, e.send(t, http.MethodPatch, "/admin/tenants/bravo", root, body)) }
	failing := func(name, key string, r hResp) {
		t.Helper()
		code := hProblemCode(t, r)
		if r.Status == http.StatusOK {
			// The failure came after the stream began: one error event ends it.
			evs := hParseSSE(t, r.Body)
			require.NotEmpty(t, evs, name)
			last := evs[len(evs)-1]
			require.Equal(t, "error", last.Name, "%s: %s", name, r.Body)
			var p struct{ Code string }
			require.NoError(t, json.Unmarshal([]byte(last.Data), &p))
			code = p.Code
		}
		assert.Equal(t, "vendor_key_rejected", code, "%s: %d %s", name, r.Status, r.Body)
		assert.True(t, vendor.sawKey(key), "%s: the vendor never received the key, so the test proves nothing", name)
	}
	doc := `{"title":"Echo","text":"Bravo keeps its vault passphrase in the vault."}`
	// Without documents, B's new vendors need no re-index: chat calls them at once.
	e.want(t, http.StatusNoContent, e.send(t, http.MethodDelete, "/documents/"+w.docB, adminB, ""))

	patch(fmt.Sprintf(`{"llm":{"provider":"openai","base_url":%q,"model":"gpt-test","api_key":%q},
		"embedder":{"provider":"openai","model":"text-embedding-3-small","dimensions":384,"api_key":%q}}`, vendor.srv.URL+"/v1", llmKey, embKey))
	failing("openai embedder on ingest", embKey, e.send(t, http.MethodPost, "/documents", adminB, doc))
	failing("openai embedder on chat", embKey, e.send(t, http.MethodPost, "/chat/stream", adminB, `{"message":"passphrase?"}`))

	patch(`{"embedder":{"provider":"hashing","model":"hashing-v1","dimensions":384}}`)
	failing("openai chat model", llmKey, e.send(t, http.MethodPost, "/chat/stream", adminB, `{"message":"passphrase?"}`))

	pinecone := fmt.Sprintf(`{"llm":{"provider":"extractive","model":"extractive"},
		"vector_store":{"provider":"pinecone","index_host":%q,"api_key":%q}}`, vendor.srv.URL, vecKey)
	// Pinecone is asked before the configuration is stored: a rejected key is a 400 that
	// names the field and quotes nothing.
	vendor.revoke(true)
	r := e.send(t, http.MethodPatch, "/admin/tenants/bravo", root, pinecone)
	require.Equal(t, http.StatusBadRequest, r.Status, "%s", r.Body)
	assert.Equal(t, []string{"vector_store.api_key"}, isoProblemFields(t, r))
	assert.True(t, vendor.sawKey(vecKey))
	// Accepted at configuration, the key is revoked afterwards.
	vendor.revoke(false)
	patch(pinecone)
	vendor.revoke(true)
	failing("pinecone upsert", vecKey, e.send(t, http.MethodPost, "/documents", adminB, doc))
	failing("pinecone query", vecKey, e.send(t, http.MethodPost, "/chat/stream", adminB, `{"message":"passphrase?"}`))

	logs := e.logs.String()
	require.Contains(t, logs, "vendor_key_rejected", "the vendor failures were not logged")
	isoAssertNoLeak(t, "the logs", logs, isoTokens(w)...)
	isoAssertNoLeak(t, "the responses", e.hTranscriptText())
	// The control: the vendor did quote the keys, so their absence above is redaction.
	assert.True(t, vendor.sawKey(llmKey) && vendor.sawKey(embKey) && vendor.sawKey(vecKey))
}
