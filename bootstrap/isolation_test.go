package bootstrap

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/domain"
)

// Issue 4, "Isolation, proven": every tenant-scoped and admin route, called by each
// kind of actor against tenant B's resources, answers 404 / an own-tenant-only list /
// 403, and leaves B exactly as it was, read back through the stores (and, on SQLite,
// straight from the tables).

const (
	isoA domain.TenantID = "acme"
	isoB domain.TenantID = "bravo"
	// isoMarker appears only in B's document; the question A asks does not contain it.
	isoMarker   = "quokka"
	isoDocB     = "Bravo vault protocol. The bravo vault passphrase is zanzibar-quokka-seventeen. Only bravo staff may read the vault passphrase."
	isoDocA     = "Acme returns policy. Customers of acme may return goods within thirty days for a full refund of the price."
	isoQuestion = "What is the bravo vault passphrase?"
)

type isoActor string

const (
	isoMemberA  isoActor = "member of A"
	isoAdminA   isoActor = "tenant admin of A"
	isoPlatform isoActor = "platform admin"
	isoNoTenant isoActor = "user without tenant"
	// isoPlatformA is a platform admin who also belongs to A: on the tenant routes it
	// must be confined to A like A's own admin.
	isoPlatformA isoActor = "platform admin in A"
)

var isoActors = []isoActor{isoMemberA, isoAdminA, isoPlatform, isoNoTenant, isoPlatformA}

// isoWorld is two tenants with users, documents and conversations, built over HTTP.
type isoWorld struct {
	e   *hEnv
	tok map[isoActor]string

	adminBTok, memberBTok            string
	memberA, adminA, adminB, memberB domain.UserID
	noTenant                         domain.UserID
	docA, docB                       string
	convA, convB                     string
	keyB                             string
	seq                              atomic.Int64
}

func (w *isoWorld) next() int64 { return w.seq.Add(1) }

// isoSeed builds the world: a platform admin stored directly (as the CLI would), then
// everything else through the HTTP API.
func isoSeed(t *testing.T, e *hEnv) *isoWorld {
	t.Helper()
	w := &isoWorld{e: e, tok: map[isoActor]string{}}
	root := e.hSeedPlatformAdmin(t)
	w.tok[isoPlatform] = root
	for _, tn := range []struct{ id, name string }{{string(isoA), "Acme"}, {string(isoB), "Bravo"}} {
		e.want(t, http.StatusCreated, e.send(t, http.MethodPost, "/admin/tenants", root, fmt.Sprintf(`{"id":%q,"name":%q}`, tn.id, tn.name)))
	}
	w.adminA = e.createUser(t, root, "admin@acme.test", "tenant_admin", isoA)
	w.memberA = e.createUser(t, root, "member@acme.test", "member", isoA)
	w.adminB = e.createUser(t, root, "admin@bravo.test", "tenant_admin", isoB)
	w.memberB = e.createUser(t, root, "member@bravo.test", "member", isoB)
	w.noTenant = e.createUser(t, root, "loner@nowhere.test", "member", "")
	e.createUser(t, root, "root@acme.test", "platform_admin", isoA)
	w.tok[isoAdminA] = e.login(t, "admin@acme.test")
	w.tok[isoMemberA] = e.login(t, "member@acme.test")
	w.tok[isoNoTenant] = e.login(t, "loner@nowhere.test")
	w.tok[isoPlatformA] = e.login(t, "root@acme.test")
	w.adminBTok = e.login(t, "admin@bravo.test")
	w.memberBTok = e.login(t, "member@bravo.test")

	e.want(t, http.StatusCreated, e.send(t, http.MethodPost, "/tenant/api-keys", w.tok[isoAdminA], `{"name":"acme sync"}`))
	w.keyB = e.want(t, http.StatusCreated, e.send(t, http.MethodPost, "/tenant/api-keys", w.adminBTok, `{"name":"bravo sync"}`))["id"].(string)
	w.docA = isoIngest(t, e, w.tok[isoAdminA], "Acme returns", isoDocA)
	w.docB = isoIngest(t, e, w.adminBTok, "Bravo vault", isoDocB)
	e.want(t, http.StatusOK, e.send(t, http.MethodPatch, "/tenant", w.adminBTok,
		`{"system_prompt":"You serve Bravo only.","llm":{"api_key":"sk-bravo-seeded-key-0001"}}`))

	w.convA = isoDone(t, e.chat(t, w.tok[isoMemberA], `{"message":"How long do customers have to return goods?"}`))["conversation_id"].(string)
	evs := e.chat(t, w.memberBTok, fmt.Sprintf(`{"message":%q}`, isoQuestion))
	w.convB = isoDone(t, evs)["conversation_id"].(string)
	// The control: B's own question does retrieve B's passage, so A's not seeing it
	// below is isolation, not a retrieval miss.
	srcs := isoSources(t, evs)
	require.Contains(t, hField(srcs, "document_id"), w.docB)
	require.Contains(t, strings.ToLower(fmt.Sprint(hField(srcs, "text"))), isoMarker)
	return w
}

func isoIngest(t *testing.T, e *hEnv, tok, title, text string) string {
	t.Helper()
	m := e.want(t, http.StatusCreated, e.send(t, http.MethodPost, "/documents", tok, fmt.Sprintf(`{"title":%q,"text":%q}`, title, text)))
	return m["id"].(string)
}

func isoDone(t *testing.T, evs []hEvent) map[string]any {
	t.Helper()
	for _, ev := range evs {
		if ev.Name == "done" {
			var m map[string]any
			require.NoError(t, json.Unmarshal([]byte(ev.Data), &m))
			return m
		}
	}
	t.Fatalf("no done event in %v", evs)
	return nil
}

func isoSources(t *testing.T, evs []hEvent) []map[string]any {
	t.Helper()
	for _, ev := range evs {
		if ev.Name == "sources" {
			var s struct {
				Sources []map[string]any `json:"sources"`
			}
			require.NoError(t, json.Unmarshal([]byte(ev.Data), &s))
			return s.Sources
		}
	}
	t.Fatalf("no sources event in %v", evs)
	return nil
}

// isoWant is what one actor must get from one case.
type isoWant struct {
	status int
	code   string // problem code, when the answer is a problem
	check  func(t *testing.T, w *isoWorld, r hResp)
	// changesB marks a platform admin's legitimate write to B through /admin: B must
	// then have changed (proving the route reached B).
	changesB bool
}

var (
	isoTenantRequired = isoWant{status: http.StatusForbidden, code: "tenant_required"}
	isoForbidden      = isoWant{status: http.StatusForbidden, code: "forbidden"}
	isoNotFound       = isoWant{status: http.StatusNotFound, code: "not_found"}
	isoModelNotFound  = isoWant{status: http.StatusNotFound, code: "model_not_found"}
)

func isoInvalid(field string) isoWant {
	return isoWant{status: http.StatusBadRequest, code: "invalid_request", check: func(t *testing.T, _ *isoWorld, r hResp) {
		var p struct {
			Errors []struct{ Field string } `json:"errors"`
		}
		require.NoError(t, json.Unmarshal(r.Body, &p))
		var fields []string
		for _, f := range p.Errors {
			fields = append(fields, f.Field)
		}
		assert.Contains(t, fields, field)
	}}
}

func isoOK(status int, check func(t *testing.T, w *isoWorld, r hResp)) isoWant {
	return isoWant{status: status, check: check}
}

// isoCase is one route called with one body by every actor.
type isoCase struct {
	name  string
	route string // "METHOD /path/:id" as registered, for the coverage check
	path  func(w *isoWorld) string
	body  func(w *isoWorld) string
	want  map[isoActor]isoWant
}

func isoFixed(s string) func(*isoWorld) string { return func(*isoWorld) string { return s } }

// isoTenantRoute expects both tenant-less actors to get tenant_required, and the
// platform admin in A to be held to what A's tenant admin gets.
func isoTenantRoute(member, admin isoWant) map[isoActor]isoWant {
	return map[isoActor]isoWant{isoMemberA: member, isoAdminA: admin, isoPlatform: isoTenantRequired,
		isoNoTenant: isoTenantRequired, isoPlatformA: admin}
}

// isoAdminRoute expects everyone but the platform admins to get 403.
func isoAdminRoute(platform isoWant) map[isoActor]isoWant {
	return map[isoActor]isoWant{isoMemberA: isoForbidden, isoAdminA: isoForbidden, isoPlatform: platform,
		isoNoTenant: isoForbidden, isoPlatformA: platform}
}

// isoObject decodes a JSON object response.
func isoObject(t *testing.T, r hResp) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(r.Body, &m), "%s", r.Body)
	return m
}

func isoIsTenantA(t *testing.T, _ *isoWorld, r hResp) {
	assert.Equal(t, string(isoA), isoObject(t, r)["id"])
}

func isoAllInA(key string) func(t *testing.T, w *isoWorld, r hResp) {
	return func(t *testing.T, _ *isoWorld, r hResp) {
		items := hItems(t, r)
		require.NotEmpty(t, items)
		for _, v := range hField(items, key) {
			assert.Equal(t, string(isoA), v)
		}
	}
}

func isoChatCheck(t *testing.T, w *isoWorld, r hResp) {
	assert.NotContains(t, strings.ToLower(string(r.Body)), isoMarker, "A's stream carries B's text")
	evs := hParseSSE(t, r.Body)
	for _, s := range isoSources(t, evs) {
		assert.NotEqual(t, w.docB, s["document_id"])
	}
	assert.NotEmpty(t, isoDone(t, evs)["conversation_id"])
}

func isoOpenAIAnswerOfA(t *testing.T, _ *isoWorld, r hResp) {
	assert.NotContains(t, strings.ToLower(string(r.Body)), isoMarker, "A's completion carries B's text")
	m := isoObject(t, r)
	assert.Equal(t, "tenantry-acme", m["model"])
	assert.NotEmpty(t, m["choices"])
}

func isoOnlyModelOfA(t *testing.T, _ *isoWorld, r hResp) {
	var l struct {
		Data []struct{ ID string } `json:"data"`
	}
	require.NoError(t, json.Unmarshal(r.Body, &l))
	require.Len(t, l.Data, 1)
	assert.Equal(t, "tenantry-acme", l.Data[0].ID)
}

func isoCases() []isoCase {
	userBody := func(tenant string) func(w *isoWorld) string {
		return func(w *isoWorld) string {
			extra := ""
			if tenant != "" {
				extra = fmt.Sprintf(`,"tenant_id":%q`, tenant)
			}
			return fmt.Sprintf(`{"email":"new%d@acme.test","password":%q,"role":"member"%s}`, w.next(), hPassword, extra)
		}
	}
	return []isoCase{
		{name: "read own tenant", route: "GET /tenant", path: isoFixed("/tenant"),
			// GET /tenant shows the configuration, which is for tenant admins.
			want: isoTenantRoute(isoForbidden, isoOK(200, isoIsTenantA))},
		{name: "change own tenant", route: "PATCH /tenant", path: isoFixed("/tenant"),
			body: func(w *isoWorld) string { return fmt.Sprintf(`{"system_prompt":"Acme prompt %d"}`, w.next()) },
			want: isoTenantRoute(isoForbidden, isoOK(200, isoIsTenantA))},
		{name: "change tenant naming B by id", route: "PATCH /tenant", path: isoFixed("/tenant"),
			body: isoFixed(`{"id":"bravo","system_prompt":"hijacked"}`),
			want: isoTenantRoute(isoInvalid("id"), isoInvalid("id"))},
		{name: "change tenant naming B by tenant_id", route: "PATCH /tenant", path: isoFixed("/tenant"),
			body: isoFixed(`{"tenant_id":"bravo","system_prompt":"hijacked"}`),
			want: isoTenantRoute(isoInvalid("tenant_id"), isoInvalid("tenant_id"))},
		{name: "list tenant users", route: "GET /tenant/users", path: isoFixed("/tenant/users"),
			want: isoTenantRoute(isoForbidden, isoOK(200, isoAllInA("tenant_id")))},
		{name: "create tenant user", route: "POST /tenant/users", path: isoFixed("/tenant/users"), body: userBody(""),
			want: isoTenantRoute(isoForbidden, isoOK(201, func(t *testing.T, _ *isoWorld, r hResp) {
				assert.Equal(t, string(isoA), isoObject(t, r)["tenant_id"])
			}))},
		{name: "create tenant user in B", route: "POST /tenant/users", path: isoFixed("/tenant/users"), body: userBody(string(isoB)),
			want: isoTenantRoute(isoInvalid("tenant_id"), isoInvalid("tenant_id"))},
		{name: "disable B's member", route: "PATCH /tenant/users/:id",
			path: func(w *isoWorld) string { return "/tenant/users/" + string(w.memberB) }, body: isoFixed(`{"disabled":true}`),
			want: isoTenantRoute(isoForbidden, isoNotFound)},
		{name: "reset B's admin password", route: "PATCH /tenant/users/:id",
			path: func(w *isoWorld) string { return "/tenant/users/" + string(w.adminB) }, body: isoFixed(`{"password":"taken over 12345"}`),
			want: isoTenantRoute(isoForbidden, isoNotFound)},
		{name: "pull B's member into A", route: "PATCH /tenant/users/:id",
			path: func(w *isoWorld) string { return "/tenant/users/" + string(w.memberB) }, body: isoFixed(`{"tenant_id":"acme","role":"member"}`),
			// A member manages no user, so the role check answers first, whatever the id.
			want: isoTenantRoute(isoForbidden, isoNotFound)},
		{name: "push A's member into B", route: "PATCH /tenant/users/:id",
			path: func(w *isoWorld) string { return "/tenant/users/" + string(w.memberA) }, body: isoFixed(`{"tenant_id":"bravo"}`),
			want: isoTenantRoute(isoForbidden, isoForbidden)},
		{name: "list API keys", route: "GET /tenant/api-keys", path: isoFixed("/tenant/api-keys"),
			want: isoTenantRoute(isoForbidden, isoOK(200, isoAllInA("tenant_id")))},
		{name: "create an API key", route: "POST /tenant/api-keys", path: isoFixed("/tenant/api-keys"),
			body: func(w *isoWorld) string { return fmt.Sprintf(`{"name":"key %d"}`, w.next()) },
			want: isoTenantRoute(isoForbidden, isoOK(201, func(t *testing.T, _ *isoWorld, r hResp) {
				assert.Equal(t, string(isoA), isoObject(t, r)["tenant_id"])
			}))},
		{name: "create an API key acting as B's member", route: "POST /tenant/api-keys", path: isoFixed("/tenant/api-keys"),
			body: func(w *isoWorld) string { return fmt.Sprintf(`{"name":"stolen","user_id":%q}`, w.memberB) },
			want: isoTenantRoute(isoForbidden, isoInvalid("user_id"))},
		{name: "revoke B's API key", route: "DELETE /tenant/api-keys/:id",
			path: func(w *isoWorld) string { return "/tenant/api-keys/" + w.keyB },
			want: isoTenantRoute(isoForbidden, isoNotFound)},
		{name: "read tenant audit", route: "GET /tenant/audit", path: isoFixed("/tenant/audit"),
			want: isoTenantRoute(isoForbidden, isoOK(200, isoAllInA("tenant_id")))},
		{name: "read own re-index", route: "GET /tenant/reindex", path: isoFixed("/tenant/reindex"),
			want: isoTenantRoute(isoForbidden, isoOK(200, isoReindexOf(isoA)))},
		{name: "start own re-index", route: "POST /tenant/reindex", path: isoFixed("/tenant/reindex"),
			want: isoTenantRoute(isoForbidden, isoWant{status: http.StatusConflict, code: "reindex_running"})},
		{name: "list documents", route: "GET /documents", path: isoFixed("/documents"),
			want: isoTenantRoute(isoOK(200, isoListsOnlyA), isoOK(200, isoListsOnlyA))},
		{name: "add a document", route: "POST /documents", path: isoFixed("/documents"),
			body: isoFixed(`{"title":"Acme shipping","text":"Acme ships within two business days."}`),
			want: isoTenantRoute(isoForbidden, isoOK(201, nil))},
		{name: "add a document to B", route: "POST /documents", path: isoFixed("/documents"),
			body: isoFixed(`{"title":"Planted","text":"Planted text.","tenant_id":"bravo"}`),
			want: isoTenantRoute(isoInvalid("tenant_id"), isoInvalid("tenant_id"))},
		{name: "read B's document", route: "GET /documents/:id", path: func(w *isoWorld) string { return "/documents/" + w.docB },
			want: isoTenantRoute(isoNotFound, isoNotFound)},
		{name: "delete B's document", route: "DELETE /documents/:id", path: func(w *isoWorld) string { return "/documents/" + w.docB },
			// A member may delete nothing, so the role check answers first; that 403 does
			// not depend on whether the id exists.
			want: isoTenantRoute(isoForbidden, isoNotFound)},
		{name: "chat asking for B's passage", route: "POST /chat/stream", path: isoFixed("/chat/stream"),
			body: isoFixed(fmt.Sprintf(`{"message":%q}`, isoQuestion)),
			want: isoTenantRoute(isoOK(200, isoChatCheck), isoOK(200, isoChatCheck))},
		{name: "chat in B's conversation", route: "POST /chat/stream", path: isoFixed("/chat/stream"),
			body: func(w *isoWorld) string { return fmt.Sprintf(`{"message":"go on","conversation_id":%q}`, w.convB) },
			want: isoTenantRoute(isoNotFound, isoNotFound)},
		{name: "chat naming B", route: "POST /chat/stream", path: isoFixed("/chat/stream"),
			body: isoFixed(`{"message":"hello","tenant_id":"bravo"}`),
			want: isoTenantRoute(isoInvalid("tenant_id"), isoInvalid("tenant_id"))},
		{name: "list conversations", route: "GET /conversations", path: isoFixed("/conversations"),
			want: isoTenantRoute(isoOK(200, isoOwnConversations(true)), isoOK(200, isoOwnConversations(false)))},
		{name: "read B's conversation", route: "GET /conversations/:id", path: func(w *isoWorld) string { return "/conversations/" + w.convB },
			want: isoTenantRoute(isoNotFound, isoNotFound)},
		{name: "rename B's conversation", route: "PATCH /conversations/:id", path: func(w *isoWorld) string { return "/conversations/" + w.convB },
			body: isoFixed(`{"title":"taken over"}`), want: isoTenantRoute(isoNotFound, isoNotFound)},
		{name: "delete B's conversation", route: "DELETE /conversations/:id", path: func(w *isoWorld) string { return "/conversations/" + w.convB },
			want: isoTenantRoute(isoNotFound, isoNotFound)},
		{name: "read usage", route: "GET /usage", path: isoFixed("/usage"),
			want: isoTenantRoute(isoOK(200, isoUsageOfA), isoOK(200, isoUsageOfA))},
		{name: "OpenAI chat with B's assistant", route: "POST /v1/chat/completions", path: isoFixed("/v1/chat/completions"),
			body: isoFixed(fmt.Sprintf(`{"model":"tenantry-bravo","messages":[{"role":"user","content":%q}]}`, isoQuestion)),
			want: isoTenantRoute(isoModelNotFound, isoModelNotFound)},
		{name: "OpenAI chat naming B in the body", route: "POST /v1/chat/completions", path: isoFixed("/v1/chat/completions"),
			// The endpoint tolerates unknown fields, as OpenAI SDKs send extras: they
			// must simply have no effect.
			body: isoFixed(fmt.Sprintf(`{"model":"tenantry-acme","tenant_id":"bravo","user":"bravo","messages":[{"role":"user","content":%q}]}`, isoQuestion)),
			want: isoTenantRoute(isoOK(200, isoOpenAIAnswerOfA), isoOK(200, isoOpenAIAnswerOfA))},
		{name: "list OpenAI models", route: "GET /v1/models", path: isoFixed("/v1/models"),
			want: isoTenantRoute(isoOK(200, isoOnlyModelOfA), isoOK(200, isoOnlyModelOfA))},
		{name: "read B's OpenAI model", route: "GET /v1/models/:model", path: isoFixed("/v1/models/tenantry-bravo"),
			want: isoTenantRoute(isoModelNotFound, isoModelNotFound)},

		{name: "list tenants", route: "GET /admin/tenants", path: isoFixed("/admin/tenants"),
			want: isoAdminRoute(isoOK(200, isoListHas("id", func(*isoWorld) string { return string(isoB) })))},
		{name: "create a tenant over B", route: "POST /admin/tenants", path: isoFixed("/admin/tenants"),
			body: isoFixed(`{"id":"bravo","name":"Hijacked"}`),
			want: isoAdminRoute(isoWant{status: http.StatusConflict})},
		{name: "read B", route: "GET /admin/tenants/:id", path: isoFixed("/admin/tenants/bravo"),
			want: isoAdminRoute(isoOK(200, isoMaskedB))},
		{name: "change B", route: "PATCH /admin/tenants/:id", path: isoFixed("/admin/tenants/bravo"),
			body: func(w *isoWorld) string { return fmt.Sprintf(`{"system_prompt":"Platform prompt %d"}`, w.next()) },
			want: isoAdminRoute(isoWant{status: 200, changesB: true, check: func(t *testing.T, _ *isoWorld, r hResp) {
				assert.Equal(t, string(isoB), isoObject(t, r)["id"])
			}})},
		{name: "delete active B", route: "DELETE /admin/tenants/:id", path: isoFixed("/admin/tenants/bravo"),
			want: isoAdminRoute(isoWant{status: http.StatusConflict, code: "tenant_not_suspended"})},
		{name: "read B's re-index", route: "GET /admin/tenants/:id/reindex", path: isoFixed("/admin/tenants/bravo/reindex"),
			want: isoAdminRoute(isoOK(200, isoReindexOf(isoB)))},
		{name: "start B's re-index", route: "POST /admin/tenants/:id/reindex", path: isoFixed("/admin/tenants/bravo/reindex"),
			want: isoAdminRoute(isoWant{status: http.StatusConflict, code: "reindex_running"})},
		{name: "list all users", route: "GET /admin/users", path: isoFixed("/admin/users"),
			want: isoAdminRoute(isoOK(200, isoListHas("id", func(w *isoWorld) string { return string(w.memberB) })))},
		{name: "create a user in B", route: "POST /admin/users", path: isoFixed("/admin/users"), body: userBody(string(isoB)),
			want: isoAdminRoute(isoWant{status: 201, changesB: true})},
		{name: "change B's member", route: "PATCH /admin/users/:id", path: func(w *isoWorld) string { return "/admin/users/" + string(w.memberB) },
			body: isoFixed(`{"disabled":false}`), want: isoAdminRoute(isoWant{status: 200, changesB: true})},
		{name: "list all API keys", route: "GET /admin/api-keys", path: isoFixed("/admin/api-keys"),
			want: isoAdminRoute(isoOK(200, isoListHas("id", func(w *isoWorld) string { return w.keyB })))},
		{name: "revoke B's API key as platform admin", route: "DELETE /admin/api-keys/:id",
			path: func(w *isoWorld) string { return "/admin/api-keys/" + w.keyB },
			want: isoAdminRoute(isoWant{status: 204, changesB: true})},
		{name: "read the audit log", route: "GET /admin/audit", path: isoFixed("/admin/audit"),
			want: isoAdminRoute(isoOK(200, isoListHas("tenant_id", func(*isoWorld) string { return string(isoB) })))},
		{name: "read all usage", route: "GET /admin/usage", path: isoFixed("/admin/usage"),
			want: isoAdminRoute(isoOK(200, isoListHas("tenant_id", func(*isoWorld) string { return string(isoB) })))},
	}
}

// isoReindexOf checks a re-index status is tenant id's running job (started by
// isoRunSuite).
func isoReindexOf(id domain.TenantID) func(t *testing.T, w *isoWorld, r hResp) {
	return func(t *testing.T, _ *isoWorld, r hResp) {
		m := isoObject(t, r)
		assert.Equal(t, string(id), m["tenant_id"])
		assert.Equal(t, "running", m["state"])
	}
}

// isoListsOnlyA checks a document list: A's document is there, B's is not.
func isoListsOnlyA(t *testing.T, w *isoWorld, r hResp) {
	ids := hField(hItems(t, r), "id")
	assert.Contains(t, ids, w.docA)
	assert.NotContains(t, ids, w.docB)
}

// isoOwnConversations checks a conversation list holds the caller's own only: A's
// member sees their conversation, A's admin neither theirs nor B's.
func isoOwnConversations(ownsConvA bool) func(t *testing.T, w *isoWorld, r hResp) {
	return func(t *testing.T, w *isoWorld, r hResp) {
		ids := hField(hItems(t, r), "id")
		assert.Equal(t, ownsConvA, slices.Contains(ids, w.convA))
		assert.NotContains(t, ids, w.convB)
	}
}

func isoListHas(key string, want func(*isoWorld) string) func(t *testing.T, w *isoWorld, r hResp) {
	return func(t *testing.T, w *isoWorld, r hResp) {
		assert.Contains(t, hField(hItems(t, r), key), want(w))
	}
}

func isoUsageOfA(t *testing.T, _ *isoWorld, r hResp) {
	assert.Equal(t, string(isoA), isoObject(t, r)["tenant_id"])
}

// isoMaskedB checks the platform admin sees B with its key masked.
func isoMaskedB(t *testing.T, _ *isoWorld, r hResp) {
	m := isoObject(t, r)
	assert.Equal(t, string(isoB), m["id"])
	llm := m["llm"].(map[string]any)
	assert.Equal(t, true, llm["api_key_set"])
	assert.Equal(t, "0001", llm["api_key_last4"])
	assert.NotContains(t, string(r.Body), "sk-bravo-seeded")
}

// isoSpoofs are the ways a client might try to choose the tenant outside the token.
var isoSpoofs = []struct {
	name   string
	query  string
	header map[string]string
}{
	{name: "plain"},
	{name: "spoofed", query: "tenant_id=bravo", header: map[string]string{"X-Tenant-ID": "bravo", "X-Tenant": "bravo", "Tenant-ID": "bravo"}},
}

func isoRunSuite(t *testing.T, kind hStoreKind) {
	w := isoSeed(t, hNewEnv(t, kind, nil))
	cases := isoCases()
	isoRequireCoverage(t, w.e, cases)
	// Each tenant has a re-index running (nothing runs it here), so every start below
	// is refused alike and B's job must stay exactly as it is.
	for _, tok := range []string{w.tok[isoAdminA], w.adminBTok} {
		w.e.want(t, http.StatusAccepted, w.e.send(t, http.MethodPost, "/tenant/reindex", tok, ""))
	}
	baseline := w.e.hSnapshot(t, isoB)
	var changed int
	for _, tc := range cases {
		require.Len(t, tc.want, len(isoActors), tc.name)
		for _, sp := range isoSpoofs {
			for _, who := range isoActors {
				want := tc.want[who]
				t.Run(fmt.Sprintf("%s/%s/%s", tc.name, sp.name, who), func(t *testing.T) {
					path := tc.path(w)
					if sp.query != "" {
						path += map[bool]string{true: "&", false: "?"}[strings.Contains(path, "?")] + sp.query
					}
					body := ""
					if tc.body != nil {
						body = tc.body(w)
					}
					method, _, _ := strings.Cut(tc.route, " ")
					r := w.e.do(t, hReq{method: method, path: path, token: w.tok[who], body: body, header: sp.header})
					require.Equalf(t, want.status, r.Status, "%s %s: %s", method, path, r.Body)
					if want.code != "" {
						assert.Equal(t, want.code, hProblemCode(t, r))
					}
					if want.check != nil {
						want.check(t, w, r)
					}
					after := w.e.hSnapshot(t, isoB)
					if want.changesB {
						require.NotEqual(t, baseline, after, "the platform admin's write did not reach B")
						baseline = after
						changed++
						return
					}
					require.Equal(t, baseline, after, "tenant B changed")
				})
			}
		}
	}
	assert.Equal(t, 4*2*len(isoSpoofs), changed, "platform admin writes to B")
}

// isoRequireCoverage fails when the router has a tenant-scoped or admin route the
// table does not call.
func isoRequireCoverage(t *testing.T, e *hEnv, cases []isoCase) {
	t.Helper()
	covered := map[string]bool{}
	for _, c := range cases {
		covered[c.route] = true
	}
	var missing []string
	n := 0
	for _, r := range e.api.Handler.Routes() {
		scoped := false
		for _, p := range []string{"/tenant", "/documents", "/chat", "/conversations", "/usage", "/admin", "/v1"} {
			scoped = scoped || r.Path == p || strings.HasPrefix(r.Path, p+"/")
		}
		if !scoped {
			continue
		}
		n++
		if !covered[r.Method+" "+r.Path] {
			missing = append(missing, r.Method+" "+r.Path)
		}
	}
	require.Empty(t, missing, "routes the isolation table does not exercise")
	require.GreaterOrEqual(t, n, 25, "the router registered fewer routes than issue 4 and 5 name")
}

func TestIsolationMemory(t *testing.T) { isoRunSuite(t, hMemory) }

func TestIsolationSQLite(t *testing.T) { isoRunSuite(t, hSQLite) }

// isoJWT is a compact JWS split into its decoded parts.
type isoJWT struct {
	header, claims map[string]any
	raw            []string
}

func isoParseJWT(t *testing.T, tok string) isoJWT {
	t.Helper()
	raw := strings.Split(tok, ".")
	require.Len(t, raw, 3)
	j := isoJWT{raw: raw}
	for i, dst := range []*map[string]any{&j.header, &j.claims} {
		b, err := base64.RawURLEncoding.DecodeString(raw[i])
		require.NoError(t, err)
		require.NoError(t, json.Unmarshal(b, dst))
	}
	return j
}

func isoSegment(t *testing.T, v map[string]any) string {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return base64.RawURLEncoding.EncodeToString(b)
}

// with returns a copy of the claims with key set to v.
func (j isoJWT) with(key string, v any) map[string]any {
	out := map[string]any{}
	for k, x := range j.claims {
		out[k] = x
	}
	out[key] = v
	return out
}

// isoSignES256 signs header.payload with key as JWS ES256 (r || s, 32 bytes each) and
// checks the signature verifies under key, so a rejection is the server's doing.
func isoSignES256(t *testing.T, key *ecdsa.PrivateKey, header, payload string) string {
	t.Helper()
	input := header + "." + payload
	sum := sha256.Sum256([]byte(input))
	r, s, err := ecdsa.Sign(rand.Reader, key, sum[:])
	require.NoError(t, err)
	sig := make([]byte, 64)
	r.FillBytes(sig[:32])
	s.FillBytes(sig[32:])
	require.True(t, ecdsa.Verify(&key.PublicKey, sum[:], new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])))
	return input + "." + base64.RawURLEncoding.EncodeToString(sig)
}

// TestForgedTokensAreRejected edits a real access token of A's admin in every way an
// attacker could (claims changed under the old signature, re-signed with a foreign key
// under the server's kid, alg none, HS256 keyed with public data): each is 401 on
// tenant and admin routes, and B stays unchanged.
func TestForgedTokensAreRejected(t *testing.T) {
	w := isoSeed(t, hNewEnv(t, hMemory, nil))
	e, tok := w.e, w.tok[isoAdminA]
	isoOwnTenantReadable(t, e, tok)
	j := isoParseJWT(t, tok)
	require.Equal(t, "ES256", j.header["alg"])
	require.NotEmpty(t, j.header["kid"], "the server's tokens name their key")
	require.Equal(t, string(isoA), j.claims["tenant_id"])

	foreign, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	toB := isoSegment(t, j.with("tenant_id", string(isoB)))
	jwks := e.want(t, http.StatusOK, e.send(t, http.MethodGet, "/.well-known/jwks.json", "", ""))
	jwksJSON, err := json.Marshal(jwks)
	require.NoError(t, err)
	hmacHeader := isoSegment(t, map[string]any{"alg": "HS256", "typ": j.header["typ"], "kid": j.header["kid"]})
	mac := hmac.New(sha256.New, jwksJSON)
	mac.Write([]byte(hmacHeader + "." + toB))
	noneHeader := isoSegment(t, map[string]any{"alg": "none", "typ": j.header["typ"], "kid": j.header["kid"]})

	forged := []struct{ name, token string }{
		{"tenant_id edited, signature kept", j.raw[0] + "." + toB + "." + j.raw[2]},
		{"role edited, signature kept", j.raw[0] + "." + isoSegment(t, j.with("role", "platform_admin")) + "." + j.raw[2]},
		{"subject swapped to B's admin, signature kept", j.raw[0] + "." + isoSegment(t, j.with("sub", string(w.adminB))) + "." + j.raw[2]},
		{"tenant_id edited, re-signed with a foreign key under the server's kid", isoSignES256(t, foreign, j.raw[0], toB)},
		{"claims untouched, re-signed with a foreign key under the server's kid", isoSignES256(t, foreign, j.raw[0], j.raw[1])},
		{"alg none", noneHeader + "." + toB + "."},
		{"alg none with a dummy signature", noneHeader + "." + toB + ".AA"},
		{"HS256 keyed with the public key set", hmacHeader + "." + toB + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))},
	}
	before := e.hSnapshot(t, isoB)
	for _, f := range forged {
		t.Run(f.name, func(t *testing.T) {
			for _, req := range []struct{ method, path, body string }{
				{http.MethodGet, "/tenant", ""},
				{http.MethodGet, "/documents/" + w.docB, ""},
				{http.MethodDelete, "/documents/" + w.docB, ""},
				{http.MethodPatch, "/tenant", `{"system_prompt":"forged"}`},
				{http.MethodGet, "/admin/tenants/bravo", ""},
				{http.MethodPatch, "/admin/tenants/bravo", `{"status":"suspended"}`},
				{http.MethodGet, "/users/me", ""},
			} {
				r := e.send(t, req.method, req.path, f.token, req.body)
				require.Equalf(t, http.StatusUnauthorized, r.Status, "%s %s: %s", req.method, req.path, r.Body)
				assert.Equal(t, "invalid_token", hProblemCode(t, r))
				assert.True(t, strings.HasPrefix(r.Header.Get("WWW-Authenticate"), "Bearer"), "%v", r.Header)
			}
		})
	}
	require.Equal(t, before, e.hSnapshot(t, isoB), "a forged token changed B")
	isoOwnTenantReadable(t, e, tok) // the genuine token still works
}

// isoOwnTenantReadable checks tok is A's admin's working token.
func isoOwnTenantReadable(t *testing.T, e *hEnv, tok string) {
	t.Helper()
	r := e.send(t, http.MethodGet, "/tenant", tok, "")
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	isoIsTenantA(t, nil, r)
}

// isoLoginPair runs the password grant and returns the access and refresh tokens.
func isoLoginPair(t *testing.T, e *hEnv, email string) (access, refresh string) {
	t.Helper()
	form := url.Values{"grant_type": {"password"}, "username": {email}, "password": {hPassword}}
	m := e.want(t, http.StatusOK, e.do(t, hReq{method: http.MethodPost, path: "/auth/token", body: form.Encode(), contentType: "application/x-www-form-urlencoded"}))
	access, _ = m["access_token"].(string)
	refresh, _ = m["refresh_token"].(string)
	require.NotEmpty(t, access)
	require.NotEmpty(t, refresh)
	return access, refresh
}

func isoWant401(t *testing.T, e *hEnv, method, path, tok, body string) {
	t.Helper()
	r := e.send(t, method, path, tok, body)
	require.Equalf(t, http.StatusUnauthorized, r.Status, "%s %s: %s", method, path, r.Body)
	assert.Equal(t, "invalid_token", hProblemCode(t, r))
}

func TestIsolationReassignedUserToken(t *testing.T) {
	for _, kind := range []hStoreKind{hMemory, hSQLite} {
		t.Run(string(kind), func(t *testing.T) {
			w := isoSeed(t, hNewEnv(t, kind, nil))
			e := w.e
			old, refresh := isoLoginPair(t, e, "member@acme.test")
			e.want(t, http.StatusOK, e.send(t, http.MethodGet, "/conversations/"+w.convA, old, ""))

			m := e.want(t, http.StatusOK, e.send(t, http.MethodPatch, "/admin/users/"+string(w.memberA), w.tok[isoPlatform], `{"tenant_id":"bravo"}`))
			require.Equal(t, string(isoB), m["tenant_id"])

			// Tokens naming A die at once, well inside their lifetime.
			for _, tok := range []string{old, w.tok[isoMemberA]} {
				isoWant401(t, e, http.MethodGet, "/documents", tok, "")
				isoWant401(t, e, http.MethodGet, "/conversations/"+w.convA, tok, "")
				isoWant401(t, e, http.MethodPost, "/chat/stream", tok, `{"message":"hello"}`)
				isoWant401(t, e, http.MethodGet, "/users/me", tok, "")
			}
			form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refresh}}
			r := e.do(t, hReq{method: http.MethodPost, path: "/auth/token", body: form.Encode(), contentType: "application/x-www-form-urlencoded"})
			require.Equal(t, http.StatusBadRequest, r.Status, "%s", r.Body)
			assert.Contains(t, string(r.Body), "invalid_grant")

			// A fresh login works in B and sees B's documents, not A's conversation.
			fresh := e.login(t, "member@acme.test")
			ids := hField(hItems(t, e.send(t, http.MethodGet, "/documents", fresh, "")), "id")
			assert.Contains(t, ids, w.docB)
			assert.NotContains(t, ids, w.docA)
			r = e.send(t, http.MethodGet, "/conversations/"+w.convA, fresh, "")
			assert.Equal(t, http.StatusNotFound, r.Status, "%s", r.Body)
		})
	}
}

func TestIsolationSuspendedAndDeletedTenant(t *testing.T) {
	for _, kind := range []hStoreKind{hMemory, hSQLite} {
		t.Run(string(kind), func(t *testing.T) {
			w := isoSeed(t, hNewEnv(t, kind, nil))
			e, root := w.e, w.tok[isoPlatform]
			beforeA := e.hSnapshot(t, isoA)

			e.want(t, http.StatusOK, e.send(t, http.MethodPatch, "/admin/tenants/bravo", root, `{"status":"suspended"}`))
			for _, req := range []struct{ method, path, tok, body string }{
				{http.MethodGet, "/tenant", w.adminBTok, ""},
				{http.MethodGet, "/documents", w.adminBTok, ""},
				{http.MethodPost, "/documents", w.adminBTok, `{"title":"t","text":"Some text."}`},
				{http.MethodPost, "/chat/stream", w.memberBTok, `{"message":"hello"}`},
				{http.MethodGet, "/conversations/" + w.convB, w.memberBTok, ""},
				{http.MethodGet, "/v1/models", w.memberBTok, ""},
			} {
				r := e.send(t, req.method, req.path, req.tok, req.body)
				require.Equalf(t, http.StatusForbidden, r.Status, "%s %s: %s", req.method, req.path, r.Body)
				assert.Equal(t, "tenant_suspended", hProblemCode(t, r), "%s %s", req.method, req.path)
			}
			isoOwnTenantReadable(t, e, w.tok[isoAdminA])

			r := e.send(t, http.MethodDelete, "/admin/tenants/bravo", root, "")
			require.Equal(t, http.StatusNoContent, r.Status, "%s", r.Body)
			for _, tok := range []string{w.adminBTok, w.memberBTok} {
				isoWant401(t, e, http.MethodGet, "/tenant", tok, "")
				isoWant401(t, e, http.MethodGet, "/documents/"+w.docB, tok, "")
				isoWant401(t, e, http.MethodGet, "/users/me", tok, "")
			}
			e.want(t, http.StatusNotFound, e.send(t, http.MethodGet, "/admin/tenants/bravo", root, ""))

			// B's data is gone from the stores; its users lost their tenant.
			ctx := context.Background()
			docs, err := e.st.Documents.List(ctx, isoB, domain.Page{Limit: 100})
			require.NoError(t, err)
			assert.Empty(t, docs)
			chunks, err := e.st.Chunks.LoadChunks(ctx, isoB)
			require.NoError(t, err)
			assert.Empty(t, chunks)
			for _, id := range []domain.UserID{w.adminB, w.memberB} {
				u, err := e.st.Users.Get(ctx, id)
				require.NoError(t, err)
				assert.Empty(t, u.TenantID)
			}
			// A former member of B logs in as a user without tenant.
			r = e.send(t, http.MethodGet, "/documents", e.login(t, "member@bravo.test"), "")
			require.Equal(t, http.StatusForbidden, r.Status, "%s", r.Body)
			assert.Equal(t, "tenant_required", hProblemCode(t, r))

			// A saw none of it.
			require.Equal(t, beforeA, e.hSnapshot(t, isoA), "suspending and deleting B changed A")
			isoOwnTenantReadable(t, e, w.tok[isoAdminA])
			ids := hField(hItems(t, e.send(t, http.MethodGet, "/documents", w.tok[isoMemberA], "")), "id")
			assert.Equal(t, []string{w.docA}, ids)
		})
	}
}
