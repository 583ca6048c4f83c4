package bootstrap

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/adapters/openai/openaitest"
)

// TestE2ETwoNodesShareTenantLimits runs two `tenantry serve` processes (the real
// binary) on one PostgreSQL database: a tenant gets its requests per minute and its
// concurrent streams once across both nodes, not once per node, failed logins counted
// on one node block the other, and the stream slots of a node killed with SIGKILL come
// free once their leases lapse, while the surviving node's leases are renewed.
func TestE2ETwoNodesShareTenantLimits(t *testing.T) {
	t.Parallel()
	pg := newPostgresDatabase(t)
	const leaseTTL = 2 * time.Second
	const maxFailures = 3
	a := newEnv(t).with("DATABASE_URL", pg.url, "TENANTRY_SECRET_KEY", secretKey(t), "TENANTRY_ALLOW_HTTP_VENDORS", "true",
		"TENANTRY_STREAM_LEASE_TTL", leaseTTL.String(), "TENANTRY_LOGIN_MAX_FAILURES", fmt.Sprint(maxFailures),
		"TENANTRY_PUBLIC_URL", "http://tenantry.test") // one issuer behind the load balancer
	b := a.with("PORT", fmt.Sprint(freePort(t)))

	// A model that sends one token, then holds the stream open until its client leaves.
	ai := openaitest.New(t, openaitest.Options{APIKey: "sk-test-limits"})
	ai.Inject(openaitest.Fault{Path: "/chat/completions", After: 1, Stall: true, Times: -1})

	mustRun(t, a, "", "migrate")
	seed(t, a, "streams", "member@streams.test", "member")
	mustRun(t, a, "sk-test-limits\n", "tenant", "update", "streams", "--llm-provider", "openai", "--llm-base-url", ai.URL,
		"--llm-model", "gpt-test", "--llm-api-key-stdin", "--max-concurrent-streams", "2")
	seed(t, a, "rated", "member@rated.test", "member")
	const perMinute = 3
	mustRun(t, a, "", "tenant", "update", "rated", "--requests-per-minute", fmt.Sprint(perMinute))
	seed(t, a, "logins", "member@logins.test", "member")

	nodeA := startKillableServer(t, a)
	nodeB := startServer(t, b)
	nodes := []*server{nodeA, nodeB}
	// Logged in before the failed logins below block this client's IP.
	rated := nodeA.login(t, nil, "member@rated.test", e2ePassword).AccessToken
	streams := nodeB.login(t, nil, "member@streams.test", e2ePassword).AccessToken

	t.Run("requests per minute", func(t *testing.T) {
		passed := 0
		refused := map[int]int{} // by node
		start := time.Now()
		for i := range 4 * perMinute {
			r := nodes[i%2].do(t, nil, http.MethodPost, "/chat/stream", rated, "application/json", `{"message":"hello"}`)
			switch r.status {
			case http.StatusOK:
				passed++
			case http.StatusTooManyRequests:
				refused[i%2]++
			default:
				t.Fatalf("request %d on node %d: status %d: %s", i, i%2, r.status, r.body)
			}
		}
		elapsed := time.Since(start)
		// The budget refills one request every minute/perMinute; what refilled while
		// the requests ran may pass too.
		refilled := int(elapsed * perMinute / time.Minute)
		t.Logf("%d of %d requests passed across both nodes in %s", passed, 4*perMinute, elapsed.Round(time.Millisecond))
		assert.GreaterOrEqual(t, passed, perMinute, "the tenant's budget was not granted")
		assert.LessOrEqual(t, passed, perMinute+refilled, "the two nodes granted the tenant more than its budget")
		assert.Positive(t, refused[0], "node A refused nothing")
		assert.Positive(t, refused[1], "node B refused nothing")
	})

	t.Run("failed logins", func(t *testing.T) {
		attempt := func(n *server, password string) int {
			t.Helper()
			return n.form(t, nil, "/auth/token", url.Values{"grant_type": {"password"}, "username": {"member@logins.test"}, "password": {password}}).status
		}
		for i := range maxFailures {
			require.Equal(t, http.StatusBadRequest, attempt(nodes[i%2], fmt.Sprintf("wrong-Passw0rd-%d", i)))
		}
		for _, n := range nodes {
			assert.Equal(t, http.StatusTooManyRequests, attempt(n, e2ePassword),
				"%d failures across both nodes did not block %s", maxFailures, n.url)
		}
	})

	t.Run("concurrent streams and a killed node's leases", func(t *testing.T) {
		require.Equal(t, http.StatusOK, holdStream(t, nodeA.url, streams))
		require.Equal(t, http.StatusOK, holdStream(t, nodeB.url, streams))
		heldSince := time.Now()
		for _, n := range nodes {
			assert.Equal(t, http.StatusTooManyRequests, holdStream(t, n.url, streams), "a third stream opened on %s", n.url)
		}

		require.NoError(t, nodeA.cmd.Process.Signal(syscall.SIGKILL))
		<-nodeA.done
		killed := time.Now()
		pace := time.NewTicker(50 * time.Millisecond) // spaces the retries out; it orders nothing
		defer pace.Stop()
		for {
			status := holdStream(t, nodeB.url, streams)
			if status == http.StatusOK {
				break
			}
			require.Equal(t, http.StatusTooManyRequests, status)
			select {
			case <-t.Context().Done():
				t.Fatal("the killed node's stream slot never came free")
			case <-pace.C:
			}
		}
		t.Logf("the killed node's slot came free after %s (lease TTL %s)", time.Since(killed).Round(time.Millisecond), leaseTTL)

		// Node B's first stream outlives several lease TTLs: its lease is renewed, so the
		// tenant's two slots stay taken.
		for time.Since(heldSince) < 3*leaseTTL {
			require.Equal(t, http.StatusTooManyRequests, holdStream(t, nodeB.url, streams),
				"a held stream's lease lapsed after %s", time.Since(heldSince))
			<-pace.C
		}
	})
}

// startKillableServer is startServer for a node the test may kill: the cleanup kills
// it if it still runs, whatever its exit.
func startKillableServer(t *testing.T, e env) *server {
	t.Helper()
	s, err := launchServer(t, e)
	t.Cleanup(func() {
		_ = s.cmd.Process.Kill()
		<-s.done
	})
	require.NoError(t, err, "stderr:\n%s", s.stderr.String())
	return s
}

// holdStream posts a question to base's /chat/stream and returns the status. On 200 it
// reads until the first token and leaves the stream open until the test ends.
func holdStream(t *testing.T, base, token string) int {
	t.Helper()
	ctx, cancel := context.WithCancel(context.WithoutCancel(t.Context()))
	t.Cleanup(cancel)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/chat/stream", strings.NewReader(`{"message":"What is the policy?"}`))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	if res.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, res.Body)
		_ = res.Body.Close()
		cancel()
		return res.StatusCode
	}
	sc := bufio.NewScanner(res.Body)
	for sc.Scan() {
		if sc.Text() == "event: token" {
			return res.StatusCode
		}
		require.NotEqual(t, "event: error", sc.Text(), "the stream failed before its first token")
	}
	t.Fatalf("the stream ended before its first token: %v", sc.Err())
	return 0
}
