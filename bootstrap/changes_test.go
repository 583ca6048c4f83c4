package bootstrap

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/adapters/memory"
	"github.com/tenantry/tenantry/adapters/migrate"
	"github.com/tenantry/tenantry/adapters/secretbox"
	"github.com/tenantry/tenantry/adapters/sqlstore"
	"github.com/tenantry/tenantry/application"
	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/ports"
)

// nodeWorld is what two nodes of one deployment share: the stores, the sealer, and how
// they hear of each other's writes (feeds, or nil feeds when they do not).
type nodeWorld struct {
	stores Stores
	sealer ports.SecretSealer
	feeds  func(t *testing.T) [2]ports.ChangeFeed
}

// startNodes builds two routers on w, as two processes behind one load balancer.
func startNodes(t *testing.T, w nodeWorld, joined bool) [2]*API {
	t.Helper()
	cfg, err := LoadConfig(func(k string) string {
		return map[string]string{"TENANTRY_PUBLIC_URL": "http://tenantry.nodes", "TENANTRY_CACHE_TTL": "1h"}[k]
	})
	require.NoError(t, err)
	var feeds [2]ports.ChangeFeed
	if joined {
		feeds = w.feeds(t)
	}
	var nodes [2]*API
	for i := range nodes {
		api, err := Router(context.Background(), cfg, w.stores, RouterOptions{Sealer: w.sealer, Changes: feeds[i],
			Operator: application.Actor{Principal: domain.Principal{UserID: "cli", Role: domain.RolePlatformAdmin}, Name: "cli:nodes"}})
		require.NoError(t, err)
		t.Cleanup(func() { require.NoError(t, api.Close()) })
		nodes[i] = api
	}
	return nodes
}

func memoryWorld(t *testing.T) nodeWorld {
	t.Helper()
	db := memory.NewDB()
	return nodeWorld{stores: MemoryStores(db), sealer: testSealer(t),
		feeds: func(*testing.T) [2]ports.ChangeFeed { return [2]ports.ChangeFeed{db.Changes(), db.Changes()} }}
}

func postgresWorld(t *testing.T) nodeWorld {
	t.Helper()
	pg := newPostgresDatabase(t)
	cfg := sqlstore.Config{URL: pg.url, MaxOpenConns: 4}
	open := func() *sqlstore.ChangeFeed {
		db, sqlDB, err := sqlstore.Open(context.Background(), cfg)
		require.NoError(t, err)
		t.Cleanup(func() { _ = sqlDB.Close() })
		feed, err := sqlstore.NewChangeFeed(db, cfg, nil)
		require.NoError(t, err)
		return feed
	}
	db, sqlDB, err := sqlstore.Open(context.Background(), cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = sqlDB.Close() })
	_, err = migrate.Apply(context.Background(), sqlDB, schemaHCL(t), migrate.Options{})
	require.NoError(t, err)
	sealer := testSealer(t)
	return nodeWorld{stores: SQLStores(db, sqlstore.NewTenantStore(db, sealer)), sealer: sealer,
		feeds: func(*testing.T) [2]ports.ChangeFeed { return [2]ports.ChangeFeed{open(), open()} }}
}

func testSealer(t *testing.T) ports.SecretSealer {
	t.Helper()
	key, err := secretbox.GenerateKey()
	require.NoError(t, err)
	s, err := secretbox.New(key)
	require.NoError(t, err)
	return s
}

// TestNodesHearEachOthersWrites runs two nodes with hour-long caches. Joined by the
// change feed, node B stops accepting a user node A disabled, and searches a document
// node A ingested, within moments; not joined, B goes on with its cached copies, which
// shows what the feed is for.
func TestNodesHearEachOthersWrites(t *testing.T) {
	for _, backend := range []struct {
		name  string
		world func(*testing.T) nodeWorld
	}{{"memory", memoryWorld}, {"postgres", postgresWorld}} {
		for _, joined := range []bool{true, false} {
			t.Run(backend.name+map[bool]string{true: "/joined", false: "/alone"}[joined], func(t *testing.T) {
				t.Parallel()
				nodes := startNodes(t, backend.world(t), joined)
				a, b := nodes[0], nodes[1]
				ctx := context.Background()
				_, err := a.admin.tenants.Create(ctx, a.admin.actor, "acme", "Acme")
				require.NoError(t, err)
				user, err := a.admin.users.Create(ctx, a.admin.actor, application.NewUserInput{
					Email: "ann@acme.test", Password: benchPassword, Role: domain.RoleTenantAdmin, TenantID: "acme"})
				require.NoError(t, err)
				token := benchLogin(t, a.Handler, "ann@acme.test")
				call := func(api *API, method, path, body string) *httptest.ResponseRecorder {
					req := httptest.NewRequest(method, path, strings.NewReader(body))
					req.Header.Set("Authorization", "Bearer "+token)
					req.Header.Set("Content-Type", "application/json")
					rec := httptest.NewRecorder()
					api.Handler.ServeHTTP(rec, req)
					return rec
				}
				chatSources := func(api *API) string {
					rec := call(api, http.MethodPost, "/chat/stream", `{"message":"How do I book travel?"}`)
					require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
					return rec.Body.String()
				}
				require.Equal(t, http.StatusOK, call(b, http.MethodGet, "/users/me", "").Code)
				require.NotContains(t, chatSources(b), "Travel booking", "B loads acme's empty index")

				rec := call(a, http.MethodPost, "/documents", `{"title":"Travel booking","text":"Book travel through the portal two weeks ahead."}`)
				require.Equal(t, http.StatusCreated, rec.Code, rec.Body.String())
				if joined {
					require.Eventually(t, func() bool { return strings.Contains(chatSources(b), "Travel booking") },
						10*time.Second, 20*time.Millisecond, "B searches what A ingested")
				} else {
					assert.NotContains(t, chatSources(b), "Travel booking", "alone, B keeps its copy of the index")
				}

				disabled := true
				_, err = a.admin.users.Update(ctx, a.admin.actor, user.ID, domain.UserPatch{Disabled: &disabled})
				require.NoError(t, err)
				if joined {
					require.Eventually(t, func() bool { return call(b, http.MethodGet, "/users/me", "").Code == http.StatusUnauthorized },
						10*time.Second, 20*time.Millisecond, "B turns the disabled user away")
				} else {
					assert.Equal(t, http.StatusOK, call(b, http.MethodGet, "/users/me", "").Code, "alone, B trusts its cached user until the TTL")
				}
				assert.Equal(t, http.StatusUnauthorized, call(a, http.MethodGet, "/users/me", "").Code, "A itself knows at once")
			})
		}
	}
}
