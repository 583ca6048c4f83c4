package bootstrap

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/adapters/extractive"
	"github.com/tenantry/tenantry/adapters/memory"
	"github.com/tenantry/tenantry/adapters/openai/openaitest"
	"github.com/tenantry/tenantry/adapters/passwords"
	"github.com/tenantry/tenantry/adapters/pinecone/pineconetest"
	"github.com/tenantry/tenantry/adapters/secretbox"
	"github.com/tenantry/tenantry/adapters/vecsearch"
	"github.com/tenantry/tenantry/application"
	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/ports"
)

// Issue 6 through the production router (Router with the real vendor factory, as
// serve builds it) on memory stores, against the local Pinecone and OpenAI-compatible
// fakes, which check every request against the vendors' documented wire format.

const (
	vtPassword = "vendor tests password 0123"
	// vtMarker is part of every vendor key these tests use: finding it anywhere but in
	// an outgoing vendor header is a leak.
	vtMarker = "LEAKCHECK"
	vtDims   = 64
	vtModel  = "gpt-4o-mini"
)

// vtKey returns a recognisable vendor key; its last four characters (the only part a
// response may show) never contain the marker.
func vtKey(prefix, name string) string {
	return prefix + "-" + vtMarker + "-" + name + "-5d0c81f9a2e4b7" + "Q7x2"
}

// vtResp is one response as the client saw it.
type vtResp struct {
	Status int
	Header http.Header
	Body   []byte
}

// vtEnv is the production router behind an httptest server, logging at debug level
// into logs, with every response it sent kept for leak checks.
type vtEnv struct {
	st   Stores
	srv  *httptest.Server
	logs *hBuffer
	root string // a platform admin's access token

	mu        sync.Mutex
	responses []vtResp
}

// vtNewEnv builds the router with env over the test defaults (plain-http vendors
// allowed, debug logs) and seeds a platform admin.
func vtNewEnv(t *testing.T, env map[string]string) *vtEnv {
	t.Helper()
	return vtNewEnvTrusting(t, env, nil)
}

// vtNewEnvTrusting is vtNewEnv whose vendor client also trusts the certificate caPEM
// (a vendor fake served over TLS); nil trusts the system's roots only.
func vtNewEnvTrusting(t *testing.T, env map[string]string, caPEM []byte) *vtEnv {
	t.Helper()
	vars := map[string]string{"TENANTRY_PUBLIC_URL": "http://tenantry.test", "TENANTRY_ALLOW_HTTP_VENDORS": "true",
		"TENANTRY_LOG_LEVEL": "debug"}
	for k, v := range env {
		vars[k] = v
	}
	cfg, err := LoadConfig(func(k string) string { return vars[k] })
	require.NoError(t, err)
	key, err := secretbox.GenerateKey()
	require.NoError(t, err)
	keyring, err := secretbox.New(key)
	require.NoError(t, err)
	e := &vtEnv{st: MemoryStores(memory.NewDB()), logs: &hBuffer{}}
	log, err := newLogger(cfg, e.logs)
	require.NoError(t, err)
	var v ports.Vendors
	if caPEM != nil {
		v = &vendors{embedded: vecsearch.New(e.st.Chunks, vecsearch.Config{}), answerer: extractive.New(extractive.Config{}),
			http: vendorClientTrusting(t, caPEM), modelIdle: cfg.ModelIdleTimeout, modelMax: cfg.ModelTimeout}
	}
	api, err := Router(context.Background(), cfg, e.st, RouterOptions{Log: log, Sealer: keyring, Vendors: v,
		Operator: application.Actor{Principal: domain.Principal{UserID: "cli", Role: domain.RolePlatformAdmin}, Name: "cli:test"}})
	require.NoError(t, err)
	api.RunJobs() // re-index jobs run in the background, as under serve
	e.srv = httptest.NewServer(api.Handler)
	t.Cleanup(func() {
		e.srv.Close()
		_ = api.Close()
	})

	hash, err := passwords.New(passwords.Config{}).Hash(context.Background(), vtPassword)
	require.NoError(t, err)
	u, err := domain.NewUser(domain.UserID(uuid.NewString()), "root@platform.test", domain.RolePlatformAdmin, "", hash, time.Now())
	require.NoError(t, err)
	require.NoError(t, e.st.Users.Create(context.Background(), u))
	e.root = e.login(t, "root@platform.test")
	return e
}

// doCtx sends one request; a non-empty body is JSON unless it looks like a form.
func (e *vtEnv) doCtx(ctx context.Context, method, path, token, body string) (vtResp, error) {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, e.srv.URL+path, rd)
	if err != nil {
		return vtResp{}, err
	}
	if body != "" {
		ct := "application/json"
		if !strings.HasPrefix(body, "{") {
			ct = "application/x-www-form-urlencoded"
		}
		req.Header.Set("Content-Type", ct)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := e.srv.Client().Do(req)
	if err != nil {
		return vtResp{}, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return vtResp{}, err
	}
	out := vtResp{Status: res.StatusCode, Header: res.Header.Clone(), Body: b}
	e.mu.Lock()
	e.responses = append(e.responses, out)
	e.mu.Unlock()
	return out, nil
}

func (e *vtEnv) send(t *testing.T, method, path, token, body string) vtResp {
	t.Helper()
	r, err := e.doCtx(context.Background(), method, path, token, body)
	require.NoError(t, err)
	return r
}

// want asserts the status and decodes a JSON object body.
func (e *vtEnv) want(t *testing.T, status int, r vtResp) map[string]any {
	t.Helper()
	require.Equalf(t, status, r.Status, "%s", r.Body)
	var m map[string]any
	if len(r.Body) > 0 && strings.Contains(r.Header.Get("Content-Type"), "json") {
		require.NoError(t, json.Unmarshal(r.Body, &m), "%s", r.Body)
	}
	return m
}

func (e *vtEnv) login(t *testing.T, email string) string {
	t.Helper()
	form := url.Values{"grant_type": {"password"}, "username": {email}, "password": {vtPassword}}
	m := e.want(t, http.StatusOK, e.send(t, http.MethodPost, "/auth/token", "", form.Encode()))
	tok, _ := m["access_token"].(string)
	require.NotEmpty(t, tok)
	return tok
}

// tenant creates tenant id with a tenant admin, applies config (a JSON merge patch,
// unless empty) as the platform admin, and returns the tenant admin's token.
func (e *vtEnv) tenant(t *testing.T, id, config string) string {
	t.Helper()
	e.want(t, http.StatusCreated, e.send(t, http.MethodPost, "/admin/tenants", e.root, fmt.Sprintf(`{"id":%q,"name":%q}`, id, id+" Inc")))
	email := "admin@" + id + ".test"
	e.want(t, http.StatusCreated, e.send(t, http.MethodPost, "/admin/users", e.root,
		fmt.Sprintf(`{"email":%q,"password":%q,"role":"tenant_admin","tenant_id":%q}`, email, vtPassword, id)))
	if config != "" {
		e.want(t, http.StatusOK, e.send(t, http.MethodPatch, "/admin/tenants/"+id, e.root, config))
	}
	return e.login(t, email)
}

// ingest adds a document and returns its id.
func (e *vtEnv) ingest(t *testing.T, token, title, text string) string {
	t.Helper()
	m := e.want(t, http.StatusCreated, e.send(t, http.MethodPost, "/documents", token, fmt.Sprintf(`{"title":%q,"text":%q}`, title, text)))
	return m["id"].(string)
}

// transcript is every response body and header sent so far.
func (e *vtEnv) transcript() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	var b strings.Builder
	for _, r := range e.responses {
		fmt.Fprintf(&b, "%d %v\n%s\n", r.Status, r.Header, r.Body)
	}
	return b.String()
}

// vtVendorConfig points a tenant at Pinecone and an OpenAI-compatible server: the
// embedder shares the model's base URL and here its key too.
func vtVendorConfig(pc *pineconetest.Server, pcKey string, ai *openaitest.Server, aiKey, prompt string) string {
	return fmt.Sprintf(`{"system_prompt":%q,
		"vector_store":{"provider":"pinecone","index_host":%q,"api_key":%q},
		"embedder":{"provider":"openai","model":"text-embedding-3-small","dimensions":%d,"api_key":%q},
		"llm":{"provider":"openai","base_url":%q,"model":%q,"api_key":%q}}`,
		prompt, pc.URL, pcKey, vtDims, aiKey, ai.URL, vtModel, aiKey)
}

// vtEvent is one server-sent event.
type vtEvent struct{ Name, Data string }

// vtChat is a parsed chat stream.
type vtChat struct {
	Events  []vtEvent
	Sources []map[string]any
	Text    string         // the token deltas, joined
	Done    map[string]any // the done event, if any
	Error   map[string]any // the error event, if any
}

func vtParseChat(t *testing.T, r vtResp) vtChat {
	t.Helper()
	require.Equalf(t, http.StatusOK, r.Status, "%s", r.Body)
	require.Equal(t, "text/event-stream", r.Header.Get("Content-Type"))
	var c vtChat
	var cur vtEvent
	var data []string
	sc := bufio.NewScanner(bytes.NewReader(r.Body))
	sc.Buffer(make([]byte, 0, 64<<10), 4<<20)
	for sc.Scan() {
		switch line := sc.Text(); {
		case line == "":
			if cur.Name != "" || len(data) > 0 {
				cur.Data = strings.Join(data, "\n")
				c.Events = append(c.Events, cur)
			}
			cur, data = vtEvent{}, nil
		case strings.HasPrefix(line, "event: "):
			cur.Name = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			data = append(data, strings.TrimPrefix(line, "data: "))
		}
	}
	require.NoError(t, sc.Err())
	for i, ev := range c.Events {
		var m map[string]any
		require.NoError(t, json.Unmarshal([]byte(ev.Data), &m), "event %s: %s", ev.Name, ev.Data)
		switch ev.Name {
		case "sources":
			for _, s := range m["sources"].([]any) {
				c.Sources = append(c.Sources, s.(map[string]any))
			}
		case "token":
			c.Text += m["delta"].(string)
		case "done":
			c.Done = m
		case "error":
			require.Equal(t, len(c.Events)-1, i, "an event followed the error event")
			c.Error = m
		}
	}
	return c
}

// chat posts a question and returns the parsed stream.
func (e *vtEnv) chat(t *testing.T, token, question string) vtChat {
	t.Helper()
	return vtParseChat(t, e.send(t, http.MethodPost, "/chat/stream", token, fmt.Sprintf(`{"message":%q}`, question)))
}

// vtProblem returns the code and the field names of a problem (a response body or an
// error event's data).
func vtProblem(t *testing.T, body []byte) (code string, fields []string) {
	t.Helper()
	var p struct {
		Code   string `json:"code"`
		Errors []struct {
			Field string `json:"field"`
		} `json:"errors"`
	}
	require.NoError(t, json.Unmarshal(body, &p), "%s", body)
	for _, f := range p.Errors {
		fields = append(fields, f.Field)
	}
	return p.Code, fields
}

// vtSourceTexts returns the text of each source.
func vtSourceTexts(c vtChat) string {
	var b strings.Builder
	for _, s := range c.Sources {
		b.WriteString(fmt.Sprint(s["text"]))
		b.WriteString("\n")
	}
	return b.String()
}

// lastAssistant returns the newest conversation's assistant message.
func (e *vtEnv) lastAssistant(t *testing.T, token string) map[string]any {
	t.Helper()
	list := e.want(t, http.StatusOK, e.send(t, http.MethodGet, "/conversations", token, ""))
	items := list["items"].([]any)
	require.NotEmpty(t, items)
	id := items[0].(map[string]any)["id"].(string)
	conv := e.want(t, http.StatusOK, e.send(t, http.MethodGet, "/conversations/"+id, token, ""))
	msgs := conv["messages"].([]any)
	require.Len(t, msgs, 2)
	a := msgs[1].(map[string]any)
	require.Equal(t, "assistant", a["role"])
	return a
}

// vtRequestText is everything a captured chat request carried to the model.
func vtRequestText(r openaitest.ChatRequest) string {
	b, _ := json.Marshal(r.Messages)
	return string(b)
}

// vendorClientTrusting is the production vendor client that also trusts caPEM, as it
// trusts the vendors' public certificates.
func vendorClientTrusting(t testing.TB, caPEM []byte) *http.Client {
	t.Helper()
	client := newVendorHTTPClient()
	roots := x509.NewCertPool()
	require.True(t, roots.AppendCertsFromPEM(caPEM), "no certificate in %q", caPEM)
	client.Transport.(*http.Transport).TLSClientConfig = &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
	return client
}
