package bootstrap

import (
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestCLIInitCreatesTheFirstPlatformAdmin: on an empty PostgreSQL database (and on the
// embedded default) init applies the schema, creates the platform admin, says how to
// log in, and refuses a second run unless --force.
func TestCLIInitCreatesTheFirstPlatformAdmin(t *testing.T) {
	t.Parallel()
	engines := map[string]func(t *testing.T) env{
		"sqlite": func(t *testing.T) env { return newEnv(t) },
		"postgres": func(t *testing.T) env {
			return newEnv(t).with("DATABASE_URL", newPostgresDatabase(t).url, "TENANTRY_SECRET_KEY", secretKey(t))
		},
	}
	for name, engine := range engines {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := engine(t).with("ROOT_PASSWORD", "a long root passphrase")
			r := mustRun(t, e, "", "init", "--email", "Root@Example.test", "--password-env", "ROOT_PASSWORD")
			assert.Contains(t, r.out, "created the platform admin root@example.test")
			assert.Contains(t, r.out, "/auth/token")
			assert.NotContains(t, r.out+r.err, "a long root passphrase", "the password is never printed")

			r = run(t, e, "second passphrase here\n", "init", "--email", "other@example.test", "--password-stdin")
			assert.Equal(t, 1, r.code, "a second init is refused: %s", r)
			assert.Contains(t, r.err, "a platform admin exists already (root@example.test)")
			file := t.TempDir() + "/pw"
			require.NoError(t, os.WriteFile(file, []byte("second passphrase here\n"), 0o600))
			mustRun(t, e, "", "init", "--email", "other@example.test", "--password-file", file, "--force")

			list := mustRun(t, e, "", "user", "list").out
			assert.Regexp(t, `root@example.test\s+platform_admin`, list)
			assert.Regexp(t, `other@example.test\s+platform_admin`, list)

			// The printed way in works: the server logs the admin in.
			s := startServer(t, e)
			form := url.Values{"grant_type": {"password"}, "username": {"root@example.test"}, "password": {"a long root passphrase"}}
			res, err := http.PostForm(s.url+"/auth/token", form)
			require.NoError(t, err)
			_ = res.Body.Close()
			assert.Equal(t, http.StatusOK, res.StatusCode)
		})
	}
}

func TestCLIInitTakesThePasswordOneWayOnly(t *testing.T) {
	t.Parallel()
	e := newEnv(t).with("PW", "a long root passphrase")
	for _, args := range [][]string{
		{"init", "--email", "root@example.test"},
		{"init", "--email", "root@example.test", "--password-env", "PW", "--password-stdin"},
	} {
		r := run(t, e, "a long root passphrase\n", args...)
		assert.Equal(t, 1, r.code, "%v: %s", args, r)
		assert.Contains(t, r.err, "give the password one way")
	}
	r := run(t, e, "", "init", "--email", "root@example.test", "--password-env", "UNSET_VARIABLE")
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.err, "UNSET_VARIABLE is unset or empty")
}

// TestCLIRoughEdges: the messages and exit codes a first user meets.
func TestCLIRoughEdges(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, args := range [][]string{{"bogus"}, {"tenant", "bogus"}, {"user", "bogus"}} {
		r := run(t, e, "", args...)
		assert.Equal(t, 1, r.code, "tenantry %s exits non-zero: %s", strings.Join(args, " "), r)
		assert.Contains(t, r.err, `unknown command "bogus"`)
	}
	mustRun(t, e, "", "tenant", "create", "--id", "acme", "--name", "Acme")
	r := run(t, e, "", "tenant", "update", "acme", "--llm-provider", "openai", "--llm-model", "gpt-4o-mini",
		"--llm-base-url", "http://localhost:11434/v1")
	assert.Equal(t, 1, r.code, "%s", r)
	assert.Contains(t, r.err, "TENANTRY_ALLOW_HTTP_VENDORS=true", "the http:// refusal names the variable that allows it")
}
