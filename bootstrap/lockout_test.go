package bootstrap

import (
	"fmt"
	"net/http"
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// loginFrom runs the password grant as if from client IP ip, behind the trusted proxy
// the test server's loopback peer stands for, and returns the status.
func (e *hEnv) loginFrom(t *testing.T, ip, email, password string) int {
	t.Helper()
	form := url.Values{"grant_type": {"password"}, "username": {email}, "password": {password}}
	r := e.do(t, hReq{method: http.MethodPost, path: "/auth/token", body: form.Encode(),
		contentType: "application/x-www-form-urlencoded", header: map[string]string{"X-Forwarded-For": ip}})
	return r.Status
}

// TestLoginLockoutBehindAProxy drives the production router behind a trusted proxy
// (TENANTRY_TRUSTED_PROXIES): failures count per client IP from X-Forwarded-For, not
// per proxy, and a stranger cannot lock anyone out.
func TestLoginLockoutBehindAProxy(t *testing.T) {
	t.Parallel()
	e := hNewEnv(t, hSQLite, map[string]string{
		"TENANTRY_TRUSTED_PROXIES": "127.0.0.1/32, ::1", "TENANTRY_LOGIN_MAX_FAILURES": "3",
		"TENANTRY_LOGIN_MAX_FAILURES_PER_IP": "6", "TENANTRY_LOGIN_MAX_DELAY": "1ms",
	})
	root := e.hSeedPlatformAdmin(t)
	e.createUser(t, root, "owner@example.test", "member", "")
	e.createUser(t, root, "admin2@example.test", "platform_admin", "")

	t.Run("a storm of invented emails from one IP blocks that IP only", func(t *testing.T) {
		storm := "203.0.113.10"
		for i := range 6 {
			require.Equal(t, http.StatusBadRequest, e.loginFrom(t, storm, fmt.Sprintf("nobody%d@example.test", i), "wrong password"))
		}
		assert.Equal(t, http.StatusTooManyRequests, e.loginFrom(t, storm, "owner@example.test", hPassword), "the storming IP is blocked")
		assert.Equal(t, http.StatusOK, e.loginFrom(t, "198.51.100.20", "owner@example.test", hPassword),
			"another client behind the same proxy is not")
	})

	t.Run("an attacker cannot lock the owner out", func(t *testing.T) {
		attacker := "203.0.113.11"
		for range 3 {
			require.Equal(t, http.StatusBadRequest, e.loginFrom(t, attacker, "admin2@example.test", "wrong password"))
		}
		assert.Equal(t, http.StatusTooManyRequests, e.loginFrom(t, attacker, "admin2@example.test", "wrong password"))
		assert.Equal(t, http.StatusOK, e.loginFrom(t, "198.51.100.21", "admin2@example.test", hPassword),
			"the owner's own address logs in with the right password")
	})
}
