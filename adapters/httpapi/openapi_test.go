package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"iter"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/adapters/httpapi"
	"github.com/tenantry/tenantry/domain"
)

// The tests in this file keep the OpenAPI document honest: every case sends a real
// request through the router, validates the request against the document (or checks
// that a deliberately bad request is rejected by it), and validates the response's
// status, headers and body, down to each server-sent event. Other tests check that
// the document lists exactly the registered routes.

const specMetricsToken = "metrics-token-for-spec"

var registerSSEDecoder sync.Once

// specEnv is a router under test with the parsed document served at /openapi.json.
type specEnv struct {
	*env
	doc    *openapi3.T
	router routers.Router
	tokens map[string]string
	vars   map[string]string
	// seen records, per "METHOD /path/{template}", the statuses validated.
	seen map[string]map[int]bool
}

func newSpecEnv(t *testing.T) *specEnv {
	t.Helper()
	registerSSEDecoder.Do(func() {
		// The stream is checked event by event below; as a whole it is a string.
		// so are the console's files.
		asString := func(r io.Reader, _ http.Header, _ *openapi3.SchemaRef, _ openapi3filter.EncodingFn) (any, error) {
			b, err := io.ReadAll(r)
			return string(b), err
		}
		for _, mt := range []string{"text/event-stream", "text/html", "text/css", "text/javascript", "image/svg+xml"} {
			openapi3filter.RegisterBodyDecoder(mt, asString)
		}
	})
	_, opt := withMetrics(t, specMetricsToken)
	ev := newEnv(t, opt)
	rec := ev.do(http.MethodGet, "/openapi.json", nil)
	require.Equal(t, http.StatusOK, rec.Code)
	require.Equal(t, "application/json", rec.Header().Get("Content-Type"))
	assert.Equal(t, httpapi.OpenAPIDocument(), rec.Body.Bytes(), "the served document is the embedded one")
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(rec.Body.Bytes())
	require.NoError(t, err)
	require.NoError(t, doc.Validate(context.Background()), "the document is a valid OpenAPI document")
	require.True(t, doc.IsOpenAPI31OrLater(), "the document is OpenAPI 3.1")
	router, err := gorillamux.NewRouter(doc)
	require.NoError(t, err)
	s := &specEnv{env: ev, doc: doc, router: router, tokens: map[string]string{}, vars: map[string]string{}, seen: map[string]map[int]bool{}}
	for _, u := range []string{"root", "acme-admin", "acme-member", "globex-admin", "loner"} {
		s.tokens[u] = ev.token(u)
	}
	return s
}

// specCase is one request and the status it must get.
type specCase struct {
	name        string
	method      string
	path        string // {name} is replaced by vars[name]
	user        string // sends this seeded user's bearer token
	auth        string // a raw Authorization header instead
	contentType string
	body        string
	multipart   *upload
	remoteAddr  string
	headers     map[string]string
	wantStatus  int
	// badRequest marks a request that deliberately breaks the document: the document
	// must reject it, and the response must still match the document.
	badRequest bool
	before     func(s *specEnv)
	after      func(s *specEnv)
	check      func(t *testing.T, s *specEnv, rec *httptest.ResponseRecorder)
}

var placeholder = regexp.MustCompile(`\{([a-z0-9_]+)\}`)

func (s *specEnv) request(t *testing.T, c specCase) (*http.Request, []byte) {
	t.Helper()
	fill := func(text string, escape func(string) string) string {
		return placeholder.ReplaceAllStringFunc(text, func(m string) string {
			v, ok := s.vars[m[1:len(m)-1]]
			require.True(t, ok, "no value for %s yet", m)
			return escape(v)
		})
	}
	path := fill(c.path, url.PathEscape)
	ct := c.contentType
	body := []byte(c.body)
	if ct == formType {
		body = []byte(fill(c.body, url.QueryEscape))
	}
	if c.multipart != nil {
		buf, mct := c.multipart.body(t)
		body, ct = buf.Bytes(), mct
	}
	if ct == "" && len(body) > 0 {
		ct = "application/json"
	}
	req := httptest.NewRequest(c.method, path, bytes.NewReader(body))
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	for k, v := range c.headers {
		req.Header.Set(k, fill(v, func(s string) string { return s }))
	}
	switch {
	case c.auth != "":
		req.Header.Set("Authorization", c.auth)
	case c.user != "":
		req.Header.Set("Authorization", "Bearer "+s.tokens[c.user])
	}
	if c.remoteAddr != "" {
		req.RemoteAddr = c.remoteAddr
	}
	return req, body
}

// bearerPresent stands in for authentication while validating requests: the document
// only says which scheme applies; whether the token is good is the router's business.
func bearerPresent(_ context.Context, in *openapi3filter.AuthenticationInput) error {
	h := in.RequestValidationInput.Request.Header.Get("Authorization")
	if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return nil
	}
	return errors.New("no bearer token")
}

// run sends c through the router and validates request and response against the
// document.
func (s *specEnv) run(t *testing.T, c specCase) *httptest.ResponseRecorder {
	t.Helper()
	if c.before != nil {
		c.before(s)
	}
	if c.after != nil {
		defer c.after(s)
	}
	req, body := s.request(t, c)
	route, params, err := s.router.FindRoute(req)
	require.NoError(t, err, "%s %s is not in the document", req.Method, req.URL.Path)
	in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: bearerPresent}}
	verr := openapi3filter.ValidateRequest(context.Background(), in)
	if c.badRequest {
		require.Error(t, verr, "the document should reject this request")
	} else {
		require.NoError(t, verr, "the document rejects a request the router accepts")
	}
	req.Body = io.NopCloser(bytes.NewReader(body))

	rec := httptest.NewRecorder()
	s.e.ServeHTTP(rec, req)
	require.Equal(t, c.wantStatus, rec.Code, rec.Body.String())
	out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: rec.Code, Header: rec.Header(),
		Body: io.NopCloser(bytes.NewReader(rec.Body.Bytes())), Options: &openapi3filter.Options{IncludeResponseStatus: true}}
	require.NoError(t, openapi3filter.ValidateResponse(context.Background(), out), "response does not match the document:\n%s", rec.Body.String())
	if strings.HasPrefix(rec.Header().Get("Content-Type"), "text/event-stream") {
		s.validateEvents(t, route, rec)
	}
	if rec.Header().Get("Content-Type") == "application/problem+json" {
		var p struct {
			Type, Code, RequestID string
		}
		require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &p))
		assert.Equal(t, httpapi.ProblemTypeBase+p.Code, p.Type)
	}
	key := req.Method + " " + route.Path
	if s.seen[key] == nil {
		s.seen[key] = map[int]bool{}
	}
	s.seen[key][rec.Code] = true
	if c.check != nil {
		c.check(t, s, rec)
	}
	return rec
}

// schemaAt resolves a "#/components/schemas/Name" reference of the document.
func (s *specEnv) schemaAt(t *testing.T, ref string) *openapi3.Schema {
	t.Helper()
	name, ok := strings.CutPrefix(ref, "#/components/schemas/")
	require.True(t, ok, ref)
	sr := s.doc.Components.Schemas[name]
	require.NotNil(t, sr, ref)
	return sr.Value
}

func visit(t *testing.T, schema *openapi3.Schema, v any) error {
	t.Helper()
	return schema.VisitJSON(v, openapi3.EnableJSONSchema2020())
}

// validateEvents checks every event of a stream against the schema the document names
// for it (x-sse-events), and the OpenAI terminator.
func (s *specEnv) validateEvents(t *testing.T, route *routers.Route, rec *httptest.ResponseRecorder) {
	t.Helper()
	mt := route.Operation.Responses.Status(rec.Code).Value.Content.Get("text/event-stream")
	require.NotNil(t, mt)
	named, ok := mt.Extensions["x-sse-events"].(map[string]any)
	require.True(t, ok, "a stream documents its events in x-sse-events")
	terminator, _ := mt.Extensions["x-sse-terminator"].(string)
	errRef, _ := mt.Extensions["x-sse-error-event"].(string)
	events, _ := readEvents(t, bytes.NewReader(rec.Body.Bytes()))
	require.NotEmpty(t, events)
	for i, ev := range events {
		name := ev.Type
		if name == "" {
			name = "message"
		}
		if terminator != "" && ev.Data == terminator {
			assert.Equal(t, len(events)-1, i, "the terminator is the last event")
			continue
		}
		var data any
		require.NoError(t, json.Unmarshal([]byte(ev.Data), &data), "event %q data is JSON", name)
		ref, ok := named[name].(string)
		require.True(t, ok, "event %q is not documented", name)
		if m, isObj := data.(map[string]any); isObj && errRef != "" && m["error"] != nil {
			ref = errRef
		}
		assert.NoError(t, visit(t, s.schemaAt(t, ref), data), "event %d (%s) does not match %s: %s", i, name, ref, ev.Data)
	}
}

// capture stores a JSON member of the response body under vars[name].
func capture(name, member string) func(t *testing.T, s *specEnv, rec *httptest.ResponseRecorder) {
	return func(t *testing.T, s *specEnv, rec *httptest.ResponseRecorder) {
		t.Helper()
		var m map[string]any
		require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &m))
		v, ok := m[member].(string)
		require.True(t, ok, "no %s in %s", member, rec.Body.String())
		s.vars[name] = v
	}
}

// captureHeader stores a response header under vars[name].
func captureHeader(name, header string) func(t *testing.T, s *specEnv, rec *httptest.ResponseRecorder) {
	return func(t *testing.T, s *specEnv, rec *httptest.ResponseRecorder) {
		t.Helper()
		v := rec.Header().Get(header)
		require.NotEmpty(t, v, header)
		s.vars[name] = v
	}
}

func form(v url.Values) string { return v.Encode() }

const formType = "application/x-www-form-urlencoded"

func failingAfterStart(ctx context.Context, _ []domain.ChatMessage, _ domain.ChatParams) iter.Seq2[domain.Delta, error] {
	return func(yield func(domain.Delta, error) bool) {
		if yield(domain.Delta{Text: "partial"}, nil) {
			yield(domain.Delta{}, domain.ErrUnavailable.WithDetail("the model stopped answering"))
		}
	}
}

func (s *specEnv) failLogins(email, addr string, n int) {
	for range n {
		req := httptest.NewRequest(http.MethodPost, "/auth/token", strings.NewReader(form(url.Values{"username": {email}, "password": {"not the password"}})))
		req.Header.Set("Content-Type", formType)
		req.RemoteAddr = addr
		s.e.ServeHTTP(httptest.NewRecorder(), req)
	}
}

func specCases() []specCase {
	big := strings.Repeat("All work and no play. ", 2000) // over the 32 KiB document limit of the test env
	return []specCase{
		// operations
		{name: "healthz", method: "GET", path: "/healthz", wantStatus: 200},
		{name: "readyz", method: "GET", path: "/readyz", wantStatus: 200},
		{name: "readyz while the database is down", method: "GET", path: "/readyz", wantStatus: 503,
			before: func(s *specEnv) { s.ready = domain.ErrUnavailable.WithDetail("the database is unreachable") },
			after:  func(s *specEnv) { s.ready = nil }},
		{name: "openapi document", method: "GET", path: "/openapi.json", wantStatus: 200},
		{name: "metrics with the token", method: "GET", path: "/metrics", auth: "Bearer " + specMetricsToken, wantStatus: 200},
		{name: "metrics with a wrong token", method: "GET", path: "/metrics", auth: "Bearer nope", wantStatus: 401},
		{name: "metrics without a token", method: "GET", path: "/metrics", wantStatus: 401},
		{name: "jwks", method: "GET", path: "/.well-known/jwks.json", wantStatus: 200},
		{name: "discovery", method: "GET", path: "/.well-known/oauth-authorization-server", wantStatus: 200},

		{name: "console", method: "GET", path: "/", wantStatus: 200, check: captureHeader("etag", "ETag")},
		{name: "console unchanged", method: "GET", path: "/", headers: map[string]string{"If-None-Match": "{etag}"}, wantStatus: 304},
		{name: "console script", method: "GET", path: "/console/app.js", wantStatus: 200},
		{name: "console style", method: "GET", path: "/console/style.css", wantStatus: 200},
		{name: "console icon", method: "GET", path: "/console/favicon.svg", wantStatus: 200},
		{name: "console Markdown renderer", method: "GET", path: "/console/vendor/marked.esm.js", wantStatus: 200},
		{name: "console vendor licence is not served", method: "GET", path: "/console/vendor/LICENSE.marked.md", wantStatus: 404},
		{name: "console page only at /", method: "GET", path: "/console/index.html", wantStatus: 404},
		{name: "unknown console file", method: "GET", path: "/console/missing.js", wantStatus: 404},

		// OAuth
		{name: "password grant", method: "POST", path: "/auth/token", contentType: formType, wantStatus: 200,
			body:  form(url.Values{"grant_type": {"password"}, "username": {"acme-member@example.com"}, "password": {testPassword}}),
			check: capture("refresh", "refresh_token")},
		{name: "refresh grant", method: "POST", path: "/auth/token", contentType: formType, wantStatus: 200,
			body:  "grant_type=refresh_token&refresh_token={refresh}",
			check: capture("refresh2", "refresh_token")},
		{name: "wrong password", method: "POST", path: "/auth/token", contentType: formType, wantStatus: 400, remoteAddr: "198.51.100.1:4000",
			body: form(url.Values{"username": {"nobody@example.com"}, "password": {"not the password"}})},
		{name: "missing password", method: "POST", path: "/auth/token", contentType: formType, wantStatus: 400,
			body: form(url.Values{"username": {"acme-member@example.com"}})},
		{name: "unsupported grant", method: "POST", path: "/auth/token", contentType: formType, wantStatus: 400, badRequest: true,
			body: form(url.Values{"grant_type": {"client_credentials"}})},
		{name: "token request as JSON", method: "POST", path: "/auth/token", wantStatus: 400, badRequest: true,
			body: `{"username":"acme-member@example.com","password":"x"}`},
		{name: "token form too large", method: "POST", path: "/auth/token", contentType: formType, wantStatus: 413,
			body: form(url.Values{"username": {strings.Repeat("a", 20<<10)}, "password": {"x"}})},
		{name: "blocked after repeated failures", method: "POST", path: "/auth/token", contentType: formType, wantStatus: 429,
			remoteAddr: "198.51.100.2:4000", body: form(url.Values{"username": {"blocked@example.com"}, "password": {testPassword}}),
			before: func(s *specEnv) { s.failLogins("blocked@example.com", "198.51.100.2:4000", 5) },
			check: func(t *testing.T, _ *specEnv, rec *httptest.ResponseRecorder) {
				assert.NotEmpty(t, rec.Header().Get("Retry-After"))
			}},
		{name: "hashing unavailable", method: "POST", path: "/auth/token", contentType: formType, wantStatus: 503,
			body:   form(url.Values{"username": {"acme-member@example.com"}, "password": {testPassword}}),
			before: func(s *specEnv) { s.hasher.setBusy(true) }, after: func(s *specEnv) { s.hasher.setBusy(false) }},
		{name: "revoke", method: "POST", path: "/auth/revoke", contentType: formType, wantStatus: 200, body: "token={refresh2}"},
		{name: "revoke without a token", method: "POST", path: "/auth/revoke", contentType: formType, wantStatus: 400, badRequest: true,
			body: "token_type_hint=refresh_token"},

		// the caller
		{name: "me", method: "GET", path: "/users/me", user: "acme-member", wantStatus: 200},
		{name: "me without a token", method: "GET", path: "/users/me", wantStatus: 401, badRequest: true},
		{name: "me with a forged token", method: "GET", path: "/users/me", auth: "Bearer forged.token.value", wantStatus: 401},

		// the caller's tenant
		{name: "own tenant", method: "GET", path: "/tenant", user: "acme-admin", wantStatus: 200},
		{name: "own tenant as a member", method: "GET", path: "/tenant", user: "acme-member", wantStatus: 403},
		{name: "own tenant without one", method: "GET", path: "/tenant", user: "loner", wantStatus: 403},
		{name: "patch own tenant", method: "PATCH", path: "/tenant", user: "acme-admin", contentType: "application/merge-patch+json", wantStatus: 200,
			body: `{"system_prompt":"Answer briefly.","retrieval":{"top_k":4},"llm":{"api_key":"sk-test-abcd"}}`},
		{name: "patch own tenant with unknown fields", method: "PATCH", path: "/tenant", user: "acme-admin", wantStatus: 400, badRequest: true,
			body: `{"bogus":1,"retrieval":{"top_k":"many"}}`},
		{name: "patch own tenant as text", method: "PATCH", path: "/tenant", user: "acme-admin", contentType: "text/plain", wantStatus: 415, badRequest: true,
			body: `{"name":"x"}`},
		{name: "tenant users", method: "GET", path: "/tenant/users?limit=10&offset=0", user: "acme-admin", wantStatus: 200},
		{name: "tenant users, limit out of range", method: "GET", path: "/tenant/users?limit=500", user: "acme-admin", wantStatus: 400, badRequest: true},
		{name: "add tenant user", method: "POST", path: "/tenant/users", user: "acme-admin", wantStatus: 201,
			body: `{"email":"new1@example.com","password":"long enough password"}`, check: capture("newuser", "id")},
		{name: "add tenant user twice", method: "POST", path: "/tenant/users", user: "acme-admin", wantStatus: 409,
			body: `{"email":"new1@example.com","password":"long enough password"}`},
		{name: "add tenant user with a short password", method: "POST", path: "/tenant/users", user: "acme-admin", wantStatus: 400,
			body: `{"email":"new2@example.com","password":"short"}`},
		{name: "patch tenant user", method: "PATCH", path: "/tenant/users/{newuser}", user: "acme-admin", wantStatus: 200,
			contentType: "application/merge-patch+json", body: `{"disabled":true}`},
		{name: "patch another tenant's user", method: "PATCH", path: "/tenant/users/u-globex-admin", user: "acme-admin", wantStatus: 404,
			body: `{"disabled":true}`},
		{name: "tenant audit", method: "GET", path: "/tenant/audit", user: "acme-admin", wantStatus: 200},
		{name: "tenant audit as a member", method: "GET", path: "/tenant/audit", user: "acme-member", wantStatus: 403},
		{name: "re-index progress before any", method: "GET", path: "/tenant/reindex", user: "acme-admin", wantStatus: 200},
		{name: "re-index progress as a member", method: "GET", path: "/tenant/reindex", user: "acme-member", wantStatus: 403},
		{name: "start a re-index", method: "POST", path: "/tenant/reindex", user: "acme-admin", wantStatus: 202},
		{name: "start a re-index while one runs", method: "POST", path: "/tenant/reindex", user: "acme-admin", wantStatus: 409},
		{name: "start a re-index as a member", method: "POST", path: "/tenant/reindex", user: "acme-member", wantStatus: 403},
		{name: "re-index progress while running", method: "GET", path: "/tenant/reindex", user: "acme-admin", wantStatus: 200},
		{name: "start a tenant's re-index", method: "POST", path: "/admin/tenants/globex/reindex", user: "root", wantStatus: 202},
		{name: "start a tenant's re-index while one runs", method: "POST", path: "/admin/tenants/globex/reindex", user: "root", wantStatus: 409},
		{name: "start an unknown tenant's re-index", method: "POST", path: "/admin/tenants/nobody/reindex", user: "root", wantStatus: 404},
		{name: "a tenant's re-index progress", method: "GET", path: "/admin/tenants/globex/reindex", user: "root", wantStatus: 200},
		{name: "a tenant's re-index progress as a tenant admin", method: "GET", path: "/admin/tenants/globex/reindex", user: "acme-admin", wantStatus: 403},
		{name: "an unknown tenant's re-index progress", method: "GET", path: "/admin/tenants/nobody/reindex", user: "root", wantStatus: 404},
		{name: "usage", method: "GET", path: "/usage", user: "acme-member", wantStatus: 200},
		{name: "usage without a tenant", method: "GET", path: "/usage", user: "loner", wantStatus: 403},

		// documents
		{name: "ingest JSON", method: "POST", path: "/documents", user: "acme-admin", wantStatus: 201, body: acmeDoc, check: capture("doc", "id")},
		{name: "ingest upload", method: "POST", path: "/documents", user: "acme-admin", wantStatus: 201,
			multipart: &upload{fileName: "handbook.md", fileType: "text/plain", content: "# Handbook\n\nParking is free for employees.",
				fields: map[string]string{"title": "Handbook", "metadata": `{"team":"ops"}`}},
			check: capture("doc2", "id")},
		{name: "ingest as a member", method: "POST", path: "/documents", user: "acme-member", wantStatus: 403, body: acmeDoc},
		{name: "ingest plain text", method: "POST", path: "/documents", user: "acme-admin", contentType: "text/plain", wantStatus: 415, badRequest: true,
			body: "just text"},
		{name: "ingest a spreadsheet", method: "POST", path: "/documents", user: "acme-admin", wantStatus: 415, badRequest: true,
			multipart: &upload{fileName: "a.xlsx", fileType: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", content: "PK"}},
		{name: "ingest a PDF", method: "POST", path: "/documents", user: "acme-admin", wantStatus: 201,
			multipart: &upload{fileName: "a.pdf", fileType: "application/pdf", content: "Page one.\fPage two."}},
		{name: "ingest a password-protected PDF", method: "POST", path: "/documents", user: "acme-admin", wantStatus: 422,
			multipart: &upload{fileName: "locked.pdf", fileType: "application/pdf", content: "LOCKED"}},
		{name: "ingest too large", method: "POST", path: "/documents", user: "acme-admin", wantStatus: 413,
			body: `{"title":"Big","text":"` + big + `"}`},
		{name: "ingest without a title", method: "POST", path: "/documents", user: "acme-admin", wantStatus: 400, badRequest: true,
			body: `{"text":"no title"}`},
		{name: "list documents", method: "GET", path: "/documents", user: "acme-member", wantStatus: 200},
		{name: "list documents, bad offset", method: "GET", path: "/documents?offset=-1", user: "acme-member", wantStatus: 400, badRequest: true},
		{name: "get document", method: "GET", path: "/documents/{doc}", user: "acme-member", wantStatus: 200},
		{name: "get unknown document", method: "GET", path: "/documents/nope", user: "acme-member", wantStatus: 404},
		{name: "delete document", method: "DELETE", path: "/documents/{doc2}", user: "acme-admin", wantStatus: 204},
		{name: "delete deleted document", method: "DELETE", path: "/documents/{doc2}", user: "acme-admin", wantStatus: 404},

		// chat
		{name: "chat stream", method: "POST", path: "/chat/stream", user: "acme-member", wantStatus: 200,
			body: `{"message":"How many vacation days do employees get?"}`,
			check: func(t *testing.T, s *specEnv, rec *httptest.ResponseRecorder) {
				t.Helper()
				evs, _ := readEvents(t, bytes.NewReader(rec.Body.Bytes()))
				names := make([]string, 0, len(evs))
				for _, e := range evs {
					names = append(names, e.Type)
				}
				require.Equal(t, "sources", names[0])
				require.Equal(t, "done", names[len(names)-1])
				var done struct {
					ConversationID string `json:"conversation_id"`
				}
				require.NoError(t, json.Unmarshal([]byte(evs[len(evs)-1].Data), &done))
				s.vars["conv"] = done.ConversationID
			}},
		{name: "chat with an empty message", method: "POST", path: "/chat/stream", user: "acme-member", wantStatus: 400, badRequest: true,
			body: `{"message":""}`},
		{name: "chat in an unknown conversation", method: "POST", path: "/chat/stream", user: "acme-member", wantStatus: 404,
			body: `{"message":"hello","conversation_id":"nope"}`},
		{name: "chat as text", method: "POST", path: "/chat/stream", user: "acme-member", contentType: "text/plain", wantStatus: 415, badRequest: true,
			body: "hello"},
		{name: "chat fails after the stream started", method: "POST", path: "/chat/stream", user: "acme-member", wantStatus: 200,
			body:   `{"message":"hello"}`,
			before: func(s *specEnv) { s.vendors.setModel(failingAfterStart) }, after: func(s *specEnv) { s.vendors.setModel(nil) },
			check: func(t *testing.T, _ *specEnv, rec *httptest.ResponseRecorder) {
				assert.Contains(t, rec.Body.String(), "event: error")
			}},
		{name: "chat over the rate limit", method: "POST", path: "/chat/stream", user: "globex-admin", wantStatus: 429,
			body: `{"message":"hello"}`,
			before: func(s *specEnv) {
				_, err := s.db.Tenants().Update(context.Background(), "globex", func(tn *domain.Tenant) error {
					tn.Limits.RequestsPerMinute = 1
					return nil
				})
				require.NoError(s.t, err)
				req := httptest.NewRequest(http.MethodPost, "/chat/stream", strings.NewReader(`{"message":"first"}`))
				req.Header.Set("Authorization", "Bearer "+s.tokens["globex-admin"])
				req.Header.Set("Content-Type", "application/json")
				rec := httptest.NewRecorder()
				s.e.ServeHTTP(rec, req)
				require.Equal(s.t, http.StatusOK, rec.Code)
			}},
		{name: "conversations", method: "GET", path: "/conversations", user: "acme-member", wantStatus: 200},
		{name: "conversations, limit zero", method: "GET", path: "/conversations?limit=0", user: "acme-member", wantStatus: 400, badRequest: true},
		{name: "conversation", method: "GET", path: "/conversations/{conv}", user: "acme-member", wantStatus: 200},
		{name: "another user's conversation", method: "GET", path: "/conversations/{conv}", user: "acme-admin", wantStatus: 404},
		{name: "rename conversation", method: "PATCH", path: "/conversations/{conv}", user: "acme-member", contentType: "application/merge-patch+json",
			wantStatus: 200, body: `{"title":"Renamed"}`},
		{name: "rename conversation to nothing", method: "PATCH", path: "/conversations/{conv}", user: "acme-member", wantStatus: 400, badRequest: true,
			body: `{"title":""}`},
		{name: "rename another user's conversation", method: "PATCH", path: "/conversations/{conv}", user: "acme-admin", wantStatus: 404,
			body: `{"title":"Mine"}`},
		{name: "delete another user's conversation", method: "DELETE", path: "/conversations/{conv}", user: "acme-admin", wantStatus: 404},
		{name: "delete conversation", method: "DELETE", path: "/conversations/{conv}", user: "acme-member", wantStatus: 204},

		// platform administration
		{name: "list tenants", method: "GET", path: "/admin/tenants", user: "root", wantStatus: 200},
		{name: "list tenants as a tenant admin", method: "GET", path: "/admin/tenants", user: "acme-admin", wantStatus: 403},
		{name: "create tenant", method: "POST", path: "/admin/tenants", user: "root", wantStatus: 201, body: `{"id":"initech","name":"Initech"}`},
		{name: "create tenant twice", method: "POST", path: "/admin/tenants", user: "root", wantStatus: 409, body: `{"id":"initech","name":"Initech"}`},
		{name: "create tenant with a bad id", method: "POST", path: "/admin/tenants", user: "root", wantStatus: 400, badRequest: true,
			body: `{"id":"Not OK!","name":"Bad"}`},
		{name: "get tenant", method: "GET", path: "/admin/tenants/initech", user: "root", wantStatus: 200},
		{name: "get unknown tenant", method: "GET", path: "/admin/tenants/no-such-tenant", user: "root", wantStatus: 404},
		{name: "delete an active tenant", method: "DELETE", path: "/admin/tenants/initech", user: "root", wantStatus: 409},
		{name: "suspend tenant", method: "PATCH", path: "/admin/tenants/initech", user: "root", contentType: "application/merge-patch+json",
			wantStatus: 200, body: `{"status":"suspended"}`},
		{name: "patch unknown tenant", method: "PATCH", path: "/admin/tenants/no-such-tenant", user: "root", contentType: "application/merge-patch+json",
			wantStatus: 404, body: `{"name":"Nobody"}`},
		{name: "delete tenant", method: "DELETE", path: "/admin/tenants/initech", user: "root", wantStatus: 204},
		{name: "list users", method: "GET", path: "/admin/users?tenant_id=acme&limit=5", user: "root", wantStatus: 200},
		{name: "list users of a malformed tenant", method: "GET", path: "/admin/users?tenant_id=NO", user: "root", wantStatus: 400, badRequest: true},
		{name: "create user", method: "POST", path: "/admin/users", user: "root", wantStatus: 201,
			body: `{"email":"ops@example.com","password":"long enough password","role":"platform_admin","tenant_id":null}`, check: capture("ops", "id")},
		{name: "create user with an unknown role", method: "POST", path: "/admin/users", user: "root", wantStatus: 400, badRequest: true,
			body: `{"email":"x@example.com","password":"long enough password","role":"owner"}`},
		{name: "patch user", method: "PATCH", path: "/admin/users/{ops}", user: "root", wantStatus: 200,
			body: `{"role":"member","tenant_id":"acme"}`},
		{name: "patch unknown user", method: "PATCH", path: "/admin/users/nope", user: "root", wantStatus: 404, body: `{"disabled":true}`},
		{name: "audit", method: "GET", path: "/admin/audit?tenant_id=acme", user: "root", wantStatus: 200},
		{name: "audit as a tenant admin", method: "GET", path: "/admin/audit", user: "acme-admin", wantStatus: 403},
		{name: "all usage", method: "GET", path: "/admin/usage", user: "root", wantStatus: 200},
		{name: "all usage as a member", method: "GET", path: "/admin/usage", user: "acme-member", wantStatus: 403},

		// OpenAI-compatible
		{name: "models", method: "GET", path: "/v1/models", user: "acme-member", wantStatus: 200},
		{name: "models without a key", method: "GET", path: "/v1/models", wantStatus: 401, badRequest: true},
		{name: "model", method: "GET", path: "/v1/models/tenantry-acme", user: "acme-member", wantStatus: 200},
		{name: "unknown model", method: "GET", path: "/v1/models/gpt-4o", user: "acme-member", wantStatus: 404},
		{name: "completion", method: "POST", path: "/v1/chat/completions", user: "acme-member", wantStatus: 200,
			body: `{"model":"tenantry-acme","messages":[{"role":"system","content":"You are helpful."},{"role":"user","content":"How many vacation days?"}],"temperature":0.2}`},
		{name: "streamed completion", method: "POST", path: "/v1/chat/completions", user: "acme-member", wantStatus: 200,
			body: `{"model":"tenantry-acme","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":[{"type":"text","text":"How many vacation days?"}]}]}`,
			check: func(t *testing.T, _ *specEnv, rec *httptest.ResponseRecorder) {
				assert.True(t, strings.HasSuffix(rec.Body.String(), "data: [DONE]\n\n"))
			}},
		{name: "streamed completion that fails", method: "POST", path: "/v1/chat/completions", user: "acme-member", wantStatus: 200,
			body:   `{"model":"tenantry-acme","stream":true,"messages":[{"role":"user","content":"hello"}]}`,
			before: func(s *specEnv) { s.vendors.setModel(failingAfterStart) }, after: func(s *specEnv) { s.vendors.setModel(nil) },
			check: func(t *testing.T, _ *specEnv, rec *httptest.ResponseRecorder) {
				assert.Contains(t, rec.Body.String(), `"error":`)
			}},
		{name: "completion for another model", method: "POST", path: "/v1/chat/completions", user: "acme-member", wantStatus: 404,
			body: `{"model":"tenantry-globex","messages":[{"role":"user","content":"hi"}]}`},
		{name: "completion without messages", method: "POST", path: "/v1/chat/completions", user: "acme-member", wantStatus: 400, badRequest: true,
			body: `{"model":"tenantry-acme"}`},
		{name: "completion as form", method: "POST", path: "/v1/chat/completions", user: "acme-member", contentType: formType, wantStatus: 415, badRequest: true,
			body: "model=tenantry-acme"},
		{name: "completion over the rate limit", method: "POST", path: "/v1/chat/completions", user: "globex-admin", wantStatus: 429,
			body: `{"model":"tenantry-globex","messages":[{"role":"user","content":"hi"}]}`},
	}
}

// TestOpenAPIDocumentMatchesTheRouter runs every case in order (later cases use ids
// that earlier ones created) and then checks that every documented operation was
// exercised with a success and, where it documents any, an error.
func TestOpenAPIDocumentMatchesTheRouter(t *testing.T) {
	s := newSpecEnv(t)
	for _, c := range specCases() {
		t.Run(c.name, func(t *testing.T) { s.run(t, c) })
	}
	for path, item := range s.doc.Paths.Map() {
		for method, op := range item.Operations() {
			key := method + " " + path
			var success, failure bool
			for status := range s.seen[key] {
				success = success || status < 300
				failure = failure || status >= 400
			}
			assert.True(t, success, "%s: no success response was validated", key)
			// 5xx answers cannot all be provoked (an asset that fails to load, a
			// panic); every operation with a documented 4xx gets one validated.
			documents4xx := false
			for code := range op.Responses.Map() {
				documents4xx = documents4xx || strings.HasPrefix(code, "4")
			}
			assert.True(t, failure || !documents4xx, "%s: no error response was validated", key)
		}
	}
}

// TestOpenAPIListsExactlyTheRegisteredRoutes compares Echo's routes with the document's
// operations in both directions.
func TestOpenAPIListsExactlyTheRegisteredRoutes(t *testing.T) {
	s := newSpecEnv(t)
	param := regexp.MustCompile(`:([A-Za-z0-9_]+)`)
	var registered []string
	for _, r := range s.e.Routes() {
		registered = append(registered, r.Method+" "+param.ReplaceAllString(r.Path, "{$1}"))
	}
	var documented []string
	for path, item := range s.doc.Paths.Map() {
		for method := range item.Operations() {
			documented = append(documented, method+" "+path)
		}
	}
	slices.Sort(registered)
	slices.Sort(documented)
	assert.Equal(t, slices.Compact(registered), documented)
}

// TestErrorsOutsideAnyRouteMatchTheDocument checks the answers to requests that match
// no operation: unknown paths and methods are problems (or OpenAI errors under /v1/)
// in the documented shapes, with the request id echoed.
func TestErrorsOutsideAnyRouteMatchTheDocument(t *testing.T) {
	s := newSpecEnv(t)
	tests := []struct {
		name       string
		method     string
		path       string
		wantStatus int
		wantSchema string
		wantType   string
	}{
		{name: "unknown path", method: "GET", path: "/no/such/route", wantStatus: 404, wantSchema: "Problem", wantType: "application/problem+json"},
		{name: "wrong method", method: "PUT", path: "/healthz", wantStatus: 405, wantSchema: "Problem", wantType: "application/problem+json"},
		{name: "wrong method on a protected route", method: "DELETE", path: "/users/me", wantStatus: 405, wantSchema: "Problem", wantType: "application/problem+json"},
		{name: "unknown OpenAI path", method: "GET", path: "/v1/embeddings", wantStatus: 404, wantSchema: "OpenAIError", wantType: "application/json"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := s.do(tc.method, tc.path, nil, "X-Request-ID", "spec-"+strings.ReplaceAll(tc.name, " ", "-"))
			require.Equal(t, tc.wantStatus, rec.Code)
			assert.Equal(t, tc.wantType, rec.Header().Get("Content-Type"))
			assert.Equal(t, "spec-"+strings.ReplaceAll(tc.name, " ", "-"), rec.Header().Get("X-Request-ID"))
			var body any
			require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &body))
			assert.NoError(t, visit(t, s.schemaAt(t, "#/components/schemas/"+tc.wantSchema), body), rec.Body.String())
		})
	}
}

// TestOpenAPISchemasRejectDrift shows the document is strict enough to catch drift: a
// response with a field the document does not declare, or without one it requires,
// fails validation.
func TestOpenAPISchemasRejectDrift(t *testing.T) {
	s := newSpecEnv(t)
	problem := s.schemaAt(t, "#/components/schemas/Problem")
	good := map[string]any{"type": httpapi.ProblemTypeBase + "not_found", "title": "Not found", "status": 404.0,
		"detail": "no such thing", "instance": "/x", "code": "not_found", "request_id": "r1"}
	require.NoError(t, visit(t, problem, good))
	extra := map[string]any{"stack": "main.go:12"}
	for k, v := range good {
		extra[k] = v
	}
	assert.Error(t, visit(t, problem, extra), "an undeclared member is drift")
	missing := map[string]any{}
	for k, v := range good {
		if k != "request_id" {
			missing[k] = v
		}
	}
	assert.Error(t, visit(t, problem, missing), "request_id is required")
	tenant := s.schemaAt(t, "#/components/schemas/Tenant")
	rec := s.do(http.MethodGet, "/tenant", nil, "Authorization", "Bearer "+s.tokens["acme-admin"])
	var got map[string]any
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &got))
	require.NoError(t, visit(t, tenant, got))
	got["llm"].(map[string]any)["api_key"] = "sk-leaked"
	assert.Error(t, visit(t, tenant, got), "a key in a tenant response is drift")
}

// TestServerCancelledStreamEndsWithTheCauseAsProblem checks that a stream whose request
// context the server cancels with a problem (bootstrap does so at shutdown) ends with
// one error event carrying that problem, valid against the document.
func TestServerCancelledStreamEndsWithTheCauseAsProblem(t *testing.T) {
	s := newSpecEnv(t)
	started := make(chan struct{})
	s.vendors.setModel(func(ctx context.Context, _ []domain.ChatMessage, _ domain.ChatParams) iter.Seq2[domain.Delta, error] {
		return func(yield func(domain.Delta, error) bool) {
			if !yield(domain.Delta{Text: "partial"}, nil) {
				return
			}
			close(started)
			<-ctx.Done()
			yield(domain.Delta{}, ctx.Err())
		}
	})
	shuttingDown := domain.E(domain.KindUnavailable, "shutting_down", "the server is shutting down; retry the request", nil)
	ctx, cancel := context.WithCancelCause(context.Background())
	req := httptest.NewRequestWithContext(ctx, http.MethodPost, "/chat/stream", strings.NewReader(`{"message":"hello"}`))
	req.Header.Set("Authorization", "Bearer "+s.tokens["acme-member"])
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.e.ServeHTTP(rec, req)
	}()
	select {
	case <-started:
	case <-time.After(5 * time.Second):
		t.Fatal("the model never started")
	}
	cancel(shuttingDown)
	<-done
	evs, _ := readEvents(t, bytes.NewReader(rec.Body.Bytes()))
	require.NotEmpty(t, evs)
	last := evs[len(evs)-1]
	require.Equal(t, "error", last.Type, rec.Body.String())
	var p map[string]any
	require.NoError(t, json.Unmarshal([]byte(last.Data), &p))
	require.NoError(t, visit(t, s.schemaAt(t, "#/components/schemas/Problem"), p))
	assert.Equal(t, "shutting_down", p["code"])
	assert.EqualValues(t, 503, p["status"])
	assert.Equal(t, rec.Header().Get("X-Request-ID"), p["request_id"])

	// A client that leaves (a plain cancellation) still gets nothing written.
	ctx2, cancel2 := context.WithCancel(context.Background())
	started = make(chan struct{})
	req = httptest.NewRequestWithContext(ctx2, http.MethodPost, "/chat/stream", strings.NewReader(`{"message":"hello"}`))
	req.Header.Set("Authorization", "Bearer "+s.tokens["acme-member"])
	req.Header.Set("Content-Type", "application/json")
	rec = httptest.NewRecorder()
	done = make(chan struct{})
	go func() {
		defer close(done)
		s.e.ServeHTTP(rec, req)
	}()
	<-started
	cancel2()
	<-done
	assert.NotContains(t, rec.Body.String(), "event: error")
}
