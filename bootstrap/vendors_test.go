package bootstrap

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/adapters/extractive"
	"github.com/tenantry/tenantry/adapters/memory"
	"github.com/tenantry/tenantry/adapters/openai/openaitest"
	"github.com/tenantry/tenantry/adapters/pinecone"
	"github.com/tenantry/tenantry/adapters/pinecone/pineconetest"
	"github.com/tenantry/tenantry/adapters/vecsearch"
	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/ports/porttest"
)

// The documents of the two tenants share most words, so a search that crossed tenants
// would find the other's.
const (
	vtAcmeDoc     = "Acme refund policy ACMEDOC: the refund window is thirty days from delivery."
	vtBravoDoc    = "Bravo refund policy BRAVODOC: the refund window is ninety days from delivery."
	vtAcmePrompt  = "You are the Acme assistant ACME-PROMPT."
	vtBravoPrompt = "You are the Bravo assistant BRAVO-PROMPT."
	vtQuestion    = "How long is the refund window?"
)

func TestVendorPineconeAndOpenAIServeEachTenantWithItsOwn(t *testing.T) {
	t.Parallel()
	pcA, pcB := vtKey("pcsk", "acme"), vtKey("pcsk", "bravo")
	skA, skB := vtKey("sk", "acme"), vtKey("sk", "bravo")
	pc := pineconetest.New(t, vtDims, pcA, pcB)
	aiA := openaitest.New(t, openaitest.Options{APIKey: skA, Reply: []string{"Thirty", " days", " [1]."}, PromptTokens: 120, CompletionTokens: 30})
	aiB := openaitest.New(t, openaitest.Options{APIKey: skB, Reply: []string{"Ninety days."}, PromptTokens: 7, CompletionTokens: 3})
	e := vtNewEnv(t, nil)
	acme := e.tenant(t, "acme", vtVendorConfig(pc, pcA, aiA, skA, vtAcmePrompt))
	bravo := e.tenant(t, "bravo", vtVendorConfig(pc, pcB, aiB, skB, vtBravoPrompt))

	e.ingest(t, acme, "Refunds", vtAcmeDoc)
	e.ingest(t, bravo, "Refunds", vtBravoDoc)
	// Vectors the acme client must never see: its own key's other namespace, and its
	// namespace's name under the other key.
	foreign := func(text string) map[string]any {
		return map[string]any{"document_id": "foreign", "chunk": 0, "title": "Foreign", "text": text}
	}
	pc.Put(pcA, "bravo", "foreign#0", openaitest.Vector(vtQuestion, vtDims), foreign("FOREIGN-SAMEKEY refund window"))
	pc.Put(pcB, "acme", "foreign#0", openaitest.Vector(vtQuestion, vtDims), foreign("FOREIGN-SAMENS refund window"))

	for _, c := range pc.CallsTo(http.MethodPost, "/vectors/upsert") {
		want := map[string]string{pcA: "acme", pcB: "bravo"}[c.APIKey]
		assert.Equal(t, want, c.Namespace, "an upsert under one tenant's key went to another namespace")
	}
	assert.NotEmpty(t, pc.IDs(pcA, "acme"))
	assert.NotEmpty(t, pc.IDs(pcB, "bravo"))
	for _, r := range aiA.EmbeddingRequests() {
		assert.Equal(t, "Bearer "+skA, r.Authorization)
		require.NotNil(t, r.Dimensions)
		assert.Equal(t, vtDims, *r.Dimensions)
	}

	got := e.chat(t, acme, vtQuestion)
	require.Nil(t, got.Error, "%v", got.Error)
	assert.Contains(t, vtSourceTexts(got), "ACMEDOC")
	assert.NotContains(t, vtSourceTexts(got), "BRAVODOC")
	assert.NotContains(t, vtSourceTexts(got), "FOREIGN")
	assert.Equal(t, "Thirty days [1].", got.Text, "the answer is the model's deltas")
	require.NotNil(t, got.Done)
	assert.Equal(t, map[string]any{"prompt_tokens": 120.0, "completion_tokens": 30.0}, got.Done["usage"])
	assert.Equal(t, vtModel, got.Done["model"])
	assert.Equal(t, "stop", got.Done["finish_reason"])

	reqs := aiA.ChatRequests()
	require.Len(t, reqs, 1)
	assert.Equal(t, "Bearer "+skA, reqs[0].Authorization)
	assert.Equal(t, vtModel, reqs[0].Model)
	require.NotEmpty(t, reqs[0].Messages)
	assert.Equal(t, "system", reqs[0].Messages[0].Role)
	assert.Contains(t, reqs[0].Messages[0].Content, vtAcmePrompt)
	assert.Contains(t, reqs[0].Messages[0].Content, "ACMEDOC", "the retrieved passage reaches the model")
	assert.Equal(t, openaitest.Message{Role: "user", Content: vtQuestion}, reqs[0].Messages[len(reqs[0].Messages)-1])

	gotB := e.chat(t, bravo, vtQuestion)
	require.NotNil(t, gotB.Done, "%v", gotB.Error)
	assert.Equal(t, "Ninety days.", gotB.Text)
	reqsB := aiB.ChatRequests()
	require.Len(t, reqsB, 1)
	assert.Contains(t, reqsB[0].Messages[0].Content, vtBravoPrompt)
	assert.Contains(t, reqsB[0].Messages[0].Content, "BRAVODOC")
	for _, r := range aiA.ChatRequests() {
		for _, leak := range []string{"BRAVO", "FOREIGN", skB} {
			assert.NotContains(t, vtRequestText(r)+r.Authorization, leak, "acme's model received another tenant's data")
		}
	}
	for _, r := range reqsB {
		for _, leak := range []string{"ACME", "FOREIGN", skA} {
			assert.NotContains(t, vtRequestText(r)+r.Authorization, leak, "bravo's model received another tenant's data")
		}
	}

	usage := e.want(t, http.StatusOK, e.send(t, http.MethodGet, "/usage", acme, ""))
	assert.Equal(t, 120.0, usage["prompt_tokens"])
	assert.Equal(t, 30.0, usage["completion_tokens"])
	assert.Equal(t, 150.0, usage["total_tokens"])
	assert.Positive(t, usage["read_units"], "Pinecone's query read units are recorded with the usage")
	all := e.want(t, http.StatusOK, e.send(t, http.MethodGet, "/admin/usage", e.root, ""))
	totals := map[string]float64{}
	for _, it := range all["items"].([]any) {
		m := it.(map[string]any)
		totals[m["tenant_id"].(string)] = m["total_tokens"].(float64)
	}
	assert.Equal(t, map[string]float64{"acme": 150, "bravo": 10}, totals)

	// The quota is spent: the next question is refused before any vendor call.
	e.want(t, http.StatusOK, e.send(t, http.MethodPatch, "/admin/tenants/acme", e.root, `{"limits":{"monthly_token_quota":150}}`))
	usage = e.want(t, http.StatusOK, e.send(t, http.MethodGet, "/usage", acme, ""))
	assert.Equal(t, 0.0, usage["tokens_left"])
	queries, embeds := len(pc.CallsTo(http.MethodPost, "/query")), len(aiA.EmbeddingRequests())
	r := e.send(t, http.MethodPost, "/chat/stream", acme, fmt.Sprintf(`{"message":%q}`, vtQuestion))
	require.Equal(t, http.StatusTooManyRequests, r.Status, "%s", r.Body)
	code, _ := vtProblem(t, r.Body)
	assert.Equal(t, "quota_exceeded", code)
	assert.Len(t, aiA.ChatRequests(), 1, "the model was called over quota")
	assert.Len(t, aiA.EmbeddingRequests(), embeds, "the embedder was called over quota")
	assert.Len(t, pc.CallsTo(http.MethodPost, "/query"), queries, "Pinecone was queried over quota")
}

func TestVendorTenantDeleteDropsOnlyItsNamespace(t *testing.T) {
	t.Parallel()
	pcA, pcB := vtKey("pcsk", "acme"), vtKey("pcsk", "bravo")
	pc := pineconetest.New(t, vtDims, pcA, pcB)
	e := vtNewEnv(t, nil)
	cfg := func(key string) string {
		return fmt.Sprintf(`{"vector_store":{"provider":"pinecone","index_host":%q,"api_key":%q},
			"embedder":{"provider":"hashing","model":"hashing-v1","dimensions":%d}}`, pc.URL, key, vtDims)
	}
	acme := e.tenant(t, "acme", cfg(pcA))
	bravo := e.tenant(t, "bravo", cfg(pcB))
	e.ingest(t, acme, "Refunds", vtAcmeDoc)
	e.ingest(t, bravo, "Refunds", vtBravoDoc)
	pc.Put(pcA, "other", "keep#0", make([]float32, vtDims), map[string]any{"text": "another namespace under acme's key"})
	bravoIDs := pc.IDs(pcB, "bravo")
	require.NotEmpty(t, bravoIDs)
	require.NotEmpty(t, pc.IDs(pcA, "acme"))

	r := e.send(t, http.MethodDelete, "/admin/tenants/acme", e.root, "")
	require.Equal(t, http.StatusConflict, r.Status, "an active tenant must be suspended first: %s", r.Body)
	e.want(t, http.StatusOK, e.send(t, http.MethodPatch, "/admin/tenants/acme", e.root, `{"status":"suspended"}`))
	before := len(pc.Calls())
	e.want(t, http.StatusNoContent, e.send(t, http.MethodDelete, "/admin/tenants/acme", e.root, ""))

	deleting := pc.Calls()[before:]
	require.NotEmpty(t, deleting)
	for _, c := range deleting {
		assert.Equal(t, pineconetest.Call{Method: http.MethodDelete, Path: "/namespaces/acme", APIKey: pcA, Status: http.StatusOK},
			pineconetest.Call{Method: c.Method, Path: c.Path, APIKey: c.APIKey, Status: c.Status}, "deleting acme made another call")
	}
	assert.Empty(t, pc.IDs(pcA, "acme"), "acme's vectors survived")
	assert.Equal(t, []string{"keep#0"}, pc.IDs(pcA, "other"), "another namespace under acme's key was touched")
	assert.Equal(t, bravoIDs, pc.IDs(pcB, "bravo"), "bravo's vectors changed")
	e.want(t, http.StatusNotFound, e.send(t, http.MethodGet, "/admin/tenants/acme", e.root, ""))

	got := e.chat(t, bravo, vtQuestion)
	require.NotNil(t, got.Done, "%v", got.Error)
	assert.Contains(t, vtSourceTexts(got), "BRAVODOC")
}

// vtFaultEnv is one tenant on Pinecone and the OpenAI fake with a short model idle
// timeout.
type vtFaultEnv struct {
	*vtEnv
	pc    *pineconetest.Server
	ai    *openaitest.Server
	token string
}

const vtIdle = 400 * time.Millisecond

func vtNewFaultEnv(t *testing.T) vtFaultEnv {
	t.Helper()
	pcKey, aiKey := vtKey("pcsk", "acme"), vtKey("sk", "acme")
	f := vtFaultEnv{pc: pineconetest.New(t, vtDims, pcKey),
		ai: openaitest.New(t, openaitest.Options{APIKey: aiKey, Reply: []string{"Thirty", " days", " from", " delivery."}})}
	f.vtEnv = vtNewEnv(t, map[string]string{"TENANTRY_MODEL_IDLE_TIMEOUT": vtIdle.String()})
	f.token = f.tenant(t, "acme", vtVendorConfig(f.pc, pcKey, f.ai, aiKey, vtAcmePrompt))
	f.ingest(t, f.token, "Refunds", vtAcmeDoc)
	return f
}

// vtFailedStream asserts a stream that began (sources sent) and ended with one error
// event, and returns that event's problem code and status.
func vtFailedStream(t *testing.T, c vtChat) (string, float64) {
	t.Helper()
	require.NotEmpty(t, c.Events)
	assert.Equal(t, "sources", c.Events[0].Name)
	require.NotNil(t, c.Error, "the stream did not end with an error event: %v", c.Events)
	assert.Nil(t, c.Done)
	return c.Error["code"].(string), c.Error["status"].(float64)
}

func TestVendorFaultsEndToEnd(t *testing.T) {
	t.Parallel()
	t.Run("model 500 after the stream began", func(t *testing.T) {
		t.Parallel()
		f := vtNewFaultEnv(t)
		f.ai.Inject(openaitest.Fault{Path: "/chat/completions", Status: http.StatusInternalServerError})
		code, status := vtFailedStream(t, f.chat(t, f.token, vtQuestion))
		assert.Equal(t, "vendor_unavailable", code)
		assert.Equal(t, 503.0, status)
		a := f.lastAssistant(t, f.token)
		assert.Equal(t, true, a["incomplete"])
	})
	t.Run("model 429 after the stream began", func(t *testing.T) {
		t.Parallel()
		f := vtNewFaultEnv(t)
		f.ai.Inject(openaitest.Fault{Path: "/chat/completions", Status: http.StatusTooManyRequests, RetryAfter: "7", Code: "rate_limit_exceeded"})
		code, status := vtFailedStream(t, f.chat(t, f.token, vtQuestion))
		assert.Equal(t, "vendor_rate_limited", code)
		assert.Equal(t, 429.0, status)
	})
	t.Run("embeddings 429 before the stream", func(t *testing.T) {
		t.Parallel()
		f := vtNewFaultEnv(t)
		f.ai.Inject(openaitest.Fault{Path: "/embeddings", Status: http.StatusTooManyRequests, RetryAfter: "30", Code: "rate_limit_exceeded", Times: -1})
		r := f.send(t, http.MethodPost, "/chat/stream", f.token, fmt.Sprintf(`{"message":%q}`, vtQuestion))
		require.Equal(t, http.StatusTooManyRequests, r.Status, "%s", r.Body)
		assert.Equal(t, "application/problem+json", r.Header.Get("Content-Type"))
		assert.Equal(t, "30", r.Header.Get("Retry-After"))
		code, _ := vtProblem(t, r.Body)
		assert.Equal(t, "vendor_rate_limited", code)
		assert.Empty(t, f.ai.ChatRequests(), "the model was called after retrieval failed")
	})
	t.Run("stream cut mid-answer", func(t *testing.T) {
		t.Parallel()
		f := vtNewFaultEnv(t)
		f.ai.Inject(openaitest.Fault{Path: "/chat/completions", After: 2, Cut: true})
		c := f.chat(t, f.token, vtQuestion)
		code, status := vtFailedStream(t, c)
		assert.Equal(t, "vendor_stream_cut", code)
		assert.Equal(t, 503.0, status)
		assert.Equal(t, "Thirty days", c.Text)
		a := f.lastAssistant(t, f.token)
		assert.Equal(t, "Thirty days", a["content"], "the partial answer is stored")
		assert.Equal(t, true, a["incomplete"])
	})
	t.Run("stall past the idle timeout", func(t *testing.T) {
		t.Parallel()
		f := vtNewFaultEnv(t)
		f.ai.Inject(openaitest.Fault{Path: "/chat/completions", After: 1, Stall: true})
		start := time.Now()
		c := f.chat(t, f.token, vtQuestion)
		took := time.Since(start)
		code, status := vtFailedStream(t, c)
		assert.Equal(t, "vendor_timeout", code)
		assert.Equal(t, 503.0, status)
		assert.GreaterOrEqual(t, took, vtIdle)
		assert.Less(t, took, vtIdle+3*time.Second, "the error came long after the idle timeout")
		assert.Equal(t, "Thirty", c.Text)
		a := f.lastAssistant(t, f.token)
		assert.Equal(t, "Thirty", a["content"])
		assert.Equal(t, true, a["incomplete"])
	})
	t.Run("pinecone 503s on query", func(t *testing.T) {
		t.Parallel()
		f := vtNewFaultEnv(t)
		f.pc.Inject(pineconetest.Fault{Method: http.MethodPost, Path: "/query", Status: http.StatusServiceUnavailable, Times: -1})
		r := f.send(t, http.MethodPost, "/chat/stream", f.token, fmt.Sprintf(`{"message":%q}`, vtQuestion))
		require.Equal(t, http.StatusServiceUnavailable, r.Status, "%s", r.Body)
		code, _ := vtProblem(t, r.Body)
		assert.Equal(t, "vendor_unavailable", code)
		tries := len(f.pc.CallsTo(http.MethodPost, "/query"))
		assert.Greater(t, tries, 1, "a 503 was not retried")
		assert.LessOrEqual(t, tries, pinecone.DefaultMaxAttempts, "retries are not bounded")
		assert.Empty(t, f.ai.ChatRequests())
	})
	t.Run("pinecone 503s on upsert", func(t *testing.T) {
		t.Parallel()
		f := vtNewFaultEnv(t)
		f.pc.Inject(pineconetest.Fault{Method: http.MethodPost, Path: "/vectors/upsert", Status: http.StatusServiceUnavailable, Times: -1})
		r := f.send(t, http.MethodPost, "/documents", f.token, `{"title":"Shipping","text":"Acme ships within two days."}`)
		require.Equal(t, http.StatusServiceUnavailable, r.Status, "%s", r.Body)
		code, _ := vtProblem(t, r.Body)
		assert.Equal(t, "vendor_unavailable", code)
		assert.LessOrEqual(t, len(f.pc.CallsTo(http.MethodPost, "/vectors/upsert")), 1+pinecone.DefaultMaxAttempts)
		docs := f.want(t, http.StatusOK, f.send(t, http.MethodGet, "/documents", f.token, ""))
		assert.Len(t, docs["items"], 1, "a document whose vectors failed became visible")
	})
}

func TestVendorStalledTenantNeverBlocksAnother(t *testing.T) {
	t.Parallel()
	// Both tenants use one keyless OpenAI-compatible server (a shared local model), so
	// they share the vendor host and the outgoing connection pool too.
	ai := openaitest.New(t, openaitest.Options{Reply: []string{"Answer."}})
	e := vtNewEnv(t, map[string]string{"TENANTRY_MODEL_IDLE_TIMEOUT": "1m"})
	llm := fmt.Sprintf(`"llm":{"provider":"openai","base_url":%q,"model":"llama3"}`, ai.URL)
	acme := e.tenant(t, "acme", `{`+llm+`,"limits":{"max_concurrent_streams":1}}`)
	bravo := e.tenant(t, "bravo", `{`+llm+`}`)
	ai.Inject(openaitest.Fault{Path: "/chat/completions", After: 0, Stall: true}) // the first chat hangs

	ctxA, cancelA := context.WithCancel(context.Background())
	defer cancelA()
	doneA := make(chan error, 1)
	go func() {
		_, err := e.doCtx(ctxA, http.MethodPost, "/chat/stream", acme, `{"message":"hello"}`)
		doneA <- err
	}()
	deadline := time.Now().Add(10 * time.Second)
	for ai.OpenStreams() == 0 {
		require.True(t, time.Now().Before(deadline), "acme's chat never reached the model")
		time.Sleep(5 * time.Millisecond)
	}

	// acme's own bound refuses its second stream at once...
	r := e.send(t, http.MethodPost, "/chat/stream", acme, `{"message":"hello again"}`)
	require.Equal(t, http.StatusTooManyRequests, r.Status, "%s", r.Body)
	code, _ := vtProblem(t, r.Body)
	assert.Equal(t, "too_many_streams", code)

	// ...while bravo answers in full.
	ctxB, cancelB := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancelB()
	rb, err := e.doCtx(ctxB, http.MethodPost, "/chat/stream", bravo, `{"message":"hello"}`)
	require.NoError(t, err, "bravo's chat was held up by acme's stalled model")
	got := vtParseChat(t, rb)
	require.NotNil(t, got.Done, "%v", got.Error)
	assert.Equal(t, "Answer.", got.Text)
	select {
	case err := <-doneA:
		t.Fatalf("acme's stalled chat ended early: %v", err)
	default:
	}

	cancelA()
	select {
	case <-doneA:
	case <-time.After(10 * time.Second):
		t.Fatal("acme's chat did not end after its client left")
	}
	deadline = time.Now().Add(10 * time.Second)
	for ai.OpenStreams() != 0 {
		require.True(t, time.Now().Before(deadline), "the model call outlived the client")
		time.Sleep(5 * time.Millisecond)
	}
}

func TestVendorKeysTravelOnlyInVendorHeaders(t *testing.T) {
	t.Parallel()
	pcKey, aiKey := vtKey("pcsk", "acme"), vtKey("sk", "acme")
	wrongPC, revokedAI := vtKey("pcsk", "wrong"), vtKey("sk", "revoked")
	pc := pineconetest.New(t, vtDims, pcKey)
	ai := openaitest.New(t, openaitest.Options{APIKey: aiKey, Reply: []string{"Thirty days."}})
	e := vtNewEnv(t, nil)
	acme := e.tenant(t, "acme", vtVendorConfig(pc, pcKey, ai, aiKey, vtAcmePrompt))

	e.ingest(t, acme, "Refunds", vtAcmeDoc)
	require.NotNil(t, e.chat(t, acme, vtQuestion).Done)
	for _, path := range []string{"/tenant", "/tenant/audit", "/usage"} {
		e.want(t, http.StatusOK, e.send(t, http.MethodGet, path, acme, ""))
	}
	for _, path := range []string{"/admin/tenants/acme", "/admin/tenants", "/admin/audit", "/admin/usage"} {
		e.want(t, http.StatusOK, e.send(t, http.MethodGet, path, e.root, ""))
	}

	// Pinecone rejects a key at configuration time.
	r := e.send(t, http.MethodPatch, "/tenant", acme, fmt.Sprintf(`{"vector_store":{"api_key":%q}}`, wrongPC))
	require.Equal(t, http.StatusBadRequest, r.Status, "%s", r.Body)
	_, fields := vtProblem(t, r.Body)
	assert.Equal(t, []string{"vector_store.api_key"}, fields)
	// Vendors fail: Pinecone 500s, the model 500s, then rejects a revoked key.
	pc.Inject(pineconetest.Fault{Method: http.MethodPost, Path: "/query", Status: http.StatusInternalServerError, Times: pinecone.DefaultMaxAttempts})
	r = e.send(t, http.MethodPost, "/chat/stream", acme, fmt.Sprintf(`{"message":%q}`, vtQuestion))
	require.Equal(t, http.StatusServiceUnavailable, r.Status, "%s", r.Body)
	ai.Inject(openaitest.Fault{Path: "/chat/completions", Status: http.StatusInternalServerError})
	code, _ := vtFailedStream(t, e.chat(t, acme, vtQuestion))
	assert.Equal(t, "vendor_unavailable", code)
	e.want(t, http.StatusOK, e.send(t, http.MethodPatch, "/tenant", acme, fmt.Sprintf(`{"llm":{"api_key":%q}}`, revokedAI)))
	code, _ = vtFailedStream(t, e.chat(t, acme, vtQuestion))
	assert.Equal(t, "vendor_key_rejected", code)

	// The keys did go out, in the vendors' own headers...
	sent := map[string]bool{}
	for _, c := range pc.Calls() {
		sent[c.APIKey] = true
	}
	assert.True(t, sent[pcKey] && sent[wrongPC], "Pinecone never received the keys, so the checks below prove nothing")
	auths := map[string]bool{}
	for _, c := range ai.ChatRequests() {
		auths[c.Authorization] = true
	}
	for _, c := range ai.EmbeddingRequests() {
		auths[c.Authorization] = true
	}
	assert.True(t, auths["Bearer "+aiKey] && auths["Bearer "+revokedAI], "the model server never received the keys")

	// ...and nowhere else: not in any response, log line, audit entry or error.
	logs := e.logs.String()
	require.Contains(t, logs, "vendor_key_rejected", "the failures were not logged, so the log check proves nothing")
	require.Contains(t, logs, `"level":"debug"`)
	assert.NotContains(t, logs, vtMarker, "a vendor key reached the logs")
	assert.NotContains(t, e.transcript(), vtMarker, "a vendor key reached a response")
	entries, err := e.st.Audit.List(context.Background(), "", domain.Page{Limit: 100})
	require.NoError(t, err)
	require.NotEmpty(t, entries)
	audit, err := json.Marshal(entries)
	require.NoError(t, err)
	assert.Contains(t, string(audit), "vector_store.api_key", "the audit names the changed key")
	assert.NotContains(t, string(audit), vtMarker, "a vendor key reached the audit log")
	tenant := e.want(t, http.StatusOK, e.send(t, http.MethodGet, "/admin/tenants/acme", e.root, ""))
	assert.Equal(t, "Q7x2", tenant["vector_store"].(map[string]any)["api_key_last4"], "the rejected key replaced the working one")
}

func TestVendorFactoryPassesThePortSuite(t *testing.T) {
	t.Parallel()
	index := vecsearch.New(memory.NewDB().Chunks(), vecsearch.Config{Workers: 1})
	t.Cleanup(func() { _ = index.Close() })
	porttest.Vendors(t, &vendors{embedded: index, answerer: extractive.New(extractive.Config{}), http: newVendorHTTPClient()})
}

func TestVendorConfigurationIsCheckedBeforeItIsStored(t *testing.T) {
	t.Parallel()
	pcKey, wrongKey := vtKey("pcsk", "acme"), vtKey("pcsk", "wrong")
	pc := pineconetest.New(t, vtDims, pcKey)
	e := vtNewEnv(t, nil)
	acme := e.tenant(t, "acme", "")
	config := func(key string, dims int) string {
		return fmt.Sprintf(`{"vector_store":{"provider":"pinecone","index_host":%q,"api_key":%q},
			"embedder":{"provider":"hashing","model":"hashing-v1","dimensions":%d}}`, pc.URL, key, dims)
	}
	shown := func() string {
		t.Helper()
		r := e.send(t, http.MethodGet, "/admin/tenants/acme", e.root, "")
		require.Equal(t, http.StatusOK, r.Status)
		return string(r.Body)
	}
	refused := func(status int, token, path, body, field string) {
		t.Helper()
		before := shown()
		r := e.send(t, http.MethodPatch, path, token, body)
		require.Equalf(t, status, r.Status, "%s", r.Body)
		assert.Equal(t, "application/problem+json", r.Header.Get("Content-Type"))
		if field != "" {
			_, fields := vtProblem(t, r.Body)
			assert.Equal(t, []string{field}, fields)
		}
		assert.Equal(t, before, shown(), "a refused configuration changed the tenant")
	}

	refused(http.StatusBadRequest, e.root, "/admin/tenants/acme", config(pcKey, 384), "embedder.dimensions")
	refused(http.StatusBadRequest, e.root, "/admin/tenants/acme", config(wrongKey, vtDims), "vector_store.api_key")
	refused(http.StatusBadRequest, e.root, "/admin/tenants/acme", fmt.Sprintf(`{"vector_store":{"provider":"pinecone","index_host":%q}}`, pc.URL), "vector_store.api_key")
	pc.Inject(pineconetest.Fault{Path: "/describe_index_stats", Status: http.StatusServiceUnavailable, Times: -1})
	refused(http.StatusServiceUnavailable, e.root, "/admin/tenants/acme", config(pcKey, vtDims), "")
	require.NotEmpty(t, pc.CallsTo(http.MethodPost, "/describe_index_stats"))
	for _, c := range pc.CallsTo(http.MethodPost, "/describe_index_stats") {
		if c.Status == http.StatusUnauthorized {
			assert.Equal(t, wrongKey, c.APIKey, "a key Pinecone accepts was refused")
		}
	}

	pc2 := pineconetest.New(t, vtDims, pcKey)
	good := fmt.Sprintf(`{"vector_store":{"provider":"pinecone","index_host":%q,"api_key":%q},
		"embedder":{"provider":"hashing","model":"hashing-v1","dimensions":%d}}`, pc2.URL, pcKey, vtDims)
	m := e.want(t, http.StatusOK, e.send(t, http.MethodPatch, "/admin/tenants/acme", e.root, good))
	assert.Equal(t, "pinecone", m["vector_store"].(map[string]any)["provider"])
	require.Len(t, pc2.CallsTo(http.MethodPost, "/describe_index_stats"), 1)
	assert.Equal(t, pcKey, pc2.CallsTo(http.MethodPost, "/describe_index_stats")[0].APIKey)

	// Once configured, a dimension or key that no longer fits is refused too, also
	// when a tenant admin rotates the key.
	refused(http.StatusBadRequest, e.root, "/admin/tenants/acme", `{"embedder":{"dimensions":128}}`, "embedder.dimensions")
	refused(http.StatusBadRequest, acme, "/tenant", fmt.Sprintf(`{"vector_store":{"api_key":%q}}`, wrongKey), "vector_store.api_key")
	// Changes that do not touch the vectors are not checked.
	checks := len(pc2.CallsTo(http.MethodPost, "/describe_index_stats"))
	e.want(t, http.StatusOK, e.send(t, http.MethodPatch, "/tenant", acme, `{"system_prompt":"Be brief."}`))
	e.want(t, http.StatusOK, e.send(t, http.MethodPatch, "/admin/tenants/acme", e.root, `{"limits":{"requests_per_minute":60}}`))
	// Leaving Pinecone needs no vendor.
	e.want(t, http.StatusOK, e.send(t, http.MethodPatch, "/admin/tenants/acme", e.root,
		`{"vector_store":{"provider":"embedded"},"embedder":{"dimensions":384}}`))
	assert.Len(t, pc2.CallsTo(http.MethodPost, "/describe_index_stats"), checks)
}

func TestVendorSendDimensionsOffServesAModelWithoutMatryoshka(t *testing.T) {
	t.Parallel()
	sk := vtKey("sk", "acme")
	ai := openaitest.New(t, openaitest.Options{APIKey: sk, EmbeddingDims: vtDims, NoMatryoshka: true, Reply: []string{"Thirty days [1]."}})
	e := vtNewEnv(t, nil)
	acme := e.tenant(t, "acme", fmt.Sprintf(`{
		"embedder":{"provider":"openai","model":"BAAI/bge-m3","dimensions":%d,"send_dimensions":false,"api_key":%q},
		"llm":{"provider":"openai","base_url":%q,"model":%q,"api_key":%q}}`, vtDims, sk, ai.URL, vtModel, sk))

	e.ingest(t, acme, "Refunds", vtAcmeDoc)
	got := e.chat(t, acme, vtQuestion)

	require.Nil(t, got.Error, "%v", got.Error)
	assert.Contains(t, vtSourceTexts(got), "ACMEDOC")
	require.NotEmpty(t, ai.EmbeddingRequests())
	for _, r := range ai.EmbeddingRequests() {
		assert.Nil(t, r.Dimensions, "dimensions went to a model that refuses it")
	}
	tenant := e.want(t, http.StatusOK, e.send(t, http.MethodGet, "/tenant", acme, ""))
	assert.Equal(t, false, tenant["embedder"].(map[string]any)["send_dimensions"])
}

func TestVendorCheckAsksPineconeInferenceAboutTheModel(t *testing.T) {
	t.Parallel()
	key := vtKey("pcsk", "acme")
	pc := pineconetest.New(t, vtDims, key)
	v := &vendors{http: newVendorHTTPClient(), inferenceHost: pc.URL}
	tenant := func(model string, dims int, send bool) domain.Tenant {
		tn, err := domain.NewTenant("acme", "Acme", time.Now())
		require.NoError(t, err)
		tn.Embedder = domain.EmbedderSettings{Provider: domain.EmbedderPinecone, Model: model, Dimensions: dims, SendDimensions: send, APIKey: domain.Secret(key)}
		return tn
	}

	require.NoError(t, v.Check(t.Context(), tenant("llama-text-embed-v2", 512, true)))
	err := v.Check(t.Context(), tenant("llama-text-embed-v2", 512, false))
	require.Equal(t, domain.KindInvalid, domain.KindOf(err), "%v", err)
	assert.Equal(t, "embedder.dimensions", domain.AsError(err).Fields[0].Field)
	err = v.Check(t.Context(), tenant("no-such-model", 512, true))
	require.Equal(t, domain.KindInvalid, domain.KindOf(err), "%v", err)
	assert.Equal(t, "embedder.model", domain.AsError(err).Fields[0].Field)
	assert.Len(t, pc.CallsTo(http.MethodGet, "/models/llama-text-embed-v2"), 2)
	assert.Empty(t, pc.CallsTo(http.MethodPost, "/embed"), "checking spends no tokens")
}
