package httpapi_test

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/domain"
)

// TestRoleHierarchyOverHTTP drives every actor × target × user change through the
// PATCH routes. A platform admin assigned to a tenant (made through POST /admin/users,
// the path that once let its tenant's admin take it over) is out of that tenant admin's
// reach: every change, merge-patch edge cases included, is a 403 problem and the
// account stays exactly as it was.
func TestRoleHierarchyOverHTTP(t *testing.T) {
	t.Parallel()
	actions := []string{
		`{"disabled":true}`,
		`{"disabled":false}`,
		`{"password":"a brand new password"}`,
		`{"role":"member"}`,
		`{"role":"tenant_admin"}`,
		`{"role":"platform_admin"}`,
		`{"tenant_id":"globex"}`,
		`{"tenant_id":null}`,
		`{"password":"a brand new password","role":"member"}`,
		`{}`,
	}
	targets := []string{"acme-member", "acme-admin2", "acme-root", "root"}
	// One letter per action: o 200, b 400, f 403, n 404.
	routes := []struct {
		actor, prefix string
		want          []string // per target
	}{
		{"acme-admin", "/tenant/users/", []string{"ooooofffoo", "ooooofffoo", "ffffffffff", "nnnnnnnnnn"}},
		{"acme-admin", "/admin/users/", []string{"ffffffffff", "ffffffffff", "ffffffffff", "ffffffffff"}},
		{"acme-member", "/tenant/users/", []string{"ffffffffff", "ffffffffff", "ffffffffff", "ffffffffff"}},
		{"globex-admin", "/tenant/users/", []string{"nnnnnnnnnn", "nnnnnnnnnn", "nnnnnnnnnn", "nnnnnnnnnn"}},
		{"root", "/admin/users/", []string{"oooooooooo", "oooooooboo", "oooooooooo", "oooobooooo"}},
	}
	statuses := map[rune]int{'o': http.StatusOK, 'b': http.StatusBadRequest, 'f': http.StatusForbidden, 'n': http.StatusNotFound}
	for _, r := range routes {
		for ti, target := range targets {
			for ai, body := range actions {
				want := statuses[[]rune(r.want[ti])[ai]]
				t.Run(fmt.Sprintf("%s%s/%s/%s", r.actor, r.prefix, target, body), func(t *testing.T) {
					t.Parallel()
					ev := newEnv(t)
					ev.seedHierarchy()
					before, err := ev.db.Users().Get(t.Context(), ev.users[target].ID)
					require.NoError(t, err)
					rec := ev.as(r.actor, http.MethodPatch, r.prefix+string(before.ID), body,
						"Content-Type", "application/merge-patch+json")
					after, err := ev.db.Users().Get(t.Context(), before.ID)
					require.NoError(t, err)
					if want == http.StatusOK {
						require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
						return
					}
					requireProblem(t, rec, want, map[int]string{http.StatusBadRequest: "invalid_request",
						http.StatusForbidden: "forbidden", http.StatusNotFound: "not_found"}[want])
					assert.Equal(t, before, after, "a refused change changes nothing")
				})
			}
		}
	}
}

// seedHierarchy adds a second acme tenant admin and a platform admin assigned to acme,
// the latter through POST /admin/users.
func (ev *env) seedHierarchy() {
	ev.t.Helper()
	for name, spec := range map[string]string{
		"acme-admin2": `{"email":"acme-admin2@example.com","password":"` + testPassword + `","role":"tenant_admin","tenant_id":"acme"}`,
		"acme-root":   `{"email":"acme-root@example.com","password":"` + testPassword + `","role":"platform_admin","tenant_id":"acme"}`,
	} {
		rec := ev.as("root", http.MethodPost, "/admin/users", spec)
		require.Equal(ev.t, http.StatusCreated, rec.Code, rec.Body.String())
		u, err := ev.db.Users().GetByEmail(ev.t.Context(), domain.Email(name+"@example.com"))
		require.NoError(ev.t, err)
		ev.users[name] = u
	}
}
