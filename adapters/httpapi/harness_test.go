package httpapi_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"io"
	"iter"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/tenantry/tenantry/adapters/httpapi"
	"github.com/tenantry/tenantry/adapters/lexical"
	"github.com/tenantry/tenantry/adapters/memory"
	"github.com/tenantry/tenantry/application"
	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/ports"
)

const testPassword = "correct horse battery"

// fakeHasher stores passwords behind a fixed prefix; busy simulates a hashing storm.
type fakeHasher struct {
	mu   sync.Mutex
	busy bool
}

func (h *fakeHasher) setBusy(b bool) { h.mu.Lock(); h.busy = b; h.mu.Unlock() }

func (h *fakeHasher) Hash(_ context.Context, pw string) (string, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.busy {
		return "", domain.ErrBusy.WithRetryAfter(2)
	}
	return "fake$" + pw, nil
}

func (h *fakeHasher) Verify(_ context.Context, encoded, pw string) (bool, bool, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.busy {
		return false, false, domain.ErrBusy.WithRetryAfter(2)
	}
	return encoded != "" && encoded == "fake$"+pw, false, nil
}

// fakeTokens issues opaque random access tokens and remembers their claims.
type fakeTokens struct {
	mu     sync.Mutex
	claims map[string]domain.Claims
}

func (f *fakeTokens) Issue(_ context.Context, c domain.Claims) (string, error) {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	tok := "at." + base64.RawURLEncoding.EncodeToString(b)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.claims[tok] = c
	return tok, nil
}

func (f *fakeTokens) Verify(_ context.Context, tok string) (domain.Claims, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, ok := f.claims[tok]
	if !ok || !time.Now().Before(c.ExpiresAt) {
		return domain.Claims{}, domain.ErrInvalidToken
	}
	return c, nil
}

// fakeVendors gives every tenant a tiny bag-of-words embedder, a shared in-memory index
// (scoped by tenant) and a chat model that tests may replace.
type fakeVendors struct {
	mu     sync.Mutex
	chunks map[domain.TenantID][]domain.Chunk
	model  func(ctx context.Context, msgs []domain.ChatMessage, p domain.ChatParams) iter.Seq2[domain.Delta, error]
	// onSearch, when set, runs at the start of every Search.
	onSearch func()
}

func (v *fakeVendors) Embedder(domain.Tenant) (ports.Embedder, error)       { return bowEmbedder{}, nil }
func (v *fakeVendors) VectorIndex(domain.Tenant) (ports.VectorIndex, error) { return v, nil }
func (v *fakeVendors) ChatModel(domain.Tenant) (ports.ChatModel, error)     { return v, nil }
func (v *fakeVendors) Check(context.Context, domain.Tenant) error           { return nil }

func (v *fakeVendors) setModel(m func(ctx context.Context, msgs []domain.ChatMessage, p domain.ChatParams) iter.Seq2[domain.Delta, error]) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.model = m
}

func (v *fakeVendors) Stream(ctx context.Context, msgs []domain.ChatMessage, p domain.ChatParams) iter.Seq2[domain.Delta, error] {
	v.mu.Lock()
	m := v.model
	v.mu.Unlock()
	if m != nil {
		return m(ctx, msgs, p)
	}
	return quotingModel(ctx, msgs, p)
}

// quotingModel answers by quoting the best passage in two pieces.
func quotingModel(ctx context.Context, _ []domain.ChatMessage, p domain.ChatParams) iter.Seq2[domain.Delta, error] {
	return func(yield func(domain.Delta, error) bool) {
		answer := "I found nothing."
		if len(p.Passages) > 0 {
			answer = "According to [1]: " + p.Passages[0].Text
		}
		half := len(answer) / 2
		for _, piece := range []string{answer[:half], answer[half:]} {
			if ctx.Err() != nil {
				yield(domain.Delta{}, ctx.Err())
				return
			}
			if !yield(domain.Delta{Text: piece}, nil) {
				return
			}
		}
		yield(domain.Delta{Done: true, FinishReason: "stop", Model: "fake-model", Usage: domain.Usage{PromptTokens: 11, CompletionTokens: 7}}, nil)
	}
}

func (v *fakeVendors) Upsert(_ context.Context, t domain.TenantID, chunks []domain.Chunk) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.chunks[t] = append(v.chunks[t], chunks...)
	return nil
}

func (v *fakeVendors) Search(_ context.Context, t domain.TenantID, q []float32, k int, minScore float64) (domain.SearchResult, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.onSearch != nil {
		v.onSearch()
	}
	var out []domain.Passage
	for _, c := range v.chunks[t] {
		if s := cosine(q, c.Vector); s > 0 && s >= minScore {
			out = append(out, domain.Passage{DocumentID: c.DocumentID, Title: c.Title, Chunk: c.Index, Score: s, Text: c.Text,
				Page: c.Page, Heading: c.Heading})
		}
	}
	slices.SortFunc(out, func(a, b domain.Passage) int {
		if a.Score != b.Score {
			return int(math.Copysign(1, b.Score-a.Score))
		}
		return strings.Compare(string(a.DocumentID), string(b.DocumentID))
	})
	return domain.SearchResult{Passages: out[:min(k, len(out))]}, nil
}

func (v *fakeVendors) DeleteDocument(_ context.Context, t domain.TenantID, d domain.DocumentID) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.chunks[t] = slices.DeleteFunc(v.chunks[t], func(c domain.Chunk) bool { return c.DocumentID == d })
	return nil
}

func (v *fakeVendors) DropTenant(_ context.Context, t domain.TenantID) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	delete(v.chunks, t)
	return nil
}

// hookedLexical runs the fake vendors' onSearch hook before each lexical search too, so
// that tests reach the search whatever the tenant's retrieval mode.
type hookedLexical struct {
	ports.LexicalIndex
	v *fakeVendors
}

func (h hookedLexical) Search(ctx context.Context, t domain.TenantID, q string, k int) (domain.SearchResult, error) {
	h.v.mu.Lock()
	hook := h.v.onSearch
	h.v.mu.Unlock()
	if hook != nil {
		hook()
	}
	return h.LexicalIndex.Search(ctx, t, q, k)
}

type bowEmbedder struct{}

const bowDims = 64

func (bowEmbedder) Dimensions() int { return bowDims }

func (e bowEmbedder) EmbedQuery(ctx context.Context, q string) ([]float32, error) {
	vecs, _ := e.Embed(ctx, []string{q})
	return vecs[0], nil
}

func (bowEmbedder) Embed(_ context.Context, texts []string) ([][]float32, error) {
	out := make([][]float32, len(texts))
	for i, t := range texts {
		v := make([]float32, bowDims)
		for _, w := range strings.Fields(strings.ToLower(t)) {
			w = strings.Trim(w, ".,;:!?\"'()[]")
			if len(w) < 3 {
				continue
			}
			var h uint32 = 2166136261
			for j := 0; j < len(w); j++ {
				h = (h ^ uint32(w[j])) * 16777619
			}
			v[h%bowDims]++
		}
		out[i] = v
	}
	return out, nil
}

func cosine(a, b []float32) float64 {
	var dot, na, nb float64
	for i := range a {
		dot += float64(a[i]) * float64(b[i])
		na += float64(a[i]) * float64(a[i])
		nb += float64(b[i]) * float64(b[i])
	}
	if na == 0 || nb == 0 {
		return 0
	}
	return dot / math.Sqrt(na*nb)
}

// env is a router over real use cases on the memory adapter and the fakes above.
type env struct {
	t       *testing.T
	db      *memory.DB
	hasher  *fakeHasher
	tokens  *fakeTokens
	vendors *fakeVendors
	logs    *observer.ObservedLogs
	e       *echo.Echo
	ready   error
	users   map[string]domain.User
}

type envOption func(*httpapi.Config, *httpapi.Deps)

func newEnv(t *testing.T, opts ...envOption) *env {
	t.Helper()
	core, logs := observer.New(zapcore.DebugLevel)
	ev := &env{
		t: t, db: memory.NewDB(), hasher: &fakeHasher{}, tokens: &fakeTokens{claims: map[string]domain.Claims{}},
		vendors: &fakeVendors{chunks: map[domain.TenantID][]domain.Chunk{}}, logs: logs, users: map[string]domain.User{},
	}
	db, now := ev.db, time.Now
	policy := application.TokenPolicy{AccessTTL: 15 * time.Minute, RefreshTTL: 30 * 24 * time.Hour}
	attempts := memory.NewAttemptLimiter(5, time.Minute)
	rate := memory.NewRateLimiter()
	lex := hookedLexical{LexicalIndex: lexical.New(db.Chunks(), lexical.Config{}), v: ev.vendors}
	deps := httpapi.Deps{
		Log: zap.New(core),
		Login: application.NewLogin(application.LoginDeps{Users: db.Users(), Hasher: ev.hasher, Issuer: ev.tokens,
			Refresh: db.RefreshTokens(), Attempts: attempts, Policy: policy, Now: now}),
		Refresh: application.NewRefreshTokens(application.RefreshDeps{Users: db.Users(), Issuer: ev.tokens,
			Refresh: db.RefreshTokens(), Policy: policy, Now: now}),
		Revoke:        application.NewRevokeToken(db.RefreshTokens(), now),
		Authenticate:  application.NewAuthenticate(ev.tokens, db.Users()),
		ResolveTenant: application.NewResolveTenant(db.Tenants(), now),
		Profile:       application.NewProfile(db.Users(), db.Tenants()),
		Tenants: application.NewManageTenants(application.ManageTenantsDeps{Tenants: db.Tenants(), Vendors: ev.vendors, Lexical: lex,
			Audit: db.Audit(), Now: now}),
		Users: application.NewManageUsers(application.ManageUsersDeps{Users: db.Users(), Hasher: ev.hasher,
			Refresh: db.RefreshTokens(), Audit: db.Audit(), Now: now}),
		Ingest: application.NewIngestDocument(application.IngestDeps{Documents: db.Documents(), Vendors: ev.vendors, Lexical: lex,
			Limiter: rate, Extractor: pagedExtractor{}, Chunker: domain.Chunker{}, Now: now}),
		Documents:     application.NewDocuments(db.Documents(), ev.vendors, lex),
		Conversations: application.NewConversations(db.Conversations(), db.Conversations()),
		Chat: application.NewStreamChat(application.StreamChatDeps{Conversations: db.Conversations(), Usage: db.Usage(),
			Vendors: ev.vendors, Lexical: lex, Documents: db.Documents(), Limiter: rate, Slots: memory.NewStreamSlots(), Now: now}),
		Reports: application.NewReports(db.Usage(), db.Audit(), now),
		Reindex: application.NewReindex(application.ReindexDeps{Jobs: db.Reindex(), Tenants: db.Tenants(), Chunks: db.Chunks(),
			Documents: db.Documents(), Vendors: ev.vendors, Lexical: lex, Audit: db.Audit(), Now: now}),
		Ready: func(context.Context) error { return ev.ready },
		JWKS: func(context.Context) ([]byte, error) {
			return []byte(`{"keys":[{"kty":"EC","crv":"P-256","kid":"k1","x":"x","y":"y","alg":"ES256","use":"sig"}]}`), nil
		},
		Discovery: httpapi.Discovery{Issuer: "https://tenantry.example"},
	}
	cfg := httpapi.Config{MaxBodyBytes: 64 << 10, MaxDocumentBytes: 32 << 10,
		MaxFileBytes: map[domain.FileFormat]int64{domain.FormatPDF: 48 << 10, domain.FormatCSV: 1 << 10}}
	for _, o := range opts {
		o(&cfg, &deps)
	}
	ev.e = httpapi.New(cfg, deps)
	ev.seed()
	return ev
}

// seed creates tenants acme and globex and one user per role.
func (ev *env) seed() {
	ctx, now := context.Background(), time.Now()
	for _, id := range []domain.TenantID{"acme", "globex"} {
		tn, err := domain.NewTenant(id, strings.ToUpper(string(id[:1]))+string(id[1:]), now)
		require.NoError(ev.t, err)
		require.NoError(ev.t, ev.db.Tenants().Create(ctx, tn))
	}
	for name, spec := range map[string]struct {
		role   domain.Role
		tenant domain.TenantID
	}{
		"root":         {domain.RolePlatformAdmin, ""},
		"acme-admin":   {domain.RoleTenantAdmin, "acme"},
		"acme-member":  {domain.RoleMember, "acme"},
		"globex-admin": {domain.RoleTenantAdmin, "globex"},
		"loner":        {domain.RoleMember, ""},
	} {
		u, err := domain.NewUser(domain.UserID("u-"+name), domain.Email(name+"@example.com"), spec.role, spec.tenant, "fake$"+testPassword, now)
		require.NoError(ev.t, err)
		require.NoError(ev.t, ev.db.Users().Create(ctx, u))
		ev.users[name] = u
	}
}

// token logs name in through the token endpoint and returns its access token.
func (ev *env) token(name string) string {
	ev.t.Helper()
	rec := ev.form("/auth/token", url.Values{"username": {name + "@example.com"}, "password": {testPassword}})
	require.Equal(ev.t, http.StatusOK, rec.Code, rec.Body.String())
	var tr struct {
		AccessToken string `json:"access_token"`
	}
	require.NoError(ev.t, json.Unmarshal(rec.Body.Bytes(), &tr))
	return tr.AccessToken
}

func (ev *env) form(path string, v url.Values) *httptest.ResponseRecorder {
	return ev.do(http.MethodPost, path, strings.NewReader(v.Encode()), "Content-Type", "application/x-www-form-urlencoded")
}

// do sends a request through the router; headers come as name, value pairs.
func (ev *env) do(method, path string, body io.Reader, headers ...string) *httptest.ResponseRecorder {
	ev.t.Helper()
	req := httptest.NewRequest(method, path, body)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Add(headers[i], headers[i+1])
	}
	rec := httptest.NewRecorder()
	ev.e.ServeHTTP(rec, req)
	return rec
}

// as sends a request with name's bearer token and, for a string body, JSON.
func (ev *env) as(name, method, path, body string, headers ...string) *httptest.ResponseRecorder {
	ev.t.Helper()
	h := append([]string{"Authorization", "Bearer " + ev.token(name)}, headers...)
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
		if !slices.Contains(headers, "Content-Type") {
			h = append(h, "Content-Type", "application/json")
		}
	}
	return ev.do(method, path, r, h...)
}

// problemBody is what every problem+json response must hold.
type problemBody struct {
	Type      string `json:"type"`
	Title     string `json:"title"`
	Status    int    `json:"status"`
	Detail    string `json:"detail"`
	Instance  string `json:"instance"`
	Code      string `json:"code"`
	RequestID string `json:"request_id"`
	Errors    []struct {
		Field   string `json:"field"`
		Message string `json:"message"`
	} `json:"errors"`
}

// requireProblem checks status, content type and the problem body's required members.
func requireProblem(t *testing.T, rec *httptest.ResponseRecorder, status int, code string) problemBody {
	t.Helper()
	require.Equal(t, status, rec.Code, rec.Body.String())
	require.Equal(t, "application/problem+json", rec.Header().Get("Content-Type"))
	var p problemBody
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &p))
	require.Equal(t, status, p.Status)
	require.Equal(t, code, p.Code)
	require.Equal(t, "https://tenantry.dev/problems/"+code, p.Type)
	require.NotEmpty(t, p.Title)
	require.NotEmpty(t, p.Detail)
	require.NotEmpty(t, p.Instance)
	require.NotEmpty(t, p.RequestID)
	require.Equal(t, rec.Header().Get("X-Request-ID"), p.RequestID)
	return p
}

func fieldsOf(p problemBody) []string {
	var out []string
	for _, e := range p.Errors {
		out = append(out, e.Field)
	}
	return out
}

func timeNow() time.Time { return time.Now() }

// pagedExtractor stands in for the file readers (tested against real files in
// adapters/extract): a file's bytes are its text, pages split by form feeds, and a file
// starting with "LOCKED" is password-protected.
type pagedExtractor struct{}

func (pagedExtractor) Extract(_ context.Context, _ domain.FileFormat, data []byte) ([]domain.Section, error) {
	if strings.HasPrefix(string(data), "LOCKED") {
		return nil, domain.E(domain.KindUnprocessable, "file_encrypted", "the PDF is password-protected", nil)
	}
	var out []domain.Section
	for i, page := range strings.Split(string(data), "\f") {
		out = append(out, domain.Section{Page: i + 1, Heading: "Page heading", Text: page})
	}
	return out, nil
}
