package bootstrap

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestAPIKeys walks the API-key routes over HTTP on memory and SQLite: a tenant admin
// creates keys (shown once), they authenticate the tenant API and /v1 as members, they
// are listed without their secret, revoked at once, confined to their tenant, and
// audited.
func TestAPIKeys(t *testing.T) {
	for _, kind := range []hStoreKind{hMemory, hSQLite} {
		t.Run(string(kind), func(t *testing.T) {
			t.Parallel()
			e := hNewEnv(t, kind, nil)
			root := e.hSeedPlatformAdmin(t)
			for _, id := range []string{"acme", "globex"} {
				e.want(t, http.StatusCreated, e.send(t, http.MethodPost, "/admin/tenants", root, `{"id":"`+id+`","name":"`+id+`"}`))
			}
			e.createUser(t, root, "admin@acme.test", "tenant_admin", "acme")
			memberID := e.createUser(t, root, "member@acme.test", "member", "acme")
			e.createUser(t, root, "admin@globex.test", "tenant_admin", "globex")
			admin, member, globex := e.login(t, "admin@acme.test"), e.login(t, "member@acme.test"), e.login(t, "admin@globex.test")

			created := e.do(t, hReq{method: http.MethodPost, path: "/tenant/api-keys", token: admin, body: `{"name":"nightly sync"}`})
			m := e.want(t, http.StatusCreated, created)
			assert.Equal(t, "no-store", created.Header.Get("Cache-Control"))
			key, _ := m["key"].(string)
			require.True(t, strings.HasPrefix(key, "tnt_"), "key %q", key)
			assert.GreaterOrEqual(t, len(key), 4+43, "256 random bits")
			assert.Equal(t, "nightly sync", m["name"])
			assert.Equal(t, key[:8], m["prefix"])
			keyID := m["id"].(string)

			named := e.want(t, http.StatusCreated, e.send(t, http.MethodPost, "/tenant/api-keys", admin, `{"name":"as member","user_id":"`+string(memberID)+`"}`))
			assert.Equal(t, string(memberID), named["user_id"])

			// The key works on the tenant API and on /v1, as a member.
			me := e.want(t, http.StatusOK, e.send(t, http.MethodGet, "/users/me", key, ""))
			assert.Equal(t, "member", me["role"], "a key acts with the member role")
			assert.Equal(t, "acme", me["tenant_id"])
			e.want(t, http.StatusOK, e.send(t, http.MethodGet, "/usage", key, ""))
			models := e.want(t, http.StatusOK, e.send(t, http.MethodGet, "/v1/models", key, ""))
			assert.Contains(t, string(e.send(t, http.MethodGet, "/v1/models", key, "").Body), "tenantry-acme", "%v", models)
			r := e.send(t, http.MethodGet, "/tenant/api-keys", key, "")
			assert.Equal(t, http.StatusForbidden, r.Status, "a key cannot manage keys: %s", r.Body)
			assert.Equal(t, http.StatusForbidden, e.send(t, http.MethodGet, "/admin/tenants", key, "").Status)
			namedMe := e.want(t, http.StatusOK, e.send(t, http.MethodGet, "/users/me", named["key"].(string), ""))
			assert.Equal(t, "member@acme.test", namedMe["email"])

			// Listing shows the prefix and last use, never the secret.
			list := e.send(t, http.MethodGet, "/tenant/api-keys", admin, "")
			items := hItems(t, list)
			require.Len(t, items, 2)
			assert.NotContains(t, string(list.Body), key[8:])
			assert.ElementsMatch(t, []string{"nightly sync", "as member"}, hField(items, "name"))
			for _, it := range items {
				if it["id"] == keyID {
					assert.NotNil(t, it["last_used_at"], "used above")
					assert.Nil(t, it["revoked_at"])
				}
				assert.NotContains(t, it, "key")
				assert.NotContains(t, it, "hash")
			}

			// Bad input and other roles.
			assert.Equal(t, "invalid_request", hProblemCode(t, e.send(t, http.MethodPost, "/tenant/api-keys", admin, `{"name":""}`)))
			assert.Equal(t, http.StatusForbidden, e.send(t, http.MethodPost, "/tenant/api-keys", member, `{"name":"x"}`).Status)
			globexUser := e.send(t, http.MethodPost, "/tenant/api-keys", globex, `{"name":"x","user_id":"`+string(memberID)+`"}`)
			assert.Equal(t, http.StatusBadRequest, globexUser.Status, "another tenant's user: %s", globexUser.Body)

			// Another tenant sees none of acme's keys and cannot revoke them.
			assert.Empty(t, hItems(t, e.send(t, http.MethodGet, "/tenant/api-keys", globex, "")))
			assert.Equal(t, http.StatusNotFound, e.send(t, http.MethodDelete, "/tenant/api-keys/"+keyID, globex, "").Status)
			e.want(t, http.StatusOK, e.send(t, http.MethodGet, "/users/me", key, ""))

			// The platform admin sees every tenant's keys.
			all := hItems(t, e.send(t, http.MethodGet, "/admin/api-keys", root, ""))
			assert.Len(t, all, 2)
			assert.Len(t, hItems(t, e.send(t, http.MethodGet, "/admin/api-keys?tenant_id=globex", root, "")), 0)

			// Revocation takes effect on the next request (the key was cached above).
			e.want(t, http.StatusNoContent, e.send(t, http.MethodDelete, "/tenant/api-keys/"+keyID, admin, ""))
			gone := e.send(t, http.MethodGet, "/users/me", key, "")
			assert.Equal(t, http.StatusUnauthorized, gone.Status)
			assert.Equal(t, "invalid_token", hProblemCode(t, gone))
			assert.Equal(t, http.StatusUnauthorized, e.send(t, http.MethodGet, "/v1/models", key, "").Status)
			e.want(t, http.StatusNoContent, e.send(t, http.MethodDelete, "/admin/api-keys/"+named["id"].(string), root, ""))
			assert.Equal(t, http.StatusUnauthorized, e.send(t, http.MethodGet, "/users/me", named["key"].(string), "").Status)

			// A wrong key with the right prefix, and a disabled user's key.
			assert.Equal(t, http.StatusUnauthorized, e.send(t, http.MethodGet, "/users/me", "tnt_"+strings.Repeat("A", 43), "").Status)

			audit := e.send(t, http.MethodGet, "/tenant/audit", admin, "")
			actions := hField(hItems(t, audit), "action")
			assert.Contains(t, actions, "api_key.create")
			assert.Contains(t, actions, "api_key.revoke")
			assert.NotContains(t, e.logs.String(), key, "the key never reaches the logs")
		})
	}
}

// TestChangeOwnPassword: POST /users/me/password checks the current password, ends
// every other session (access and refresh tokens) and hands this one fresh tokens.
func TestChangeOwnPassword(t *testing.T) {
	t.Parallel()
	e := hNewEnv(t, hMemory, nil)
	root := e.hSeedPlatformAdmin(t)
	e.want(t, http.StatusCreated, e.send(t, http.MethodPost, "/admin/tenants", root, `{"id":"acme","name":"Acme"}`))
	e.createUser(t, root, "ann@acme.test", "member", "acme")
	other := e.login(t, "ann@acme.test")
	form := "grant_type=password&username=ann%40acme.test&password=" + strings.ReplaceAll(hPassword, " ", "+")
	otherRefresh := e.want(t, http.StatusOK, e.do(t, hReq{method: http.MethodPost, path: "/auth/token", body: form,
		contentType: "application/x-www-form-urlencoded"}))["refresh_token"].(string)
	mine := e.login(t, "ann@acme.test")

	wrong := e.send(t, http.MethodPost, "/users/me/password", mine, `{"current_password":"not it at all","new_password":"a brand new passphrase"}`)
	assert.Equal(t, http.StatusBadRequest, wrong.Status, "%s", wrong.Body)
	assert.Contains(t, string(wrong.Body), "current_password")
	weak := e.send(t, http.MethodPost, "/users/me/password", mine, `{"current_password":"`+hPassword+`","new_password":"short"}`)
	assert.Equal(t, http.StatusBadRequest, weak.Status)
	assert.Contains(t, string(weak.Body), "new_password")
	e.want(t, http.StatusOK, e.send(t, http.MethodGet, "/users/me", other, ""))
	assert.Equal(t, http.StatusUnauthorized, e.send(t, http.MethodPost, "/users/me/password", "", `{}`).Status)

	res := e.send(t, http.MethodPost, "/users/me/password", mine, `{"current_password":"`+hPassword+`","new_password":"a brand new passphrase"}`)
	m := e.want(t, http.StatusOK, res)
	assert.Equal(t, "no-store", res.Header.Get("Cache-Control"))
	fresh, _ := m["access_token"].(string)
	require.NotEmpty(t, fresh)
	assert.NotEmpty(t, m["refresh_token"])
	assert.NotContains(t, string(res.Body), "a brand new passphrase")

	e.want(t, http.StatusOK, e.send(t, http.MethodGet, "/users/me", fresh, ""))
	assert.Equal(t, http.StatusUnauthorized, e.send(t, http.MethodGet, "/users/me", other, "").Status, "other sessions end")
	assert.Equal(t, http.StatusUnauthorized, e.send(t, http.MethodGet, "/users/me", mine, "").Status, "the old token of this session too")
	refresh := e.do(t, hReq{method: http.MethodPost, path: "/auth/token", body: "grant_type=refresh_token&refresh_token=" + otherRefresh,
		contentType: "application/x-www-form-urlencoded"})
	assert.Equal(t, http.StatusBadRequest, refresh.Status, "the other session's refresh token is revoked: %s", refresh.Body)

	newLogin := e.do(t, hReq{method: http.MethodPost, path: "/auth/token", contentType: "application/x-www-form-urlencoded",
		body: "grant_type=password&username=ann%40acme.test&password=a+brand+new+passphrase"})
	e.want(t, http.StatusOK, newLogin)
	oldLogin := e.do(t, hReq{method: http.MethodPost, path: "/auth/token", body: form, contentType: "application/x-www-form-urlencoded"})
	assert.NotEqual(t, http.StatusOK, oldLogin.Status)
	assert.NotContains(t, e.logs.String(), "a brand new passphrase")
	assert.Contains(t, hField(hItems(t, e.send(t, http.MethodGet, "/admin/audit", root, "")), "action"), "user.password")
}
