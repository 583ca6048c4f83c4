package bootstrap

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/adapters/memory"
	"github.com/tenantry/tenantry/adapters/migrate"
	"github.com/tenantry/tenantry/adapters/passwords"
	"github.com/tenantry/tenantry/adapters/secretbox"
	"github.com/tenantry/tenantry/adapters/sqlstore"
	"github.com/tenantry/tenantry/application"
	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/ports"
)

// The helpers in this file drive the production router (Router, as serve builds it)
// over httptest, on in-memory or embedded-SQLite stores. They capture the logs and a
// transcript of every response, so tests can search both for leaked secrets.

const hPassword = "correct horse battery staple"

// hStoreKind selects the stores an hEnv runs on.
type hStoreKind string

const (
	hMemory hStoreKind = "memory"
	hSQLite hStoreKind = "sqlite"
)

// hBuffer is a goroutine-safe log sink.
type hBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *hBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *hBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// hResp is one recorded response.
type hResp struct {
	Method, Path string
	Status       int
	Header       http.Header
	Body         []byte
}

// hEnv is one running router with its stores, logs and response transcript.
type hEnv struct {
	kind  hStoreKind
	api   *API
	st    Stores
	sqlDB *sql.DB // nil on memory stores
	srv   *httptest.Server
	logs  *hBuffer

	mu         sync.Mutex
	transcript []hResp
}

// hConfig loads a Config through LoadConfig from a map standing in for the environment.
func hConfig(t *testing.T, env map[string]string) Config {
	t.Helper()
	vars := map[string]string{"TENANTRY_LOG_LEVEL": "debug", "TENANTRY_PUBLIC_URL": "https://tenantry.test"}
	for k, v := range env {
		vars[k] = v
	}
	cfg, err := LoadConfig(func(k string) string { return vars[k] })
	require.NoError(t, err)
	return cfg
}

// hNewEnv builds the router with the production wiring over kind's stores, a fresh
// secretbox keyring and a debug-level production logger writing to a buffer.
func hNewEnv(t *testing.T, kind hStoreKind, env map[string]string) *hEnv {
	t.Helper()
	ctx := context.Background()
	cfg := hConfig(t, env)
	key, err := secretbox.GenerateKey()
	require.NoError(t, err)
	keyring, err := secretbox.New(key)
	require.NoError(t, err)
	e := &hEnv{kind: kind, logs: &hBuffer{}}
	switch kind {
	case hMemory:
		e.st = MemoryStores(memory.NewDB())
	case hSQLite:
		db, sqlDB, err := sqlstore.Open(ctx, sqlstore.Config{SQLitePath: filepath.Join(t.TempDir(), "tenantry.db")})
		require.NoError(t, err)
		t.Cleanup(func() { _ = sqlDB.Close() })
		schema, err := os.ReadFile("../schema.hcl")
		require.NoError(t, err)
		_, err = migrate.Apply(ctx, sqlDB, schema, migrate.Options{})
		require.NoError(t, err)
		e.st, e.sqlDB = SQLStores(db, sqlstore.NewTenantStore(db, keyring)), sqlDB
	default:
		t.Fatalf("unknown store kind %q", kind)
	}
	log, err := newLogger(cfg, e.logs)
	require.NoError(t, err)
	api, err := Router(ctx, cfg, e.st, RouterOptions{
		Log: log, Sealer: keyring,
		Operator: application.Actor{Principal: domain.Principal{UserID: "cli", Role: domain.RolePlatformAdmin}, Name: "cli:test"},
	})
	require.NoError(t, err)
	e.api, e.srv = api, httptest.NewServer(api.Handler)
	t.Cleanup(func() {
		e.srv.Close()
		_ = api.Close()
	})
	return e
}

// hReq is one request; a non-empty body is JSON unless contentType says otherwise.
type hReq struct {
	method, path, token, body, contentType string
	header                                 map[string]string
}

// do sends r and records the response in the transcript.
func (e *hEnv) do(t *testing.T, r hReq) hResp {
	t.Helper()
	var body io.Reader
	if r.body != "" {
		body = strings.NewReader(r.body)
	}
	req, err := http.NewRequest(r.method, e.srv.URL+r.path, body)
	require.NoError(t, err)
	if r.body != "" {
		ct := r.contentType
		if ct == "" {
			ct = "application/json"
		}
		req.Header.Set("Content-Type", ct)
	}
	if r.token != "" {
		req.Header.Set("Authorization", "Bearer "+r.token)
	}
	for k, v := range r.header {
		req.Header.Set(k, v)
	}
	res, err := e.srv.Client().Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	out := hResp{Method: r.method, Path: r.path, Status: res.StatusCode, Header: res.Header.Clone(), Body: b}
	e.mu.Lock()
	e.transcript = append(e.transcript, out)
	e.mu.Unlock()
	return out
}

// send is do for the common case.
func (e *hEnv) send(t *testing.T, method, path, token, body string) hResp {
	t.Helper()
	return e.do(t, hReq{method: method, path: path, token: token, body: body})
}

// want asserts the status and returns the JSON object of the body.
func (e *hEnv) want(t *testing.T, status int, r hResp) map[string]any {
	t.Helper()
	require.Equalf(t, status, r.Status, "%s %s: %s", r.Method, r.Path, r.Body)
	if len(r.Body) == 0 || !strings.Contains(r.Header.Get("Content-Type"), "json") {
		return nil
	}
	var m map[string]any
	require.NoError(t, json.Unmarshal(r.Body, &m), "%s", r.Body)
	return m
}

// hProblemCode returns the code of an error response: a problem+json object's code,
// or the error.code of the OpenAI-shaped errors under /v1/; "" for anything else.
func hProblemCode(t *testing.T, r hResp) string {
	t.Helper()
	if !strings.Contains(r.Header.Get("Content-Type"), "json") || len(r.Body) == 0 {
		return ""
	}
	var p struct {
		Code  string `json:"code"`
		Error *struct {
			Code string `json:"code"`
		} `json:"error"`
	}
	if json.Unmarshal(r.Body, &p) != nil {
		return ""
	}
	if p.Error != nil {
		return p.Error.Code
	}
	return p.Code
}

// hItems returns the items of a list response.
func hItems(t *testing.T, r hResp) []map[string]any {
	t.Helper()
	var l struct {
		Items []map[string]any `json:"items"`
	}
	require.NoError(t, json.Unmarshal(r.Body, &l), "%s", r.Body)
	return l.Items
}

// hField returns the string values of key across items.
func hField(items []map[string]any, key string) []string {
	out := make([]string, 0, len(items))
	for _, it := range items {
		s, _ := it[key].(string)
		out = append(out, s)
	}
	return out
}

// hSeedPlatformAdmin stores a platform admin (no tenant) with the real password hasher,
// as `tenantry user create` would, and returns its access token.
func (e *hEnv) hSeedPlatformAdmin(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	hash, err := passwords.New(passwords.Config{}).Hash(ctx, hPassword)
	require.NoError(t, err)
	u, err := domain.NewUser(domain.UserID(uuid.NewString()), "root@platform.test", domain.RolePlatformAdmin, "", hash, time.Now())
	require.NoError(t, err)
	require.NoError(t, e.st.Users.Create(ctx, u))
	return e.login(t, string(u.Email))
}

// login runs the password grant and returns the access token.
func (e *hEnv) login(t *testing.T, email string) string {
	t.Helper()
	form := url.Values{"grant_type": {"password"}, "username": {email}, "password": {hPassword}}
	r := e.do(t, hReq{method: http.MethodPost, path: "/auth/token", body: form.Encode(), contentType: "application/x-www-form-urlencoded"})
	m := e.want(t, http.StatusOK, r)
	tok, _ := m["access_token"].(string)
	require.NotEmpty(t, tok)
	return tok
}

// createUser creates a user over POST /admin/users and returns its id.
func (e *hEnv) createUser(t *testing.T, adminToken, email, role string, tenant domain.TenantID) domain.UserID {
	t.Helper()
	tid := "null"
	if tenant != "" {
		tid = fmt.Sprintf("%q", tenant)
	}
	body := fmt.Sprintf(`{"email":%q,"password":%q,"role":%q,"tenant_id":%s}`, email, hPassword, role, tid)
	m := e.want(t, http.StatusCreated, e.send(t, http.MethodPost, "/admin/users", adminToken, body))
	return domain.UserID(m["id"].(string))
}

// hEvent is one server-sent event.
type hEvent struct {
	Name, Data string
}

// hParseSSE parses a text/event-stream body (comments skipped, multi-line data joined).
func hParseSSE(t *testing.T, body []byte) []hEvent {
	t.Helper()
	var out []hEvent
	var cur hEvent
	var data []string
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(make([]byte, 0, 64<<10), 4<<20)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			if cur.Name != "" || len(data) > 0 {
				cur.Data = strings.Join(data, "\n")
				out = append(out, cur)
			}
			cur, data = hEvent{}, nil
		case strings.HasPrefix(line, ":"):
		case strings.HasPrefix(line, "event:"):
			cur.Name = strings.TrimPrefix(strings.TrimPrefix(line, "event:"), " ")
		case strings.HasPrefix(line, "data:"):
			data = append(data, strings.TrimPrefix(strings.TrimPrefix(line, "data:"), " "))
		}
	}
	require.NoError(t, sc.Err())
	return out
}

// chat posts a chat message and returns the parsed events of a 200 stream.
func (e *hEnv) chat(t *testing.T, token, body string) []hEvent {
	t.Helper()
	r := e.send(t, http.MethodPost, "/chat/stream", token, body)
	require.Equalf(t, http.StatusOK, r.Status, "%s", r.Body)
	require.Equal(t, "text/event-stream", r.Header.Get("Content-Type"))
	return hParseSSE(t, r.Body)
}

// hSnapshot dumps everything the stores hold for tenant id (secrets included, in
// plaintext, so a changed key is seen), read past the router's caches.
func (e *hEnv) hSnapshot(t *testing.T, id domain.TenantID) string {
	t.Helper()
	ctx, all := context.Background(), domain.Page{Limit: 100}
	var parts []any
	add := func(v any, err error) {
		t.Helper()
		require.NoError(t, err)
		parts = append(parts, v)
	}
	tn, err := e.st.Tenants.Get(ctx, id)
	add(tn, err)
	// Secrets marshal as "[redacted]"; compare their plaintext too.
	parts = append(parts, []string{tn.LLM.APIKey.Reveal(), tn.VectorStore.APIKey.Reveal(), tn.Embedder.APIKey.Reveal()})
	users, err := e.st.Users.List(ctx, ports.UserFilter{TenantID: id}, all)
	add(users, err)
	add(e.st.Documents.List(ctx, id, all))
	chunks, err := e.st.Chunks.LoadChunks(ctx, id)
	slices.SortFunc(chunks, func(a, b domain.Chunk) int {
		return strings.Compare(fmt.Sprintf("%s/%06d", a.DocumentID, a.Index), fmt.Sprintf("%s/%06d", b.DocumentID, b.Index))
	})
	add(chunks, err)
	for _, u := range users {
		convs, err := e.st.Conversations.List(ctx, id, u.ID, all)
		add(convs, err)
		for _, c := range convs {
			add(e.st.Conversations.Messages(ctx, id, c.ID, 1000))
		}
	}
	add(e.st.Usage.Totals(ctx, id, time.Time{}))
	add(e.st.Audit.List(ctx, id, all))
	job, err := e.st.Reindex.Get(ctx, id)
	if domain.KindOf(err) == domain.KindNotFound {
		err = nil
	}
	add(job, err)
	add(e.st.APIKeys.List(ctx, id, all))
	b, err := json.Marshal(parts)
	require.NoError(t, err)
	if e.sqlDB != nil {
		b = append(b, e.hSQLRows(t, id)...)
	}
	return string(b)
}

// hTenantTables are the tables holding a tenant's rows, with the column naming it.
var hTenantTables = []struct{ table, column string }{
	{"tenants", "id"}, {"users", "tenant_id"}, {"refresh_tokens", "tenant_id"}, {"documents", "tenant_id"},
	{"chunks", "tenant_id"}, {"conversations", "tenant_id"}, {"messages", "tenant_id"},
	{"usage_records", "tenant_id"}, {"audit_log", "tenant_id"}, {"reindex_jobs", "tenant_id"},
}

// hSQLRows dumps, straight from the database, every row of every table that belongs
// to tenant id, sorted, so that any change to them shows.
func (e *hEnv) hSQLRows(t *testing.T, id domain.TenantID) []byte {
	t.Helper()
	var out bytes.Buffer
	for _, tt := range hTenantTables {
		rows, err := e.sqlDB.Query(`SELECT * FROM "`+tt.table+`" WHERE "`+tt.column+`" = ?`, string(id))
		require.NoError(t, err, tt.table)
		cols, err := rows.Columns()
		require.NoError(t, err)
		var lines []string
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			require.NoError(t, rows.Scan(ptrs...))
			var line strings.Builder
			for i, v := range vals {
				if b, ok := v.([]byte); ok {
					v = fmt.Sprintf("%x", b)
				}
				fmt.Fprintf(&line, "%s=%v;", cols[i], v)
			}
			lines = append(lines, line.String())
		}
		require.NoError(t, rows.Err())
		require.NoError(t, rows.Close())
		slices.Sort(lines)
		fmt.Fprintf(&out, "\n[%s %d rows]\n%s", tt.table, len(lines), strings.Join(lines, "\n"))
	}
	return out.Bytes()
}

// hRawDatabase returns every value of every table of the SQLite database as text.
func (e *hEnv) hRawDatabase(t *testing.T) string {
	t.Helper()
	require.NotNil(t, e.sqlDB)
	var out strings.Builder
	for _, tt := range hTenantTables {
		rows, err := e.sqlDB.Query(`SELECT * FROM "` + tt.table + `"`)
		require.NoError(t, err)
		cols, err := rows.Columns()
		require.NoError(t, err)
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			require.NoError(t, rows.Scan(ptrs...))
			for _, v := range vals {
				if b, ok := v.([]byte); ok {
					v = string(b)
				}
				fmt.Fprintf(&out, "%v\x00", v)
			}
		}
		require.NoError(t, rows.Close())
	}
	return out.String()
}

// hTranscriptText is every recorded response, headers and body, as one text.
func (e *hEnv) hTranscriptText() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	var b strings.Builder
	for _, r := range e.transcript {
		fmt.Fprintf(&b, "%s %s -> %d\n", r.Method, r.Path, r.Status)
		for k, vs := range r.Header {
			fmt.Fprintf(&b, "%s: %s\n", k, strings.Join(vs, ", "))
		}
		b.Write(r.Body)
		b.WriteString("\n")
	}
	return b.String()
}
