package bootstrap

import (
	"encoding/json"
	"io"
	"os"
	"sort"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// commandPaths lists every command under root, parents first, as argument lists
// without the binary's name.
func commandPaths(root *cobra.Command) map[string]*cobra.Command {
	out := map[string]*cobra.Command{}
	var walk func(c *cobra.Command, path []string)
	walk = func(c *cobra.Command, path []string) {
		out[strings.Join(path, " ")] = c
		for _, sub := range c.Commands() {
			walk(sub, append(append([]string{}, path...), sub.Name()))
		}
	}
	walk(root, nil)
	return out
}

func TestCLIHasTheDocumentedCommands(t *testing.T) {
	t.Parallel()
	root := newRootCommand(IO{In: strings.NewReader(""), Out: io.Discard, Err: io.Discard, Getenv: env{}.getenv}, nil)
	var got []string
	for path := range commandPaths(root) {
		got = append(got, path)
	}
	sort.Strings(got)
	// The names issues 2-4 give are a public contract.
	for _, want := range []string{
		"serve", "migrate", "init",
		"user create", "user assign", "user passwd", "user disable", "user enable", "user list",
		"tenant create", "tenant list", "tenant show", "tenant update", "tenant suspend", "tenant activate", "tenant delete",
		"tenant reindex",
		"keys rotate", "keys prune", "secrets rotate-key",
	} {
		assert.Contains(t, got, want)
	}
	flags := map[string][]string{
		"serve":          {"migrate"},
		"migrate":        {"dry-run", "allow-destructive"},
		"init":           {"email", "password-stdin", "password-file", "password-env", "force"},
		"user create":    {"email", "tenant", "role", "password-stdin"},
		"user assign":    {"email", "tenant"},
		"user passwd":    {"email", "password-stdin"},
		"user disable":   {"email"},
		"tenant create":  {"id", "name"},
		"tenant reindex": {"no-wait"},
		"tenant update":  {"llm-api-key-stdin", "embedder-api-key-stdin", "pinecone-api-key-stdin", "llm-provider", "llm-base-url", "llm-model", "system-prompt"},
	}
	paths := commandPaths(root)
	for path, names := range flags {
		for _, name := range names {
			assert.NotNil(t, paths[path].Flags().Lookup(name), "tenantry %s --%s", path, name)
		}
	}
}

func TestCLIHelpDescribesEveryCommandAndFlag(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	root := newRootCommand(IO{In: strings.NewReader(""), Out: io.Discard, Err: io.Discard, Getenv: e.getenv}, nil)
	for path, cmd := range commandPaths(root) {
		name := "tenantry " + path
		t.Run(strings.TrimSpace(name), func(t *testing.T) {
			t.Parallel()
			args := append(strings.Fields(path), "--help")
			r := run(t, e, "", args...)
			require.Equal(t, 0, r.code, "%s", r)
			assert.Contains(t, r.out, "Usage:")
			assert.Contains(t, r.out, strings.TrimSpace(name))
			desc := cmd.Long
			if desc == "" {
				desc = cmd.Short
			}
			require.NotEmpty(t, desc, "%s has no description", name)
			assert.Contains(t, r.out, firstLine(desc))
			for _, sub := range cmd.Commands() {
				assert.Contains(t, r.out, sub.Name(), "%s --help lists %s", name, sub.Name())
				assert.NotEmpty(t, sub.Short, "%s %s has no short description", name, sub.Name())
			}
			cmd.LocalFlags().VisitAll(func(f *pflag.Flag) {
				if f.Hidden || f.Name == "help" {
					return
				}
				assert.NotEmpty(t, f.Usage, "%s --%s has no description", name, f.Name)
				assert.Contains(t, r.out, "--"+f.Name, "%s --help", name)
				assert.Contains(t, r.out, f.Usage, "%s --help describes --%s", name, f.Name)
			})
		})
	}
	// Help needs no database: nothing was created in the data directory.
	entries, _ := os.ReadDir(e["TENANTRY_DATA_DIR"])
	assert.Empty(t, entries)
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	return line
}

func TestCLIPasswordsOnlyFromStdin(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	mustRun(t, e, "", "tenant", "create", "--id", "acme", "--name", "Acme")

	r := run(t, e, "pw-from-stdin\n", "user", "create", "--email", "a@acme.test", "--tenant", "acme")
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.err, "--password-stdin is required")

	r = run(t, e, "", "user", "create", "--email", "a@acme.test", "--password", "hunter2-flag")
	assert.Equal(t, 1, r.code, "a --password flag would put the password into the shell history")
	assert.Contains(t, r.err, "unknown flag: --password")

	r = run(t, e, "", "user", "create", "--email", "a@acme.test", "--password-stdin")
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.err, "nothing given")

	r = run(t, e, "short\n", "user", "create", "--email", "a@acme.test", "--password-stdin")
	assert.Equal(t, 1, r.code, "a weak password is refused: %s", r)

	var users []map[string]any
	require.NoError(t, json.Unmarshal([]byte(mustRun(t, e, "", "user", "list", "--json").out), &users))
	assert.Empty(t, users, "no refused command created a user")

	mustRun(t, e, e2ePassword+"\n", "user", "create", "--email", "a@acme.test", "--tenant", "acme", "--password-stdin")
	r = run(t, e, "other-Passw0rd\n", "user", "passwd", "--email", "a@acme.test")
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.err, "--password-stdin is required")
	r = mustRun(t, e, "other-Passw0rd\n", "user", "passwd", "--email", "a@acme.test", "--password-stdin")
	assert.Contains(t, r.out, "password of a@acme.test changed")
	for _, out := range []string{r.out, r.err} {
		assert.NotContains(t, out, "other-Passw0rd")
		assert.NotContains(t, out, e2ePassword)
	}
}

func TestCLIUserLifecycle(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	mustRun(t, e, "", "tenant", "create", "--id", "acme", "--name", "Acme")
	mustRun(t, e, "", "tenant", "create", "--id", "beta", "--name", "Beta")
	r := mustRun(t, e, e2ePassword+"\n", "user", "create", "--email", "Bob@Acme.test", "--password-stdin")
	assert.Contains(t, r.out, "tenant (none)")

	list := func() map[string]any {
		var users []map[string]any
		require.NoError(t, json.Unmarshal([]byte(mustRun(t, e, "", "user", "list", "--json").out), &users))
		require.Len(t, users, 1)
		return users[0]
	}
	u := list()
	assert.Nil(t, u["tenant_id"], "a user may exist without a tenant")
	assert.Equal(t, "member", u["role"])

	mustRun(t, e, "", "user", "assign", "--email", "bob@acme.test", "--tenant", "acme")
	assert.Equal(t, "acme", list()["tenant_id"], "emails match case-insensitively")
	mustRun(t, e, "", "user", "assign", "--email", "bob@acme.test", "--tenant", "beta")
	assert.Equal(t, "beta", list()["tenant_id"])
	r = run(t, e, "", "user", "assign", "--email", "bob@acme.test", "--tenant", "nowhere")
	assert.Equal(t, 1, r.code, "an unknown tenant is refused: %s", r)
	assert.Contains(t, r.err, "tenant nowhere does not exist")
	assert.NotContains(t, r.err, "foreign key")
	assert.Equal(t, "beta", list()["tenant_id"])
	r = run(t, e, e2ePassword+"\n", "user", "create", "--email", "new@acme.test", "--tenant", "nowhere", "--password-stdin")
	assert.Equal(t, 1, r.code, "an unknown tenant is refused: %s", r)
	assert.Contains(t, r.err, "tenant nowhere does not exist")
	assert.NotContains(t, r.err, "foreign key")
	assert.NotRegexp(t, `[0-9a-f]{8}-[0-9a-f]{4}-`, r.err, "no generated user id")

	mustRun(t, e, "", "user", "disable", "--email", "bob@acme.test")
	assert.Equal(t, true, list()["disabled"])
	mustRun(t, e, "", "user", "enable", "--email", "bob@acme.test")
	assert.Equal(t, false, list()["disabled"])

	r = run(t, e, "", "user", "disable", "--email", "nobody@acme.test")
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.err, "nobody@acme.test")

	r = run(t, e, e2ePassword+"\n", "user", "create", "--email", "bob@acme.test", "--password-stdin")
	assert.Equal(t, 1, r.code, "a duplicate email is refused: %s", r)
	assert.Contains(t, r.err, "a user with email bob@acme.test already exists")
	assert.NotContains(t, r.err, "duplicate key")
	assert.NotRegexp(t, `[0-9a-f]{8}-[0-9a-f]{4}-`, r.err, "no generated user id")

	mustRun(t, e, e2ePassword+"\n", "user", "create", "--email", "root@acme.test", "--role", "platform_admin", "--password-stdin")
	r = mustRun(t, e, "", "user", "assign", "--email", "root@acme.test", "--tenant", "acme")
	assert.Contains(t, r.out, "note: root@acme.test is a platform admin and now a member of tenant acme; its tenant admins cannot change it")
}

func TestCLITenantUpdateTakesOneKeyPerRun(t *testing.T) {
	t.Parallel()
	e := newEnv(t).with("PINECONE_KEY", "pcsk-TESTKEY-from-env")
	mustRun(t, e, "", "tenant", "create", "--id", "beta", "--name", "Beta")
	keyFile := t.TempDir() + "/embedder.key"
	require.NoError(t, os.WriteFile(keyFile, []byte("sk-TESTKEY-from-file\n"), 0o600))
	r0 := mustRun(t, e, "sk-TESTKEY-from-stdin\n", "tenant", "update", "beta", "--llm-api-key-stdin",
		"--embedder-api-key-file", keyFile, "--pinecone-api-key-env", "PINECONE_KEY",
		"--embedder", "openai", "--embedder-model", "text-embedding-3-small", "--embedder-dimensions", "1536",
		"--llm-provider", "openai", "--llm-model", "gpt-4o-mini")
	one := tenantJSON(t, r0.out)
	for section, last4 := range map[string]string{"llm": "tdin", "embedder": "file", "vector_store": "-env"} {
		assert.Equal(t, true, one[section].(map[string]any)["api_key_set"], "one run sets every key: %s", section)
		assert.Equal(t, last4, one[section].(map[string]any)["api_key_last4"], section)
	}
	assert.NotContains(t, r0.out+r0.err, "TESTKEY")
	r1 := run(t, e, "", "tenant", "update", "beta", "--llm-api-key-env", "UNSET_VARIABLE")
	assert.Equal(t, 1, r1.code)
	assert.Contains(t, r1.err, "UNSET_VARIABLE is unset or empty")
	r1 = run(t, e, "", "tenant", "update", "beta", "--llm-api-key-env", "PINECONE_KEY", "--llm-api-key-file", keyFile)
	assert.Equal(t, 1, r1.code)
	assert.Contains(t, r1.err, "give the llm API key one way")

	mustRun(t, e, "", "tenant", "create", "--id", "acme", "--name", "Acme")

	r := run(t, e, "sk-TESTKEY-one\nsk-TESTKEY-two\n", "tenant", "update", "acme", "--llm-api-key-stdin", "--embedder-api-key-stdin")
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.err, "one --*-api-key-stdin flag per command")

	r = run(t, e, "", "tenant", "update", "acme")
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.err, "nothing to change")

	r = run(t, e, "", "tenant", "update", "acme", "--llm-api-key-stdin")
	assert.Equal(t, 1, r.code, "an empty key is refused: %s", r)

	got := tenantJSON(t, mustRun(t, e, "", "tenant", "show", "acme").out)
	for _, section := range []string{"llm", "embedder", "vector_store"} {
		assert.Equal(t, false, got[section].(map[string]any)["api_key_set"], section)
	}
}

func tenantJSON(t *testing.T, out string) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal([]byte(out), &m), "%s", out)
	return m
}

func TestCLITenantLifecycle(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	r := mustRun(t, e, "", "tenant", "create", "--id", "acme", "--name", "Acme Corp")
	assert.Equal(t, "created tenant acme (Acme Corp)\n", r.out)
	mustRun(t, e, "", "tenant", "create", "--id", "beta", "--name", "Beta")

	r = run(t, e, "", "tenant", "create", "--id", "acme", "--name", "Again")
	assert.Equal(t, 1, r.code, "a duplicate id is refused: %s", r)
	r = run(t, e, "", "tenant", "create", "--id", "Not An Id", "--name", "X")
	assert.Equal(t, 1, r.code, "an invalid id is refused: %s", r)

	r = mustRun(t, e, "", "tenant", "list")
	assert.Regexp(t, `(?m)^ID\s+NAME\s+STATUS`, r.out)
	assert.Regexp(t, `(?m)^acme\s+Acme Corp\s+active\s+embedded\s+hashing\s+extractive/extractive$`, r.out)
	var list []map[string]any
	require.NoError(t, json.Unmarshal([]byte(mustRun(t, e, "", "tenant", "list", "--json").out), &list))
	require.Len(t, list, 2)
	assert.ElementsMatch(t, []any{"acme", "beta"}, []any{list[0]["id"], list[1]["id"]})

	show := tenantJSON(t, mustRun(t, e, "", "tenant", "show", "--id", "acme").out)
	assert.Equal(t, "Acme Corp", show["name"])
	assert.Equal(t, "active", show["status"])
	assert.Equal(t, "extractive", show["llm"].(map[string]any)["provider"])

	upd := tenantJSON(t, mustRun(t, e, "", "tenant", "update", "acme", "--name", "Acme", "--top-k", "6", "--system-prompt", "Be brief.").out)
	assert.Equal(t, "Acme", upd["name"])
	assert.Equal(t, "Be brief.", upd["system_prompt"])
	assert.EqualValues(t, 6, upd["retrieval"].(map[string]any)["top_k"])

	assert.Equal(t, "suspended", tenantJSON(t, mustRun(t, e, "", "tenant", "suspend", "acme").out)["status"])
	assert.Equal(t, "active", tenantJSON(t, mustRun(t, e, "", "tenant", "activate", "acme").out)["status"])

	r = run(t, e, "", "tenant", "delete", "acme")
	assert.Equal(t, 1, r.code, "an active tenant cannot be deleted: %s", r)
	assert.Contains(t, r.err, "suspend")
	assert.Equal(t, "active", tenantJSON(t, mustRun(t, e, "", "tenant", "show", "acme").out)["status"])

	mustRun(t, e, "", "tenant", "suspend", "acme")
	r = mustRun(t, e, "", "tenant", "delete", "--id", "acme")
	assert.Equal(t, "deleted tenant acme\n", r.out)
	r = run(t, e, "", "tenant", "show", "acme")
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.err, "not_found")

	require.NoError(t, json.Unmarshal([]byte(mustRun(t, e, "", "tenant", "list", "--json").out), &list))
	require.Len(t, list, 1)
	assert.Equal(t, "beta", list[0]["id"])

	r = run(t, e, "", "tenant", "show")
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.err, "--id")
}

func TestCLISecretsRotateKey(t *testing.T) {
	t.Parallel()
	const apiKey = "sk-TESTKEY-rotate-0123456789WXYZ"
	oldKey, newKey := secretKey(t), secretKey(t)
	base := newEnv(t)
	before := base.with("TENANTRY_SECRET_KEY", oldKey)
	mustRun(t, before, "", "tenant", "create", "--id", "acme", "--name", "Acme")
	mustRun(t, before, "", "tenant", "create", "--id", "beta", "--name", "Beta")
	mustRun(t, before, apiKey+"\n", "tenant", "update", "acme", "--llm-api-key-stdin")
	mustRun(t, before, "pc-TESTKEY-beta-5678\n", "tenant", "update", "beta", "--embedder-api-key-stdin")

	// The new key alone cannot open what the old one sealed.
	r := run(t, base.with("TENANTRY_SECRET_KEY", newKey), "", "tenant", "show", "acme")
	assert.Equal(t, 1, r.code, "%s", r)

	during := base.with("TENANTRY_SECRET_KEY", newKey, "TENANTRY_SECRET_KEY_PREVIOUS", oldKey)
	r = mustRun(t, during, "", "secrets", "rotate-key")
	assert.Contains(t, r.out, "re-encrypted 2 secrets")
	// The signing key's private part was sealed under the old master key too; the
	// command replaces it, so that the server can still sign once the old key is gone.
	assert.Contains(t, r.out, "new active signing key")
	r = mustRun(t, during, "", "secrets", "rotate-key")
	assert.Contains(t, r.out, "re-encrypted 0 secrets", "a second run finds nothing to do")
	assert.NotContains(t, r.out, "signing key")

	// The operator then drops the old key: everything still reads back.
	after := base.with("TENANTRY_SECRET_KEY", newKey)
	show := tenantJSON(t, mustRun(t, after, "", "tenant", "show", "acme").out)
	assert.Equal(t, "WXYZ", show["llm"].(map[string]any)["api_key_last4"])
	rt, err := openRuntime(t.Context(), after.config(t), IO{In: strings.NewReader(""), Out: io.Discard, Err: io.Discard, Getenv: after.getenv}, schemaHCL(t), false)
	require.NoError(t, err)
	defer rt.Close()
	acme, err := rt.tenantDB.Get(t.Context(), "acme")
	require.NoError(t, err)
	assert.Equal(t, apiKey, acme.LLM.APIKey.Reveal(), "the API key decrypts under the new master key alone")
	beta, err := rt.tenantDB.Get(t.Context(), "beta")
	require.NoError(t, err)
	assert.Equal(t, "pc-TESTKEY-beta-5678", beta.Embedder.APIKey.Reveal())

	for _, out := range []string{r.out, r.err} {
		assert.NotContains(t, out, apiKey)
		assert.NotContains(t, out, oldKey)
		assert.NotContains(t, out, newKey)
	}
}
