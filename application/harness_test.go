package application_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"iter"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/adapters/hashing"
	"github.com/tenantry/tenantry/adapters/jwtauth"
	"github.com/tenantry/tenantry/adapters/lexical"
	"github.com/tenantry/tenantry/adapters/memory"
	"github.com/tenantry/tenantry/adapters/passwords"
	"github.com/tenantry/tenantry/adapters/vecsearch"
	"github.com/tenantry/tenantry/application"
	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/ports"
)

// clock is a settable time source shared by the use cases and the token adapters.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Now().UTC().Truncate(time.Second)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// sealer is a transparent ports.SecretSealer for the signing keys: it binds values to
// their aad but does not encrypt.
type sealer struct{}

var _ ports.SecretSealer = sealer{}

func (sealer) Seal(plaintext []byte, aad string) ([]byte, error) {
	return append([]byte("sealed:"+aad+":"), plaintext...), nil
}

func (sealer) Open(sealed []byte, aad string) ([]byte, error) {
	prefix := []byte("sealed:" + aad + ":")
	if !bytes.HasPrefix(sealed, prefix) {
		return nil, domain.E(domain.KindInternal, "secret_unreadable", "", errors.New("aad mismatch"))
	}
	return bytes.Clone(sealed[len(prefix):]), nil
}

// recordingHasher is the real argon2id hasher (cheap parameters) that records which
// operations ran, so tests can see whether any hashing happened.
type recordingHasher struct {
	inner *passwords.Hasher
	mu    sync.Mutex
	ops   []string
}

var _ ports.PasswordHasher = (*recordingHasher)(nil)

func (h *recordingHasher) Hash(ctx context.Context, password string) (string, error) {
	h.record("hash")
	return h.inner.Hash(ctx, password)
}

func (h *recordingHasher) Verify(ctx context.Context, encoded, password string) (bool, bool, error) {
	h.record("verify")
	return h.inner.Verify(ctx, encoded, password)
}

func (h *recordingHasher) record(op string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.ops = append(h.ops, op)
}

func (h *recordingHasher) verifies() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, op := range h.ops {
		if op == "verify" {
			n++
		}
	}
	return n
}

// vendors hands every tenant the same offline embedder, index and model; tests swap
// the parts they need to fail or block.
type vendors struct {
	embedder ports.Embedder
	index    ports.VectorIndex
	model    ports.ChatModel
	// check, when set, answers Check; nil accepts every configuration.
	check func(domain.Tenant) error
}

var _ ports.Vendors = (*vendors)(nil)

func (v *vendors) Embedder(domain.Tenant) (ports.Embedder, error)       { return v.embedder, nil }
func (v *vendors) VectorIndex(domain.Tenant) (ports.VectorIndex, error) { return v.index, nil }
func (v *vendors) ChatModel(domain.Tenant) (ports.ChatModel, error)     { return v.model, nil }
func (v *vendors) Check(_ context.Context, t domain.Tenant) error {
	if v.check == nil {
		return nil
	}
	return v.check(t)
}

// modelCall is what a fake chat model was asked.
type modelCall struct {
	Msgs   []domain.ChatMessage
	Params domain.ChatParams
}

// callLog records model calls.
type callLog struct {
	mu    sync.Mutex
	calls []modelCall
}

func (l *callLog) add(msgs []domain.ChatMessage, p domain.ChatParams) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.calls = append(l.calls, modelCall{Msgs: append([]domain.ChatMessage{}, msgs...), Params: p})
}

func (l *callLog) Calls() []modelCall {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]modelCall{}, l.calls...)
}

// quotingModel answers by quoting each passage it was given, one delta per passage,
// like an extractive answerer; usage is counted in words.
type quotingModel struct{ callLog }

var _ ports.ChatModel = (*quotingModel)(nil)

func (m *quotingModel) Stream(ctx context.Context, msgs []domain.ChatMessage, p domain.ChatParams) iter.Seq2[domain.Delta, error] {
	m.add(msgs, p)
	return func(yield func(domain.Delta, error) bool) {
		parts := []string{"From your documents: "}
		for i, ps := range p.Passages {
			parts = append(parts, fmt.Sprintf("[%d] %s ", i+1, ps.Text))
		}
		if len(p.Passages) == 0 {
			parts = append(parts, "I found nothing about that.")
		}
		completion := 0
		for _, s := range parts {
			if err := ctx.Err(); err != nil {
				yield(domain.Delta{}, err)
				return
			}
			completion += len(strings.Fields(s))
			if !yield(domain.Delta{Text: s}, nil) {
				return
			}
		}
		prompt := 0
		for _, msg := range msgs {
			prompt += len(strings.Fields(msg.Content))
		}
		yield(domain.Delta{Done: true, FinishReason: "stop", Model: p.Model,
			Usage: domain.Usage{PromptTokens: prompt, CompletionTokens: completion}}, nil)
	}
}

// blockingModel streams one partial delta and then waits for ctx to end, as a stalled
// vendor would; it ends with ctx's error. started is closed on the first call.
type blockingModel struct {
	callLog
	partial string
	once    sync.Once
	started chan struct{}
}

var _ ports.ChatModel = (*blockingModel)(nil)

func newBlockingModel(partial string) *blockingModel {
	return &blockingModel{partial: partial, started: make(chan struct{})}
}

func (m *blockingModel) Stream(ctx context.Context, msgs []domain.ChatMessage, p domain.ChatParams) iter.Seq2[domain.Delta, error] {
	m.add(msgs, p)
	return func(yield func(domain.Delta, error) bool) {
		m.once.Do(func() { close(m.started) })
		if m.partial != "" && !yield(domain.Delta{Text: m.partial}, nil) {
			return
		}
		<-ctx.Done()
		yield(domain.Delta{}, ctx.Err())
	}
}

// failingModel streams some text and then fails as a cut vendor stream would.
type failingModel struct {
	callLog
	text string
	err  error
}

func (m *failingModel) Stream(_ context.Context, msgs []domain.ChatMessage, p domain.ChatParams) iter.Seq2[domain.Delta, error] {
	m.add(msgs, p)
	return func(yield func(domain.Delta, error) bool) {
		if !yield(domain.Delta{Text: m.text}, nil) {
			return
		}
		yield(domain.Delta{}, m.err)
	}
}

// failingEmbedder delegates the first okCalls calls and then fails like an unreachable
// vendor.
type failingEmbedder struct {
	inner   ports.Embedder
	mu      sync.Mutex
	okCalls int
	calls   int
}

func (e *failingEmbedder) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	e.mu.Lock()
	e.calls++
	ok := e.calls <= e.okCalls
	e.mu.Unlock()
	if !ok {
		return nil, domain.ErrUnavailable.With(errors.New("embedding vendor unreachable"))
	}
	return e.inner.Embed(ctx, texts)
}

// EmbedQuery counts like Embed.
func (e *failingEmbedder) EmbedQuery(ctx context.Context, q string) ([]float32, error) {
	vecs, err := e.Embed(ctx, []string{q})
	if err != nil {
		return nil, err
	}
	return vecs[0], nil
}

func (e *failingEmbedder) Dimensions() int { return e.inner.Dimensions() }

const testIssuer = "https://tenantry.test"

// env is one isolated tenantry: memory stores, limiters, real offline adapters and a
// loaded signing key, all on one settable clock.
type env struct {
	t        *testing.T
	clock    *clock
	db       *memory.DB
	hasher   *recordingHasher
	keys     *jwtauth.Keys
	issuer   *jwtauth.Issuer
	verifier *jwtauth.Verifier
	attempts *memory.AttemptLimiter
	ips      *memory.AttemptLimiter
	waits    *waits
	rate     *memory.RateLimiter
	slots    *memory.StreamSlots
	embedder *hashing.Embedder
	index    *vecsearch.Index
	lexical  *lexical.Index
	model    *quotingModel
	vendors  *vendors
	policy   application.TokenPolicy
	chunker  domain.Chunker
}

// Brute-force settings of every env.
const (
	maxLoginFailures = 3
	maxIPFailures    = 8
	maxLoginDelay    = 5 * time.Second
	loginWindow      = 15 * time.Minute
)

func newEnv(t *testing.T) *env {
	t.Helper()
	clk := newClock()
	db := memory.NewDB()
	keys, err := jwtauth.NewKeys(db.SigningKeys(), sealer{}, jwtauth.Config{Issuer: testIssuer, Clock: clk.Now}, nil)
	require.NoError(t, err)
	require.NoError(t, keys.Load(context.Background()))
	cheap := passwords.Params{MemoryKiB: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}
	emb := hashing.New(domain.DefaultDimensions)
	idx := vecsearch.New(db.Chunks(), vecsearch.Config{Workers: 1})
	lex := lexical.New(db.Chunks(), lexical.Config{})
	t.Cleanup(func() { _ = idx.Close() })
	model := &quotingModel{}
	return &env{
		t: t, clock: clk, db: db,
		hasher:   &recordingHasher{inner: passwords.New(passwords.Config{Params: cheap})},
		keys:     keys,
		issuer:   jwtauth.NewIssuer(keys),
		verifier: jwtauth.NewVerifier(keys),
		attempts: memory.NewAttemptLimiter(maxLoginFailures, loginWindow),
		ips:      memory.NewAttemptLimiter(maxIPFailures, loginWindow),
		waits:    &waits{},
		rate:     memory.NewRateLimiter(),
		slots:    memory.NewStreamSlots(),
		embedder: emb,
		index:    idx,
		lexical:  lex,
		model:    model,
		vendors:  &vendors{embedder: emb, index: idx, model: model},
		policy:   application.TokenPolicy{AccessTTL: 10 * time.Minute, RefreshTTL: 30 * 24 * time.Hour},
		// Small chunks, so that a short document makes several.
		chunker: domain.Chunker{Size: 200, Overlap: 20},
	}
}

func (e *env) login() *application.Login {
	return application.NewLogin(application.LoginDeps{Users: e.db.Users(), Hasher: e.hasher, Issuer: e.issuer,
		Refresh: e.db.RefreshTokens(), Attempts: e.attempts, IPAttempts: e.ips, MaxDelay: maxLoginDelay, Wait: e.waits.wait,
		Policy: e.policy, Now: e.clock.Now})
}

func (e *env) refresh() *application.RefreshTokens {
	return application.NewRefreshTokens(application.RefreshDeps{Users: e.db.Users(), Issuer: e.issuer,
		Refresh: e.db.RefreshTokens(), Policy: e.policy, Now: e.clock.Now})
}

func (e *env) revoke() *application.RevokeToken {
	return application.NewRevokeToken(e.db.RefreshTokens(), e.clock.Now)
}

func (e *env) authenticate() *application.Authenticate {
	return application.NewAuthenticate(e.verifier, e.db.Users())
}

func (e *env) resolveTenant() *application.ResolveTenant {
	return application.NewResolveTenant(e.db.Tenants(), e.clock.Now)
}

func (e *env) streamChat() *application.StreamChat {
	return application.NewStreamChat(application.StreamChatDeps{Conversations: e.db.Conversations(), Usage: e.db.Usage(),
		Vendors: e.vendors, Lexical: e.lexical, Documents: e.db.Documents(), Limiter: e.rate, Slots: e.slots, Now: e.clock.Now})
}

func (e *env) ingest() *application.IngestDocument {
	return e.ingestWith(e.db.Documents(), e.vendors, 0)
}

func (e *env) ingestWith(docs ports.DocumentStore, v ports.Vendors, batch int) *application.IngestDocument {
	return application.NewIngestDocument(application.IngestDeps{Documents: docs, Vendors: v, Lexical: e.lexical, Limiter: e.rate,
		Chunker: e.chunker, EmbedBatch: batch, Now: e.clock.Now})
}

func (e *env) documents() *application.Documents {
	return application.NewDocuments(e.db.Documents(), e.vendors, e.lexical)
}

func (e *env) manageTenants(allowHTTP bool) *application.ManageTenants {
	return application.NewManageTenants(application.ManageTenantsDeps{Tenants: e.db.Tenants(), Vendors: e.vendors, Lexical: e.lexical,
		Audit: e.db.Audit(), Now: e.clock.Now, AllowHTTPVendors: allowHTTP})
}

func (e *env) manageUsers() *application.ManageUsers {
	return application.NewManageUsers(application.ManageUsersDeps{Users: e.db.Users(), Hasher: e.hasher,
		Refresh: e.db.RefreshTokens(), Audit: e.db.Audit(), Now: e.clock.Now})
}

// tenant stores a tenant with offline defaults.
func (e *env) tenant(id string) domain.Tenant {
	e.t.Helper()
	tid, err := domain.ParseTenantID(id)
	require.NoError(e.t, err)
	t, err := domain.NewTenant(tid, strings.ToUpper(id[:1])+id[1:]+" Inc.", e.clock.Now())
	require.NoError(e.t, err)
	require.NoError(e.t, e.db.Tenants().Create(context.Background(), t))
	return t
}

// updateTenant changes a stored tenant directly in the store.
func (e *env) updateTenant(id domain.TenantID, fn func(*domain.Tenant)) domain.Tenant {
	e.t.Helper()
	t, err := e.db.Tenants().Update(context.Background(), id, func(t *domain.Tenant) error { fn(t); return nil })
	require.NoError(e.t, err)
	return t
}

const password = "correct horse battery staple"

var userSeq struct {
	mu sync.Mutex
	n  int
}

// user stores a user with the given role and tenant ("" for none) and the password
// above, hashed by the env's hasher.
func (e *env) user(email string, role domain.Role, tenant domain.TenantID) domain.User {
	e.t.Helper()
	hash, err := e.hasher.inner.Hash(context.Background(), password)
	require.NoError(e.t, err)
	return e.userWithHash(email, role, tenant, hash)
}

func (e *env) userWithHash(email string, role domain.Role, tenant domain.TenantID, hash string) domain.User {
	e.t.Helper()
	userSeq.mu.Lock()
	userSeq.n++
	id := domain.UserID(fmt.Sprintf("00000000-0000-4000-8000-%012d", userSeq.n))
	userSeq.mu.Unlock()
	addr, err := domain.ParseEmail(email)
	require.NoError(e.t, err)
	u, err := domain.NewUser(id, addr, role, tenant, hash, e.clock.Now())
	require.NoError(e.t, err)
	require.NoError(e.t, e.db.Users().Create(context.Background(), u))
	return u
}

func (e *env) storedUser(id domain.UserID) domain.User {
	e.t.Helper()
	u, err := e.db.Users().Get(context.Background(), id)
	require.NoError(e.t, err)
	return u
}

// tenantCtx is the tenant context of user u in tenant t, as ResolveTenant would build it.
func tenantCtx(u domain.User, t domain.Tenant) domain.TenantContext {
	return domain.TenantContext{Principal: u.Principal(), Tenant: t}
}

func actor(u domain.User) application.Actor {
	return application.Actor{Principal: u.Principal(), RequestID: "req-" + string(u.ID[len(u.ID)-4:])}
}

// requireKind fails unless err carries kind.
func requireKind(t *testing.T, want domain.Kind, err error) {
	t.Helper()
	require.Error(t, err)
	require.Equal(t, want.String(), domain.KindOf(err).String(), "error: %v", err)
}

// waits records how long the login use case held each failed answer, without waiting.
type waits struct {
	mu sync.Mutex
	ds []time.Duration
}

func (w *waits) wait(_ context.Context, d time.Duration) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.ds = append(w.ds, d)
}

func (w *waits) all() []time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]time.Duration(nil), w.ds...)
}
