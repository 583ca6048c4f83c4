package bootstrap

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestE2ECLIChangesReachARunningServer runs `tenantry serve` (the real binary, caches
// living an hour) and changes things with the real binary's CLI, a process of its own:
// the server follows the change log and sees every change within moments, on the
// embedded SQLite (polled) and on PostgreSQL (LISTEN/NOTIFY). A tenant deleted and
// re-created with the same id starts empty.
func TestE2ECLIChangesReachARunningServer(t *testing.T) {
	t.Parallel()
	engines := map[string]func(t *testing.T) (env, []string){
		"sqlite": func(t *testing.T) (env, []string) { return newEnv(t), nil },
		"postgres": func(t *testing.T) (env, []string) {
			pg := newPostgresDatabase(t)
			return newEnv(t).with("DATABASE_URL", pg.url, "TENANTRY_SECRET_KEY", secretKey(t)), []string{"--migrate"}
		},
	}
	for name, engine := range engines {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e, serveArgs := engine(t)
			e = e.with("TENANTRY_CACHE_TTL", "1h")
			s := startServer(t, e, serveArgs...)

			seed(t, e, "acme", "admin@acme.test", "tenant_admin")
			mustRun(t, e, "", "tenant", "create", "--id", "beta", "--name", "Beta")
			for _, email := range []string{"assign@acme.test", "disable@acme.test", "passwd@acme.test"} {
				mustRun(t, e, e2ePassword+"\n", "user", "create", "--email", email, "--tenant", "acme", "--password-stdin")
			}
			seed(t, e, "gamma", "admin@gamma.test", "tenant_admin")

			admin := s.login(t, nil, "admin@acme.test", e2ePassword).AccessToken
			ingest := func(token, title, text string) string {
				t.Helper()
				r := s.do(t, nil, http.MethodPost, "/documents", token, "application/json",
					`{"title":"`+title+`","text":"`+text+`"}`)
				require.Equal(t, http.StatusCreated, r.status, "%s", r.body)
				id, _ := r.json(t)["id"].(string)
				require.NotEmpty(t, id)
				return id
			}
			sources := func(token, question string) string {
				t.Helper()
				r := s.do(t, nil, http.MethodPost, "/chat/stream", token, "application/json", `{"message":"`+question+`"}`)
				require.Equal(t, http.StatusOK, r.status, "%s", r.body)
				body := string(r.body)
				src, _, _ := strings.Cut(body, "event: token")
				return src
			}
			// seen polls cond after a CLI command and logs how long the server took.
			seen := func(what string, cond func() bool) {
				t.Helper()
				start := time.Now()
				poll(t, 10*time.Second, what, cond)
				t.Logf("%s: seen by the server after %s", what, time.Since(start).Round(time.Millisecond))
			}

			// document delete
			doc := ingest(admin, "Travel booking", "Book travel through the portal two weeks ahead.")
			require.Contains(t, sources(admin, "How do I book travel?"), "Travel booking", "the server's index holds the document")
			mustRunBinary(t, e, "", "document", "delete", "--tenant", "acme", doc)
			seen("document delete", func() bool { return !strings.Contains(sources(admin, "How do I book travel?"), "Travel booking") })

			// user assign, disable, passwd: outstanding tokens stop working
			for _, tc := range []struct {
				email, stdin string
				args         []string
			}{
				{"assign@acme.test", "", []string{"user", "assign", "--email", "assign@acme.test", "--tenant", "beta"}},
				{"disable@acme.test", "", []string{"user", "disable", "--email", "disable@acme.test"}},
				{"passwd@acme.test", "new-Passw0rd-e2e\n", []string{"user", "passwd", "--email", "passwd@acme.test", "--password-stdin"}},
			} {
				tk := s.login(t, nil, tc.email, e2ePassword).AccessToken
				require.Equal(t, http.StatusOK, s.get(t, nil, "/users/me", tk).status)
				mustRunBinary(t, e, tc.stdin, tc.args...)
				seen(strings.Join(tc.args[:2], " "), func() bool { return s.get(t, nil, "/users/me", tk).status == http.StatusUnauthorized })
			}
			r := s.form(t, nil, "/auth/token", url.Values{"grant_type": {"password"}, "username": {"disable@acme.test"}, "password": {e2ePassword}})
			assert.Equal(t, http.StatusBadRequest, r.status, "a disabled user cannot log in")

			// tenant suspend
			require.Equal(t, http.StatusOK, s.get(t, nil, "/documents", admin).status)
			mustRunBinary(t, e, "", "tenant", "suspend", "acme")
			seen("tenant suspend", func() bool { return s.get(t, nil, "/documents", admin).status == http.StatusForbidden })

			// tenant delete, then the same id again: it starts empty
			gamma := s.login(t, nil, "admin@gamma.test", e2ePassword).AccessToken
			ingest(gamma, "Merger plan", "The merger with Initech closes in March.")
			require.Contains(t, sources(gamma, "When does the merger close?"), "Merger plan")
			mustRunBinary(t, e, "", "tenant", "suspend", "gamma")
			mustRunBinary(t, e, "", "tenant", "delete", "gamma")
			seen("tenant delete", func() bool { return s.get(t, nil, "/users/me", gamma).status == http.StatusUnauthorized })
			mustRunBinary(t, e, "", "tenant", "create", "--id", "gamma", "--name", "Gamma again")
			mustRunBinary(t, e, e2ePassword+"\n", "user", "create", "--email", "new@gamma.test", "--tenant", "gamma",
				"--role", "tenant_admin", "--password-stdin")
			fresh := s.login(t, nil, "new@gamma.test", e2ePassword).AccessToken
			assert.NotContains(t, sources(fresh, "When does the merger close?"), "Merger plan",
				"the re-created tenant is served the deleted tenant's passages")
			list := s.get(t, nil, "/documents", fresh)
			require.Equal(t, http.StatusOK, list.status)
			assert.NotContains(t, string(list.body), "Merger plan")
		})
	}
}
