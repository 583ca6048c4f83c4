package bootstrap

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCLIAPIKeyLifecycle(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	mustRun(t, e, "", "tenant", "create", "--id", "acme", "--name", "Acme")
	mustRun(t, e, e2ePassword+"\n", "user", "create", "--email", "ann@acme.test", "--tenant", "acme", "--password-stdin")

	r := mustRun(t, e, "", "apikey", "create", "--tenant", "acme", "--name", "cron")
	key := strings.TrimSpace(r.out)
	require.True(t, strings.HasPrefix(key, "tnt_"), "stdout is the key alone: %q", r.out)
	assert.Contains(t, r.err, "shown only this once")
	named := strings.TrimSpace(mustRun(t, e, "", "apikey", "create", "--tenant", "acme", "--name", "ann's", "--user", "ann@acme.test").out)

	list := func() []map[string]any {
		var ks []map[string]any
		out := mustRun(t, e, "", "apikey", "list", "--json").out
		require.NoError(t, json.Unmarshal([]byte(out), &ks), out)
		assert.NotContains(t, out, key[8:], "the secret is never listed")
		return ks
	}
	ks := list()
	require.Len(t, ks, 2)
	byName := map[string]map[string]any{}
	for _, k := range ks {
		byName[k["name"].(string)] = k
	}
	assert.Equal(t, key[:8], byName["cron"]["prefix"])
	assert.Equal(t, named[:8], byName["ann's"]["prefix"])
	assert.Nil(t, byName["cron"]["revoked_at"])

	table := mustRun(t, e, "", "apikey", "list", "--tenant", "acme").out
	assert.Contains(t, table, "active")

	mustRun(t, e, "", "apikey", "revoke", byName["cron"]["id"].(string))
	for _, k := range list() {
		if k["name"] == "cron" {
			assert.NotNil(t, k["revoked_at"])
		}
	}
	assert.Contains(t, mustRun(t, e, "", "apikey", "list").out, "revoked")

	r = run(t, e, "", "apikey", "revoke", "no-such-key")
	assert.Equal(t, 1, r.code, "%s", r)
	assert.Contains(t, r.err, "no-such-key")
	r = run(t, e, "", "apikey", "create", "--tenant", "acme", "--name", "x", "--user", "nobody@acme.test")
	assert.Equal(t, 1, r.code, "%s", r)
	assert.Contains(t, r.err, "nobody@acme.test")
	r = run(t, e, "", "apikey", "create", "--tenant", "nowhere", "--name", "x")
	assert.Equal(t, 1, r.code, "%s", r)
	assert.Contains(t, r.err, "tenant nowhere does not exist")
	assert.NotContains(t, r.err, "foreign key")
}

func TestCLIUnknownSubcommandsFail(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, args := range [][]string{{"frob"}, {"user", "frob"}, {"tenant", "frob"}, {"apikey", "frob"}, {"user"}} {
		r := run(t, e, "", args...)
		assert.Equal(t, 1, r.code, "tenantry %v: %s", args, r)
		assert.Contains(t, r.err, "see 'tenantry", "tenantry %v", args)
	}
	assert.Equal(t, 0, run(t, e, "", "user", "--help").code)
}
