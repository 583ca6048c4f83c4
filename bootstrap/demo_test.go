package bootstrap

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/tenantry/tenantry/adapters/memory"
	"github.com/tenantry/tenantry/adapters/secretbox"
	"github.com/tenantry/tenantry/application"
	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/ports"
)

// demoCredentials finds the printed first-run credentials.
var demoCredentials = regexp.MustCompile(`(?m)^\s*email:\s+(\S+)\s*\n\s*password:\s+(\S+)\s*$`)

// demoEnv is a router on memory stores with the first-run demo's use cases.
type demoEnv struct {
	cfg    Config
	stores Stores
	api    *API
	srv    *httptest.Server
}

func newDemoEnv(t *testing.T, env map[string]string, edit func(*Stores)) *demoEnv {
	t.Helper()
	cfg, err := LoadConfig(func(k string) string { return env[k] })
	require.NoError(t, err)
	key, err := secretbox.GenerateKey()
	require.NoError(t, err)
	keyring, err := secretbox.New(key)
	require.NoError(t, err)
	st := MemoryStores(memory.NewDB())
	if edit != nil {
		edit(&st)
	}
	operator := application.Actor{Principal: domain.Principal{UserID: "cli", Role: domain.RolePlatformAdmin}, Name: "cli:test"}
	api, err := Router(t.Context(), cfg, st, RouterOptions{Log: zap.NewNop(), Sealer: keyring, Operator: operator})
	require.NoError(t, err)
	srv := httptest.NewServer(api.Handler)
	t.Cleanup(func() {
		srv.Close()
		_ = api.Close()
	})
	return &demoEnv{cfg: cfg, stores: st, api: api, srv: srv}
}

func (e *demoEnv) services() demoServices {
	a := e.api.admin
	return demoServices{tenants: a.tenants, users: a.users, ingest: a.ingest, actor: a.actor}
}

func (e *demoEnv) firstRun(t *testing.T) (string, error) {
	t.Helper()
	var out bytes.Buffer
	err := firstRun(t.Context(), e.cfg, e.services(), &out)
	return out.String(), err
}

func (e *demoEnv) counts(t *testing.T) (tenants, users, docs int) {
	t.Helper()
	ctx := t.Context()
	ts, err := e.stores.Tenants.List(ctx, domain.Page{Limit: 100})
	require.NoError(t, err)
	us, err := e.stores.Users.List(ctx, ports.UserFilter{}, domain.Page{Limit: 100})
	require.NoError(t, err)
	for _, tn := range ts {
		ds, err := e.stores.Documents.List(ctx, tn.ID, domain.Page{Limit: 100})
		require.NoError(t, err)
		docs += len(ds)
	}
	return len(ts), len(us), docs
}

func (e *demoEnv) login(t *testing.T, email, password string) (int, string) {
	t.Helper()
	res, err := e.srv.Client().PostForm(e.srv.URL+"/auth/token", url.Values{"grant_type": {"password"}, "username": {email}, "password": {password}})
	require.NoError(t, err)
	defer res.Body.Close()
	var tr struct {
		AccessToken string `json:"access_token"`
	}
	_ = json.NewDecoder(res.Body).Decode(&tr)
	return res.StatusCode, tr.AccessToken
}

func (e *demoEnv) call(t *testing.T, method, path, token, body string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, e.srv.URL+path, strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+token)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := e.srv.Client().Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return res.StatusCode, b
}

func embeddedEnv(t *testing.T) map[string]string {
	return map[string]string{"TENANTRY_DATA_DIR": t.TempDir(), "TENANTRY_PUBLIC_URL": "http://localhost:9999"}
}

func TestFirstRunSeedsAnEmptyEmbeddedDatabaseOnce(t *testing.T) {
	t.Parallel()
	e := newDemoEnv(t, embeddedEnv(t), nil)

	out, err := e.firstRun(t)
	require.NoError(t, err)
	m := demoCredentials.FindStringSubmatch(out)
	require.NotNil(t, m, "credentials in:\n%s", out)
	email, password := m[1], m[2]
	assert.Equal(t, "admin@demo.local", email)
	assert.Regexp(t, `^[a-z2-7]{4}(-[a-z2-7]{4}){5}$`, password)
	assert.Contains(t, out, "http://localhost:9999/")
	assert.Equal(t, 1, strings.Count(out, password), "the password is printed once")

	tenants, users, docs := e.counts(t)
	assert.Equal(t, []int{1, 1, 3}, []int{tenants, users, docs})
	tn, err := e.stores.Tenants.Get(t.Context(), "demo")
	require.NoError(t, err)
	assert.Equal(t, domain.TenantActive, tn.Status)
	u, err := e.stores.Users.GetByEmail(t.Context(), "admin@demo.local")
	require.NoError(t, err)
	assert.Equal(t, domain.RoleTenantAdmin, u.Role)
	assert.Equal(t, domain.TenantID("demo"), u.TenantID)
	assert.NotContains(t, u.PasswordHash, password)

	status, token := e.login(t, email, password)
	require.Equal(t, http.StatusOK, status)
	status, body := e.call(t, http.MethodPost, "/chat/stream", token, `{"message":"How many days do I have to request a refund?"}`)
	require.Equal(t, http.StatusOK, status, "%s", body)
	assert.Contains(t, string(body), `"title":"Refund policy"`)
	assert.Contains(t, string(body), "within 30 days of your first payment")

	again, err := e.firstRun(t)
	require.NoError(t, err)
	assert.Empty(t, again, "a second start prints nothing")
	tenants, users, docs = e.counts(t)
	assert.Equal(t, []int{1, 1, 3}, []int{tenants, users, docs}, "a second start creates nothing")
	status, _ = e.login(t, email, password)
	assert.Equal(t, http.StatusOK, status, "a second start keeps the password")
}

func TestFirstRunLeavesADatabaseInUseAlone(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		env     func(t *testing.T) map[string]string
		prepare func(t *testing.T, st Stores)
		want    []int // tenants, users, documents
	}{
		{
			name:    "a tenant exists",
			env:     embeddedEnv,
			prepare: func(t *testing.T, st Stores) { demoTenant(t, st, "acme") },
			want:    []int{1, 0, 0},
		},
		{
			name: "a user without a tenant exists",
			env:  embeddedEnv,
			prepare: func(t *testing.T, st Stores) {
				u, err := domain.NewUser("u1", "root@example.test", domain.RolePlatformAdmin, "", "x", time.Now())
				require.NoError(t, err)
				require.NoError(t, st.Users.Create(t.Context(), u))
			},
			want: []int{0, 1, 0},
		},
		{
			name: "PostgreSQL, even when empty",
			env: func(t *testing.T) map[string]string {
				env := embeddedEnv(t)
				env["DATABASE_URL"] = "postgres://tenantry@127.0.0.1:1/tenantry"
				return env
			},
			prepare: func(*testing.T, Stores) {},
			want:    []int{0, 0, 0},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newDemoEnv(t, tc.env(t), nil)
			tc.prepare(t, e.stores)
			out, err := e.firstRun(t)
			require.NoError(t, err)
			assert.Empty(t, out)
			tenants, users, docs := e.counts(t)
			assert.Equal(t, tc.want, []int{tenants, users, docs})
		})
	}
}

// failingDocuments refuses to save while fail is set.
type failingDocuments struct {
	ports.DocumentStore
	fail *bool
}

func (f failingDocuments) Save(ctx context.Context, d domain.Document, chunks []domain.Chunk) (domain.DocumentID, error) {
	if *f.fail {
		return "", domain.ErrUnavailable.WithDetail("documents are down")
	}
	return f.DocumentStore.Save(ctx, d, chunks)
}

func TestFirstRunUndoesAFailedSeedSoTheNextStartRetries(t *testing.T) {
	t.Parallel()
	fail := true
	e := newDemoEnv(t, embeddedEnv(t), func(st *Stores) { st.Documents = failingDocuments{DocumentStore: st.Documents, fail: &fail} })

	out, err := e.firstRun(t)
	require.Error(t, err)
	assert.Equal(t, domain.KindUnavailable, domain.KindOf(err))
	assert.Contains(t, err.Error(), "Product FAQ")
	assert.Empty(t, out, "no credentials for a demo that does not exist")
	tenants, users, docs := e.counts(t)
	assert.Equal(t, []int{0, 0, 0}, []int{tenants, users, docs})

	fail = false
	out, err = e.firstRun(t)
	require.NoError(t, err)
	require.Regexp(t, demoCredentials, out)
	tenants, users, docs = e.counts(t)
	assert.Equal(t, []int{1, 1, 3}, []int{tenants, users, docs})
}

func TestDemoPasswordsDiffer(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for range 50 {
		pw, err := demoPassword()
		require.NoError(t, err)
		require.NoError(t, domain.ValidatePassword(pw))
		require.False(t, seen[pw], "repeated password %s", pw)
		seen[pw] = true
	}
}

// TestServeFirstRunPrintsCredentialsOnce starts the real binary twice on one embedded
// data directory: the first start prints working credentials to stdout and never to
// the logs, the second prints none and leaves them working.
func TestServeFirstRunPrintsCredentialsOnce(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	first := startServer(t, e)
	m := demoCredentials.FindStringSubmatch(first.stdout.String())
	require.NotNil(t, m, "stdout:\n%s\nstderr:\n%s", first.stdout.String(), first.stderr.String())
	email, password := m[1], m[2]
	tk := first.login(t, nil, email, password)
	r := first.get(t, nil, "/documents", tk.AccessToken)
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	var list struct {
		Items []struct {
			Title string `json:"title"`
		} `json:"items"`
	}
	require.NoError(t, json.Unmarshal(r.body, &list))
	var titles []string
	for _, it := range list.Items {
		titles = append(titles, it.Title)
	}
	assert.ElementsMatch(t, []string{"Product FAQ", "Refund policy", "Onboarding guide"}, titles)
	require.Equal(t, 0, first.stop(t))
	assert.NotContains(t, first.stderr.String(), password, "the password never reaches the logs")

	second := startServer(t, e)
	assert.NotContains(t, second.stdout.String(), "password")
	second.login(t, nil, email, password)
	require.Equal(t, 0, second.stop(t))
	assert.NotContains(t, second.stderr.String(), password)
}

func demoTenant(t *testing.T, st Stores, id domain.TenantID) {
	t.Helper()
	tn, err := domain.NewTenant(id, string(id), time.Now())
	require.NoError(t, err)
	require.NoError(t, st.Tenants.Create(t.Context(), tn))
}

// TestDemoAnswersQuoteTheFact asks the demo documents the README's question and a few
// paraphrases through /chat/stream on the offline defaults: the document that holds
// the fact is the first source, and the sentence that states it is quoted.
func TestDemoAnswersQuoteTheFact(t *testing.T) {
	t.Parallel()
	e := newDemoEnv(t, embeddedEnv(t), nil)
	out, err := e.firstRun(t)
	require.NoError(t, err)
	m := demoCredentials.FindStringSubmatch(out)
	require.NotNil(t, m, "credentials in:\n%s", out)
	status, token := e.login(t, m[1], m[2])
	require.Equal(t, http.StatusOK, status)

	tests := []struct{ question, fact, source string }{
		{"How long do I have to ask for a refund?", "within 30 days of your first payment", "Refund policy"},
		{"How soon are refunds paid out?", "within 5 to 10 business days", "Refund policy"},
		{"What does it cost to use the Team plan?", "The Team plan costs 8 euros per user per month", "Product FAQ"},
		{"Can I use Harbor Notes offline?", "Changes made offline are synchronised automatically", "Product FAQ"},
		{"How do I export my notes?", "Open Settings, then Export.", "Product FAQ"},
		{"Which shortcut searches all notebooks?", "Press Ctrl+K (Cmd+K on a Mac) to search across all notebooks.", "Onboarding guide"},
		{"How long must my password be?", "choose a password of at least 12 characters", "Onboarding guide"},
	}
	for _, tc := range tests {
		t.Run(tc.question, func(t *testing.T) {
			status, body := e.call(t, http.MethodPost, "/chat/stream", token, fmt.Sprintf(`{"message":%q}`, tc.question))
			require.Equal(t, http.StatusOK, status, "%s", body)
			var answer strings.Builder
			var titles []string
			for _, ev := range hParseSSE(t, body) {
				switch ev.Name {
				case "token":
					var d struct{ Delta string }
					require.NoError(t, json.Unmarshal([]byte(ev.Data), &d))
					answer.WriteString(d.Delta)
				case "sources":
					var s struct{ Sources []struct{ Title string } }
					require.NoError(t, json.Unmarshal([]byte(ev.Data), &s))
					for _, src := range s.Sources {
						titles = append(titles, src.Title)
					}
				}
			}
			require.NotEmpty(t, titles)
			assert.Equal(t, tc.source, titles[0], "the best source")
			assert.Contains(t, answer.String(), tc.fact)
		})
	}
}
