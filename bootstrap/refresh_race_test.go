package bootstrap

import (
	"net/http"
	"net/url"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestRefreshRacesLeaveNoLiveToken races, over HTTP on the embedded database, two
// refresh grants of one token, and a refresh grant against POST /auth/revoke of the
// same token. Whichever side wins, the refresh token a winning grant returned must not
// work afterwards. (The 200-trial races per storage engine are in ports/porttest.)
func TestRefreshRacesLeaveNoLiveToken(t *testing.T) {
	t.Parallel()
	e := hNewEnv(t, hSQLite, nil)
	root := e.hSeedPlatformAdmin(t)
	e.createUser(t, root, "pat@example.test", "member", "")
	const trials = 25
	for _, tc := range []struct {
		name  string
		other func(tok string) string // returns a new refresh token if it got one
	}{
		{name: "reuse", other: func(tok string) string { return e.refreshGrant(t, tok) }},
		{name: "revoke", other: func(tok string) string {
			r := e.do(t, hReq{method: http.MethodPost, path: "/auth/revoke", body: url.Values{"token": {tok}}.Encode(),
				contentType: "application/x-www-form-urlencoded"})
			require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
			return ""
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			survivors := 0
			for range trials {
				tok := e.passwordGrant(t, "pat@example.test")
				start := make(chan struct{})
				var wg sync.WaitGroup
				var got [2]string
				wg.Go(func() { <-start; got[0] = e.refreshGrant(t, tok) })
				wg.Go(func() { <-start; got[1] = tc.other(tok) })
				close(start)
				wg.Wait()
				for _, next := range got {
					if next != "" && e.refreshGrant(t, next) != "" {
						survivors++
					}
				}
			}
			assert.Zero(t, survivors, "refresh tokens still working after a race")
		})
	}
}

// passwordGrant logs email in and returns the refresh token.
func (e *hEnv) passwordGrant(t *testing.T, email string) string {
	form := url.Values{"grant_type": {"password"}, "username": {email}, "password": {hPassword}}
	r := e.do(t, hReq{method: http.MethodPost, path: "/auth/token", body: form.Encode(), contentType: "application/x-www-form-urlencoded"})
	m := e.want(t, http.StatusOK, r)
	tok, _ := m["refresh_token"].(string)
	require.NotEmpty(t, tok)
	return tok
}

// refreshGrant exchanges tok and returns the new refresh token, or "" when refused
// with invalid_grant.
func (e *hEnv) refreshGrant(t *testing.T, tok string) string {
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok}}
	r := e.do(t, hReq{method: http.MethodPost, path: "/auth/token", body: form.Encode(), contentType: "application/x-www-form-urlencoded"})
	if r.Status == http.StatusBadRequest {
		assert.Contains(t, string(r.Body), "invalid_grant")
		return ""
	}
	m := e.want(t, http.StatusOK, r)
	next, _ := m["refresh_token"].(string)
	require.NotEmpty(t, next)
	return next
}
