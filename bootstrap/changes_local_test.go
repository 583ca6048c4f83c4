package bootstrap

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/adapters/migrate"
	"github.com/tenantry/tenantry/adapters/sqlstore"
	"github.com/tenantry/tenantry/application"
	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/ports"
)

// countingChunks counts the loads of a ChunkStore, per tenant.
type countingChunks struct {
	ports.ChunkStore
	mu    sync.Mutex
	loads map[domain.TenantID]int
}

func (c *countingChunks) LoadChunks(ctx context.Context, t domain.TenantID) ([]domain.Chunk, error) {
	c.mu.Lock()
	c.loads[t]++
	c.mu.Unlock()
	return c.ChunkStore.LoadChunks(ctx, t)
}

func (c *countingChunks) count(t domain.TenantID) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.loads[t]
}

// heardFeed records each change after the router's callbacks for it have run.
type heardFeed struct {
	ports.ChangeFeed
	mu    sync.Mutex
	heard []domain.Change
}

func (f *heardFeed) Listen(ctx context.Context, fn func(domain.Change)) error {
	return f.ChangeFeed.Listen(ctx, func(c domain.Change) {
		fn(c)
		f.mu.Lock()
		f.heard = append(f.heard, c)
		f.mu.Unlock()
	})
}

// applied reports how many changes equal to c have been applied.
func (f *heardFeed) applied(c domain.Change) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, h := range f.heard {
		if h == c {
			n++
		}
	}
	return n
}

// localNode is one process on a shared SQLite file: its own pool, stores and feed.
type localNode struct {
	api    *API
	chunks *countingChunks
	feed   *heardFeed
}

// TestAProcessKeepsItsIndexForItsOwnWritesAndTheOtherReloads runs two processes (each
// with its own pool, stores and change feed) on one SQLite file. A document ingested
// and then deleted through A is found, then no longer found, by both; B reloads the
// tenant's index from the store for each change, while A, which applied its own writes
// to its copy when it made them, loads it only once.
func TestAProcessKeepsItsIndexForItsOwnWritesAndTheOtherReloads(t *testing.T) {
	t.Parallel()
	dbCfg := sqlstore.Config{SQLitePath: filepath.Join(t.TempDir(), "tenantry.db"), MaxOpenConns: 4}
	cfg, err := LoadConfig(func(k string) string {
		return map[string]string{"TENANTRY_PUBLIC_URL": "http://tenantry.nodes", "TENANTRY_CACHE_TTL": "1h"}[k]
	})
	require.NoError(t, err)
	sealer := testSealer(t)
	var nodes [2]localNode
	for i := range nodes {
		gdb, sqlDB, err := sqlstore.Open(context.Background(), dbCfg)
		require.NoError(t, err)
		t.Cleanup(func() { _ = sqlDB.Close() })
		if i == 0 {
			_, err = migrate.Apply(context.Background(), sqlDB, schemaHCL(t), migrate.Options{})
			require.NoError(t, err)
		}
		st := SQLStores(gdb, sqlstore.NewTenantStore(gdb, sealer))
		chunks := &countingChunks{ChunkStore: st.Chunks, loads: map[domain.TenantID]int{}}
		st.Chunks = chunks
		feed, err := sqlstore.NewChangeFeed(gdb, dbCfg, nil)
		require.NoError(t, err)
		heard := &heardFeed{ChangeFeed: feed}
		api, err := Router(context.Background(), cfg, st, RouterOptions{Sealer: sealer, Changes: heard,
			Operator: application.Actor{Principal: domain.Principal{UserID: "cli", Role: domain.RolePlatformAdmin}, Name: "cli:nodes"}})
		require.NoError(t, err)
		t.Cleanup(func() { require.NoError(t, api.Close()) })
		nodes[i] = localNode{api: api, chunks: chunks, feed: heard}
	}
	a, b := nodes[0], nodes[1]
	ctx := context.Background()
	_, err = a.api.admin.tenants.Create(ctx, a.api.admin.actor, "acme", "Acme")
	require.NoError(t, err)
	_, err = a.api.admin.users.Create(ctx, a.api.admin.actor, application.NewUserInput{
		Email: "ann@acme.test", Password: benchPassword, Role: domain.RoleTenantAdmin, TenantID: "acme"})
	require.NoError(t, err)
	token := benchLogin(t, a.api.Handler, "ann@acme.test")
	call := func(n localNode, method, path, body string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(method, path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		n.api.Handler.ServeHTTP(rec, req)
		return rec
	}
	finds := func(n localNode) bool {
		rec := call(n, http.MethodPost, "/chat/stream", `{"message":"How do I book travel?"}`)
		require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
		return strings.Contains(rec.Body.String(), "Travel booking")
	}
	// Each node has heard the change of acme's chunks n times.
	heardChunks := func(n int) {
		t.Helper()
		own, other := domain.Change{Kind: domain.ChangeChunks, ID: "acme", Local: true}, domain.Change{Kind: domain.ChangeChunks, ID: "acme"}
		require.Eventually(t, func() bool { return a.feed.applied(own) == n && b.feed.applied(other) == n },
			10*time.Second, 10*time.Millisecond, "the nodes did not hear the chunk change")
	}
	require.False(t, finds(a))
	require.False(t, finds(b))
	require.Equal(t, 1, a.chunks.count("acme"))
	require.Equal(t, 1, b.chunks.count("acme"))

	rec := call(a, http.MethodPost, "/documents", `{"title":"Travel booking","text":"Book travel through the portal two weeks ahead."}`)
	require.Equal(t, http.StatusCreated, rec.Code, rec.Body.String())
	id := strings.Split(strings.SplitAfter(rec.Body.String(), `"id":"`)[1], `"`)[0]
	heardChunks(1)
	assert.True(t, finds(a), "A does not find what it ingested")
	assert.True(t, finds(b), "B does not find what A ingested")
	assert.Equal(t, 1, a.chunks.count("acme"), "A reloaded its index for its own write")
	assert.Equal(t, 2, b.chunks.count("acme"), "B did not reload its index for A's write")

	require.Equal(t, http.StatusNoContent, call(a, http.MethodDelete, "/documents/"+id, "").Code)
	heardChunks(2)
	assert.False(t, finds(a), "A still finds what it deleted")
	assert.False(t, finds(b), "B still finds what A deleted")
	assert.Equal(t, 1, a.chunks.count("acme"), "A reloaded its index for its own write")
	assert.Equal(t, 3, b.chunks.count("acme"))
	assert.Zero(t, a.feed.applied(domain.Change{Kind: domain.ChangeChunks, ID: "acme"}), "A heard its own chunk change as another process's")
}
